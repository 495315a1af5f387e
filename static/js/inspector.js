// @ts-check
// The panel that edits the selected node: id, value (number, vector or matrix), inputs, output.

import { t } from "./i18n.js";
import { opDoc, opFormula, opName, variantDoc } from "./op-labels.js";
import { h } from "./ui.js";
import { arityOf, portNames } from "./graph-geometry.js";
import { asGrid, flatten, fmt, fullText, parseValue, reshape, shapeOf, short, valueProblem } from "./tensor.js";

const MAX_GRID = 10;

/** @typedef {import("./api.js").Tensor} Tensor */
/** @typedef {import("./api.js").Op} Op */
/** @typedef {import("./api.js").Evaluation} Evaluation */
/** @typedef {import("./graph-model.js").EditNode} EditNode */
/** @typedef {import("./graph-model.js").EditGraph} EditGraph */

/**
 * What the inspector may do to the graph (each is one undo step, or says why not).
 * @typedef {object} Actions
 * @property {(oldId: string, newId: string) => void} rename
 * @property {(id: string, value: Tensor) => void} setValue
 * @property {(id: string, port: number, src: string | null) => void} setInput
 * @property {(id: string, name: string, value: Tensor | undefined) => void} setParam
 * @property {(id: string, variant: string | null) => void} setVariant
 * @property {(id: string, index: number, exp: number) => void} nudge
 * @property {(id: string | null) => void} setOutput
 * @property {(id: string) => void} remove
 * @property {(message: string) => void} invalid
 */

/**
 * The value of the form field an event came from.
 * @param {Event} e
 */
function fieldValue(e) {
  return /** @type {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} */ (e.target).value;
}

/**
 * The nudge slider of an input: h from 1e-8 to 1, and (f(x + h) − f(x − h)) / 2h beside ∂L/∂x.
 * @param {EditNode} node
 * @param {Tensor} grad backprop's gradient of the node
 * @param {import("./graph-view.js").Nudge | null} nudge
 * @param {Actions} actions
 */
function nudgeSlider(node, grad, nudge, actions) {
  const mine = nudge && nudge.id === node.id ? nudge : null;
  const exp = mine ? mine.exp : -4;
  const size = flatten(node.value ?? 0).length;
  const index = mine ? Math.min(mine.index, size - 1) : 0;
  const fs = h("fieldset", { className: "nudge" }, h("legend", { text: t("inspector.nudge", { id: node.id }) }));
  const shape = shapeOf(node.value ?? 0);
  /** @type {(i: number) => string} */
  const at = (i) => (shape.length === 2 ? `[${Math.floor(i / shape[1])}, ${i % shape[1]}]` : `[${i}]`);
  if (size > 1) {
    const sel = h("select", {
      id: "nudge-index", "data-focus-key": "nudge-index", "aria-label": t("inspector.nudgeElement"),
      onchange: (/** @type {Event} */ e) => actions.nudge(node.id, Number(fieldValue(e)), exp),
    });
    for (let i = 0; i < Math.min(size, 64); i++) {
      sel.append(h("option", { value: String(i), text: `${node.id}${at(i)}`, selected: i === index }));
    }
    fs.append(h("label", { className: "field" }, h("span", { text: t("inspector.nudgeElement") }), sel));
  }
  const label = h("span", { id: "nudge-h", text: t("inspector.nudgeH", { h: `1e${exp}` }) });
  fs.append(h("label", { className: "field" }, label,
    h("input", {
      id: "nudge-slider", type: "range", min: -8, max: 0, step: 0.5, value: String(exp), "data-focus-key": "nudge",
      "aria-label": t("inspector.nudge", { id: node.id }),
      oninput: (/** @type {Event} */ e) => { label.textContent = t("inspector.nudgeH", { h: `1e${fieldValue(e)}` }); },
      onchange: (/** @type {Event} */ e) => actions.nudge(node.id, index, Number(fieldValue(e))),
    })));
  const backprop = fmt(flatten(grad)[index], 10);
  let text = t("inspector.nudgeHint", { id: node.id });
  if (mine && mine.error) text = mine.error;
  else if (mine && mine.estimate === null) text = t("inspector.nudgeBusy");
  else if (mine && mine.estimate !== null) {
    text = t("inspector.nudgeResult", { estimate: fmt(mine.estimate, 10), id: size > 1 ? `${node.id}${at(index)}` : node.id, grad: backprop });
  }
  fs.append(h("output", { id: "nudge-estimate", text }));
  return fs;
}

/** @param {Tensor} value */
function kindOf(value) {
  const rank = shapeOf(value).length;
  return rank === 0 ? "number" : rank === 1 ? "vector" : "matrix";
}

/**
 * The value editor: a kind, its shape and a grid of cells, plus the value as JSON.
 * @param {EditNode} node
 * @param {Actions} actions
 */
function valueEditor(node, actions) {
  const value = node.value ?? 0;
  const kind = kindOf(value);
  const box = h("div", { className: "value-editor" });
  const kindSel = h("select", {
    id: "node-kind",
    "data-focus-key": "kind",
    onchange: (/** @type {Event} */ e) => {
      const k = fieldValue(e);
      const first = typeof value === "number" ? value : asGrid(value)[0][0];
      if (k === "number") actions.setValue(node.id, first);
      else if (k === "vector") actions.setValue(node.id, reshape(value, 0, 3));
      else actions.setValue(node.id, reshape(value, 2, 2));
    },
  });
  for (const k of ["number", "vector", "matrix"]) {
    kindSel.append(h("option", { value: k, text: t(`inspector.kind.${k}`), selected: k === kind }));
  }
  box.append(h("label", { className: "field" }, h("span", { text: t("inspector.kind") }), kindSel));

  if (kind === "number") {
    box.append(
      h("label", { className: "field" },
        h("span", { text: t("inspector.value") }),
        h("input", {
          id: "node-value", type: "number", step: "any", value: String(value), "data-focus-key": "value",
          onchange: (/** @type {Event} */ e) => {
            const v = parseValue(fieldValue(e));
            if (v === undefined || Array.isArray(v)) actions.invalid(t("inspector.badNumber"));
            else actions.setValue(node.id, v);
          },
        })),
    );
  } else {
    const shape = shapeOf(value);
    const rows = kind === "vector" ? 0 : shape[0];
    const cols = kind === "vector" ? shape[0] : shape[1];
    const dims = h("div", { className: "dims" });
    /** @type {(label: string, key: string, current: number, apply: (n: number) => void) => HTMLElement} */
    const dim = (label, key, current, apply) =>
      h("label", { className: "inline" }, h("span", { text: label }),
        h("input", {
          type: "number", min: 1, max: 64, step: 1, value: String(current), size: 3, "data-focus-key": key,
          onchange: (/** @type {Event} */ e) => {
            const n = Math.round(Number(fieldValue(e)));
            if (!(n >= 1 && n <= 64)) actions.invalid(t("inspector.badShape"));
            else apply(n);
          },
        }));
    if (kind === "matrix") {
      dims.append(dim(t("inspector.rows"), "rows", rows, (n) => actions.setValue(node.id, reshape(value, n, cols))));
      dims.append(h("span", { text: "×" }));
    }
    dims.append(dim(t("inspector.cols"), "cols", cols, (n) => actions.setValue(node.id, reshape(value, rows, n))));
    box.append(dims);
    const grid = asGrid(value);
    if (grid.length <= MAX_GRID && grid[0].length <= MAX_GRID) {
      const table = h("table", { className: "cells", role: "grid" });
      grid.forEach((row, i) => {
        const tr = h("tr");
        row.forEach((x, j) => {
          tr.append(h("td", {}, h("input", {
            type: "text", inputmode: "decimal", value: String(x), size: 4,
            "aria-label": t("inspector.cell", { row: i, col: j }), "data-focus-key": `cell-${i}-${j}`,
            onchange: (/** @type {Event} */ e) => {
              const v = parseValue(fieldValue(e));
              if (v === undefined || Array.isArray(v)) return actions.invalid(t("inspector.badNumber"));
              const next = JSON.parse(JSON.stringify(value));
              if (kind === "vector") next[j] = v;
              else next[i][j] = v;
              actions.setValue(node.id, next);
            },
          })));
        });
        table.append(tr);
      });
      box.append(table);
    }
  }
  box.append(
    h("label", { className: "field" },
      h("span", { text: t("inspector.json") }),
      h("textarea", {
        rows: 2, spellcheck: false, value: JSON.stringify(value), "data-focus-key": "json",
        onchange: (/** @type {Event} */ e) => {
          const text = fieldValue(e);
          const v = parseValue(text);
          if (v !== undefined) return actions.setValue(node.id, v);
          let problem = null;
          try {
            problem = valueProblem(JSON.parse(text));
          } catch {
            problem = null;
          }
          actions.invalid(problem ? t(problem.key, problem.params) : t("inspector.badJson"));
        },
      })),
  );
  return box;
}

/**
 * Fill `container` with the editor of `node` (or a hint when nothing is selected).
 * @param {HTMLElement} container
 * @param {{graph: EditGraph, node: EditNode | null, ops: Map<string, Op>, result: Evaluation | null,
 *   output: string | null, actions: Actions, nudge?: import("./graph-view.js").Nudge | null,
 *   showGrad?: (id: string) => boolean}} ctx
 */
export function renderInspector(container, ctx) {
  const { graph, node, ops, result, output, actions, nudge, showGrad } = ctx;
  const active = document.activeElement;
  const focusKey = active instanceof HTMLElement && container.contains(active) ? active.dataset.focusKey : null;
  container.replaceChildren();
  if (!node) {
    container.append(h("p", { className: "muted", text: t("graph.nothingSelected") }));
    return;
  }
  const meta = ops.get(node.op);
  container.append(
    h("label", { className: "field" },
      h("span", { text: t("inspector.id") }),
      h("input", {
        id: "node-id", type: "text", value: node.id, spellcheck: false, "data-focus-key": "id",
        onchange: (/** @type {Event} */ e) => actions.rename(node.id, fieldValue(e).trim()),
      })),
  );
  const opLine = h("p", { className: "op-line" }, h("strong", { text: opName(node.op) }));
  const doc = opDoc(meta);
  if (doc) opLine.append(h("span", { text: ` — ${doc}` }));
  container.append(opLine);
  if (meta && meta.formula) container.append(h("p", { className: "formula", text: opFormula(meta) }));

  if (node.op === "input") container.append(valueEditor(node, actions));
  const arity = node.op === "input" ? 0 : Math.max(arityOf(meta, node), node.inputs.length);
  if (arity) {
    const names = portNames(meta, arity);
    const fs = h("fieldset", { className: "ports" }, h("legend", { text: t("inspector.inputs") }));
    for (let k = 0; k < arity; k++) {
      const sel = h("select", {
        "data-focus-key": `port-${k}`,
        "aria-label": t("inspector.portAria", { k, name: names[k] }),
        onchange: (/** @type {Event} */ e) => actions.setInput(node.id, k, fieldValue(e) || null),
      });
      sel.append(h("option", { value: "", text: t("inspector.unconnected") }));
      for (const other of graph.nodes) {
        if (other.id === node.id) continue;
        sel.append(h("option", { value: other.id, text: other.id, selected: node.inputs[k] === other.id }));
      }
      fs.append(h("label", { className: "field port-field" }, h("span", { text: `${k} · ${names[k]}` }), sel));
    }
    container.append(fs);
  }
  const paramNames = (meta ? meta.params : []).map((p) => p.name).filter((p) => p !== "value");
  if (node.op !== "input" && paramNames.length) {
    const fs = h("fieldset", { className: "params" }, h("legend", { text: t("inspector.params") }));
    for (const name of paramNames) {
      const current = node.params ? node.params[name] : undefined;
      fs.append(h("label", { className: "field" }, h("span", { text: name }),
        h("input", {
          type: "text", value: current === undefined ? "" : JSON.stringify(current), "data-focus-key": `param-${name}`,
          placeholder: t("inspector.paramPlaceholder"),
          onchange: (/** @type {Event} */ e) => {
            const text = fieldValue(e).trim();
            const v = text === "" ? undefined : parseValue(text);
            if (text !== "" && v === undefined) actions.invalid(t("inspector.badJson"));
            else actions.setParam(node.id, name, v);
          },
        })));
    }
    container.append(fs);
  }
  const variants = meta && meta.variants ? meta.variants : [];
  if (variants.length) {
    const fs = h("fieldset", { className: "variant" }, h("legend", { text: t("inspector.layer") }));
    const sel = h("select", {
      id: "node-variant", "data-focus-key": "variant", "aria-label": t("inspector.layer"),
      onchange: (/** @type {Event} */ e) => actions.setVariant(node.id, fieldValue(e) || null),
    });
    sel.append(h("option", { value: "", text: t("inspector.layerCorrect"), selected: !node.variant }));
    for (const v of variants) {
      sel.append(h("option", { value: v.name, text: t("inspector.layerBroken", { name: v.name }), selected: node.variant === v.name }));
    }
    fs.append(sel);
    const chosen = variants.find((v) => v.name === node.variant);
    fs.append(h("p", { className: chosen ? "hint small bug" : "hint small", text: chosen
      ? t("inspector.layerBug", { doc: variantDoc(chosen) })
      : t("inspector.layerHint") }));
    container.append(fs);
  }
  container.append(
    h("label", { className: "check" },
      h("input", {
        type: "checkbox", checked: output === node.id, "data-focus-key": "output",
        onchange: (/** @type {Event} */ e) => actions.setOutput(/** @type {HTMLInputElement} */ (e.target).checked ? node.id : null),
      }),
      h("span", { text: t("inspector.isOutput") })),
  );
  const res = result ? result.nodes[node.id] : null;
  if (res) {
    const dl = h("dl", { className: "node-result" });
    dl.append(h("dt", { text: t("inspector.forward") }), h("dd", { text: short(res.value), title: fullText(res.value) }));
    const data = res.differentiable === false;
    // Stepping forward, the backward pass has not happened yet: no ∂L to show.
    const known = !showGrad || showGrad(node.id);
    dl.append(h("dt", { className: "grad", text: t("inspector.gradient", { id: node.id }) }),
      data ? h("dd", { className: "grad muted", text: t("inspector.labelsNoGrad") })
        : known && res.grad !== null ? h("dd", { className: "grad", text: short(res.grad), title: fullText(res.grad) })
          : h("dd", { className: "grad muted", text: t("inspector.gradientLater") }));
    if (Array.isArray(res.value)) {
      dl.append(h("dt", { text: t("inspector.shape") }), h("dd", { text: `(${shapeOf(res.value).join(", ")})` }));
      dl.append(h("dd", { className: "full" }, h("pre", { className: "full-value", text: fullText(res.value) })));
    }
    // The gradient in full too: the ReLU mask, dB summed over the batch, y − t are what a reader checks.
    if (Array.isArray(res.grad) && !data && known) {
      dl.append(h("dt", { className: "grad full-label", text: t("inspector.gradientFull", { id: node.id }) }));
      dl.append(h("dd", { className: "full grad" }, h("pre", { className: "full-grad", text: fullText(res.grad) })));
    }
    container.append(dl);
  }
  // NOTE: class labels get no gradient: nothing to nudge against.
  if (res && res.grad !== null && node.op === "input") container.append(nudgeSlider(node, res.grad, nudge ?? null, actions));
  container.append(h("div", { className: "row" },
    h("button", { type: "button", className: "danger", "data-focus-key": "delete", text: t("inspector.delete"), onclick: () => actions.remove(node.id) })));
  if (focusKey) {
    const again = container.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    if (again instanceof HTMLElement) again.focus({ preventScroll: true });
  }
}

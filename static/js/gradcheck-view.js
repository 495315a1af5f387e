// @ts-check
// The gradient check: backprop against central differences, as a table and a log-scale picture.

import { api } from "./api.js";
import { opName, variantDoc } from "./op-labels.js";
import { t } from "./i18n.js";
import { fmt } from "./tensor.js";
import { datasetOptions } from "./train-form.js";
import { byId as $, fieldMessage, h, isBusy, setBusy } from "./ui.js";

/** @typedef {import("./api.js").GradcheckReport} GradcheckReport */
/** @typedef {import("./api.js").ParamCheck} ParamCheck */
/**
 * The body of POST /gradcheck: a posted graph, or the book's network on a dataset.
 * @typedef {{graph: import("./api.js").GraphBody, mode: string, eps?: number}
 *   | {model: {input_size: number, hidden_size: number, output_size: number}, dataset?: string,
 *      batch_size: number, seed: number, mode: string, eps?: number}} GradcheckBody
 */

const NS = "http://www.w3.org/2000/svg";
const LOG_MIN = -17;
const LOG_MAX = 1;

/**
 * An SVG element with attributes and text, appended to `parent` if given.
 * @param {string} name
 * @param {Record<string, string | number>} [attrs]
 * @param {Element | null} [parent]
 * @param {string | null} [text]
 */
function s(name, attrs = {}, parent = null, text = null) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  if (parent) parent.append(node);
  return node;
}

/** @param {number | null | undefined} x */
function sci(x) {
  if (typeof x !== "number") return "–";
  if (x === 0) return "0";
  return Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4 ? x.toExponential(2) : fmt(x, 4);
}

export class GradcheckView {
  /** @param {{graphBody: () => import("./api.js").GraphBody}} options the graph view's graph */
  constructor({ graphBody }) {
    this.graphBody = graphBody;
    /** @type {GradcheckReport | null} */
    this.report = null;
    /** @type {GradcheckBody | null} */
    this.request = null;
    /** @type {import("./api.js").Dataset[]} GET /datasets */
    this.datasets = [];
    /** @type {string | null} the server's default dataset (the best one here) */
    this.defaultDataset = null;
    /** @type {Record<string, number>} GET /limits */
    this.limits = {};
  }

  async init() {
    const form = $("gc-form");
    form.addEventListener("change", () => this.syncForm());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run();
    });
    this.syncForm();
    const [datasets, limits] = await Promise.allSettled([api.datasets(), api.limits()]);
    this.datasets = datasets.status === "fulfilled" ? datasets.value.datasets : [];
    this.defaultDataset = datasets.status === "fulfilled" ? datasets.value.default : null;
    this.limits = limits.status === "fulfilled" ? limits.value : {};
    this.renderForm();
  }

  /** The network's dataset menu (what the server accepts) and its fields' limits. */
  renderForm() {
    const sel = $("gc-dataset", HTMLSelectElement);
    const keep = sel.value;
    sel.replaceChildren(...datasetOptions(this.datasets));
    /** @param {string | null} name */
    const usable = (name) => this.datasets.some((d) => d.name === name && d.usable);
    sel.value = usable(keep) ? keep : (usable(this.defaultDataset) && this.defaultDataset) || "";
    const batch = this.limits.max_gradcheck_batch;
    for (const el of $("gc-form").querySelectorAll("[data-limit=gradcheck_batch]")) {
      el.textContent = batch ? t("train.limit", { max: batch }) : "";
    }
    if (batch) $("gc-batch", HTMLInputElement).max = String(batch);
    if (this.limits.max_hidden_size) $("gc-hidden", HTMLInputElement).max = String(this.limits.max_hidden_size);
  }

  /** The checked value of a radio group of the form. @param {string} name */
  checked(name) {
    return /** @type {HTMLInputElement} */ (document.querySelector(`input[name=${name}]:checked`)).value;
  }

  target() {
    return this.checked("gc-target");
  }

  syncForm() {
    const net = this.target() === "net";
    $("gc-net-fields").hidden = !net;
  }

  /**
   * The form as a POST /gradcheck body; throws (and marks the field) when a field is refused.
   * @returns {GradcheckBody}
   */
  body() {
    const mode = this.checked("gc-mode");
    if (this.target() === "graph") {
      const graph = this.graphBody();
      if (!graph.nodes.length) throw new Error(t("graph.nothingToRun"));
      return { graph, mode, eps: Number($("gc-eps", HTMLSelectElement).value) };
    }
    const ints = { hidden_size: "gc-hidden", batch_size: "gc-batch", seed: "gc-seed" };
    /** @type {Record<string, number>} */
    const values = {};
    for (const [name, id] of Object.entries(ints)) {
      const input = $(id, HTMLInputElement);
      const v = Number(input.value);
      const max = Number(input.max) || Infinity;
      const ok = input.value.trim() !== "" && Number.isInteger(v) && v >= (name === "seed" ? 0 : 1) && v <= max;
      input.setAttribute("aria-invalid", ok ? "false" : "true");
      if (!ok) {
        input.focus();
        throw new Error(fieldMessage(name, max));
      }
      values[name] = v;
    }
    return {
      model: { input_size: 784, hidden_size: values.hidden_size, output_size: 10 },
      dataset: $("gc-dataset", HTMLSelectElement).value || undefined, // none: the server's default
      batch_size: values.batch_size,
      seed: values.seed,
      mode,
      eps: Number($("gc-eps", HTMLSelectElement).value),
    };
  }

  async run() {
    const button = $("gc-run", HTMLButtonElement);
    if (isBusy(button)) return; // a check is already running
    $("gc-error").textContent = "";
    let body;
    try {
      body = this.body();
    } catch (err) {
      $("gc-error").textContent = /** @type {Error} */ (err).message;
      return;
    }
    setBusy(button, true);
    $("gc-summary").replaceChildren(h("p", { className: "muted busy", text: t("gc.running") }));
    try {
      this.report = await api.gradcheck(body);
      this.request = body;
    } catch (err) {
      this.report = null;
      $("gc-error").textContent = /** @type {Error} */ (err).message;
    } finally {
      setBusy(button, false);
    }
    this.render();
  }

  render() {
    const tbody = /** @type {HTMLTableSectionElement} */ ($("gc-table").querySelector("tbody"));
    tbody.replaceChildren();
    const picture = $("gc-picture");
    picture.replaceChildren();
    const r = this.report;
    const request = this.request;
    if (!r || !request) {
      $("gc-summary").replaceChildren(h("p", { className: "muted", text: t("gc.none") }));
      return;
    }
    const what = "graph" in request ? t("gc.graph") : `TwoLayerNet (784-${request.model.hidden_size}-10, ${t("gc.batchN", { n: request.batch_size })})`;
    $("gc-summary").replaceChildren(
      h("p", { className: `verdict ${r.passed ? "pass" : "fail"}`, "data-passed": String(r.passed) },
        h("strong", { text: r.passed ? t("gc.allPassed") : onlyUnchecked(r) ? t("gc.uncheckedVerdict") : t("gc.someFailed") }), ` — ${what}`),
      h("p", { className: "muted small", text: t("gc.meta", {
        mode: t(`gc.mode.${r.mode}`), eps: sci(r.eps), atol: sci(r.atol), rtol: sci(r.rtol), ms: Math.round(r.elapsed_ms),
      }) }),
      ...Object.entries(r.params || {}).filter(([, p]) => p.undefined).map(([name, p]) => {
        const first = (p.unchecked || [])[0];
        const where = first && first.index.length ? `${name}[${first.index.join(", ")}]` : name;
        return h("p", { className: "hint small unchecked", "data-param": name,
          text: t("gc.unchecked", { name, n: p.undefined ?? 0, where, reason: first ? first.reason : "" }) });
      }),
      h("p", { className: "small rule-words", text: t("gc.ruleWords", { atol: sci(r.atol), rtol: sci(r.rtol) }) }),
      ...(r.kinks ? [h("p", { className: "small", text: t("gc.kinkWords", { n: r.kinks }) })] : []),
      ...sideBySide(r),
      ...formulaLines(r),
      ...bugLines(request),
      ...unseenLines(r),
      ...(r.notes || []).filter((n) => !r.undefined || !n.includes("could not be checked"))
        // NOTE: said in the page's language above: broken layers, overwrite, formulas.
        .filter((n) => !/^Node '.*' is a broken |^The graph overwrites gradients|^Not every estimate/.test(n))
        .map((n) => h("p", { className: "hint small", text: n })),
    );
    const entries = Object.entries(r.params || {});
    for (const [name, p] of entries) {
      tbody.append(h("tr", { "data-param": name, className: p.passed ? "pass" : "fail" },
        h("th", { scope: "row", text: name }),
        h("td", { className: "result", "data-passed": String(p.passed) },
          h("span", { className: `badge ${p.passed ? "pass" : "fail"}`, text: p.passed ? t("gc.pass") : t("gc.fail") })),
        h("td", { className: "num", text: sci(p.mean_abs_diff) }),
        h("td", { className: "num", text: sci(p.max_abs_diff) }),
        h("td", { className: "num", text: sci(p.max_rel_error) }),
        h("td", { className: "num", text: r.mode === "fast" ? t("gc.directions", { n: p.checked, size: p.size }) : p.checked === p.size ? String(p.size) : `${p.checked} / ${p.size}` }),
        h("td", { className: "num", text: String(p.kinks ?? 0) })));
    }
    labelCells($("gc-table", HTMLTableElement));
    picture.append(this.chart(entries, r));
  }

  /**
   * One row per parameter on a log axis: mean and max |diff|, the worst elements, the tolerance.
   * @param {[string, ParamCheck][]} entries
   * @param {GradcheckReport} report
   */
  chart(entries, report) {
    const rowH = 34;
    const width = Math.max(280, ($("gc-picture").clientWidth || 760) - 4);
    // Room for the longest parameter name (monospace, 13 px: about 8 px a character).
    const left = Math.min(Math.round(width * 0.35), Math.max(40, 16 + 8 * Math.max(0, ...entries.map(([n]) => n.length))));
    const right = 24;
    // The legend, in as many rows as the width needs (never over the tolerance's label).
    const items = [["bar pass", t("gc.legendMax")], ["mean", t("gc.legendMean")], ["worst", t("gc.legendWorst")]];
    /** @type {{cls: string, label: string, x: number, y: number}[]} */
    const placed = [];
    let lx = 8;
    let ly = 0;
    for (const [cls, label] of items) {
      const w = 24 + textWidth(label, 11);
      if (lx > 8 && lx + w > width - 8) {
        lx = 8;
        ly += 18;
      }
      placed.push({ cls, label, x: lx, y: ly });
      lx += w + 14;
    }
    const top = ly + 18 + 16; // under the legend, a line for the tolerance's label
    const height = top + 8 + entries.length * rowH + 34;
    const svg = s("svg", { width, height, class: "gc-chart", role: "img", "aria-label": t("gc.picture") });
    /** @type {(v: number | null) => number} */
    const x = (v) => {
      const lv = Math.log10(Math.max(v ?? 0, 10 ** LOG_MIN));
      return left + ((lv - LOG_MIN) / (LOG_MAX - LOG_MIN)) * (width - left - right);
    };
    const axisY = top + 8 + entries.length * rowH;
    // Every 2nd power of ten, or every 4th, 6th… when their labels would touch.
    const decade = (width - left - right) / (LOG_MAX - LOG_MIN);
    let every = 2;
    while (every * decade < textWidth("1e-16", 11) + 8) every += 2;
    for (let e = 0; e > LOG_MIN; e -= every) {
      s("line", { x1: x(10 ** e), x2: x(10 ** e), y1: top, y2: axisY, class: "grid" }, svg);
      s("text", { x: x(10 ** e), y: axisY + 16, "text-anchor": "middle", class: "tick" }, svg, `1e${e}`);
    }
    s("text", { x: left + (width - left - right) / 2, y: axisY + 31, "text-anchor": "middle", class: "axis-label" }, svg, t("gc.axis"));
    if (report.atol > 0) {
      const at = x(report.atol);
      const label = `atol ${sci(report.atol)}`;
      const flip = at + 4 + textWidth(label, 11) > width; // near the right edge: left of the line
      s("line", { x1: at, x2: at, y1: top - 14, y2: axisY, class: "tol" }, svg);
      s("text", { x: flip ? at - 4 : at + 4, y: top - 4, "text-anchor": flip ? "end" : "start", class: "tol-label" }, svg, label);
    }
    entries.forEach(([name, p], i) => {
      const y = top + 8 + i * rowH;
      s("text", { x: left - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "param" }, svg, name);
      const bar = s("rect", { x: left, y: y + 8, width: Math.max(1, x(p.max_abs_diff) - left), height: rowH - 16, class: `bar ${p.passed ? "pass" : "fail"}`, "data-param": name }, svg);
      s("title", {}, bar, t("gc.maxDiffOf", { name, value: sci(p.max_abs_diff) }));
      const mean = s("line", { x1: x(p.mean_abs_diff), x2: x(p.mean_abs_diff), y1: y + 4, y2: y + rowH - 4, class: "mean" }, svg);
      s("title", {}, mean, t("gc.meanDiffOf", { name, value: sci(p.mean_abs_diff) }));
      for (const w of p.worst || []) {
        const dot = s("circle", { cx: x(w.abs_diff), cy: y + rowH / 2, r: 3.5, class: "worst" }, svg);
        const where = report.mode === "fast" ? t("gc.direction", { k: (w.index || []).join(", ") }) : `[${(w.index || []).join(", ")}]`;
        s("title", {}, dot, t("gc.worstTip", { name, where, bp: sci(w.backprop), num: sci(w.numerical), d: sci(w.abs_diff) }));
      }
    });
    const legend = s("g", { class: "legend" }, svg);
    for (const { cls, label, x: at, y } of placed) {
      if (cls === "mean") s("line", { x1: at + 4, x2: at + 4, y1: y + 2, y2: y + 14, class: cls }, legend);
      else if (cls === "worst") s("circle", { cx: at + 4, cy: y + 8, r: 3.5, class: cls }, legend);
      else s("rect", { x: at, y: y + 3, width: 12, height: 10, class: cls }, legend);
      s("text", { x: at + 18, y: y + 12, class: "tick" }, legend, label);
    }
    return svg;
  }

  relabel() {
    this.renderForm();
    if (this.report) this.render();
  }
}

/**
 * The width of a line of text at `size` px, estimated (the chart is laid out before it is on
 * the page): a CJK character is about one em, a Latin one about 0.6 em.
 * @param {string} text
 * @param {number} size
 */
function textWidth(text, size) {
  let w = 0;
  for (const ch of text) w += /[\u2e80-\uffff]/.test(ch) ? size : size * 0.62;
  return w;
}

/**
 * Each cell of a table's body named by its column's heading (data-label), which a phone shows
 * beside the value when the rows are stacked as cards.
 * @param {HTMLTableElement} table
 */
function labelCells(table) {
  const heads = [...table.tHead?.rows[0]?.cells ?? []].map((c) => (c.textContent ?? "").trim());
  for (const row of table.tBodies[0]?.rows ?? []) {
    [...row.cells].forEach((cell, i) => { cell.dataset.label = heads[i] ?? ""; });
  }
}

/**
 * Whether a check failed only because some elements could not be checked (none disagreed).
 * @param {GradcheckReport} r
 */
function onlyUnchecked(r) {
  return !r.passed && Object.values(r.params || {}).every((p) => p.passed || (p.undefined && p.checked === 0));
}

/**
 * Which formulas gave the estimates, when not all are plain central differences.
 * @param {GradcheckReport} r
 */
function formulaLines(r) {
  const f = r.formulas;
  if (!f || (!f.richardson && !f.central_half)) return [];
  return [h("p", { className: "small formulas", text: t("gc.formulasNote", { central: f.central, half: f.central_half, richardson: f.richardson }) })];
}

/**
 * The planted bugs this graph cannot show (they change no gradient here), in words.
 * @param {GradcheckReport} r
 */
function unseenLines(r) {
  return (r.unseen_bugs ?? []).map((b) => h("p", {
    className: "hint small unseen", "data-node": b.node ?? "",
    text: t("gc.unseen", {
      where: b.node === null ? t("graph.unseenOverwrite") : `${b.node} (${b.variant})`,
      why: b.why === "one_row" ? t("graph.unseenOneRow") : "",
      fix: b.why === "one_row" ? t("graph.unseenFixRows") : "",
    }),
  }));
}

/**
 * The bugs planted in a checked graph (broken layers, overwritten gradients), in words.
 * @param {GradcheckBody} request
 */
function bugLines(request) {
  if (!("graph" in request)) return [];
  const lines = request.graph.nodes.filter((n) => n.variant).map((n) => h("p", {
    className: "hint small bug", "data-node": n.id,
    text: t("gc.broken", { node: n.id, op: opName(n.op), name: n.variant ?? "", doc: variantDoc({ name: n.variant ?? "", doc: "" }) }),
  }));
  if (request.graph.accumulate === "overwrite") lines.push(h("p", { className: "hint small bug", text: t("gc.overwrite") }));
  return lines;
}

/**
 * Backprop next to numerical for each element of a small input (2.2 vs 2.2000000001), the
 * numbers the rule compares.
 * @param {GradcheckReport} r
 */
function sideBySide(r) {
  if (r.mode !== "full") return [];
  const rows = Object.entries(r.params || {}).filter(([, p]) => p.size <= 4 && (p.worst || []).length);
  if (!rows.length) return [];
  const list = h("ul", { className: "side-by-side small" });
  for (const [name, p] of rows) {
    for (const w of [...(p.worst || [])].sort((a, b) => (a.index.join() < b.index.join() ? -1 : 1))) {
      const at = w.index.length ? `${name}[${w.index.join(", ")}]` : name;
      const formula = w.formula ?? "central";
      let text = t("gc.sideBySide", { at, bp: fmt(w.backprop, 15), num: fmt(w.numerical, 15), formula: t(`gc.formula.${formula}`), d: sci(w.abs_diff) });
      // NOTE: an extrapolation comes with the plain central difference it corrects.
      if (formula !== "central" && typeof w.central === "number") {
        text += `; ${t("gc.centralBeside", { central: fmt(w.central, 15), d: sci(Math.abs(w.backprop - w.central)) })}`;
      }
      list.append(h("li", { "data-param": name, "data-formula": formula, text }));
    }
  }
  return [h("p", { className: "small", text: t("gc.sideBySideTitle") }), list];
}

// @ts-check
// The gradient check: backprop against central differences, as a table and a log-scale picture.

import { api } from "./api.js";
import { variantDoc } from "./op-labels.js";
import { t } from "./i18n.js";
import { fmt } from "./tensor.js";
import { byId as $, fieldMessage, h } from "./ui.js";

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
  }

  async init() {
    const form = $("gc-form");
    form.addEventListener("change", () => this.syncForm());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run();
    });
    this.syncForm();
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
    $("gc-error").textContent = "";
    let body;
    try {
      body = this.body();
    } catch (err) {
      $("gc-error").textContent = /** @type {Error} */ (err).message;
      return;
    }
    const button = $("gc-run", HTMLButtonElement);
    button.disabled = true;
    $("gc-summary").replaceChildren(h("p", { className: "muted busy", text: t("gc.running") }));
    try {
      this.report = await api.gradcheck(body);
      this.request = body;
    } catch (err) {
      this.report = null;
      $("gc-error").textContent = /** @type {Error} */ (err).message;
    } finally {
      button.disabled = false;
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
    picture.append(this.chart(entries, r));
  }

  /**
   * One row per parameter on a log axis: mean and max |diff|, the worst elements, the tolerance.
   * @param {[string, ParamCheck][]} entries
   * @param {GradcheckReport} report
   */
  chart(entries, report) {
    const rowH = 34;
    const left = 90;
    const right = 24;
    const width = Math.max(300, ($("gc-picture").clientWidth || 760) - 4);
    const height = 40 + entries.length * rowH + 34;
    const svg = s("svg", { width, height, class: "gc-chart", role: "img", "aria-label": t("gc.picture") });
    /** @type {(v: number | null) => number} */
    const x = (v) => {
      const lv = Math.log10(Math.max(v ?? 0, 10 ** LOG_MIN));
      return left + ((lv - LOG_MIN) / (LOG_MAX - LOG_MIN)) * (width - left - right);
    };
    const axisY = 30 + entries.length * rowH;
    for (let e = LOG_MIN + 1; e <= LOG_MAX; e += 2) {
      s("line", { x1: x(10 ** e), x2: x(10 ** e), y1: 22, y2: axisY, class: "grid" }, svg);
      s("text", { x: x(10 ** e), y: axisY + 16, "text-anchor": "middle", class: "tick" }, svg, `1e${e}`);
    }
    s("text", { x: left + (width - left - right) / 2, y: axisY + 31, "text-anchor": "middle", class: "axis-label" }, svg, t("gc.axis"));
    if (report.atol > 0) {
      s("line", { x1: x(report.atol), x2: x(report.atol), y1: 14, y2: axisY, class: "tol" }, svg);
      s("text", { x: x(report.atol) + 4, y: 16, class: "tol-label" }, svg, `atol ${sci(report.atol)}`);
    }
    entries.forEach(([name, p], i) => {
      const y = 30 + i * rowH;
      s("text", { x: left - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "param" }, svg, name);
      const bar = s("rect", { x: left, y: y + 8, width: Math.max(1, x(p.max_abs_diff) - left), height: rowH - 16, class: `bar ${p.passed ? "pass" : "fail"}`, "data-param": name }, svg);
      s("title", {}, bar, `${name}: max |diff| ${sci(p.max_abs_diff)}`);
      const mean = s("line", { x1: x(p.mean_abs_diff), x2: x(p.mean_abs_diff), y1: y + 4, y2: y + rowH - 4, class: "mean" }, svg);
      s("title", {}, mean, `${name}: mean |diff| ${sci(p.mean_abs_diff)}`);
      for (const w of p.worst || []) {
        const dot = s("circle", { cx: x(w.abs_diff), cy: y + rowH / 2, r: 3.5, class: "worst" }, svg);
        const where = report.mode === "fast" ? t("gc.direction", { k: (w.index || []).join(", ") }) : `[${(w.index || []).join(", ")}]`;
        s("title", {}, dot, t("gc.worstTip", { name, where, bp: sci(w.backprop), num: sci(w.numerical), d: sci(w.abs_diff) }));
      }
    });
    const legend = s("g", { class: "legend" }, svg);
    const items = [["bar pass", t("gc.legendMax")], ["mean", t("gc.legendMean")], ["worst", t("gc.legendWorst")]];
    let lx = left;
    for (const [cls, label] of items) {
      if (cls === "mean") s("line", { x1: lx, x2: lx, y1: 2, y2: 14, class: cls }, legend);
      else if (cls === "worst") s("circle", { cx: lx + 4, cy: 8, r: 3.5, class: cls }, legend);
      else s("rect", { x: lx, y: 3, width: 12, height: 10, class: cls }, legend);
      s("text", { x: lx + 16, y: 12, class: "tick" }, legend, label);
      lx += 30 + label.length * 6.5;
    }
    return svg;
  }

  relabel() {
    if (this.report) this.render();
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
    text: t("gc.broken", { node: n.id, op: n.op, name: n.variant ?? "", doc: variantDoc({ name: n.variant ?? "", doc: "" }) }),
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

// @ts-check
// The gradient flow of a training run (the `layers` event, ../shared/docs/api.md): the network
// drawn as a computation graph whose edges carry each layer's gradient (width, colour and the
// number), a strip of per-layer histograms, and the update:data ratio over time (log scale).

import { Chart, COLORS } from "./charts.js";
import { t } from "./i18n.js";
import { h } from "./ui.js";

/** @typedef {{edges: number[], counts: number[]}} Histogram */
/**
 * @typedef {object} LayerStats One Affine layer at one step (engine/layer_stats.py).
 * @property {string} name
 * @property {string} param
 * @property {number} grad_mean_abs
 * @property {number} grad_max_abs
 * @property {number} grad_to_data
 * @property {number} update_to_data
 * @property {Histogram} activation_hist
 * @property {Histogram} grad_hist
 * @property {number | null} saturated
 */
/** @typedef {{iteration: number, layers: LayerStats[]}} LayersEvent */
/**
 * @typedef {{iteration: number, layers: {name: string, update_to_data: number | null,
 *   grad_mean_abs: number | null}[]}} LayersPoint a layers event without its histograms
 */
/** @typedef {{layers?: LayersPoint[], layers_last?: LayersEvent | null}} LayersHistory */

const SVG = "http://www.w3.org/2000/svg";
/** The guide line of the ratio chart: an update about a thousandth of the weights is healthy. */
export const GUIDE = 1e-3;
/** The colours of the edges, small gradient to large: each at least 3:1 against white. */
const LOW = [28, 126, 214]; // #1c7ed6
const HIGH = [201, 42, 42]; // #c92a2a
/** The histograms' bars: 4.6:1 against white. */
const BAR = "#1c6ed6";

/**
 * A number as it is written on the page: 3 significant digits, exponent for small ones.
 * @param {number | null | undefined} x
 */
export function sci(x) {
  if (typeof x !== "number" || !Number.isFinite(x)) return "–";
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a < 1e-2 || a >= 1e4 ? x.toExponential(2).replace("+", "") : String(Number(x.toPrecision(3)));
}

/**
 * An SVG element with attributes and children.
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {...(Node | string)} children
 */
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

/**
 * Where a gradient stands between the layers' smallest and largest, on a log scale (0..1).
 * @param {number} g
 * @param {number} lo
 * @param {number} hi
 */
function position(g, lo, hi) {
  if (!(g > 0) || !(hi > lo)) return g > 0 ? 1 : 0;
  return Math.min(1, Math.max(0, Math.log10(g / lo) / Math.log10(hi / lo)));
}

/** @param {number} s 0..1 */
function edgeColour(s) {
  const c = LOW.map((lo, i) => Math.round(lo + (HIGH[i] - lo) * s));
  return `rgb(${c.join(", ")})`;
}

/**
 * The names of the nodes between two Affine layers, as the run's settings build them.
 * @param {Record<string, unknown>} config
 */
function hiddenNodes(config) {
  const act = String(config.activation || "relu");
  const name = act === "relu" ? "ReLU" : act === "tanh" ? "tanh" : "Sigmoid";
  const nodes = [];
  if (config.batch_norm) nodes.push("BatchNorm");
  nodes.push(name);
  if (typeof config.dropout === "number" && config.dropout > 0) nodes.push("Dropout");
  return nodes;
}

/** The update:data ratio of each layer over the iterations, on a log scale with a 1e-3 guide. */
export class RatioChart extends Chart {
  /** @param {LayersPoint[]} points */
  update(points) {
    const names = points.length ? points[points.length - 1].layers.map((l) => l.name) : [];
    const xs = points.map((p) => p.iteration);
    /** @type {import("/vendor/uplot/uPlot.esm.js").Series[]} */
    const series = [{ label: t("chart.iteration") }];
    /** @type {(number | null)[][]} */
    const data = [xs];
    names.forEach((name, i) => {
      series.push({ label: name, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 5 } });
      data.push(points.map((p) => {
        const v = p.layers.find((l) => l.name === name)?.update_to_data;
        return typeof v === "number" && v > 0 ? v : null;
      }));
    });
    series.push({ label: t("layers.guide"), stroke: "#495057", width: 1, dash: [5, 5], points: { show: false } });
    data.push(xs.map(() => GUIDE));
    this.draw(series.map((s) => s.label).join("|"), {
      series,
      legend: { live: true },
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [{ label: t("chart.iteration") }, { label: t("layers.ratioAxis"), size: 64 }],
    }, /** @type {import("/vendor/uplot/uPlot.esm.js").AlignedData} */ (data));
    this.el.dataset.points = String(xs.length);
  }
}

export class LayerPanel {
  /** @param {HTMLElement} root an empty element the panel fills */
  constructor(root) {
    this.root = root;
    /** @type {LayersPoint[]} */
    this.points = [];
    /** @type {LayersEvent | null} */
    this.last = null;
    /** @type {Record<string, unknown>} */
    this.config = {};
    this.graph = h("div", { className: "layers-graph", id: "layers-graph" });
    this.toggle = h("input", { type: "checkbox", id: "layers-grad-toggle" });
    this.toggle.addEventListener("change", () => this.renderHistograms());
    this.strip = h("div", { className: "layers-strip", id: "layers-strip" });
    this.histTitle = h("span", { id: "layers-hist-title", "data-i18n": "layers.hists", text: t("layers.hists") });
    this.ratioEl = h("div", { className: "chart", id: "layers-ratio", role: "img" });
    this.iteration = h("p", { className: "muted small", id: "layers-iteration" });
    root.append(
      h("h2", { "data-i18n": "layers.title", text: t("layers.title") }),
      h("p", { className: "hint small", "data-i18n": "layers.hint", text: t("layers.hint") }),
      this.iteration,
      h("figure", { className: "chart-box" },
        h("figcaption", { "data-i18n": "layers.graph", text: t("layers.graph") }), this.graph),
      h("figure", { className: "chart-box" },
        h("figcaption", {},
          this.histTitle,
          h("label", { className: "inline small layers-toggle" }, this.toggle,
            h("span", { "data-i18n": "layers.showGrads", text: t("layers.showGrads") }))),
        this.strip),
      h("figure", { className: "chart-box" },
        h("figcaption", { "data-i18n": "layers.ratio", text: t("layers.ratio") }), this.ratioEl),
    );
    // The init menu's options come from the engine's list (the template); their words from i18n.
    for (const option of document.querySelectorAll("#t-init option")) {
      if (!(option instanceof HTMLOptionElement)) continue;
      option.dataset.i18n = `layers.init_${option.value}`;
      option.textContent = t(option.dataset.i18n);
    }
    // With hidden layers listed, the single hidden size is not used: say so by disabling it.
    const layersInput = document.getElementById("t-layers");
    layersInput?.addEventListener("input", syncHiddenSize);
    this.ratio = new RatioChart(this.ratioEl);
    this.ratioEl.setAttribute("aria-label", t("layers.ratio"));
    root.hidden = true;
  }

  /**
   * A new run is on show: forget the last one's statistics.
   * @param {Record<string, unknown>} config
   */
  reset(config) {
    this.points = [];
    this.last = null;
    this.config = config;
    this.render();
  }

  /**
   * A finished (or reopened) run's statistics from GET /train/{id}'s history.
   * @param {LayersHistory} history
   * @param {Record<string, unknown>} config
   */
  setHistory(history, config) {
    this.config = config;
    this.points = history.layers ? [...history.layers] : [];
    this.last = history.layers_last ?? null;
    this.render();
  }

  /**
   * A live `layers` event.
   * @param {LayersEvent} event
   */
  add(event) {
    if (this.points.some((p) => p.iteration === event.iteration)) return;
    this.points.push({
      iteration: event.iteration,
      layers: event.layers.map((l) => ({ name: l.name, update_to_data: l.update_to_data, grad_mean_abs: l.grad_mean_abs })),
    });
    this.last = event;
    this.render();
  }

  /** The language changed: write the panel's words again. */
  relabel() {
    this.ratio.key = "";
    this.ratioEl.setAttribute("aria-label", t("layers.ratio"));
    this.render();
  }

  render() {
    this.root.hidden = !this.last;
    if (!this.last) return;
    this.iteration.textContent = t("layers.at", { iteration: this.last.iteration.toLocaleString("en-US") });
    this.renderGraph(this.last);
    this.renderHistograms();
    this.ratio.update(this.points);
  }

  /**
   * Input → (Affine → activation) × hidden → Affine → Softmax-with-Loss, top to bottom; the edge
   * leaving each Affine block carries that layer's mean |dL/dW| as width, colour and number.
   * @param {LayersEvent} event
   */
  renderGraph(event) {
    const layers = event.layers;
    const grads = layers.map((l) => l.grad_mean_abs).filter((g) => g > 0);
    const lo = Math.min(...grads);
    const hi = Math.max(...grads);
    const extra = hiddenNodes(this.config);
    const width = 320;
    const box = 30;
    const gap = 46;
    const height = (layers.length + 1) * (box + gap) + box;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "layers-svg", "aria-label": t("layers.graph") });
    const x = 24;
    const w = width - 2 * x;
    /** @param {number} i @param {string} text @param {string} cls */
    const node = (i, text, cls) => {
      const y = i * (box + gap);
      root.append(
        svg("rect", { x, y, width: w, height: box, rx: 6, class: `layers-node ${cls}` }),
        svg("text", { x: width / 2, y: y + box / 2 + 5, "text-anchor": "middle", class: "layers-node-text" }, text),
      );
    };
    node(0, t("layers.input"), "input");
    // the data flows in from the input; no gradient is computed for it (it is not learned)
    root.append(svg("line", { x1: 56, y1: box, x2: 56, y2: box + gap, stroke: "#868e96", "stroke-width": 1.5, "stroke-dasharray": "4 3" }));
    layers.forEach((layer, i) => {
      const last = i === layers.length - 1;
      node(i + 1, last ? layer.name : [layer.name, ...extra].join(" → "), "");
      const s = position(layer.grad_mean_abs, lo, hi);
      const y0 = (i + 1) * (box + gap) + box;
      const y1 = y0 + gap;
      const line = svg("line", {
        x1: 56, y1: y0, x2: 56, y2: y1, stroke: edgeColour(s), "stroke-width": (1.5 + 8.5 * s).toFixed(2),
        class: "layers-edge", "data-layer": layer.name, "data-grad": String(layer.grad_mean_abs),
      });
      const label = svg("text", { x: 76, y: y0 + gap / 2 + 5, class: "layers-edge-text", "data-layer": layer.name },
        `∂L/∂${layer.param}: ${t("layers.meanAbs")} ${sci(layer.grad_mean_abs)}`);
      root.append(line, label);
    });
    node(layers.length + 1, "Softmax-with-Loss", "loss");
    this.graph.replaceChildren(root, h("p", { className: "hint small", text: t("layers.graphHint") }));
  }

  renderHistograms() {
    if (!this.last) return;
    const grads = this.toggle.checked;
    const kind = grads ? "grad_hist" : "activation_hist";
    this.histTitle.dataset.i18n = grads ? "layers.histsGrad" : "layers.hists";
    this.histTitle.textContent = t(this.histTitle.dataset.i18n);
    this.strip.dataset.kind = kind;
    this.strip.replaceChildren(...this.last.layers.map((layer) => {
      const hist = layer[kind];
      const top = Math.max(1, ...hist.counts);
      const W = 150;
      const H = 64;
      const bw = W / hist.counts.length;
      const bars = hist.counts.map((c, j) => svg("rect", {
        x: (j * bw).toFixed(2), y: (H - (H * c) / top).toFixed(2), width: Math.max(0.5, bw - 0.6).toFixed(2),
        height: ((H * c) / top).toFixed(2), fill: BAR,
      }));
      const picture = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "layers-hist", role: "img",
        "aria-label": t("layers.histLabel", { name: layer.name, lo: sci(hist.edges[0]), hi: sci(hist.edges[hist.edges.length - 1]) }) }, ...bars);
      const saturated = layer.saturated === null
        ? t("layers.output")
        : t("layers.saturated", { pct: (100 * layer.saturated).toFixed(1) });
      return h("figure", { className: "layers-hist-box", "data-layer": layer.name, "data-total": String(hist.counts.reduce((a, b) => a + b, 0)) },
        picture,
        h("figcaption", { className: "small" },
          h("strong", { text: layer.name }), " ",
          h("span", { className: "muted", text: `[${sci(hist.edges[0])}, ${sci(hist.edges[hist.edges.length - 1])}]` }),
          h("br"), h("span", { text: grads ? `${t("layers.meanAbs")} ${sci(layer.grad_mean_abs)}` : saturated })));
    }));
  }
}

/** The hidden-size field is disabled while the hidden-layers field lists sizes (it is not used). */
function syncHiddenSize() {
  const layersInput = document.getElementById("t-layers");
  const hidden = document.getElementById("t-hidden");
  if (layersInput instanceof HTMLInputElement && hidden instanceof HTMLInputElement) {
    hidden.disabled = layersInput.value.trim() !== "";
  }
}

/** @type {[name: string, id: string][]} the deeper-network fields of the training form */
const NUMBERS = [["weight_init_std", "t-init-std"], ["dropout", "t-dropout"], ["weight_decay", "t-decay"]];

/**
 * The deeper-network fields as POST /train fields (only those away from their defaults: the
 * inputs' defaultValue, which the server writes from the engine's TrainConfig), and errors.
 * @param {Record<string, number>} limits GET /limits
 * @returns {{fields: Record<string, unknown>, errors: string[], first: HTMLElement | null}}
 */
export function readDeepForm(limits) {
  /** @type {Record<string, unknown>} */
  const fields = {};
  /** @type {string[]} */
  const errors = [];
  /** @type {HTMLElement | null} */
  let first = null;
  const layersInput = /** @type {HTMLInputElement} */ (document.getElementById("t-layers"));
  const text = layersInput.value.trim();
  let bad = false;
  if (text) {
    const sizes = text.split(/[\s,，]+/).filter(Boolean).map(Number);
    const most = limits.max_layers || 10;
    const wide = limits.max_hidden_size || Infinity;
    bad = !sizes.length || sizes.length > most || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > wide);
    if (bad) errors.push(t("layers.badLayers", { most }));
    else fields.layers = sizes;
  }
  layersInput.setAttribute("aria-invalid", bad ? "true" : "false");
  if (bad) first = layersInput;
  for (const id of ["t-activation", "t-init"]) {
    const sel = /** @type {HTMLSelectElement} */ (document.getElementById(id));
    const dflt = [...sel.options].find((o) => o.defaultSelected)?.value ?? sel.options[0].value;
    if (sel.value !== dflt) fields[sel.name] = sel.value;
  }
  const bn = /** @type {HTMLInputElement} */ (document.getElementById("t-bn"));
  if (bn.checked !== bn.defaultChecked) fields.batch_norm = bn.checked;
  for (const [name, id] of NUMBERS) {
    const input = /** @type {HTMLInputElement} */ (document.getElementById(id));
    const value = Number(input.value);
    const max = Number(input.max);
    const wrong = input.value.trim() === "" || !Number.isFinite(value) || value < Number(input.min)
      || (name === "weight_init_std" ? value <= 0 : false) || (Number.isFinite(max) && input.max !== "" && value > max);
    input.setAttribute("aria-invalid", wrong ? "true" : "false");
    if (wrong) {
      errors.push(t("layers.badNumber", { field: t(`field.${name}`), min: input.min, max: input.max || "∞" }));
      first = first || input;
    } else if (value !== Number(input.defaultValue)) {
      fields[name] = value;
    }
  }
  return { fields, errors, first };
}

/**
 * Put a run's deeper-network settings into the form (the defaults where it has none).
 * @param {Record<string, unknown>} config
 */
export function fillDeepForm(config) {
  const layersInput = /** @type {HTMLInputElement} */ (document.getElementById("t-layers"));
  layersInput.value = Array.isArray(config.layers) ? config.layers.join(", ") : "";
  syncHiddenSize();
  for (const id of ["t-activation", "t-init"]) {
    const sel = /** @type {HTMLSelectElement} */ (document.getElementById(id));
    const value = config[sel.name];
    const dflt = [...sel.options].find((o) => o.defaultSelected)?.value ?? sel.options[0].value;
    sel.value = typeof value === "string" && [...sel.options].some((o) => o.value === value) ? value : dflt;
  }
  const bn = /** @type {HTMLInputElement} */ (document.getElementById("t-bn"));
  bn.checked = typeof config.batch_norm === "boolean" ? config.batch_norm : bn.defaultChecked;
  for (const [name, id] of NUMBERS) {
    const input = /** @type {HTMLInputElement} */ (document.getElementById(id));
    const value = config[name];
    input.value = typeof value === "number" ? String(value) : input.defaultValue;
    input.setAttribute("aria-invalid", "false");
  }
  const deep = document.getElementById("t-deep");
  if (deep instanceof HTMLDetailsElement && Object.keys(config).some((k) => k === "layers" && config[k])) deep.open = true;
}

// @ts-check
// Drawing a graph as SVG in the book's style: values above the edges, gradients below in red.

import { asGrid, heatmapUrl, fmt, fullText, isScalar, maxOf, shapeOf, shapeText, short, flatten } from "./tensor.js";
import { opDoc, opFormula, opName } from "./op-labels.js";
import { estimateText, verdict } from "./graph-check.js";
import { t } from "./i18n.js";
import { outputOf } from "./graph-model.js";
import {
  CIRCLE_R, STUB, bezierMid, detourPath, detourPoint, edgePath, el, geometry, inPort, outPort, portNames, routeOf,
  routePath, samePlace,
} from "./graph-geometry.js";

/** @typedef {import("./api.js").Op} Op */
/** @typedef {import("./api.js").Tensor} Tensor */
/** @typedef {import("./api.js").Evaluation} Evaluation */
/** @typedef {import("./api.js").EvaluatedEdge} EvaluatedEdge */
/** @typedef {import("./graph-model.js").EditNode} EditNode */
/** @typedef {import("./graph-model.js").EditGraph} EditGraph */
/** @typedef {import("./graph-geometry.js").Point} Point */
/** @typedef {import("./graph-geometry.js").Geometry} Geometry */
/**
 * What to draw besides the graph.
 * @typedef {object} RenderOptions
 * @property {Map<string, Op>} ops
 * @property {Evaluation | null} result
 * @property {string | null} selected
 * @property {string | null} selectedEdge
 * @property {string | null} current the node of the current step
 * @property {"forward" | "backward"} [phase]
 * @property {(from: string, to: string) => boolean} [lit] edges an exercise's question is about
 * @property {Record<string, () => string>} errors
 * @property {string | null} output
 * @property {{a: Point, b: Point} | null} pending an edge being dragged
 * @property {(id: string) => boolean} showValue
 * @property {(id: string) => boolean} showGrad
 * @property {() => boolean} showOutputGrad
 * @property {import("./api.js").GradcheckReport | null} [check] "Check on the graph", if run
 * @property {"auto" | "numbers" | "heatmap"} [tensors] tensors as numbers (small ones) or heatmaps
 * @property {boolean} [moving] a node is being dragged: labels are moved apart when it lands
 * @property {(kind: "value" | "grad", from: string, to: string) => boolean} [ask] an exercise
 *   asks for this number: "?" is drawn in its place
 * @property {import("./graph-layout.js").Layout | null} [layout] the last tidy layout: edges
 *   whose ends are still where it put them follow its way, their labels at its anchor
 */
/** How tensors are collapsed to chips: 0 none (small ones written out), 1 matrices, 2 all. */
/** @typedef {0 | 1 | 2} Collapse */


/**
 * How many inputs a node feeds.
 * @param {EditGraph} graph
 * @param {string} id
 */
function usesOf(graph, id) {
  return graph.nodes.reduce((n, other) => n + other.inputs.filter((i) => i === id).length, 0);
}

/**
 * Whether "Check on the graph" writes a node's estimate under the node (an input, a value
 * used more than once, the output) rather than on its one edge.
 * @param {EditGraph} graph
 * @param {EditNode} node
 * @param {string | null} outId
 */
function nodeEstimated(graph, node, outId) {
  return node.op === "input" || usesOf(graph, node.id) !== 1 || node.id === outId;
}

/**
 * The estimate of an edge's gradient, under the gradient's label.
 * @param {Element} parent
 * @param {import("./api.js").ParamCheck} checked
 * @param {Point} at
 */
function edgeEstimate(parent, checked, at) {
  const g = el("g", { class: "label edge-estimate-label" }, parent);
  const est = el("text", { x: at.x, y: at.y + 36, "text-anchor": "middle", class: `edge-estimate check-${verdict(checked)}` }, g);
  est.textContent = estimateText(checked);
  return g;
}

/**
 * What L is, at the tip of the output's arrow: the number whose gradients the canvas shows
 * (L = z; with a dout other than 1, L = Σ dout ⊙ z).
 * @param {Element} parent
 * @param {EditGraph} graph
 * @param {string} outId
 * @param {Point} tip
 */
function lossCaption(parent, graph, outId, tip) {
  const g = el("g", { class: "loss-caption", "data-loss": outId }, parent);
  const text = el("text", { x: tip.x + 6, y: tip.y + 4.5 }, g);
  text.textContent = lossText(graph, outId);
  const title = el("title", {}, g);
  title.textContent = t("graph.lossCaption", { id: outId });
}

/**
 * "L = z", "L = 2·z" or "L = Σ dout ⊙ z" for the graph's dout.
 * @param {EditGraph} graph
 * @param {string} outId
 */
export function lossText(graph, outId) {
  const dout = graph.dout ?? 1;
  if (!isScalar(dout)) return `L = Σ dout ⊙ ${outId}`;
  const c = flatten(dout)[0];
  return c === 1 ? `L = ${outId}` : `L = ${fmt(c)}·${outId}`;
}

/**
 * The size of everything drawn, for the layout: each node's shape and the text under it, each
 * edge's labels above and below it (measured drawn at their largest, as when lit by a step),
 * and the room the output's arrow and "L = …" need.
 * @param {SVGSVGElement} svg
 * @param {EditGraph} graph
 * @param {{ops: Map<string, Op>, result: Evaluation | null, check: import("./api.js").GradcheckReport | null,
 *   tensors: "auto" | "numbers" | "heatmap", collapse: Collapse}} o
 */
export function measureLabels(svg, graph, o) {
  const box = el("g", { class: "measure", visibility: "hidden" }, svg);
  /** @type {Map<string, {w: number, h: number, below: number}>} */
  const nodes = new Map();
  /** @type {Map<string, {w: number, above: number, below: number}>} */
  const edges = new Map();
  const outId = outputOf(graph);
  let tensors = false;
  /** @type {(cls: string, text: string, host?: string) => number} */
  const textWidth = (cls, text, host = "node") => {
    const g = el("g", { class: host }, box);
    const node = el("text", { class: cls }, g);
    node.textContent = text;
    const w = /** @type {SVGGraphicsElement} */ (node).getBBox().width;
    g.remove();
    return w;
  };
  const result = o.result;
  for (const n of graph.nodes) {
    const shape = geometry(n, o.ops.get(n.op));
    const res = result ? result.nodes[n.id] : null;
    const checked = o.check ? o.check.params[n.id] : undefined;
    let w = shape.w + 16; // the ports stick out
    let below = 0;
    if (n.op === "input") {
      if (res && res.differentiable !== false) {
        w = Math.max(w, textWidth("", `∂L/∂${n.id} = ${short(res.grad)}`, "label node-grad") + 8);
        below = 22;
      }
    } else {
      w = Math.max(w, textWidth("node-id under", n.id) + 8);
      below = 20;
    }
    if (checked && nodeEstimated(graph, n, outId)) {
      w = Math.max(w, textWidth("node-estimate", estimateText(checked)) + 8);
      below = n.op === "input" ? 43 : 40;
    }
    nodes.set(n.id, { w, h: shape.h, below });
  }
  /** @type {(key: string, value: Tensor | undefined, grad: Tensor | undefined, est: string, what: string) => void} */
  const measure = (key, value, grad, est, what) => {
    let w = 0;
    let above = 0;
    let below = 0;
    for (const [v, cls, where, phase] of /** @type {const} */ ([[value, "edge-value", "above", "forward"], [grad, "edge-grad", "below", "backward"]])) {
      if (v === undefined) continue;
      if (!isScalar(v)) tensors = true;
      const lg = el("g", { class: `edge-labels active ${phase}` }, box);
      const g = /** @type {SVGGraphicsElement} */ (valueLabel(lg, v, 0, 0, cls, where, o.tensors, o.collapse, what));
      const b = g.getBBox();
      lg.remove();
      w = Math.max(w, b.width + 10);
      if (where === "above") above = Math.max(above, -b.y + 4);
      else below = Math.max(below, b.y + b.height + 4);
    }
    if (est) {
      w = Math.max(w, textWidth("edge-estimate", est, "edge-labels") + 10);
      below = Math.max(below, 36 + 6);
    }
    edges.set(key, { w, above, below });
  };
  for (const e of result ? result.edges : []) {
    const labels = result && result.nodes[e.from] && result.nodes[e.from].differentiable === false;
    const checked = o.check ? o.check.params[e.from] : undefined;
    const grad = labels || e.grad === null ? undefined : e.grad; // labels get no gradient
    const est = checked && grad !== undefined && usesOf(graph, e.from) === 1 && isScalar(grad) ? estimateText(checked) : "";
    measure(`${e.from}>${e.to}>${e.port}`, e.value, grad, est, `${e.from} → ${e.to}`);
  }
  const res = outId && result ? result.nodes[outId] : null;
  if (outId && res) measure(`${outId}>>0`, res.value, res.grad ?? undefined, "", outId);
  const outWidth = outId ? textWidth("", lossText(graph, outId), "loss-caption") + 12 : 0;
  box.remove();
  return { nodes, edges, output: outId, outWidth, tensors };
}

/**
 * Move edge labels off each other and off the nodes: each label, in drawing order, slides
 * away from its edge (values up, gradients down) until its box is free, as far as it must.
 * Fan-out edges (x used by x · x and by + x) otherwise put their labels on one spot.
 * @param {Element} labelsLayer
 * @param {Element} nodesLayer
 */
function declutter(labelsLayer, nodesLayer) {
  /** @type {DOMRect[]} */
  const taken = [];
  const fixed = ":scope > g.node > .body, :scope > g.node > .node-id.under, :scope > g.node > .node-estimate, :scope > g.node > .node-grad";
  for (const n of nodesLayer.querySelectorAll(fixed)) {
    const b = /** @type {SVGGraphicsElement} */ (n).getBBox();
    taken.push(new DOMRect(b.x - 2, b.y - 2, b.width + 4, b.height + 4));
  }
  /** @type {(a: DOMRect, b: DOMRect) => boolean} */
  const hit = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  const labels = [...labelsLayer.querySelectorAll("g.label")].slice(0, 400);
  for (const label of labels) {
    const g = /** @type {SVGGElement} */ (label);
    const raw = g.getBBox();
    if (!raw.width) continue;
    // The text's white halo (stroke 4 px, 6 when active) belongs to the label too.
    const box = new DOMRect(raw.x - 3, raw.y - 3, raw.width + 6, raw.height + 6);
    const up = g.classList.contains("edge-value");
    const step = (up ? -1 : 1) * (box.height + 2);
    let dy = 0;
    /** @type {(d: number) => DOMRect} */
    const at = (d) => new DOMRect(box.x, box.y + d, box.width, box.height);
    for (let tries = 0; tries < 12 && taken.some((t) => hit(at(dy), t)); tries++) dy += step / 2;
    if (dy) g.setAttribute("transform", `translate(0 ${dy})`);
    taken.push(at(dy));
  }
}

/** Height of one row of a tensor written out on an edge. */
const LINE = 14;

/**
 * The rows of a tensor as text, when it is small enough to read on an edge (up to 4×4, or
 * 8×8 when numbers are asked for); null: draw it as a heatmap.
 * @param {Tensor} value
 * @param {"auto" | "numbers" | "heatmap"} mode
 * @returns {string[] | null}
 */
export function numberLines(value, mode) {
  const shape = shapeOf(value);
  const limit = mode === "numbers" ? 8 : mode === "auto" ? 4 : 0;
  if (shape.length > 2 || shape.some((n) => n > limit)) return null;
  if (shape.length === 1) return [`[${flatten(value).map((v) => fmt(v, 4)).join(", ")}]`];
  const rows = asGrid(value).map((row) => row.map((v) => fmt(v, 4)));
  const widths = rows[0].map((_, j) => maxOf(rows.map((r) => r[j].length)));
  const cells = rows.map((r) => r.map((s, j) => s.padStart(widths[j])).join(", "));
  return cells.map((c, i) => `${i === 0 ? "[[" : " ["}${c}]${i === cells.length - 1 ? "]" : ","}`);
}

/**
 * How a value is drawn on an edge: "text" (a number), "numbers" (a small tensor written out,
 * one row a line) or "chip" (its shape and a mini heatmap; its numbers open on demand).
 * @param {Tensor} value
 * @param {"auto" | "numbers" | "heatmap"} mode
 * @param {Collapse} collapse
 * @returns {"text" | "numbers" | "chip"}
 */
export function formOf(value, mode, collapse) {
  if (isScalar(value)) return "text";
  if (mode === "heatmap") return "chip";
  if (mode === "numbers") return numberLines(value, "numbers") ? "numbers" : "chip";
  if (collapse === 2 || (collapse === 1 && shapeOf(value).length > 1)) return "chip";
  return numberLines(value, "auto") ? "numbers" : "chip";
}

/**
 * A value drawn at (x, y): a number as text, a small tensor as its numbers, a larger one (or
 * any, when the canvas has no room) as a chip: its shape and a mini heatmap, a button that
 * opens its numbers.
 * @param {Element} parent
 * @param {Tensor} value
 * @param {number} x
 * @param {number} y
 * @param {string} cls
 * @param {"above" | "below"} where
 * @param {"auto" | "numbers" | "heatmap"} [mode] how tensors are drawn
 * @param {Collapse} [collapse]
 * @param {string} [what] what the value is, for the chip's name ("W1 → Affine1")
 */
export function valueLabel(parent, value, x, y, cls, where, mode = "auto", collapse = 0, what = "") {
  const g = el("g", { class: `label ${cls}` }, parent);
  const form = formOf(value, mode, collapse);
  if (form === "text") {
    g.dataset.tip = fullText(value);
    const text = el("text", { x, y: where === "above" ? y - 7 : y + 17, "text-anchor": "middle" }, g);
    text.textContent = short(Array.isArray(value) ? flatten(value)[0] : value);
    return g;
  }
  const lines = form === "numbers" ? numberLines(value, mode === "numbers" ? "numbers" : "auto") : null;
  if (lines) {
    // A small tensor as the book prints it, one row a line: [[1, 0], [0, 4]].
    g.dataset.tip = fullText(value);
    g.classList.add("numbers");
    const top = where === "above" ? y - 7 - (lines.length - 1) * LINE : y + 17;
    lines.forEach((line, i) => {
      const text = el("text", { x, y: top + i * LINE, "text-anchor": "middle", class: "row" }, g);
      text.textContent = line;
    });
    return g;
  }
  // A chip: "2×3" beside a mini heatmap; hover, tap or focus opens its numbers.
  g.classList.add("heatmap", "chip");
  const hm = heatmapUrl(value, 4, 22);
  const shape = shapeText(value);
  const h = Math.max(hm.height, 14) + 6;
  const w = hm.width + 10 + shape.length * 7.2 + 4;
  const top = where === "above" ? y - 5 - h : y + 5;
  const left = x - w / 2;
  const kind = cls.includes("grad") ? "grad" : "value";
  g.setAttribute("tabindex", "0");
  g.setAttribute("role", "button");
  g.setAttribute("aria-expanded", "false");
  g.setAttribute("aria-haspopup", "dialog");
  g.setAttribute("aria-label", t(kind === "grad" ? "graph.chipGrad" : "graph.chipValue", { what, shape }));
  g.dataset.chip = `${kind}:${what}:${parent.getAttribute("data-port") ?? ""}`;
  g.dataset.title = t(kind === "grad" ? "graph.chipGradTitle" : "graph.chipValueTitle", { what, shape });
  g.dataset.numbers = fullText(value).split("\n").slice(1).join("\n");
  el("rect", { x: left, y: top, width: w, height: h, rx: 4, class: "hm-frame chip-frame" }, g);
  el("image", { href: hm.url, x: left + 4, y: top + (h - hm.height) / 2, width: hm.width, height: hm.height, style: "image-rendering:pixelated" }, g);
  const text = el("text", { x: left + hm.width + 8, y: top + h / 2 + 4, class: "shape" }, g);
  text.textContent = shape;
  return g;
}

/**
 * The "?" an exercise draws where the number it asks for will appear.
 * @param {Element} parent
 * @param {number} x
 * @param {number} y
 * @param {"value" | "grad"} kind
 */
function askLabel(parent, x, y, kind) {
  const g = el("g", { class: `label edge-ask ${kind === "value" ? "edge-value" : "edge-grad"}`, "data-ask": kind }, parent);
  const text = el("text", { x, y: kind === "value" ? y - 7 : y + 17, "text-anchor": "middle" }, g);
  text.textContent = "?";
  return g;
}

/**
 * Draw `graph` into `svg`. `view` says what to show: result (evaluate answer or null), step
 * visibility callbacks, selection, errors, the ops table, and the output id.
 * @param {SVGSVGElement} svg
 * @param {EditGraph} graph
 * @param {RenderOptions} view
 * @returns {Map<string, Geometry>}
 */
export function render(svg, graph, view) {
  svg.replaceChildren();
  const defs = el("defs", {}, svg);
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
  el("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }, marker);

  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const geos = new Map(graph.nodes.map((n) => [n.id, geometry(n, view.ops.get(n.op))]));
  /** @type {(id: string) => Geometry} */
  const geo = (id) => /** @type {Geometry} */ (geos.get(id));
  const edgesLayer = el("g", { class: "edges" }, svg);
  const labelsLayer = el("g", { class: "labels" }, svg);
  const nodesLayer = el("g", { class: "nodes" }, svg);
  const result = view.result;
  const collapse = view.layout ? view.layout.collapse : 0;
  /** @type {Map<string, EvaluatedEdge>} */
  const edgeResults = new Map();
  for (const e of result ? result.edges : []) edgeResults.set(`${e.from}>${e.to}>${e.port}`, e);

  for (const node of graph.nodes) {
    node.inputs.forEach((src, k) => {
      const from = src ? byId.get(src) : undefined;
      if (!src || !from) return;
      const a = outPort(from, geo(src));
      const b = inPort(node, geo(node.id), k);
      const key = `${src}>${node.id}>${k}`;
      const selected = view.selectedEdge === key;
      const checked = view.check ? view.check.params[src] : undefined;
      const lit = Boolean(view.lit && view.lit(src, node.id));
      const cls = `edge${selected ? " selected" : ""}${lit ? " lit" : ""}${checked ? ` check-${verdict(checked)}` : ""}`;
      const g = el("g", { class: cls, "data-edge": key }, edgesLayer);
      if (checked) g.dataset.relError = String(checked.max_rel_error ?? "");
      const route = routeOf(view.layout, byId, src, node.id, key);
      const via = route ? null : detourPoint(a, b, graph.nodes, geos, [src, node.id]);
      /** @type {(end: Point) => string} */
      const path = (end) => (route ? routePath([a, ...route.points, end]) : via ? detourPath(a, via, end) : edgePath(a, end));
      el("path", { d: path(b), class: "hit" }, g);
      el("path", { d: path({ x: b.x - 2, y: b.y }), class: "line", "marker-end": "url(#arrow)" }, g);
      const r = edgeResults.get(key);
      if (!r) return;
      const mid = route ? route.label : via || bezierMid(a, b);
      const active = lit || (view.phase === "forward" && view.current === src) || (view.phase === "backward" && view.current === node.id);
      const lg = el("g", { class: `edge-labels${active ? ` active ${view.phase}` : ""}`, "data-from": src, "data-to": node.id, "data-port": k }, labelsLayer);
      const what = `${src} → ${node.id}`;
      if (view.showValue(src)) {
        valueLabel(lg, r.value, mid.x, mid.y, "edge-value", "above", view.tensors, collapse, what);
      } else if (view.ask && view.ask("value", src, node.id)) askLabel(lg, mid.x, mid.y, "value");
      const labels = result && result.nodes[src] && result.nodes[src].differentiable === false;
      if (view.showGrad(node.id) && !labels) {
        const grad = /** @type {Tensor} */ (r.grad); // only labels' edges carry none
        valueLabel(lg, grad, mid.x, mid.y, "edge-grad", "below", view.tensors, collapse, what);
        // The estimate of the source's whole gradient: on its edge when it has only one.
        if (checked && usesOf(graph, src) === 1 && isScalar(grad)) edgeEstimate(lg, checked, mid);
      } else if (view.ask && view.ask("grad", src, node.id)) askLabel(lg, mid.x, mid.y, "grad");
    });
  }

  const outId = view.output;
  const outNode = outId ? byId.get(outId) : undefined;
  if (outId && outNode) {
    const a = outPort(outNode, geo(outId));
    const laid = view.layout && view.layout.out && samePlace(view.layout, outNode) ? view.layout.out : null;
    const b = { x: laid ? Math.max(a.x + 40, laid.x) : a.x + STUB, y: a.y };
    el("path", { d: `M${a.x},${a.y} L${b.x - 2},${b.y}`, class: "line output-line", "marker-end": "url(#arrow)" }, edgesLayer);
    const res = result ? result.nodes[outId] : null;
    if (res) {
      const lg = el("g", { class: "edge-labels output-labels", "data-from": outId, "data-to": "" }, labelsLayer);
      const x = (a.x + b.x) / 2;
      if (view.showValue(outId)) valueLabel(lg, res.value, x, a.y, "edge-value", "above", view.tensors, collapse, outId);
      else if (view.ask && view.ask("value", outId, "")) askLabel(lg, x, a.y, "value");
      if (view.showOutputGrad() && res.grad !== null) valueLabel(lg, res.grad, x, a.y, "edge-grad", "below", view.tensors, collapse, outId);
    }
    lossCaption(edgesLayer, graph, outId, b);
  }

  for (const node of graph.nodes) {
    const meta = view.ops.get(node.op);
    const shape = geo(node.id);
    const classes = ["node", `op-${node.op}`];
    if (view.selected === node.id) classes.push("selected");
    if (view.current === node.id) classes.push("current");
    if (view.errors[node.id]) classes.push("has-error");
    if (node.id === outId) classes.push("is-output");
    if (node.variant) classes.push("broken");
    const g = el("g", {
      class: classes.join(" "),
      "data-node": node.id,
      tabindex: 0,
      role: "button",
      "aria-label": t("graph.nodeAria", { id: node.id, op: opName(node.op) }),
      "aria-pressed": view.selected === node.id ? "true" : "false",
    }, nodesLayer);
    if (shape.kind === "box") {
      el("rect", { x: node.x - shape.w / 2, y: node.y - shape.h / 2, width: shape.w, height: shape.h, rx: 8, class: "body" }, g);
      const id = el("text", { x: node.x, y: node.y - 5, "text-anchor": "middle", class: "node-id" }, g);
      id.textContent = node.id;
      const val = el("text", { x: node.x, y: node.y + 13, "text-anchor": "middle", class: "node-value" }, g);
      val.textContent = short(node.value ?? 0);
      g.dataset.tip = fullText(node.value ?? 0);
    } else {
      if (shape.kind === "circle") el("circle", { cx: node.x, cy: node.y, r: CIRCLE_R, class: "body" }, g);
      else el("rect", { x: node.x - shape.w / 2, y: node.y - shape.h / 2, width: shape.w, height: shape.h, rx: shape.h / 2, class: "body" }, g);
      const sym = el("text", { x: node.x, y: node.y + (shape.kind === "circle" ? 7 : 5), "text-anchor": "middle", class: shape.kind === "circle" ? "symbol" : "symbol small" }, g);
      sym.textContent = shape.symbol ?? "";
      const id = el("text", { x: node.x, y: node.y + shape.h / 2 + 15, "text-anchor": "middle", class: "node-id under" }, g);
      id.textContent = node.id;
      if (meta && meta.doc) g.dataset.tip = `${opName(node.op)}: ${opDoc(meta)}${meta.formula ? `\n${opFormula(meta)}` : ""}`;
      const names = portNames(meta, shape.arity);
      for (let k = 0; k < shape.arity; k++) {
        const p = inPort(node, shape, k);
        const pg = el("g", { class: `port in${node.inputs && node.inputs[k] ? " connected" : ""}`, "data-port-in": k, "data-node-id": node.id }, g);
        el("circle", { cx: p.x, cy: p.y, r: 7 }, pg);
        const n = el("text", { x: p.x, y: p.y + 3.5, "text-anchor": "middle" }, pg);
        n.textContent = String(k);
        const title = el("title", {}, pg);
        title.textContent = `${names[k]} (${k})`;
      }
    }
    const checked = view.check ? view.check.params[node.id] : undefined;
    if (checked && nodeEstimated(graph, node, outId)) {
      const below = shape.h / 2 + (node.op === "input" ? 37 : 34); // under an input's ∂L label
      const est = el("text", { x: node.x, y: node.y + below, "text-anchor": "middle", class: `node-estimate check-${verdict(checked)}`, "data-node-estimate": node.id }, g);
      est.textContent = estimateText(checked);
    }
    const res = result ? result.nodes[node.id] : null;
    if (res && res.grad !== null && node.op === "input" && view.showGrad(node.id) && res.differentiable !== false) {
      const gl = el("g", { class: "label node-grad", "data-node-grad": node.id }, g);
      gl.dataset.tip = fullText(res.grad);
      const txt = el("text", { x: node.x, y: node.y + shape.h / 2 + 16, "text-anchor": "middle" }, gl);
      txt.textContent = `∂L/∂${node.id} = ${short(res.grad)}`;
    }
    const op = outPort(node, shape);
    const og = el("g", { class: "port out", "data-port-out": node.id }, g);
    el("circle", { cx: op.x, cy: op.y, r: 7 }, og);
    const title = el("title", {}, og);
    title.textContent = t("graph.dragToConnect");
    // The name said holds the text the node shows, in its order, so speech input can press
    // it by what it reads (WCAG 2.5.3).
    const texts = [...g.querySelectorAll("text")];
    // A space between the texts, so that they read as words, not "apple100".
    for (const x of texts) x.after(document.createTextNode(" "));
    const shown = texts.map((x) => x.textContent).filter(Boolean).join(" ");
    g.setAttribute("aria-label", `${g.getAttribute("aria-label")}: ${shown}`);
  }

  // NOTE: measuring every label forces a layout; not on each pointer move of a drag.
  if (!view.moving) declutter(labelsLayer, nodesLayer);
  if (view.pending) {
    el("path", { d: edgePath(view.pending.a, view.pending.b), class: "line pending" }, svg);
  }
  return geos;
}

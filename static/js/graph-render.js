// @ts-check
// Drawing a graph as SVG in the book's style: values above the edges, gradients below in red.

import { asGrid, heatmapUrl, fmt, fullText, isScalar, maxOf, shapeOf, short, flatten } from "./tensor.js";
import { opDoc, symbolFor } from "./op-labels.js";
import { estimateText, verdict } from "./graph-check.js";
import { t } from "./i18n.js";

/** @typedef {import("./api.js").Op} Op */
/** @typedef {import("./api.js").Tensor} Tensor */
/** @typedef {import("./api.js").Evaluation} Evaluation */
/** @typedef {import("./api.js").EvaluatedEdge} EvaluatedEdge */
/** @typedef {import("./graph-model.js").EditNode} EditNode */
/** @typedef {import("./graph-model.js").EditGraph} EditGraph */
/** @typedef {{x: number, y: number}} Point */
/**
 * A node's shape: a box (inputs), a circle (short symbols) or a pill, its size and ports.
 * @typedef {{kind: "box" | "circle" | "pill", w: number, h: number, arity: number, symbol?: string}} Geometry
 */
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
 * @property {Record<string, string>} errors
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
 */

const NS = "http://www.w3.org/2000/svg";
export const INPUT_W = 100;
export const INPUT_H = 46;
export const CIRCLE_R = 27;
const PORT_GAP = 20;
const STUB = 90;

/**
 * An SVG element with attributes, appended to `parent` if given.
 * @param {string} name
 * @param {Record<string, string | number | undefined | null>} [attrs]
 * @param {Element | null} [parent]
 * @returns {SVGElement}
 */
export function el(name, attrs = {}, parent = null) {
  const node = /** @type {SVGElement} */ (document.createElementNS(NS, name));
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/**
 * The shape of a node: a box for inputs, a circle for short symbols, a pill otherwise.
 * @param {EditNode} node
 * @param {Op | undefined} meta
 * @returns {Geometry}
 */
export function geometry(node, meta) {
  const arity = node.op === "input" ? 0 : Math.max(arityOf(meta, node), node.inputs.length);
  if (node.op === "input") return { kind: "box", w: INPUT_W, h: INPUT_H, arity };
  const symbol = symbolFor(node.op);
  if (symbol.length <= 2 && arity <= 2) {
    return { kind: "circle", w: CIRCLE_R * 2, h: CIRCLE_R * 2, arity, symbol };
  }
  const w = Math.max(64, symbol.length * 8.2 + 26);
  const h = Math.max(44, arity * PORT_GAP + 12);
  return { kind: "pill", w, h, arity, symbol };
}

/**
 * How many inputs a node takes: its op's arity (an unknown op: as many as it has).
 * @param {Op | undefined} meta
 * @param {EditNode} node
 */
export function arityOf(meta, node) {
  return meta ? meta.arity : node.inputs.length;
}

/**
 * The names of a node's `arity` input ports ("x", "y"; "in2" past what the op names).
 * @param {Op | undefined} meta
 * @param {number} arity
 */
export function portNames(meta, arity) {
  const names = meta ? meta.inputs : [];
  return Array.from({ length: arity }, (_, k) => names[k] || `in${k}`);
}

/**
 * Where input port `k` of a node is.
 * @param {EditNode} node
 * @param {Geometry} geo
 * @param {number} k
 * @returns {Point}
 */
export function inPort(node, geo, k) {
  const n = Math.max(1, geo.arity);
  const dy = (k - (n - 1) / 2) * PORT_GAP;
  if (geo.kind === "circle") {
    const dx = Math.sqrt(Math.max(0, CIRCLE_R * CIRCLE_R - dy * dy));
    return { x: node.x - dx, y: node.y + dy };
  }
  return { x: node.x - geo.w / 2, y: node.y + dy };
}

/**
 * Where a node's output port is.
 * @param {EditNode} node
 * @param {Geometry} geo
 * @returns {Point}
 */
export function outPort(node, geo) {
  return { x: node.x + geo.w / 2, y: node.y };
}

/**
 * @param {Point} a
 * @param {Point} b
 */
function edgePath(a, b) {
  const dx = Math.max(40, Math.abs(b.x - a.x) / 2);
  return `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
}

/**
 * Where an edge's labels go: a little before the middle, where converging edges are apart.
 * @param {Point} a
 * @param {Point} b
 */
function bezierMid(a, b) {
  const dx = Math.max(40, Math.abs(b.x - a.x) / 2);
  const p = [a, { x: a.x + dx, y: a.y }, { x: b.x - dx, y: b.y }, b];
  const tt = 0.42;
  /** @type {(u: Point, v: Point) => Point} */
  const m = (u, v) => ({ x: u.x + (v.x - u.x) * tt, y: u.y + (v.y - u.y) * tt });
  const q = [m(p[0], p[1]), m(p[1], p[2]), m(p[2], p[3])];
  const r = [m(q[0], q[1]), m(q[1], q[2])];
  return m(r[0], r[1]);
}

/**
 * A point below the nodes that the edge a→b would otherwise run through (e.g. x → add in
 * x·y + x, with x·y on the same row), or null when the way is clear. The edge then bends
 * under them and its labels sit at that point, clear of the nodes and their names.
 * @param {Point} a
 * @param {Point} b
 * @param {EditNode[]} nodes
 * @param {Map<string, Geometry>} geos
 * @param {string[]} skip
 * @returns {Point | null}
 */
function detourPoint(a, b, nodes, geos, skip) {
  const lo = Math.min(a.x, b.x);
  const hi = Math.max(a.x, b.x);
  let bottom = null;
  for (const n of nodes) {
    if (skip.includes(n.id) || n.x <= lo + 10 || n.x >= hi - 10) continue;
    const g = /** @type {Geometry} */ (geos.get(n.id));
    const y = a.y + ((b.y - a.y) * (n.x - a.x)) / (b.x - a.x || 1);
    if (Math.abs(n.y - y) < g.h / 2 + 16) bottom = Math.max(bottom ?? -Infinity, n.y + g.h / 2 + 62);
  }
  return bottom === null ? null : { x: (a.x + b.x) / 2, y: bottom };
}

/**
 * @param {Point} a
 * @param {Point} w
 * @param {Point} b
 */
function detourPath(a, w, b) {
  const d1 = Math.max(30, (w.x - a.x) / 2);
  const d2 = Math.max(30, (b.x - w.x) / 2);
  return `M${a.x},${a.y} C${a.x + d1},${a.y} ${w.x - d1},${w.y} ${w.x},${w.y} C${w.x + d2},${w.y} ${b.x - d2},${b.y} ${b.x},${b.y}`;
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
  for (const n of nodesLayer.querySelectorAll(":scope > g.node > .body")) {
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
 * A value drawn at (x, y): a number as text, a small tensor as its numbers, a larger one as
 * a small heatmap with its shape.
 * @param {Element} parent
 * @param {Tensor} value
 * @param {number} x
 * @param {number} y
 * @param {string} cls
 * @param {"above" | "below"} where
 * @param {"auto" | "numbers" | "heatmap"} [mode] how tensors are drawn
 */
function valueLabel(parent, value, x, y, cls, where, mode = "auto") {
  const g = el("g", { class: `label ${cls}` }, parent);
  g.dataset.tip = fullText(value);
  if (isScalar(value)) {
    const text = el("text", { x, y: where === "above" ? y - 7 : y + 17, "text-anchor": "middle" }, g);
    text.textContent = short(Array.isArray(value) ? flatten(value)[0] : value);
    return g;
  }
  const lines = numberLines(value, mode);
  if (lines) {
    // A small tensor as the book prints it, one row a line: [[1, 0], [0, 4]].
    g.classList.add("numbers");
    const top = where === "above" ? y - 7 - (lines.length - 1) * LINE : y + 17;
    lines.forEach((line, i) => {
      const text = el("text", { x, y: top + i * LINE, "text-anchor": "middle", class: "row" }, g);
      text.textContent = line;
    });
    return g;
  }
  g.classList.add("heatmap");
  const hm = heatmapUrl(value, 8, 40);
  const top = where === "above" ? y - hm.height - 6 : y + 6;
  el("rect", { x: x - hm.width / 2 - 1.5, y: top - 1.5, width: hm.width + 3, height: hm.height + 3, class: "hm-frame" }, g);
  el("image", { href: hm.url, x: x - hm.width / 2, y: top, width: hm.width, height: hm.height, style: "image-rendering:pixelated" }, g);
  const text = el("text", { x: x + hm.width / 2 + 4, y: where === "above" ? top + hm.height : top + 10, class: "shape" }, g);
  text.textContent = `${short(value)}`;
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
      const via = detourPoint(a, b, graph.nodes, geos, [src, node.id]);
      /** @type {(end: Point) => string} */
      const path = (end) => (via ? detourPath(a, via, end) : edgePath(a, end));
      el("path", { d: path(b), class: "hit" }, g);
      el("path", { d: path({ x: b.x - 2, y: b.y }), class: "line", "marker-end": "url(#arrow)" }, g);
      const r = edgeResults.get(key);
      if (!r) return;
      const mid = via || bezierMid(a, b);
      const active = lit || (view.phase === "forward" && view.current === src) || (view.phase === "backward" && view.current === node.id);
      const lg = el("g", { class: `edge-labels${active ? ` active ${view.phase}` : ""}`, "data-from": src, "data-to": node.id, "data-port": k }, labelsLayer);
      if (view.showValue(src)) {
        valueLabel(lg, r.value, mid.x, mid.y, "edge-value", "above", view.tensors);
      } else if (view.ask && view.ask("value", src, node.id)) askLabel(lg, mid.x, mid.y, "value");
      const labels = result && result.nodes[src] && result.nodes[src].differentiable === false;
      if (view.showGrad(node.id) && !labels) {
        const grad = /** @type {Tensor} */ (r.grad); // only labels' edges carry none
        valueLabel(lg, grad, mid.x, mid.y, "edge-grad", "below", view.tensors);
        // The estimate of the source's whole gradient: on its edge when it has only one.
        const uses = graph.nodes.reduce((n, other) => n + other.inputs.filter((i) => i === src).length, 0);
        if (checked && uses === 1 && isScalar(grad)) {
          const est = el("text", { x: mid.x, y: mid.y + 33, "text-anchor": "middle", class: `edge-estimate check-${verdict(checked)}` }, lg);
          est.textContent = estimateText(checked);
        }
      } else if (view.ask && view.ask("grad", src, node.id)) askLabel(lg, mid.x, mid.y, "grad");
    });
  }

  const outId = view.output;
  const outNode = outId ? byId.get(outId) : undefined;
  if (outId && outNode) {
    const a = outPort(outNode, geo(outId));
    const b = { x: a.x + STUB, y: a.y };
    el("path", { d: `M${a.x},${a.y} L${b.x - 2},${b.y}`, class: "line output-line", "marker-end": "url(#arrow)" }, edgesLayer);
    const res = result ? result.nodes[outId] : null;
    if (res) {
      const lg = el("g", { class: "edge-labels output-labels", "data-from": outId, "data-to": "" }, labelsLayer);
      if (view.showValue(outId)) valueLabel(lg, res.value, (a.x + b.x) / 2, a.y, "edge-value", "above", view.tensors);
      else if (view.ask && view.ask("value", outId, "")) askLabel(lg, (a.x + b.x) / 2, a.y, "value");
      if (view.showOutputGrad() && res.grad !== null) valueLabel(lg, res.grad, (a.x + b.x) / 2, a.y, "edge-grad", "below", view.tensors);
    }
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
      "aria-label": t("graph.nodeAria", { id: node.id, op: node.op }),
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
      if (meta && meta.doc) g.dataset.tip = `${node.op}: ${opDoc(meta)}${meta.formula ? `\n${meta.formula}` : ""}`;
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
    const uses = graph.nodes.reduce((n, other) => n + other.inputs.filter((i) => i === node.id).length, 0);
    if (checked && (node.op === "input" || uses !== 1 || node.id === outId)) {
      const below = shape.h / 2 + (node.op === "input" ? 32 : 30); // under an input's ∂L label
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
  }

  // NOTE: measuring every label forces a layout; not on each pointer move of a drag.
  if (!view.moving) declutter(labelsLayer, nodesLayer);
  if (view.pending) {
    el("path", { d: edgePath(view.pending.a, view.pending.b), class: "line pending" }, svg);
  }
  return geos;
}

/**
 * The box holding every node (and output stub), for sizing the canvas.
 * @param {EditGraph} graph
 * @param {Map<string, Geometry>} geos
 */
export function bounds(graph, geos) {
  let maxX = 0;
  let maxY = 0;
  for (const n of graph.nodes) {
    const g = /** @type {Geometry} */ (geos.get(n.id));
    maxX = Math.max(maxX, n.x + g.w / 2 + STUB + 40);
    maxY = Math.max(maxY, n.y + g.h / 2 + 70);
  }
  return { maxX, maxY };
}

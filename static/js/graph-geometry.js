// @ts-check
// Where a graph's parts go: node shapes and ports, and the ways edges take between them.

import { symbolFor } from "./op-labels.js";

/** @typedef {import("./api.js").Op} Op */
/** @typedef {import("./graph-model.js").EditNode} EditNode */
/** @typedef {import("./graph-model.js").EditGraph} EditGraph */
/** @typedef {{x: number, y: number}} Point */
/**
 * A node's shape: a box (inputs), a circle (short symbols) or a pill, its size and ports.
 * @typedef {{kind: "box" | "circle" | "pill", w: number, h: number, arity: number, symbol?: string}} Geometry
 */

const NS = "http://www.w3.org/2000/svg";
export const INPUT_W = 100;
export const INPUT_H = 46;
export const CIRCLE_R = 27;
const PORT_GAP = 20;
export const STUB = 90;

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
export function edgePath(a, b) {
  const dx = Math.max(40, Math.abs(b.x - a.x) / 2);
  return `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
}

/**
 * Where an edge's labels go: a little before the middle, where converging edges are apart.
 * @param {Point} a
 * @param {Point} b
 */
export function bezierMid(a, b) {
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
export function detourPoint(a, b, nodes, geos, skip) {
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
export function detourPath(a, w, b) {
  const d1 = Math.max(30, (w.x - a.x) / 2);
  const d2 = Math.max(30, (b.x - w.x) / 2);
  return `M${a.x},${a.y} C${a.x + d1},${a.y} ${w.x - d1},${w.y} ${w.x},${w.y} C${w.x + d2},${w.y} ${b.x - d2},${b.y} ${b.x},${b.y}`;
}

/**
 * An edge's way from the last tidy layout, if both its ends are still where it put them.
 * @param {import("./graph-layout.js").Layout | null | undefined} layout
 * @param {Map<string, EditNode>} byId
 * @param {string} from
 * @param {string} to
 * @param {string} key
 */
export function routeOf(layout, byId, from, to, key) {
  if (!layout) return null;
  const a = byId.get(from);
  const b = byId.get(to);
  const route = layout.edges.get(key);
  return a && b && route && samePlace(layout, a) && samePlace(layout, b) ? route : null;
}

/**
 * Whether a node is where the layout put it.
 * @param {import("./graph-layout.js").Layout} layout
 * @param {EditNode} node
 */
export function samePlace(layout, node) {
  const p = layout.nodes.get(node.id);
  return p !== undefined && Math.abs(p.x - node.x) < 0.5 && Math.abs(p.y - node.y) < 0.5;
}

/**
 * A smooth path through points left to right, level at each of them (the edge runs level
 * through its labels' anchor, between the value above and the gradient below).
 * @param {Point[]} points
 */
export function routePath(points) {
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 0; i + 1 < points.length; i++) {
    const p = points[i];
    const q = points[i + 1];
    const dx = Math.max(8, (q.x - p.x) / 2);
    d += ` C${p.x + dx},${p.y} ${q.x - dx},${q.y} ${q.x},${q.y}`;
  }
  return d;
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

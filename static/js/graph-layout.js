// @ts-check
// The tidy layout: dagre lays the graph out left to right, like the book's figures, knowing the
// size of everything drawn: each node with the text under it (its name, ∂L/∂x, the estimate)
// and each edge's labels (the value above, the gradient and its estimate below), measured as
// they are drawn. dagre gives every edge label a place of its own and routes the edge through
// it, so labels sit on their own edge and no edge runs through another's labels. A graph whose
// tensors written out would not fit the canvas is laid out with them collapsed to chips.

import { measureLabels } from "./graph-render.js";
import { language } from "./i18n.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */
/** @typedef {import("./graph-model.js").EditGraph} EditGraph */
/** @typedef {{x: number, y: number}} Point */
/**
 * Where the tidy layout put things: every node's position, and each edge's way (the points it
 * passes through, its labels' anchor) while both its ends stay where the layout put them.
 * @typedef {object} Layout
 * @property {Map<string, Point>} nodes
 * @property {Map<string, {points: Point[], label: Point}>} edges by "from>to>port"
 * @property {Point | null} out the output stub's end
 * @property {0 | 1 | 2} collapse tensors collapsed to chips: 0 none, 1 matrices, 2 every tensor
 */

/** Margin around the drawing, in canvas units. */
const MARGIN = 16;
/** The zoom below which a graph is laid out again with its tensors collapsed. */
const READABLE = 0.8;
/** dagre's spacing between nodes of a rank and between ranks: roomy first, then tighter ones
 * for a graph that does not fit the canvas (a tighter one is taken when it draws it larger). */
const SPACINGS = /** @type {const} */ ([[18, 44], [14, 30], [10, 18]]);

/**
 * Lay the graph out (positions of `view.graph`'s nodes change) and remember the layout.
 * Without a result yet, the labels' sizes are unknown: the layout is redone once they are.
 * @param {GraphView} view
 */
export function tidy(view) {
  const dagre = window.dagre;
  if (!view.graph.nodes.length || !dagre) return;
  const availW = Math.max(200, view.scroll.clientWidth - 2);
  const availH = Math.max(200, view.scroll.clientHeight - 2);
  /** @type {{zoom: number, layout: Layout} | null} */
  let best = null;
  for (const collapse of /** @type {(0 | 1 | 2)[]} */ ([0, 1, 2])) {
    if (collapse > 0 && view.tensors !== "auto") break;
    const sizes = measureLabels(view.svg, view.graph, labelOptions(view, collapse));
    let zoom = 0;
    for (const [nodesep, ranksep] of SPACINGS) {
      const made = run(view.graph, sizes, collapse, nodesep, ranksep);
      zoom = Math.max(zoom, Math.min(1, availW / made.width, availH / made.height));
      if (!best || zoom > best.zoom + 0.02) best = { zoom, layout: made.layout };
      if (zoom >= 1) break; // drawn at full size: no need to pack it closer
    }
    if (zoom >= READABLE || !sizes.tensors) break;
  }
  if (!best) return;
  for (const n of view.graph.nodes) {
    const p = best.layout.nodes.get(n.id);
    if (p) Object.assign(n, p);
  }
  view.layout = best.layout;
  view.layoutKey = layoutKey(view);
}

/**
 * What the labels' sizes depend on: when it changes, a graph still as laid out is laid out anew.
 * @param {GraphView} view
 */
export function layoutKey(view) {
  const w = Math.round(view.scroll.clientWidth / 40);
  const h = Math.round(view.scroll.clientHeight / 40);
  return [view.result, view.check, view.tensors, language(), w, h];
}

/**
 * Whether every node is where the last tidy layout put it (nothing moved, added or removed).
 * @param {GraphView} view
 */
export function asLaidOut(view) {
  const layout = view.layout;
  if (!layout || layout.nodes.size !== view.graph.nodes.length) return false;
  return view.graph.nodes.every((n) => {
    const p = layout.nodes.get(n.id);
    return p !== undefined && Math.abs(p.x - n.x) < 0.5 && Math.abs(p.y - n.y) < 0.5;
  });
}

/**
 * Lay the graph out again when what it draws changed size (a result, a check, the language,
 * the canvas) and nothing was moved by hand since the last tidy layout.
 * @param {GraphView} view
 * @returns {boolean} whether it did
 */
export function relayoutIfStale(view) {
  if (view.drag || !view.result || !asLaidOut(view)) return false;
  const key = layoutKey(view);
  const old = view.layoutKey;
  if (old && old.length === key.length && old.every((v, i) => v === key[i])) return false;
  if (!view.svg.isConnected || view.scroll.clientWidth === 0) return false; // not on the screen
  tidy(view);
  return true;
}

/**
 * The drawing options that the sizes of labels depend on.
 * @param {GraphView} view
 * @param {0 | 1 | 2} collapse
 */
function labelOptions(view, collapse) {
  return { ops: view.ops, result: view.result, check: view.check, tensors: view.tensors, collapse };
}

/**
 * One dagre run. Node boxes are their shape plus the text under it (kept below the shape: the
 * box's centre is lower than the shape's by half of that); each edge's label box has the edge
 * through its middle, the value above and the gradient below; the output gets a stub node.
 * @param {EditGraph} graph
 * @param {ReturnType<typeof measureLabels>} sizes
 * @param {0 | 1 | 2} collapse
 * @param {number} nodesep
 * @param {number} ranksep
 */
function run(graph, sizes, collapse, nodesep, ranksep) {
  const dagre = /** @type {NonNullable<typeof window.dagre>} */ (window.dagre);
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep, ranksep, edgesep: 12, marginx: MARGIN, marginy: MARGIN });
  /** @type {Map<string, number>} how far below its box's centre a node's shape is drawn */
  const drop = new Map();
  const ids = new Set(graph.nodes.map((n) => n.id));
  for (const n of graph.nodes) {
    const s = sizes.nodes.get(n.id) ?? { w: 60, h: 60, below: 0 };
    drop.set(n.id, -s.below / 2);
    g.setNode(n.id, { width: s.w, height: s.h + s.below });
  }
  for (const n of graph.nodes) {
    n.inputs.forEach((src, k) => {
      if (!src || !ids.has(src)) return;
      const key = `${src}>${n.id}>${k}`;
      const l = sizes.edges.get(key) ?? { w: 0, above: 0, below: 0 };
      const half = Math.max(l.above, l.below);
      g.setEdge(src, n.id, { width: l.w, height: half * 2, labelpos: "c" }, key);
    });
  }
  const OUT = "\u0000out";
  const outId = sizes.output;
  if (outId && ids.has(outId)) {
    g.setNode(OUT, { width: sizes.outWidth, height: 16 });
    const l = sizes.edges.get(`${outId}>>0`) ?? { w: 0, above: 0, below: 0 };
    g.setEdge(outId, OUT, { width: l.w, height: Math.max(l.above, l.below) * 2, labelpos: "c" }, "out");
  }
  dagre.layout(g);
  /** @type {Layout} */
  const layout = { nodes: new Map(), edges: new Map(), out: null, collapse };
  for (const n of graph.nodes) {
    const p = g.node(n.id);
    layout.nodes.set(n.id, { x: Math.round(p.x), y: Math.round(p.y + (drop.get(n.id) ?? 0)) });
  }
  for (const e of g.edges()) {
    const label = g.edge(e);
    const points = (label.points ?? []).slice(1, -1).map((p) => ({ x: p.x, y: p.y }));
    const at = { x: label.x ?? 0, y: label.y ?? 0 };
    if (e.name === "out") {
      const o = g.node(OUT);
      layout.out = { x: o.x - o.width / 2, y: at.y };
      layout.edges.set(`${outId}>>0`, { points: [], label: at });
    } else if (e.name) layout.edges.set(e.name, { points, label: at });
  }
  const info = g.graph();
  return { layout, width: (info.width ?? 0) + 2, height: (info.height ?? 0) + 2 };
}

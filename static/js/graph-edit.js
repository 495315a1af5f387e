// @ts-check
// Editing the graph: every change is one undo step; adding, removing, connecting, renaming,
// the inspector's actions, undo and redo, and dagre's tidy layout.

import { centralDifference } from "./graph-check.js";
import { run } from "./graph-run.js";
import { t } from "./i18n.js";
import { clone, freshId } from "./graph-model.js";
import { arityOf } from "./graph-geometry.js";
import { tidy } from "./graph-layout.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */
/** @typedef {import("./graph-model.js").EditGraph} EditGraph */
/** @typedef {import("./inspector.js").Actions} Actions */

const ID_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Remember the graph as it is, before an edit (one undo step).
 * @param {GraphView} view
 */
export function checkpoint(view) {
  view.history.push(view.graph, view.presetId);
}

/**
 * After a change of the graph: the last result, errors and step no longer apply.
 * @param {GraphView} view
 */
export function afterStructuralChange(view) {
  if (view.playing) view.stopPlay();
  view.result = null;
  view.check = null;
  view.nudge = null;
  view.errors = {};
  view.step = null;
  view.setStatus(null);
  reevaluateSoon(view);
}

/** @type {ReturnType<typeof setTimeout> | null} */
let pendingRun = null;

/** Drop a re-evaluation that is due (the status line must keep what it says now). */
export function holdReevaluation() {
  if (pendingRun) clearTimeout(pendingRun);
  pendingRun = null;
}

/**
 * Evaluate the graph again shortly after an edit (edits come in bursts: typing, undo after
 * undo), so its numbers never go stale; a graph still missing an input waits for Run.
 * @param {GraphView} view
 */
function reevaluateSoon(view) {
  if (pendingRun) clearTimeout(pendingRun);
  pendingRun = setTimeout(() => {
    pendingRun = null;
    const complete = view.graph.nodes.length > 0
      && view.graph.nodes.every((n) => n.op === "input" || !n.inputs.some((i) => !i));
    if (complete && !view.result && !view.drag) run(view);
  }, 150);
}

/**
 * Whether feeding `from` into `to` would close a cycle (`to` already feeds `from`).
 * @param {GraphView} view
 * @param {string} from
 * @param {string} to
 */
export function closesCycle(view, from, to) {
  if (from === to) return true;
  const seen = new Set([to]);
  const todo = [to];
  while (todo.length) {
    const id = /** @type {string} */ (todo.pop());
    for (const n of view.graph.nodes) {
      if (n.inputs.includes(id) && !seen.has(n.id)) {
        if (n.id === from) return true;
        seen.add(n.id);
        todo.push(n.id);
      }
    }
  }
  return false;
}

/**
 * Put a whole new graph on the canvas (an example, a file, a blank one): one undo step.
 * @param {GraphView} view
 * @param {EditGraph} graph
 * @param {string} presetId the example it is, or ""
 */
export function replaceGraph(view, graph, presetId) {
  checkpoint(view);
  view.graph = graph;
  view.presetId = presetId;
  view.pushUrl = true; // Back returns to the graph before this one
  view.autoZoom = true; // a new graph is fitted anew
  view.fitAll = false;
  view.selected = null;
  afterStructuralChange(view);
}

/**
 * Where to put a new node, in the visible part of the canvas. Inputs go down the first
 * column, like the book's figures; each new operation goes one column to the right of the
 * rightmost operation, so a graph built in order reads left to right (not one tall stack).
 * @param {GraphView} view
 * @param {string} op
 */
function freeSpot(view, op) {
  const { scroll, zoom: z, graph } = view;
  const left = scroll.scrollLeft / z + 90;
  const top = scroll.scrollTop / z + 70;
  const width = Math.max(300, scroll.clientWidth / z - 180);
  const height = Math.max(200, scroll.clientHeight / z - 120);
  const colW = 170;
  const rowH = 110;
  const cols = Math.max(2, Math.floor(width / colW) + 1);
  /** @type {(x: number, y: number) => boolean} */
  const free = (x, y) => !graph.nodes.some((n) => Math.abs(n.x - x) < 120 && Math.abs(n.y - y) < 90);
  let first = 0;
  if (op !== "input") {
    const opsX = graph.nodes.filter((n) => n.op !== "input").map((n) => n.x);
    first = opsX.length ? Math.round((Math.max(...opsX) - left) / colW) + 1 : 1;
    first = Math.max(1, Math.min(cols - 1, first));
  }
  const order = [...Array.from({ length: cols - first }, (_, k) => first + k), ...Array.from({ length: first }, (_, k) => k)];
  for (const gx of order) {
    for (let gy = 0; gy * rowH <= height; gy++) {
      const x = left + gx * colW;
      const y = top + gy * rowH;
      if (free(x, y)) return { x, y };
    }
  }
  return { x: left + 20 * (graph.nodes.length % 10), y: top + 20 * (graph.nodes.length % 10) };
}

/**
 * Add a node of type `op` (from the palette), selected.
 * @param {GraphView} view
 * @param {string} op
 */
export function addNode(view, op) {
  checkpoint(view);
  const id = freshId(view.graph, op);
  const { x, y } = freeSpot(view, op);
  /** @type {import("./graph-model.js").EditNode} */
  const node = { id, op, x, y, inputs: [] };
  if (op === "input") node.value = 1;
  else node.inputs = Array.from({ length: arityOf(view.ops.get(op), node) }, () => null);
  view.graph.nodes.push(node);
  view.presetId = "";
  view.selected = id;
  view.selectedEdge = null;
  afterStructuralChange(view);
  view.refresh();
  view.renderPresets();
  view.focusNode(id);
}

/**
 * Delete a node and every edge into or out of it.
 * @param {GraphView} view
 * @param {string} id
 */
export function remove(view, id) {
  const gone = view.node(id);
  if (!gone) return;
  checkpoint(view);
  view.graph.nodes = view.graph.nodes.filter((n) => n.id !== id);
  for (const n of view.graph.nodes) n.inputs = n.inputs.map((i) => (i === id ? null : i));
  if (view.graph.output === id) view.graph.output = null;
  if (view.selected === id) view.selected = null;
  afterStructuralChange(view);
  view.refresh();
  // The focus was on the node (Delete) or on the inspector's button, both gone: it goes to the
  // nearest node left, or to the palette on an empty canvas, never to the page's body.
  const lost = !document.activeElement || document.activeElement === document.body;
  if (!lost) return;
  const dist = (/** @type {import("./graph-model.js").EditNode} */ n) => Math.hypot(n.x - gone.x, n.y - gone.y);
  const near = [...view.graph.nodes].sort((a, b) => dist(a) - dist(b))[0];
  const first = document.querySelector("#palette button");
  if (near) view.focusNode(near.id);
  else if (first instanceof HTMLElement) first.focus();
}

/**
 * Delete an edge, named "from>to>port" as the canvas names it.
 * @param {GraphView} view
 * @param {string} key
 */
export function removeEdge(view, key) {
  const [, to, port] = key.split(">");
  const n = view.node(to);
  if (!n) return;
  checkpoint(view);
  n.inputs[Number(port)] = null;
  view.selectedEdge = null;
  afterStructuralChange(view);
  view.refresh();
}

/**
 * Feed node `from` into input `port` of node `to`.
 * @param {GraphView} view
 * @param {string} from
 * @param {string} to
 * @param {number} port
 */
export function connect(view, from, to, port) {
  const n = view.node(to);
  if (!n || !view.node(from)) return;
  if (closesCycle(view, from, to)) {
    invalid(view, t("graph.cycleRefused", { from, to }));
    return;
  }
  checkpoint(view);
  while (n.inputs.length <= port) n.inputs.push(null);
  n.inputs[port] = from;
  afterStructuralChange(view);
  view.refresh();
}

/**
 * Say in the status line why an edit was refused.
 * @param {GraphView} view
 * @param {string} message
 */
export function invalid(view, message) {
  holdReevaluation(); // an evaluation due now would write over why the edit was refused
  view.setStatus("error", message);
  view.refresh();
}

/**
 * What the inspector may do to the graph.
 * @param {GraphView} view
 * @returns {Actions}
 */
export function inspectorActions(view) {
  /** @param {() => void} change */
  const edit = (change) => {
    checkpoint(view);
    change();
    afterStructuralChange(view);
    view.refresh();
  };
  /** @param {string} id */
  const nodeOf = (id) => /** @type {import("./graph-model.js").EditNode} */ (view.node(id));
  return {
    rename: (oldId, newId) => {
      if (newId === oldId) return;
      if (!ID_RE.test(newId)) return invalid(view, t("inspector.badId"));
      if (view.node(newId)) return invalid(view, t("inspector.idTaken", { id: newId }));
      edit(() => {
        nodeOf(oldId).id = newId;
        for (const n of view.graph.nodes) n.inputs = n.inputs.map((i) => (i === oldId ? newId : i));
        if (view.graph.output === oldId) view.graph.output = newId;
        view.selected = newId;
      });
    },
    setValue: (id, value) => edit(() => {
      nodeOf(id).value = value;
    }),
    setInput: (id, k, src) => (src && closesCycle(view, src, id)
      ? invalid(view, t("graph.cycleRefused", { from: src, to: id }))
      : edit(() => {
        const n = nodeOf(id);
        while (n.inputs.length <= k) n.inputs.push(null);
        n.inputs[k] = src;
      })),
    setParam: (id, name, value) => edit(() => {
      const n = nodeOf(id);
      n.params = { ...(n.params || {}) };
      if (value === undefined) delete n.params[name];
      else n.params[name] = value;
    }),
    setVariant: (id, variant) => edit(() => {
      const n = nodeOf(id);
      if (variant) n.variant = variant;
      else delete n.variant;
    }),
    nudge: (id, index, exp) => nudge(view, id, index, exp),
    setOutput: (id) => edit(() => {
      view.graph.output = id;
    }),
    remove: (id) => remove(view, id),
    invalid: (message) => invalid(view, message),
  };
}

/**
 * Go back one edit (`undo`) or forward again.
 * @param {GraphView} view
 * @param {"undo" | "redo"} which
 */
export function undoRedo(view, which) {
  const s = view.history[which]({ graph: view.graph, preset: view.presetId });
  if (!s) return;
  view.graph = s.graph;
  // NOTE: the example comes back with its graph: its name in the menu, its explanation and
  // the address (p=) agree with the canvas; an exercise on the undone graph ends.
  view.presetId = s.preset;
  afterStructuralChange(view);
  if (view.selected && !view.node(view.selected)) view.selected = null;
  view.renderPresets();
  view.refresh();
}

/**
 * Lay the graph out left to right with dagre, like the book's figures, knowing the size of
 * every label (graph-layout.js).
 * @param {GraphView} view
 */
export function layout(view) {
  tidy(view);
}

/**
 * The graph with one node moved back to `pos` (the undo step of a drag).
 * @param {GraphView} view
 * @param {string} id
 * @param {{x: number, y: number}} pos
 */
export function graphWithPosition(view, id, pos) {
  const g = clone(view.graph);
  const n = g.nodes.find((x) => x.id === id);
  if (n) Object.assign(n, pos);
  return g;
}

/**
 * Move the nudge slider of input `id` (element `index`, h = 10^exp) and compute
 * (f(x + h) − f(x − h)) / 2h on the server; only the latest request's answer is shown.
 * @param {GraphView} view
 * @param {string} id
 * @param {number} index
 * @param {number} exp
 */
async function nudge(view, id, index, exp) {
  const mine = { id, index, exp, estimate: null, error: null };
  view.nudge = mine;
  view.refresh();
  try {
    const estimate = await centralDifference(view, id, index, 10 ** exp);
    if (view.nudge !== mine) return;
    view.nudge = { ...mine, estimate };
  } catch (err) {
    if (view.nudge !== mine) return;
    view.nudge = { ...mine, error: /** @type {Error} */ (err).message };
  }
  view.refresh();
}

// @ts-check
// The graph being edited: nodes with positions, the API body built from it, undo/redo, URL form.

/** @typedef {import("./api.js").Tensor} Tensor */
/** @typedef {import("./api.js").GraphBody} GraphBody */

/**
 * @typedef {object} EditNode A node on the canvas.
 * @property {string} id
 * @property {string} op
 * @property {number} x centre, in canvas units (NaN until laid out)
 * @property {number} y
 * @property {(string | null)[]} inputs the node feeding each port; null: not connected yet
 * @property {Tensor} [value] an input node's value
 * @property {Record<string, unknown>} [params]
 * @property {string} [variant] a broken layer, for teaching (one of the op's variants)
 * @property {boolean} [label] an input node holding class labels: data, no gradient
 */

/**
 * @typedef {{nodes: EditNode[], output: string | null, dout: Tensor,
 *   accumulate?: "sum" | "overwrite"}} EditGraph
 */

const MAX_UNDO = 100;

/** @returns {EditGraph} */
export function emptyGraph() {
  return { nodes: [], output: null, dout: 1 };
}

/**
 * A deep copy.
 * @template T
 * @param {T} graph
 * @returns {T}
 */
export function clone(graph) {
  return JSON.parse(JSON.stringify(graph));
}

/**
 * Whether some node has no position yet (a preset, a file or a link without x and y).
 * @param {EditGraph} graph
 */
export function needsLayout(graph) {
  return graph.nodes.some((n) => !Number.isFinite(n.x) || !Number.isFinite(n.y));
}

/**
 * The node that nothing consumes (the last one if several): the default output.
 * @param {EditGraph} graph
 */
export function sinkOf(graph) {
  const used = new Set(graph.nodes.flatMap((n) => n.inputs));
  const sinks = graph.nodes.filter((n) => !used.has(n.id) && n.op !== "input");
  const pick = sinks.length ? sinks : graph.nodes.filter((n) => !used.has(n.id));
  if (pick.length) return pick[pick.length - 1].id;
  // Every node feeds another: a cycle. Name the last node, so the server reports the cycle
  // on its nodes instead of "the graph has no output".
  return graph.nodes.length ? graph.nodes[graph.nodes.length - 1].id : null;
}

/**
 * The output node's id: the one chosen, else the sink.
 * @param {EditGraph} graph
 */
export function outputOf(graph) {
  if (graph.output && graph.nodes.some((n) => n.id === graph.output)) return graph.output;
  return sinkOf(graph);
}

/**
 * Names for new inputs: none is a port name (x, y, W, b, t) or a symbol of the rules (dout,
 * out), so a rule such as "dy = dout · x" never reads as if it named a node.
 */
const INPUT_NAMES = ["a", "c", "d", "f", "g", "h", "p", "q", "r", "s"];

/**
 * A fresh id like "mul1", "a" for the first inputs, never one already used.
 * @param {EditGraph} graph
 * @param {string} op
 */
export function freshId(graph, op) {
  const taken = new Set(graph.nodes.map((n) => n.id));
  if (op === "input") {
    for (const name of INPUT_NAMES) if (!taken.has(name)) return name;
  }
  const base = op.replace(/[^A-Za-z0-9_]/g, "_");
  for (let i = 1; ; i++) if (!taken.has(`${base}${i}`)) return `${base}${i}`;
}

/**
 * The JSON body of POST /graphs/evaluate (positions dropped, unconnected ports left out).
 * @param {EditGraph} graph
 * @returns {GraphBody}
 */
export function toApi(graph) {
  const nodes = graph.nodes.map((n) => {
    /** @type {import("./api.js").GraphNodeBody} */
    const body = { id: n.id, op: n.op };
    if (n.op === "input") body.value = n.value ?? 0;
    if (n.inputs.length) body.inputs = n.inputs.map((i) => i ?? "");
    if (n.params && Object.keys(n.params).length) body.params = { ...n.params };
    if (n.variant) body.variant = n.variant;
    if (n.label && n.op === "input") body.label = true;
    return body;
  });
  /** @type {import("./api.js").GraphBody} */
  const body = { nodes, output: outputOf(graph), dout: graph.dout };
  if (graph.accumulate === "overwrite") body.accumulate = "overwrite";
  return body;
}

/**
 * @typedef {object} SavedNode A node of a preset, a saved file or a link: the API's, maybe placed.
 * @property {string} id
 * @property {string} op
 * @property {string[]} [inputs]
 * @property {Tensor} [value]
 * @property {Record<string, unknown>} [params]
 * @property {string} [variant]
 * @property {boolean} [label]
 * @property {number} [x]
 * @property {number} [y]
 */

/**
 * A graph from an API body (a preset or a loaded file), keeping positions when present.
 * @param {{nodes: SavedNode[], output?: string | null, dout?: Tensor, accumulate?: string}} body
 * @returns {EditGraph}
 */
export function fromApi(body) {
  const nodes = body.nodes.map((n) => {
    const { id, op, value, inputs, params, variant, label, x, y, ...rest } = n;
    const placed = typeof x === "number" && typeof y === "number";
    /** @type {EditNode} */
    const node = { id: String(id), op: String(op), inputs: (inputs || []).map(String), x: placed ? x : NaN, y: placed ? y : NaN };
    if (value !== undefined) node.value = value;
    const extra = { ...(params || {}), ...rest };
    if (Object.keys(extra).length) node.params = extra;
    if (typeof variant === "string" && variant) node.variant = variant;
    if (label === true) node.label = true;
    return node;
  });
  /** @type {EditGraph} */
  const graph = { nodes, output: body.output ?? null, dout: body.dout ?? 1 };
  if (body.accumulate === "overwrite") graph.accumulate = "overwrite";
  return graph;
}

/**
 * The saved form of a graph: the API body plus each node's position.
 * @param {EditGraph} graph
 */
export function toFile(graph) {
  const body = toApi(graph);
  return {
    ...body,
    nodes: body.nodes.map((n, i) => ({ ...n, x: Math.round(graph.nodes[i].x), y: Math.round(graph.nodes[i].y) })),
  };
}

/** @param {string} text */
function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  bytes.forEach((b) => (bin += String.fromCharCode(b)));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** @param {string} text */
function fromBase64Url(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/**
 * The graph as URL-safe text (base64url of its saved form).
 * @param {EditGraph} graph
 */
export function encodeForUrl(graph) {
  return toBase64Url(JSON.stringify(toFile(graph)));
}

/**
 * The graph from its URL text; throws on anything else.
 * @param {string} text
 * @returns {EditGraph}
 */
export function decodeFromUrl(text) {
  return fromApi(JSON.parse(fromBase64Url(text)));
}

/**
 * One undo step: the graph and the example it was ("" for none), so an undo brings back the
 * example's name, its explanation and the address with the graph.
 * @typedef {{graph: EditGraph, preset: string}} Snapshot
 */

/** Undo and redo over snapshots of the graph and its example. */
export class History {
  constructor() {
    /** @type {string[]} */
    this.undoStack = [];
    /** @type {string[]} */
    this.redoStack = [];
  }

  /**
   * @param {EditGraph} graph the state before an edit
   * @param {string} preset the example it was, or ""
   */
  push(graph, preset) {
    this.undoStack.push(JSON.stringify({ graph, preset }));
    if (this.undoStack.length > MAX_UNDO) this.undoStack.shift();
    this.redoStack = [];
  }

  /**
   * The state before the last edit, or null.
   * @param {Snapshot} current
   * @returns {Snapshot | null}
   */
  undo(current) {
    const last = this.undoStack.pop();
    if (last === undefined) return null;
    this.redoStack.push(JSON.stringify(current));
    return JSON.parse(last);
  }

  /**
   * The state the last undo left, or null.
   * @param {Snapshot} current
   * @returns {Snapshot | null}
   */
  redo(current) {
    const next = this.redoStack.pop();
    if (next === undefined) return null;
    this.undoStack.push(JSON.stringify(current));
    return JSON.parse(next);
  }

  get canUndo() {
    return this.undoStack.length > 0;
  }

  get canRedo() {
    return this.redoStack.length > 0;
  }
}

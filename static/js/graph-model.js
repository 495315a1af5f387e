// The graph being edited: nodes with positions, the API body built from it, undo/redo, URL form.

const MAX_UNDO = 100;

export function emptyGraph() {
  return { nodes: [], output: null, dout: 1 };
}

export function clone(graph) {
  return JSON.parse(JSON.stringify(graph));
}

/** The node that nothing consumes (the last one if several): the default output. */
export function sinkOf(graph) {
  const used = new Set(graph.nodes.flatMap((n) => n.inputs || []));
  const sinks = graph.nodes.filter((n) => !used.has(n.id) && n.op !== "input");
  const pick = sinks.length ? sinks : graph.nodes.filter((n) => !used.has(n.id));
  if (pick.length) return pick[pick.length - 1].id;
  // Every node feeds another: a cycle. Name the last node, so the server reports the cycle
  // on its nodes instead of "the graph has no output".
  return graph.nodes.length ? graph.nodes[graph.nodes.length - 1].id : null;
}

export function outputOf(graph) {
  if (graph.output && graph.nodes.some((n) => n.id === graph.output)) return graph.output;
  return sinkOf(graph);
}

/** A fresh id like "mul1", "x" for the first inputs, never one already used. */
export function freshId(graph, op) {
  const taken = new Set(graph.nodes.map((n) => n.id));
  if (op === "input") {
    for (const name of ["x", "y", "z", "w", "b", "t"]) if (!taken.has(name)) return name;
  }
  const base = op.replace(/[^A-Za-z0-9_]/g, "_");
  for (let i = 1; ; i++) if (!taken.has(`${base}${i}`)) return `${base}${i}`;
}

/** The JSON body of POST /graphs/evaluate (positions dropped, unconnected ports left out). */
export function toApi(graph) {
  const nodes = graph.nodes.map((n) => {
    const body = { id: n.id, op: n.op };
    if (n.op === "input") body.value = n.value ?? 0;
    if (n.inputs && n.inputs.length) body.inputs = n.inputs.map((i) => i ?? "");
    if (n.params && Object.keys(n.params).length) body.params = { ...n.params };
    return body;
  });
  const body = { nodes, output: outputOf(graph) };
  if (graph.dout !== undefined && graph.dout !== null && graph.dout !== "") body.dout = graph.dout;
  return body;
}

/** A graph from an API body (a preset or a loaded file), keeping positions when present. */
export function fromApi(body) {
  const nodes = (body.nodes || []).map((n) => {
    const { id, op, value, inputs, params, x, y, ...rest } = n;
    const node = { id: String(id), op: String(op), inputs: (inputs || []).map(String) };
    if (value !== undefined) node.value = value;
    const extra = { ...(params || {}), ...rest };
    if (Object.keys(extra).length) node.params = extra;
    if (typeof x === "number" && typeof y === "number") Object.assign(node, { x, y });
    return node;
  });
  return { nodes, output: body.output ?? null, dout: body.dout ?? 1 };
}

/** The saved form of a graph: the API body plus each node's position. */
export function toFile(graph) {
  const body = toApi(graph);
  body.nodes = body.nodes.map((n, i) => ({
    ...n,
    x: Math.round(graph.nodes[i].x ?? 0),
    y: Math.round(graph.nodes[i].y ?? 0),
  }));
  return body;
}

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  bytes.forEach((b) => (bin += String.fromCharCode(b)));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

export function encodeForUrl(graph) {
  return toBase64Url(JSON.stringify(toFile(graph)));
}

export function decodeFromUrl(text) {
  return fromApi(JSON.parse(fromBase64Url(text)));
}

/** Undo and redo over snapshots of the graph. */
export class History {
  constructor() {
    this.undoStack = [];
    this.redoStack = [];
  }

  push(graph) {
    this.undoStack.push(JSON.stringify(graph));
    if (this.undoStack.length > MAX_UNDO) this.undoStack.shift();
    this.redoStack = [];
  }

  undo(current) {
    if (!this.undoStack.length) return null;
    this.redoStack.push(JSON.stringify(current));
    return JSON.parse(this.undoStack.pop());
  }

  redo(current) {
    if (!this.redoStack.length) return null;
    this.undoStack.push(JSON.stringify(current));
    return JSON.parse(this.redoStack.pop());
  }

  get canUndo() {
    return this.undoStack.length > 0;
  }

  get canRedo() {
    return this.redoStack.length > 0;
  }
}

// static/js/graph-model.js: the edited graph, its API body and saved form, URL text, undo/redo.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  History,
  clone,
  decodeFromUrl,
  emptyGraph,
  encodeForUrl,
  freshId,
  fromApi,
  needsLayout,
  outputOf,
  sinkOf,
  toApi,
  toFile,
} from "../../static/js/graph-model.js";

/** The API's own presets and answers (tests/test_js.py checks them against the API). */
const { graphs } = JSON.parse(readFileSync(new URL("./fixtures/graphs.json", import.meta.url), "utf8"));
const apples = () => fromApi(graphs.apples.graph);

/** @param {string} id @param {string} op @param {(string | null)[]} inputs */
const node = (id, op, inputs = [], x = 10, y = 20) => ({ id, op, inputs, x, y });

test("an empty graph has no nodes, no output and dout 1", () => {
  assert.deepEqual(emptyGraph(), { nodes: [], output: null, dout: 1 });
});

test("clone is deep (an unplaced position stays unplaced)", () => {
  const g = apples();
  assert.ok(needsLayout(clone(g)), "NaN positions come back as null: still to be laid out");
  g.nodes.forEach((n, i) => Object.assign(n, { x: i, y: i }));
  const c = clone(g);
  assert.deepEqual(c, g);
  c.nodes[0].value = -1;
  assert.notEqual(g.nodes[0].value, -1);
});

test("every preset goes from the API body to the editor and back unchanged", () => {
  for (const [name, { graph }] of Object.entries(graphs)) {
    const edited = fromApi(graph);
    assert.ok(needsLayout(edited), `${name}: presets carry no positions`);
    const body = toApi(edited);
    assert.deepEqual(body.nodes, graph.nodes, name);
    assert.equal(body.output, graph.output ?? outputOf(edited), name);
    assert.deepEqual(body.dout, graph.dout ?? 1, name);
  }
});

test("the sink is the output by default: price for the apples, the loss for the network", () => {
  assert.equal(sinkOf(apples()), "price");
  assert.equal(outputOf(fromApi(graphs.two_layer_net.graph)), "loss");
  assert.equal(sinkOf(emptyGraph()), null);
  const lone = { nodes: [node("a", "input")], output: null, dout: 1 };
  assert.equal(sinkOf(lone), "a");
  const cycle = { nodes: [node("m1", "mul", ["m2"]), node("m2", "mul", ["m1"])], output: null, dout: 1 };
  assert.equal(sinkOf(cycle), "m2", "a cycle names its last node, so the server reports the cycle");
});

test("a chosen output wins while its node exists", () => {
  const g = apples();
  g.output = "apple_price";
  assert.equal(outputOf(g), "apple_price");
  g.output = "gone";
  assert.equal(outputOf(g), "price");
});

test("fresh ids: inputs take short names that are no port or rule symbol, operations a number", () => {
  const g = emptyGraph();
  const ids = [];
  for (let i = 0; i < 11; i++) {
    const id = freshId(g, "input");
    ids.push(id);
    g.nodes.push(node(id, "input"));
  }
  assert.deepEqual(ids, ["a", "c", "d", "f", "g", "h", "p", "q", "r", "s", "input1"]);
  for (const symbol of ["x", "y", "W", "b", "t", "dout", "out"]) assert.ok(!ids.includes(symbol));
  assert.equal(freshId(apples(), "mul"), "mul1");
  g.nodes.push(node("mul1", "mul"));
  assert.equal(freshId(g, "mul"), "mul2");
  assert.equal(freshId(g, "softmax-with loss"), "softmax_with_loss1");
});

test("the API body leaves positions out, unconnected ports empty, keeps variants and overwrite", () => {
  const g = {
    nodes: [
      { ...node("a", "input"), value: undefined },
      { ...node("m", "mul", ["a", null]), variant: "no_swap", params: {} },
      { ...node("s", "sum", ["m"]), params: { axis: 0 } },
    ],
    output: null,
    dout: 1,
    accumulate: /** @type {const} */ ("overwrite"),
  };
  assert.deepEqual(toApi(g), {
    nodes: [
      { id: "a", op: "input", value: 0 },
      { id: "m", op: "mul", inputs: ["a", ""], variant: "no_swap" },
      { id: "s", op: "sum", inputs: ["m"], params: { axis: 0 } },
    ],
    output: "s",
    dout: 1,
    accumulate: "overwrite",
  });
  delete g.accumulate;
  assert.equal("accumulate" in toApi(g), false, "sum is the default and not sent");
});

test("a saved file keeps whole-pixel positions and loads back placed", () => {
  const g = apples();
  g.nodes.forEach((n, i) => Object.assign(n, { x: i * 10.4, y: 50.6 }));
  const file = toFile(g);
  assert.deepEqual(
    file.nodes.map((n) => [n.id, n.x, n.y]),
    g.nodes.map((n, i) => [n.id, Math.round(i * 10.4), 51]),
  );
  const back = fromApi(file);
  assert.equal(needsLayout(back), false);
  assert.deepEqual(toApi(back), toApi(g));
});

test("fromApi keeps unknown keys of a node as its params, and a variant", () => {
  const g = fromApi({ nodes: [{ id: "d", op: "dropout", inputs: ["x"], ratio: 0.5, variant: "v" }] });
  assert.deepEqual(g.nodes[0].params, { ratio: 0.5 });
  assert.equal(g.nodes[0].variant, "v");
  assert.deepEqual(g.dout, 1);
  assert.equal(g.output, null);
});

test("URL text: URL-safe, round trips (non-ASCII ids too), refuses anything else", () => {
  const g = apples();
  g.nodes.forEach((n, i) => Object.assign(n, { x: i, y: 2 * i }));
  g.nodes[0].id = "苹果";
  g.nodes[3].inputs[0] = "苹果";
  const text = encodeForUrl(g);
  assert.match(text, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeFromUrl(text), fromApi(toFile(g)));
  assert.equal(decodeFromUrl(text).nodes[0].id, "苹果");
  assert.throws(() => decodeFromUrl("bm90IGpzb24"));
});

test("History: undo and redo walk the snapshots (graph and example), an edit clears redo, 100 steps are kept", () => {
  const h = new History();
  assert.equal(h.canUndo, false);
  assert.equal(h.undo({ graph: emptyGraph(), preset: "" }), null);
  const states = Array.from({ length: 3 }, (_, i) => ({ graph: { nodes: [], output: null, dout: i }, preset: i ? "" : "apples" }));
  h.push(states[0].graph, states[0].preset);
  h.push(states[1].graph, states[1].preset);
  assert.deepEqual(h.undo(states[2]), states[1]);
  assert.deepEqual(h.undo(states[1]), states[0], "the example it was comes back with its graph");
  assert.equal(h.undo(states[0]), null);
  assert.deepEqual(h.redo(states[0]), states[1]);
  assert.equal(h.canRedo, true);
  h.push(states[1].graph, states[1].preset);
  assert.equal(h.canRedo, false);
  assert.equal(h.redo(states[2]), null);

  const long = new History();
  for (let i = 0; i < 105; i++) long.push({ nodes: [], output: null, dout: i }, "");
  let undone = 0;
  let last = null;
  for (let s = long.undo({ graph: emptyGraph(), preset: "" }); s; s = long.undo(s)) {
    undone += 1;
    last = s;
  }
  assert.equal(undone, 100);
  assert.equal(last?.graph.dout, 5, "the oldest five were dropped");
});

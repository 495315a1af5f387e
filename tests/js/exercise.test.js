// static/js/exercise.js: the questions of an exercise on a real evaluation, and their marking.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { Exercise, MAX_SIDE, askable, buildQuestions, close, mark, parseAnswer } from "../../static/js/exercise.js";
import { fromApi } from "../../static/js/graph-model.js";
import { flatten } from "../../static/js/tensor.js";

/** The API's own presets, ops and answers (tests/test_js.py checks them against the API). */
const fixtures = JSON.parse(readFileSync(new URL("./fixtures/graphs.json", import.meta.url), "utf8"));
const ops = new Map(fixtures.ops.map((/** @type {{name: string}} */ o) => [o.name, o]));

/** @param {string} name @param {boolean} askForward */
function questionsOf(name, askForward) {
  const { graph, evaluation } = fixtures.graphs[name];
  return { evaluation, questions: buildQuestions(fromApi(graph), ops, evaluation, askForward) };
}

/** The right answer of every cell of a question's askable parts, as typed text. */
const rightText = (/** @type {import("../../static/js/exercise.js").Part} */ p) => flatten(p.answer).map(String);

test("askable: a number or a vector or matrix of at most 4×4", () => {
  assert.equal(MAX_SIDE, 4);
  assert.equal(askable(3), true);
  assert.equal(askable([1, 2, 3, 4]), true);
  assert.equal(askable(Array.from({ length: 4 }, () => [1, 2, 3, 4])), true);
  assert.equal(askable([1, 2, 3, 4, 5]), false);
  assert.equal(askable([[1, 2, 3, 4, 5]]), false);
  assert.equal(askable([[[1]]]), false);
});

test("close: within 1e-6 + 1e-3·|truth|, never for NaN", () => {
  assert.equal(close(2.2, 2.2), true);
  assert.equal(close(2.2019, 2.2), true);
  assert.equal(close(2.21, 2.2), false);
  assert.equal(close(1e-7, 0), true);
  assert.equal(close(1e-5, 0), false);
  assert.equal(close(NaN, NaN), false);
  assert.equal(close(Infinity, Infinity), false);
});

test("parseAnswer reads what learners type, or NaN", () => {
  assert.equal(parseAnswer("2.2"), 2.2);
  assert.equal(parseAnswer(" 4 "), 4);
  assert.equal(parseAnswer("−0.5"), -0.5);
  assert.equal(parseAnswer("–3"), -3);
  assert.equal(parseAnswer("2,5"), 2.5);
  assert.equal(parseAnswer("2，5"), 2.5);
  assert.equal(parseAnswer("1e-3"), 0.001);
  assert.equal(parseAnswer(".5"), 0.5);
  for (const bad of ["", "abc", "1.2.3", "0x10", "Infinity", "2 2", "1/2"]) assert.ok(Number.isNaN(parseAnswer(bad)), bad);
});

test("the apples: backward questions in backward order, the book's gradients as answers", () => {
  const { questions } = questionsOf("apples", false);
  assert.deepEqual(
    questions.map((q) => [q.kind, q.node, q.op]),
    [
      ["backward", "price", "mul"],
      ["backward", "apple_price", "mul"],
    ],
  );
  const [price, applePrice] = questions;
  assert.deepEqual(
    price.parts.map((p) => [p.label, p.from, p.to, p.port, p.answer, p.askable]),
    [
      ["dx", "apple_price", "price", 0, 1.1, true],
      ["dy", "tax", "price", 1, 200, true],
    ],
  );
  assert.deepEqual(
    applePrice.parts.map((p) => [p.label, p.from, p.answer]),
    [
      ["dx", "apple", 2.2],
      ["dy", "apple_num", 110],
    ],
  );
  assert.equal(applePrice.parts[0].hint, "dx = dout · y = 1.1 · 2 = ?");
  assert.deepEqual(applePrice.parts[0].shape, []);
  assert.deepEqual(applePrice.parts[0].known, [], "the rule has its numbers written in");
});

test("asked forward too: each operation's value first, its formula with the numbers in", () => {
  const { questions } = questionsOf("apples", true);
  assert.deepEqual(
    questions.map((q) => [q.kind, q.node]),
    [
      ["forward", "apple_price"],
      ["forward", "price"],
      ["backward", "price"],
      ["backward", "apple_price"],
    ],
  );
  assert.equal(questions[0].parts[0].hint, "apple_price = apple · apple_num = 100 · 2 = ?");
  assert.equal(questions[0].parts[0].answer, 200);
  assert.equal(questions[1].parts[0].hint, "price = apple_price · tax = 200 · 1.1 = ?");
  assert.equal(questions[1].parts[0].answer, 220);
});

test("labels are shown, not asked; a tensor rule lists the values it reads", () => {
  const { questions } = questionsOf("softmax_with_loss", false);
  assert.equal(questions.length, 1);
  const [dx, dt] = questions[0].parts;
  assert.equal(dx.askable, true);
  assert.equal(dx.why, "");
  assert.deepEqual(dx.shape, [3]);
  assert.equal(dx.hint, "dx = dout · (softmax(x) − t) / N = ?");
  assert.deepEqual(
    dx.known.map((k) => k.split(" = ")[0]),
    ["dout", "x", "t", "out"],
  );
  assert.equal(dt.askable, false);
  assert.equal(dt.why, "labels");
});

test("the two-layer net asks every Affine and ReLU gradient cell by cell", () => {
  const { evaluation, questions } = questionsOf("two_layer_net", false);
  assert.deepEqual(
    questions.map((q) => q.node),
    evaluation.backward_order.filter((/** @type {string} */ id) => evaluation.nodes[id].local),
  );
  const affine1 = questions.find((q) => q.node === "Affine1");
  assert.ok(affine1);
  assert.deepEqual(
    affine1.parts.map((p) => [p.label, p.shape]),
    [
      ["dx", [2, 3]],
      ["dW", [3, 4]],
      ["db", [4]],
    ],
  );
  for (const p of affine1.parts) {
    const edge = evaluation.edges.find((/** @type {any} */ e) => e.to === "Affine1" && e.port === p.port);
    assert.deepEqual(p.answer, edge.grad);
  }
});

test("mark: each cell right or wrong", () => {
  const { questions } = questionsOf("two_layer_net", false);
  const dW = questions.find((q) => q.node === "Affine1")?.parts[1];
  assert.ok(dW);
  const typed = rightText(dW);
  assert.deepEqual(mark(dW, typed), { cells: typed.map(() => true), right: true });
  typed[5] = String(Number(typed[5]) + 1);
  const wrong = mark(dW, typed);
  assert.equal(wrong.right, false);
  assert.deepEqual(
    wrong.cells.map((c, i) => [i, c]).filter(([, c]) => !c),
    [[5, false]],
  );
  assert.equal(mark(dW, []).right, false, "nothing typed is wrong");
});

test("an exercise on the apples: check, reveal, next, score", () => {
  const { evaluation, questions } = questionsOf("apples", true);
  const ex = new Exercise(evaluation, questions, true);
  assert.equal(ex.current?.node, "apple_price");
  assert.equal(ex.complete(), false);
  ex.next();
  assert.equal(ex.index, 0, "no moving on before checking");
  ex.typed[0][0] = ["200"];
  assert.equal(ex.complete(), true);
  ex.check();
  assert.equal(ex.checked, true);
  assert.equal(ex.revealed(0), true);
  assert.equal(ex.revealed(1), false);
  ex.next();
  ex.reveal(); // price's value shown without an answer
  ex.next();
  ex.typed[2] = [["1.1"], ["2OO"]]; // a typo: letters O
  ex.check();
  assert.deepEqual(ex.marks[2], [{ cells: [true], right: true }, { cells: [false], right: false }]);
  ex.next();
  ex.typed[3] = [["2.2"], ["110"]];
  ex.check();
  ex.next();
  assert.equal(ex.finished, true);
  assert.deepEqual(ex.score(), { asked: 6, right: 4, answered: 5 });
  assert.equal(ex.questionOf("backward", "apple_price"), 3);
  assert.equal(ex.questionOf("forward", "tax"), -1);
});

test("reveal all ends the exercise; unanswered questions count as not right", () => {
  const { evaluation, questions } = questionsOf("apples", false);
  const ex = new Exercise(evaluation, questions, false);
  ex.typed[0] = [["1.1"], ["200"]];
  ex.check();
  ex.revealAll();
  assert.equal(ex.finished, true);
  assert.ok(questions.every((_, i) => ex.revealed(i)));
  assert.deepEqual(ex.score(), { asked: 4, right: 2, answered: 2 });
});

test("a question with nothing to type is shown at once", () => {
  const { evaluation, questions } = questionsOf("softmax_with_loss", false);
  const labelsOnly = [{ ...questions[0], parts: [questions[0].parts[1]] }];
  const ex = new Exercise(evaluation, labelsOnly, false);
  assert.equal(ex.checked, true);
  assert.deepEqual(ex.score(), { asked: 0, right: 0, answered: 0 });
});

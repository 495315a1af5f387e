// static/js/tensor.js: shapes, formatting, parsing and reshaping of numbers and nested lists.
import assert from "node:assert/strict";
import { before, test } from "node:test";

import {
  asGrid,
  compact,
  diverging,
  flatten,
  fmt,
  fullText,
  isScalar,
  maxOf,
  minOf,
  parseValue,
  reshape,
  shapeOf,
  shapeText,
  short,
  valueProblem,
} from "../../static/js/tensor.js";
import { useCatalogue } from "./catalogue.js";

before(() => useCatalogue("en")); // fullText's head is the catalogue's sentence

const M23 = [
  [1, 2, 3],
  [4, 5, 6],
];

test("shapeOf: [] for a number, one length per level", () => {
  assert.deepEqual(shapeOf(3), []);
  assert.deepEqual(shapeOf([1, 2]), [2]);
  assert.deepEqual(shapeOf(M23), [2, 3]);
  assert.deepEqual(shapeOf([[[1], [2]]]), [1, 2, 1]);
});

test("flatten: every element in row order", () => {
  assert.deepEqual(flatten(7), [7]);
  assert.deepEqual(flatten(M23), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(flatten([[[1, 2]], [[3, 4]]]), [1, 2, 3, 4]);
});

test("minOf and maxOf: a million numbers without overflowing the stack, none is ±Infinity", () => {
  const many = Array.from({ length: 1_000_000 }, (_, i) => ((i * 7919) % 1_000_003) - 500_000);
  assert.throws(() => Math.min(...many), RangeError, "spreading them would overflow");
  assert.equal(minOf(many), many.reduce((a, b) => (a < b ? a : b)));
  assert.equal(maxOf(many), many.reduce((a, b) => (a > b ? a : b)));
  assert.equal(minOf([]), Infinity);
  assert.equal(maxOf([]), -Infinity);
  assert.equal(minOf([3, -2, 5]), -2);
  assert.equal(maxOf(new Set([3, -2, 5])), 5);
});

test("isScalar: a number or a tensor of one element", () => {
  assert.equal(isScalar(5), true);
  assert.equal(isScalar([[7]]), true);
  assert.equal(isScalar([1, 2]), false);
});

test("fmt: the book's numbers as written, float noise hidden, special values named", () => {
  assert.equal(fmt(2.2), "2.2");
  assert.equal(fmt(110), "110");
  assert.equal(fmt(1.1 * 200), "220");
  assert.equal(fmt(0.1 + 0.2), "0.3");
  assert.equal(fmt(-0.0312), "-0.0312");
  assert.equal(fmt(1 / 3), "0.33333");
  assert.equal(fmt(1 / 3, 3), "0.333");
  assert.equal(fmt(0), "0");
  assert.equal(fmt(1.2e-7), "1.20e-7");
  assert.equal(fmt(2.5e6), "2.50e6");
  assert.equal(fmt(NaN), "NaN");
  assert.equal(fmt(Infinity), "∞");
  assert.equal(fmt(-Infinity), "−∞");
  assert.equal(fmt(null), "–");
  assert.equal(fmt(undefined), "–");
  assert.equal(fmt(true), "True");
  assert.equal(fmt(false), "False");
  assert.equal(fmt("x"), "x");
});

test("shapeText, short and compact write a tensor by its size", () => {
  assert.equal(shapeText(M23), "2×3");
  assert.equal(shapeText(4), "");
  assert.equal(short(null), "–");
  assert.equal(short(2.2), "2.2");
  assert.equal(short([[3]]), "3");
  assert.equal(short(M23), "[2×3]");
  assert.equal(compact([[1, 0], [0, 4]]), "[[1, 0], [0, 4]]");
  assert.equal(compact([0.1 + 0.2, 2]), "[0.3, 2]");
  const thirteen = Array.from({ length: 13 }, (_, i) => i);
  assert.equal(compact(thirteen), "[13]");
  assert.equal(compact(thirteen, 13), `[${thirteen.join(", ")}]`);
  assert.equal(compact(5), "5");
});

test("fullText: every element on aligned rows, or min, mean and max past the limit", () => {
  assert.equal(fullText(2.5), "2.5");
  assert.equal(
    fullText([
      [1, -20],
      [300, 4],
    ]),
    "shape (2, 2), 4 elements\n  1  -20\n300    4",
  );
  assert.equal(fullText([1, 2, 3]), "shape (3), 3 elements\n1  2  3");
  const big = Array.from({ length: 500 }, (_, i) => i);
  assert.equal(fullText(big), "shape (500), 500 elements\nmin 0  mean 249.5  max 499");
});

test("diverging: white at 0, red for positive, blue for negative, clamped to [-1, 1]", () => {
  assert.deepEqual(diverging(0), [255, 255, 255]);
  const [r, g, b] = diverging(1);
  assert.equal(r, 255);
  assert.ok(g < 255 && b < g, "red: green and blue fall, blue most");
  const [r2, g2, b2] = diverging(-1);
  assert.equal(b2, 255);
  assert.ok(g2 < 255 && r2 < g2, "blue: green and red fall, red most");
  assert.deepEqual(diverging(5), diverging(1));
  assert.deepEqual(diverging(-5), diverging(-1));
  const half = diverging(0.5);
  assert.ok(half[1] > g && half[1] < 255, "the colour deepens with |v|");
});

test("asGrid: a number is 1×1, a vector one row, a matrix its rows", () => {
  assert.deepEqual(asGrid(3), [[3]]);
  assert.deepEqual(asGrid([1, 2]), [[1, 2]]);
  assert.deepEqual(asGrid(M23), M23);
});

test("valueProblem names what is wrong with a typed value, row by row", () => {
  assert.equal(valueProblem(1.5), null);
  assert.equal(valueProblem(M23), null);
  assert.deepEqual(valueProblem(NaN), { key: "value.notFinite", params: {} });
  assert.deepEqual(valueProblem("a"), { key: "value.notNumber", params: { value: '"a"' } });
  assert.deepEqual(valueProblem([]), { key: "value.empty", params: {} });
  assert.deepEqual(valueProblem([[1], [1, 2]]), { key: "value.ragged", params: { row: 2, n: 2, first: 1 } });
  assert.deepEqual(valueProblem([1, [2]]), { key: "value.mixed", params: { row: 2 } });
  assert.deepEqual(valueProblem([[1, null]]), { key: "value.notNumber", params: { value: "null" } });
});

test("parseValue: a number or a rectangular nested list, else undefined", () => {
  assert.equal(parseValue(" 2.5 "), 2.5);
  assert.equal(parseValue("-1e-3"), -0.001);
  assert.deepEqual(parseValue("[[1, 2], [3, 4]]"), [
    [1, 2],
    [3, 4],
  ]);
  for (const bad of ["", "  ", "abc", "Infinity", "NaN", "[1, [2]]", "[[1], [1, 2]]", "[]", "{}", "[1,"]) {
    assert.equal(parseValue(bad), undefined, bad);
  }
});

test("reshape keeps what fits and fills new cells with 0", () => {
  assert.deepEqual(reshape(M23, 3, 2), [
    [1, 2],
    [4, 5],
    [0, 0],
  ]);
  assert.deepEqual(reshape(5, 0, 3), [5, 0, 0]);
  assert.deepEqual(reshape([7, 8, 9], 2, 2), [
    [7, 8],
    [0, 0],
  ]);
  assert.deepEqual(reshape(undefined, 1, 2), [[0, 0]]);
});

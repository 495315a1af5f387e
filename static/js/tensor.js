// @ts-check
// Numbers and nested lists (tensors): shapes, formatting, and a compact heatmap picture.

import { t } from "./i18n.js";

/** @typedef {import("./types").Tensor} Tensor */

/**
 * The shape of a tensor: [] for a number, [rows, cols] for a matrix.
 * @param {Tensor} value
 * @returns {number[]}
 */
export function shapeOf(value) {
  const shape = [];
  /** @type {Tensor} */
  let v = value;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/**
 * Every element of a tensor, in row order.
 * @param {Tensor} value
 * @returns {number[]}
 */
export function flatten(value) {
  return Array.isArray(value) ? /** @type {number[]} */ (/** @type {unknown[]} */ (value).flat(Infinity)) : [value];
}

/**
 * The smallest of many numbers (a loop: spreading 100,000 numbers into Math.min overflows
 * the stack); Infinity for none.
 * @param {Iterable<number>} xs
 */
export function minOf(xs) {
  let m = Infinity;
  for (const x of xs) if (x < m) m = x;
  return m;
}

/**
 * The largest of many numbers (a loop, as minOf); -Infinity for none.
 * @param {Iterable<number>} xs
 */
export function maxOf(xs) {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}

/**
 * A number, or a tensor of one element.
 * @param {Tensor} value
 */
export function isScalar(value) {
  return !Array.isArray(value) || flatten(value).length === 1;
}

/**
 * A short human form of a number: 2.2, 110, 0.0312, 1.2e-7.
 * @param {number | string | boolean | null | undefined} x
 */
export function fmt(x, digits = 5) {
  if (x === null || x === undefined) return "–";
  if (typeof x === "boolean") return x ? "True" : "False"; // as Python prints a mask
  if (typeof x !== "number") return String(x);
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "NaN" : x > 0 ? "∞" : "−∞";
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-4) return x.toExponential(2).replace("e", "e").replace("+", "");
  return String(Number(x.toPrecision(digits)));
}

/**
 * "2×3" for a matrix, "" for a scalar.
 * @param {Tensor} value
 */
export function shapeText(value) {
  return shapeOf(value).join("×");
}

/**
 * A number as-is, the only element of a 1-element tensor, or the tensor formatted by shape.
 * @param {Tensor | null | undefined} value
 */
export function short(value) {
  if (value === null || value === undefined) return "–";
  if (!Array.isArray(value)) return fmt(value);
  const flat = flatten(value);
  if (flat.length === 1) return fmt(flat[0]);
  return `[${shapeText(value)}]`;
}

/**
 * A small tensor written out ("[[1, 0], [0, 4]]"), a larger one by its shape, a number as-is.
 * @param {Tensor} value
 */
export function compact(value, maxElements = 12) {
  if (!Array.isArray(value) || flatten(value).length > maxElements) return short(value);
  /** @type {(v: Tensor) => string} */
  const write = (v) => (Array.isArray(v) ? `[${v.map(write).join(", ")}]` : fmt(v));
  return write(value);
}

/**
 * Every element, rows on lines, for a hover card.
 * @param {Tensor} value
 */
export function fullText(value, maxElements = 400) {
  if (!Array.isArray(value)) return fmt(value, 8);
  const shape = shapeOf(value);
  const flat = flatten(value);
  const head = t("tensor.head", { shape: `(${shape.join(", ")})`, n: flat.length });
  if (flat.length > maxElements) {
    const min = minOf(flat);
    const max = maxOf(flat);
    const mean = flat.reduce((s, x) => s + x, 0) / flat.length;
    return `${head}\n${t("tensor.summary", { min: fmt(min), mean: fmt(mean), max: fmt(max) })}`;
  }
  const rows = shape.length <= 1 ? [flat] : value.map((r) => flatten(r));
  const cells = rows.map((r) => r.map((x) => fmt(x, 6)));
  const width = maxOf(cells.flat().map((c) => c.length));
  return `${head}\n${cells.map((r) => r.map((c) => c.padStart(width)).join("  ")).join("\n")}`;
}

/**
 * Diverging colour for v in [-1, 1]: blue for negative, white for 0, red for positive.
 * @param {number} v
 * @returns {[number, number, number]}
 */
export function diverging(v) {
  const a = Math.max(-1, Math.min(1, v));
  if (a >= 0) return [255, Math.round(255 * (1 - a * 0.85)), Math.round(255 * (1 - a * 0.9))];
  return [Math.round(255 * (1 + a * 0.9)), Math.round(255 * (1 + a * 0.6)), 255];
}

/**
 * Rows × columns of a tensor seen as a 2-D picture (vectors are one row).
 * @param {Tensor} value
 * @returns {number[][]}
 */
export function asGrid(value) {
  if (!Array.isArray(value)) return [[value]];
  if (shapeOf(value).length === 1) return [flatten(value)];
  return value.map((row) => flatten(row));
}

/**
 * A data: URL of a heatmap of `value` (each element a pixel block), scaled by its largest |x|.
 * @param {Tensor} value
 */
export function heatmapUrl(value, cell = 6, maxSide = 60) {
  const grid = asGrid(value);
  const rows = grid.length;
  const cols = maxOf(grid.map((r) => r.length));
  const c = Math.max(1, Math.min(cell, Math.floor(maxSide / Math.max(rows, cols))));
  const canvas = document.createElement("canvas");
  canvas.width = cols * c;
  canvas.height = rows * c;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  const scale = Math.max(1e-12, maxOf(grid.flat().map((x) => Math.abs(x))));
  grid.forEach((row, i) =>
    row.forEach((x, j) => {
      const [r, g, b] = diverging(x / scale);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(j * c, i * c, c, c);
    }),
  );
  // Drawn no larger than maxSide: a 64×64 tensor is one pixel per element, shown shrunk.
  const fit = Math.min(1, maxSide / Math.max(canvas.width, canvas.height));
  return { url: canvas.toDataURL(), width: canvas.width * fit, height: canvas.height * fit };
}

/**
 * What is wrong with a value for a node, in the learner's words (an i18n key and its
 * parameters), or null if it is a number or a rectangular nested list of numbers.
 * @param {unknown} v
 * @returns {{key: string, params: Record<string, string | number>} | null}
 */
export function valueProblem(v) {
  if (typeof v === "number") return Number.isFinite(v) ? null : { key: "value.notFinite", params: {} };
  if (!Array.isArray(v)) return { key: "value.notNumber", params: { value: JSON.stringify(v) ?? String(v) } };
  if (v.length === 0) return { key: "value.empty", params: {} };
  const first = v[0];
  for (let i = 0; i < v.length; i++) {
    const row = v[i];
    if (Array.isArray(row) !== Array.isArray(first)) return { key: "value.mixed", params: { row: i + 1 } };
    if (Array.isArray(row) && Array.isArray(first) && row.length !== first.length) {
      return { key: "value.ragged", params: { row: i + 1, n: row.length, first: first.length } };
    }
    const inner = valueProblem(row);
    if (inner) return inner;
  }
  return null;
}

/**
 * Parse a typed value: a number, or JSON for a nested list. Returns undefined if invalid.
 * @param {unknown} text
 * @returns {Tensor | undefined}
 */
export function parseValue(text) {
  const s = String(text).trim();
  if (s === "") return undefined;
  const n = Number(s);
  if (Number.isFinite(n)) return n;
  try {
    const v = JSON.parse(s);
    return valueProblem(v) === null ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A rows × cols tensor keeping what fits from `old`, new cells 0; rows=0 means a vector.
 * @param {Tensor | undefined} old
 * @param {number} rows
 * @param {number} cols
 * @returns {Tensor}
 */
export function reshape(old, rows, cols) {
  const grid = asGrid(old ?? 0);
  /** @type {(i: number, j: number) => number} */
  const at = (i, j) => (grid[i] && typeof grid[i][j] === "number" ? grid[i][j] : 0);
  if (rows === 0) return Array.from({ length: cols }, (_, j) => at(0, j));
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => at(i, j)));
}

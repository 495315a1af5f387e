// @ts-check
// How an op is labelled on the page: its one-line doc in the interface language, its symbol.

import { t } from "./i18n.js";

/** @typedef {import("./api.js").Op} Op */

/**
 * An op's one-line doc in the interface language (the API's English text otherwise).
 * @param {Op | undefined} meta
 */
export function opDoc(meta) {
  if (!meta) return "";
  const key = `op.${meta.name}.doc`;
  const local = t(key);
  return local === key ? meta.doc : local;
}

/**
 * An op's formula as shown to a person: the catalogue's where it has words (the input's
 * "value"), else the API's symbols.
 * @param {Op | undefined} meta
 */
export function opFormula(meta) {
  if (!meta || !meta.formula) return "";
  const key = `op.${meta.name}.formula`;
  const local = t(key);
  return local === key ? meta.formula : local;
}

/**
 * A broken layer's bug in the interface's language (the server's English if not translated).
 * @param {{name: string, doc: string}} variant
 */
export function variantDoc(variant) {
  const key = `variant.${variant.name}`;
  const text = t(key);
  return text === key ? variant.doc : text;
}

/** The symbol drawn in a node, as in the book's figures; other ops show their name. */
const SYMBOLS = /** @type {Record<string, string>} */ ({
  input: "x", add: "+", mul: "×", dot: "dot", exp: "exp", log: "log", reciprocal: "1/x",
  sum: "Σ", relu: "ReLU", sigmoid: "σ", affine: "Affine", softmax: "softmax",
  cross_entropy: "CE", softmax_with_loss: "Softmax-with-Loss", batchnorm: "BatchNorm", dropout: "Dropout",
});

/**
 * An op's name in the interface language ("乘法" for mul in Chinese; the API's name otherwise).
 * @param {string} op
 */
export function opName(op) {
  const key = `op.${op}.name`;
  const local = t(key);
  return local === key ? op : local;
}

/** Short symbols for the palette's buttons, where a node's own label is too long to fit. */
const PALETTE = /** @type {Record<string, string>} */ ({
  affine: "xW+b", softmax: "eˣ/Σ", softmax_with_loss: "SwL", batchnorm: "BN", dropout: "drop",
});

/**
 * The symbol on an op's palette button: at most 4 characters ("xW+b" for affine).
 * @param {string} op
 */
export function paletteSymbol(op) {
  const symbol = PALETTE[op] ?? symbolFor(op);
  return symbol.length <= 4 ? symbol : "";
}

/**
 * The symbol of an op ("×" for mul), or its name.
 * @param {string} op
 */
export function symbolFor(op) {
  return SYMBOLS[op] ?? op;
}

// @ts-check
// "Check on the graph": every node's gradient against central differences (POST /gradcheck
// with scope "all"), written beside backprop's on the canvas, each edge coloured by how well
// its source's gradient agrees; and the nudge slider, (f(x+h) − f(x−h)) / 2h live for an input.

import { api } from "./api.js";
import { toApi } from "./graph-model.js";
import { run } from "./graph-run.js";
import { t } from "./i18n.js";
import { flatten, fmt } from "./tensor.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */
/** @typedef {import("./api.js").GradcheckReport} GradcheckReport */
/** @typedef {import("./api.js").ParamCheck} ParamCheck */
/** @typedef {import("./api.js").Tensor} Tensor */

/**
 * How a node's gradient fared: "pass", "fail" or "skip" (not judged: a kink, undefined).
 * @param {ParamCheck} p
 */
export function verdict(p) {
  if (!p.passed) return "fail";
  return p.checked < p.size ? "skip" : "pass";
}

/**
 * The verdict as a mark, so agreement is never told by colour alone: ✓ agrees, ✗ does not.
 * @param {ParamCheck} p
 */
function mark(p) {
  const v = verdict(p);
  return v === "pass" ? "✓ " : v === "fail" ? "✗ " : "";
}

/**
 * Run the graph if needed, then check every node's gradient on the server and draw the result.
 * @param {GraphView} view
 */
export async function checkOnGraph(view) {
  if (!view.result && !(await run(view))) return;
  view.setStatus("busy", () => t("graph.checking"));
  view.refreshStatus();
  try {
    const report = await api.gradcheck({ graph: toApi(view.graph), mode: "full", scope: "all" });
    view.check = report;
    const failed = Object.entries(report.params).filter(([, p]) => !p.passed).map(([id]) => id);
    const unseen = report.unseen_bugs ?? [];
    const n = Object.keys(report.params).length;
    // NOTE: "all agree" is not said of a graph whose planted bug cannot show on it.
    view.setStatus(failed.length ? "error" : unseen.length ? "warn" : "ok", () => (failed.length
      ? t("graph.checkFailed", { n: failed.length, ids: failed.join(", ") })
      : unseen.length ? unseenText(unseen, n) : t("graph.checkPassed", { n })));
  } catch (err) {
    view.check = null;
    view.setStatus("error", /** @type {Error} */ (err).message);
  }
  view.refresh();
}

/**
 * "All agree, but the bug planted at loss (no_batch_divide) cannot show here…", in words.
 * @param {import("./api.js").UnseenBug[]} bugs
 * @param {number} n gradients checked
 */
export function unseenText(bugs, n) {
  const where = bugs.map((b) => (b.node === null ? t("graph.unseenOverwrite") : `${b.node} (${b.variant})`)).join(", ");
  const rows = bugs.some((b) => b.why === "one_row");
  return t("graph.checkUnseen", {
    n, where, why: rows ? t("graph.unseenOneRow") : "", fix: rows ? t("graph.unseenFixRows") : "",
  });
}

/** @param {string} f @returns {string} a formula's short name */
function formulaName(f) {
  return f === "richardson" ? t("graph.estRichardson") : f === "central_half" ? t("graph.estHalf") : "";
}

/**
 * The numerical estimate of a node's gradient, as short text, or "" if none: "≈ 2.2" for a
 * central difference; "≈ 0.1966873470 (Richardson; central 0.190399)" when another formula
 * gave it, with the plain central difference beside it.
 * @param {ParamCheck | undefined} p
 */
export function estimateText(p) {
  if (!p || p.numerical === undefined || p.numerical === null) return "";
  const values = flatten(/** @type {Tensor} */ (p.numerical));
  const formulas = p.formula === undefined || p.formula === null ? [] : flatten(/** @type {Tensor} */ (/** @type {unknown} */ (p.formula)));
  const central = p.central === undefined || p.central === null ? [] : flatten(/** @type {Tensor} */ (p.central));
  if (values.length === 1) {
    const name = formulaName(String(formulas[0] ?? "central"));
    const beside = name && typeof central[0] === "number" ? ` (${name}; ${t("graph.estCentral", { v: fmt(central[0], 6) })})` : "";
    return `${mark(p)}≈ ${fmt(values[0], 10)}${beside}`;
  }
  const other = formulas.filter((f) => String(f) !== "central");
  const note = other.length ? ` (${t("graph.estSome", { formula: formulaName(String(other[0])), n: other.length, size: values.length })})` : "";
  return `${mark(p)}≈ [${values.slice(0, 3).map((v) => fmt(v, 6)).join(", ")}${values.length > 3 ? ", …" : ""}]${note}`;
}

/**
 * L = Σ output · dout for one evaluation (the scalar whose gradient backprop computes).
 * @param {import("./api.js").Evaluation} result
 * @param {Tensor} dout
 */
function loss(result, dout) {
  const out = flatten(result.output.value);
  const d = flatten(dout);
  return out.reduce((sum, v, i) => sum + v * (d.length === 1 ? d[0] : d[i]), 0);
}

/**
 * (f(x + h) − f(x − h)) / 2h for element `index` of input `id`, by two evaluations.
 * @param {GraphView} view
 * @param {string} id
 * @param {number} index flat index of the element nudged
 * @param {number} h
 * @returns {Promise<number>}
 */
export async function centralDifference(view, id, index, h) {
  /** @type {(sign: number) => import("./api.js").GraphBody} */
  const nudged = (sign) => {
    const body = toApi(view.graph);
    const node = body.nodes.find((n) => n.id === id);
    if (node) {
      const flat = flatten(/** @type {Tensor} */ (node.value ?? 0));
      flat[index] += sign * h;
      node.value = reshapeLike(/** @type {Tensor} */ (node.value ?? 0), flat);
    }
    return body;
  };
  const [plus, minus] = await Promise.all([api.evaluate(nudged(1)), api.evaluate(nudged(-1))]);
  const dout = toApi(view.graph).dout ?? 1;
  return (loss(plus, dout) - loss(minus, dout)) / (2 * h);
}

/**
 * `flat` numbers in the nesting of `like`.
 * @param {Tensor} like
 * @param {number[]} flat
 * @returns {Tensor}
 */
function reshapeLike(like, flat) {
  let i = 0;
  /** @type {(v: Tensor) => Tensor} */
  const walk = (v) => (Array.isArray(v) ? v.map((x) => walk(/** @type {Tensor} */ (x))) : flat[i++]);
  return walk(like);
}

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
    view.setStatus(failed.length ? "error" : "ok", () => (failed.length
      ? t("graph.checkFailed", { n: failed.length, ids: failed.join(", ") })
      : t("graph.checkPassed", { n: Object.keys(report.params).length })));
  } catch (err) {
    view.check = null;
    view.setStatus("error", /** @type {Error} */ (err).message);
  }
  view.refresh();
}

/**
 * The numerical estimate of a node's gradient, as short text ("≈ 2.2"), or "" if none.
 * @param {ParamCheck | undefined} p
 */
export function estimateText(p) {
  if (!p || p.numerical === undefined || p.numerical === null) return "";
  const values = flatten(/** @type {Tensor} */ (p.numerical));
  if (values.length === 1) return `≈ ${fmt(values[0], 10)}`;
  return `≈ [${values.slice(0, 3).map((v) => fmt(v, 6)).join(", ")}${values.length > 3 ? ", …" : ""}]`;
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

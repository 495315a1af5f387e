// @ts-check
// Stepping through a result: forward in topological order, then backward in reverse, one
// node at a time (by hand or on a timer), showing only what has been computed so far.

import { t } from "./i18n.js";
import { run } from "./graph-run.js";
import { renderCode } from "./graph-code.js";
import { backwardLines, forwardLines } from "./graph-step-text.js";
import { byId } from "./ui.js";
import { opName } from "./op-labels.js";
import { exerciseVisibility } from "./exercise-view.js";
import { tourHides, tourVisibility } from "./tour.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */
/** @typedef {{phase: "forward" | "backward", id: string}} Step */

/**
 * What the canvas shows at the current step (everything when not stepping).
 * @typedef {object} Visibility
 * @property {(id: string) => boolean} showValue
 * @property {(id: string) => boolean} showGrad
 * @property {() => boolean} showOutputGrad
 * @property {string | null} current the node of the current step
 * @property {"forward" | "backward"} [phase]
 * @property {(from: string, to: string) => boolean} [lit] edges drawn as the question's (the
 *   branch rule's: every edge leaving a reused value)
 * @property {(kind: "value" | "grad", from: string, to: string) => boolean} [ask] where an
 *   exercise asks for the number: a "?" is drawn there
 */

/** One node every 1.2 s when playing. */
const PLAY_MS = 1200;

/**
 * Every step of the last result: the forward order, then the backward order.
 * @param {GraphView} view
 * @returns {Step[]}
 */
export function steps(view) {
  if (!view.result) return [];
  return [
    ...view.result.forward_order.map((id) => /** @type {Step} */ ({ phase: "forward", id })),
    ...view.result.backward_order.map((id) => /** @type {Step} */ ({ phase: "backward", id })),
  ];
}

/**
 * Move `delta` steps (running the graph first if it has no result).
 * @param {GraphView} view
 * @param {number} delta
 */
export async function stepBy(view, delta) {
  if (!view.result && !(await run(view))) return;
  const all = steps(view);
  if (!all.length) return;
  let i = view.step === null ? (delta > 0 ? -1 : all.length) : view.step;
  i = Math.max(0, Math.min(all.length - 1, i + delta));
  view.step = i;
  view.selected = all[i].id;
  view.refresh();
}

/**
 * Step through both passes on a timer, or pause.
 * @param {GraphView} view
 */
export async function togglePlay(view) {
  if (view.playing) return view.stopPlay();
  if (!view.result && !(await run(view))) return;
  if (view.step !== null && view.step >= steps(view).length - 1) view.step = null;
  view.playing = setInterval(() => {
    const last = steps(view).length - 1;
    if (!view.result || (view.step !== null && view.step >= last)) return view.stopPlay();
    stepBy(view, 1);
  }, PLAY_MS);
  stepBy(view, 1);
  view.renderPlay();
}

/**
 * What to draw at the current step.
 * @param {GraphView} view
 * @returns {Visibility}
 */
export function visibility(view) {
  const asked = exerciseVisibility(view);
  if (asked) return asked;
  if (tourHides(view)) return tourVisibility(view);
  const all = steps(view);
  if (view.step === null || !view.result || !all.length) {
    return { showValue: () => true, showGrad: () => true, showOutputGrad: () => true, current: null };
  }
  const cur = all[view.step];
  const fwd = view.result.forward_order;
  const bwd = view.result.backward_order;
  const fi = cur.phase === "forward" ? fwd.indexOf(cur.id) : fwd.length;
  const bi = cur.phase === "backward" ? bwd.indexOf(cur.id) : -1;
  return {
    showValue: (id) => fwd.indexOf(id) <= fi,
    showGrad: (id) => bwd.indexOf(id) !== -1 && bwd.indexOf(id) <= bi,
    showOutputGrad: () => bi >= 0,
    current: cur.id,
    phase: cur.phase,
  };
}

/**
 * The panel under the canvas: which pass, which node, and its local rule with numbers.
 * @param {GraphView} view
 */
export function renderStepPanel(view) {
  const phase = byId("step-phase");
  const list = byId("step-rule");
  const progress = byId("step-progress");
  list.replaceChildren();
  const all = steps(view);
  if (view.step === null || !view.result || !all.length) {
    phase.textContent = view.result ? t("graph.stepReady") : t("graph.stepIdle");
    phase.className = "phase";
    progress.textContent = "";
    renderCode(view, undefined, null);
    return;
  }
  const cur = all[view.step];
  const node = view.node(cur.id);
  const nf = view.result.forward_order.length;
  const n = cur.phase === "forward" ? view.step + 1 : view.step + 1 - nf;
  const total = cur.phase === "forward" ? nf : all.length - nf;
  const key = cur.phase === "forward" ? "graph.phaseForward" : "graph.phaseBackward";
  phase.textContent = t(key, { n, total, id: cur.id, op: node ? opName(node.op) : "" });
  phase.className = `phase ${cur.phase}`;
  if (node) {
    const lines = cur.phase === "forward"
      ? forwardLines(node, view.ops.get(node.op), view.result)
      : backwardLines(node, view.result);
    for (const line of lines) {
      const li = document.createElement("li");
      li.textContent = line;
      list.append(li);
    }
  }
  progress.textContent = t("graph.stepOf", { i: view.step + 1, n: all.length });
  renderCode(view, node, cur.phase);
}

/**
 * The step shown now, or null when not stepping.
 * @param {GraphView} view
 * @returns {Step | null}
 */
export function currentStep(view) {
  const all = steps(view);
  return view.step === null || !all.length ? null : all[view.step] ?? null;
}

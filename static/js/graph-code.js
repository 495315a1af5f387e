// @ts-check
// The code panel of the step-through: the engine's own Python for the node being stepped
// (GET /graphs/ops/{op}/code), its forward lines lit going forward, its backward lines going back.

import { api } from "./api.js";
import { t } from "./i18n.js";
import { compact } from "./tensor.js";
import { byId } from "./ui.js";

/** @typedef {import("./api.js").OpCode} OpCode */
/** @typedef {import("./graph-view.js").GraphView} GraphView */
/** @typedef {import("./graph-model.js").EditNode} EditNode */

/** @type {Map<string, Promise<OpCode | null>>} */
const cache = new Map();

/**
 * The code of an op (or its broken variant), fetched once.
 * @param {string} op
 * @param {string | undefined} variant
 */
function codeOf(op, variant) {
  const key = `${op}|${variant ?? ""}`;
  let got = cache.get(key);
  if (!got) {
    got = api.opCode(op, variant).catch(() => null);
    cache.set(key, got);
  }
  return got;
}

/**
 * Show the code a stepped node runs, or hide the panel (no step, an input node).
 * @param {GraphView} view
 * @param {EditNode | undefined} node
 * @param {"forward" | "backward" | null} phase
 */
export async function renderCode(view, node, phase) {
  const panel = byId("step-code");
  if (!node || !phase || node.op === "input" || !view.result) {
    panel.hidden = true;
    return;
  }
  const code = await codeOf(node.op, node.variant);
  const still = view.currentStep();
  if (!still || still.id !== node.id || still.phase !== phase) return; // the learner moved on
  if (!code) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  panel.dataset.op = node.op;
  panel.dataset.phase = phase;
  byId("step-code-title").textContent = t("graph.codeTitle", { cls: code.class, method: phase });
  const range = phase === "forward" ? code.forward : code.backward;
  const box = byId("step-code-lines");
  box.replaceChildren();
  /** @type {HTMLElement | null} */
  let first = null;
  code.code.replace(/\n$/, "").split("\n").forEach((text, i) => {
    const line = document.createElement("span");
    const running = range !== null && i + 1 >= range[0] && i + 1 <= range[1];
    line.className = running ? `line running ${phase}` : "line";
    const no = document.createElement("span");
    no.className = "no";
    no.textContent = String(i + 1);
    line.append(no, text);
    box.append(line);
    if (running && !first) first = line;
  });
  const pre = /** @type {HTMLElement} */ (box.parentElement);
  if (first) pre.scrollTop = Math.max(0, /** @type {HTMLElement} */ (first).offsetTop - pre.offsetTop - 8);
  const result = view.result.nodes;
  byId("step-code-numbers").textContent = phase === "forward"
    ? t("graph.codeInputs", {
      values: node.inputs.filter(Boolean).map((s) => `${s} = ${compact(result[/** @type {string} */ (s)].value)}`).join(", "),
    })
    : t("graph.codeDout", { dout: compact(/** @type {import("./api.js").Tensor} */ (result[node.id].grad)) }); // only labels (inputs) have none
}

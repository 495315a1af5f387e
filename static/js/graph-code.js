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
 * Lines of code into `box`, numbered from `from`, the ones in `range` lit; returns the first lit.
 * @param {HTMLElement} box
 * @param {string} text
 * @param {number[] | null} range first and last line to light (numbers of `text`'s lines + from - 1)
 * @param {number} from the number of the first line
 * @param {"forward" | "backward"} phase
 * @returns {HTMLElement | null}
 */
function showLines(box, text, range, from, phase) {
  box.replaceChildren();
  /** @type {HTMLElement | null} */
  let first = null;
  text.replace(/\n$/, "").split("\n").forEach((content, i) => {
    const number = from + i;
    const line = document.createElement("span");
    const running = range !== null && number >= range[0] && number <= range[1];
    line.className = running ? `line running ${phase}` : "line";
    const no = document.createElement("span");
    no.className = "no";
    no.textContent = String(number);
    line.append(no, content);
    box.append(line);
    if (running && !first) first = line;
  });
  return first;
}

/**
 * The book's own method (chapter 5) above the engine's, and what the engine adds, for the
 * layers whose engine class does more than the book's; hidden for the others.
 * @param {OpCode} code
 * @param {"forward" | "backward"} phase
 */
function renderBook(code, phase) {
  const box = byId("step-book");
  const book = code.book;
  const range = book ? (phase === "forward" ? book.forward : book.backward) : null;
  if (!book || !range) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  byId("step-book-title").textContent = t("graph.bookTitle", { cls: book.class, method: phase });
  const method = book.code.split("\n").slice(range[0] - 1, range[1]).join("\n");
  showLines(byId("step-book-lines"), method, range, range[0], phase);
  byId("step-book-adds").textContent = t("graph.engineAdds", { text: t(`code.adds.${code.op}`) });
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
  const first = showLines(byId("step-code-lines"), code.code, range, 1, phase);
  // The lit lines in view: the box scrolls to them (a long class is taller than the box).
  const pre = byId("step-code-pre");
  pre.scrollTop = 0;
  if (first) pre.scrollTop = Math.max(0, first.getBoundingClientRect().top - pre.getBoundingClientRect().top - 8);
  renderBook(code, phase);
  const result = view.result.nodes;
  byId("step-code-numbers").textContent = phase === "forward"
    ? t("graph.codeInputs", {
      values: node.inputs.filter(Boolean).map((s) => `${s} = ${compact(result[/** @type {string} */ (s)].value)}`).join(", "),
    })
    : t("graph.codeDout", { dout: compact(/** @type {import("./api.js").Tensor} */ (result[node.id].grad)) }); // only labels (inputs) have none
}

// @ts-check
// Predict, then reveal: the questions of an exercise on an evaluated graph, and their checking.
// Backward, one question per operation node in backward order: the upstream gradient on each
// edge into it (the red number drawn below the edge). Forward (when asked for), one question
// per operation node in forward order: its value. Small tensors (at most 4×4) are asked cell
// by cell; larger ones are shown, not asked.

import { forwardLines, portRule, portsClash } from "./graph-step-text.js";
import { compact, flatten, isScalar, shapeOf } from "./tensor.js";

/** @typedef {import("./api.js").Evaluation} Evaluation */
/** @typedef {import("./api.js").Op} Op */
/** @typedef {import("./api.js").Tensor} Tensor */
/** @typedef {import("./graph-model.js").EditGraph} EditGraph */

/**
 * One number or small tensor to predict.
 * @typedef {object} Part
 * @property {string} label what it is, e.g. "dx" or "price"
 * @property {string} from the edge's source (forward: the node itself)
 * @property {string} to the edge's target (forward: "")
 * @property {number} port
 * @property {Tensor | null} answer null for class labels: they get no gradient
 * @property {number[]} shape [] for a number
 * @property {boolean} askable small enough to type, and worth asking
 * @property {"large" | "labels" | ""} why why it is shown and not asked
 * @property {string} hint the rule with its known numbers, the answer left as "?"
 * @property {string[]} known the values the rule reads, when it has no numbers written in
 */

/**
 * @typedef {object} Question
 * @property {"forward" | "backward" | "branch"} kind branch: the sum of a reused value's
 *   gradients (the branch rule), asked once every edge leaving it is revealed
 * @property {string} node
 * @property {string} op
 * @property {Part[]} parts
 */

/** The largest tensor asked cell by cell: 4 rows, 4 columns. */
export const MAX_SIDE = 4;

/**
 * Whether `value` is small enough to type: a number, or a vector or matrix of at most 4×4.
 * @param {Tensor} value
 */
export function askable(value) {
  const shape = shapeOf(value);
  return shape.length <= 2 && shape.every((d) => d >= 1 && d <= MAX_SIDE);
}

/** An answer is right within ATOL + RTOL·|answer| (the panel says so). */
export const ATOL = 1e-6;
export const RTOL = 1e-3;

/**
 * Whether an answer is right: |a − b| ≤ ATOL + RTOL·|b|.
 * @param {number} typed
 * @param {number} truth
 */
export function close(typed, truth) {
  return Number.isFinite(typed) && Math.abs(typed - truth) <= ATOL + RTOL * Math.abs(truth);
}

/**
 * A typed number ("2.2", "-3", "−0.5", "1e-3", " 4 "), or NaN.
 * @param {string} text
 */
export function parseAnswer(text) {
  const s = text.trim().replace(/^[−–]/, "-").replace(/，|,/g, ".");
  if (s === "" || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) return NaN;
  return Number(s);
}

/**
 * The questions of an exercise on `result`, in the order they are asked.
 * @param {EditGraph} graph
 * @param {Map<string, Op>} ops
 * @param {Evaluation} result
 * @param {boolean} askForward ask each operation's value first
 * @returns {Question[]}
 */
export function buildQuestions(graph, ops, result, askForward) {
  /** @type {Question[]} */
  const questions = [];
  if (askForward) {
    for (const id of result.forward_order) {
      const node = graph.nodes.find((n) => n.id === id);
      const res = result.nodes[id];
      if (!node || !res || node.op === "input") continue;
      const [line] = forwardLines(node, ops.get(node.op), result);
      const tail = ` = ${compact(res.value)}`;
      const hint = `${line.endsWith(tail) ? line.slice(0, -tail.length) : line} = ?`;
      questions.push({
        kind: "forward",
        node: id,
        op: node.op,
        parts: [part(id, id, "", 0, res.value, hint, [])],
      });
    }
  }
  for (const id of result.backward_order) {
    const res = result.nodes[id];
    if (!res || !res.local) continue;
    const ports = res.local.ports;
    // NOTE: a port named like another node ("y" fed by node x) is written in node names.
    const clash = portsClash(ports, result);
    const parts = ports.flatMap((p) => {
      const edge = result.edges.find((e) => e.to === id && e.port === p.port);
      if (!edge) return [];
      const { lhs, rule } = portRule(p, ports, clash);
      const hint = p.numbers !== null ? `${lhs} = ${rule} = ${p.numbers} = ?` : `${lhs} = ${rule} = ?`;
      /** @type {string[]} */
      const known = [];
      if (p.numbers === null) {
        known.push(`dout = ${compact(/** @type {Tensor} */ (res.grad), 16)}`);
        for (const q of res.local?.ports ?? []) {
          const src = result.nodes[q.from];
          if (src) known.push(`${clash ? q.from : q.input} = ${compact(src.value, 16)}`);
        }
        known.push(`out = ${compact(res.value, 16)}`);
      }
      // NOTE: labels (Softmax-with-Loss's t) get no gradient (null): said, not asked.
      return [part(`d${p.input}`, edge.from, id, p.port, p.label ? null : edge.grad, hint, known)];
    });
    if (parts.length) questions.push({ kind: "backward", node: id, op: res.op, parts });
  }
  if (result.accumulate !== "overwrite") addBranchQuestions(questions, result);
  return questions;
}

/**
 * For each value used more than once, a question on the sum of its gradients (the branch rule),
 * right after the question that reveals the last edge leaving it.
 * @param {Question[]} questions
 * @param {Evaluation} result
 */
function addBranchQuestions(questions, result) {
  for (const id of [...result.backward_order].reverse()) {
    const res = result.nodes[id];
    const uses = result.edges.filter((e) => e.from === id);
    if (!res || res.grad === null || uses.length < 2 || uses.some((e) => e.grad === null)) continue;
    const last = Math.max(...uses.map((e) => questions.findIndex((q) => q.kind === "backward" && q.node === e.to)));
    if (last < 0 || uses.some((e) => questions.findIndex((q) => q.kind === "backward" && q.node === e.to) < 0)) continue;
    const grads = uses.map((e) => /** @type {Tensor} */ (e.grad));
    const scalar = grads.every(isScalar);
    const sum = scalar ? grads.map((g) => compact(g)).join(" + ") : uses.map((e) => `d(${e.from} → ${e.to})`).join(" + ");
    const known = scalar ? [] : uses.map((e) => `d(${e.from} → ${e.to}) = ${compact(/** @type {Tensor} */ (e.grad), 16)}`);
    const made = part(`∂L/∂${id}`, id, "", -1, res.grad, `∂L/∂${id} = ${sum} = ?`, known);
    questions.splice(last + 1, 0, { kind: "branch", node: id, op: res.op, parts: [made] });
  }
}

/**
 * @param {string} label
 * @param {string} from
 * @param {string} to
 * @param {number} port
 * @param {Tensor | null} answer null: class labels, which get no gradient
 * @param {string} hint
 * @param {string[]} known
 * @returns {Part}
 */
function part(label, from, to, port, answer, hint, known) {
  if (answer === null) {
    return { label, from, to, port, answer, shape: [], askable: false, why: "labels", hint, known: [] };
  }
  const shape = isScalar(answer) ? [] : shapeOf(answer);
  const ok = askable(answer);
  return { label, from, to, port, answer, shape, askable: ok, why: ok ? "" : "large", hint, known: [...new Set(known)] };
}

/**
 * How one part was answered: each cell right or wrong.
 * @typedef {{cells: boolean[], right: boolean}} Mark
 */

/**
 * Check typed cells against a part's answer.
 * @param {Part} p
 * @param {string[]} typed one string per cell, row by row
 * @returns {Mark}
 */
export function mark(p, typed) {
  const truth = p.answer === null ? [] : flatten(p.answer);
  const cells = truth.map((x, i) => close(parseAnswer(typed[i] ?? ""), x));
  return { cells, right: cells.every(Boolean) };
}

/** An exercise in progress: the questions, where the learner is, what was typed and marked. */
export class Exercise {
  /**
   * @param {Evaluation} result the evaluation the answers come from
   * @param {Question[]} questions
   * @param {boolean} askForward
   */
  constructor(result, questions, askForward) {
    this.result = result;
    this.questions = questions;
    this.askForward = askForward;
    this.index = 0;
    /** the current question has been checked (or shown) and its answers are revealed */
    this.checked = false;
    this.hint = false;
    /** every answer is revealed: after the last question, or "Reveal all" */
    this.finished = false;
    /** @type {string[][][]} typed text per question, part, cell */
    this.typed = questions.map((q) => q.parts.map((p) => (p.answer === null ? [] : flatten(p.answer)).map(() => "")));
    /** @type {(Mark | null)[][]} per question and part: null until checked; shown parts stay null */
    this.marks = questions.map((q) => q.parts.map(() => null));
    /** @type {boolean[]} questions whose answers were shown without being checked */
    this.shown = questions.map(() => false);
    this.arrive();
  }

  get current() {
    return this.questions[this.index] ?? null;
  }

  /** On a question with nothing to type (tensors too large), its answer is simply shown. */
  arrive() {
    const q = this.current;
    if (q && !q.parts.some((p) => p.askable)) this.checked = true;
  }

  /**
   * Whether every askable cell of the current question has something typed.
   */
  complete() {
    const q = this.current;
    if (!q) return false;
    return q.parts.every((p, j) => !p.askable || this.typed[this.index][j].every((s) => s.trim() !== ""));
  }

  /** Check the current question's answers; they are revealed. */
  check() {
    const q = this.current;
    if (!q || this.checked) return;
    this.marks[this.index] = q.parts.map((p, j) => (p.askable ? mark(p, this.typed[this.index][j]) : null));
    this.checked = true;
  }

  /** Show the current question's answers without checking (they count as not right). */
  reveal() {
    if (!this.current || this.checked) return;
    this.shown[this.index] = true;
    this.checked = true;
  }

  next() {
    if (!this.checked) return;
    if (this.index >= this.questions.length - 1) {
      this.finished = true;
      return;
    }
    this.index += 1;
    this.checked = false;
    this.hint = false;
    this.arrive();
  }

  /** Reveal everything now; unanswered questions count as not right. */
  revealAll() {
    this.finished = true;
    this.checked = true;
  }

  /**
   * Whether the answers of question `i` are on the canvas.
   * @param {number} i
   */
  revealed(i) {
    return this.finished || i < this.index || (i === this.index && this.checked);
  }

  /** Asked parts, parts answered right, parts answered at all. */
  score() {
    let asked = 0;
    let right = 0;
    let answered = 0;
    this.questions.forEach((q, i) =>
      q.parts.forEach((p, j) => {
        if (!p.askable) return;
        asked += 1;
        const m = this.marks[i][j];
        if (m) answered += 1;
        if (m && m.right) right += 1;
      }),
    );
    return { asked, right, answered };
  }

  /**
   * The index of the question about `node` of this kind, or -1.
   * @param {"forward" | "backward" | "branch"} kind
   * @param {string} node
   */
  questionOf(kind, node) {
    return this.questions.findIndex((q) => q.kind === kind && q.node === node);
  }
}

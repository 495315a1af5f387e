// @ts-check
// The exercise panel: predict each upstream gradient (and, with the switch, each forward value)
// before it is revealed; checked with a tolerance, a hint with the rule's numbers, a score.

import { t } from "./i18n.js";
import { run } from "./graph-run.js";
import { ATOL, RTOL, Exercise, buildQuestions, parseAnswer } from "./exercise.js";
import { compact, flatten, fmt } from "./tensor.js";
import { byId, h, toast } from "./ui.js";
import { opName } from "./op-labels.js";
import { urlHash } from "./url-state.js";
import { placeForLearning } from "./graph-phone.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */
/** @typedef {import("./exercise.js").Part} Part */
/** @typedef {import("./exercise.js").Question} Question */
/** @typedef {import("./api.js").Tensor} Tensor */
/** @typedef {import("./graph-step.js").Visibility} Visibility */

/**
 * Start an exercise on the graph on the canvas (running it first).
 * @param {GraphView} view
 * @param {boolean} askForward ask each operation's value too
 */
export async function startExercise(view, askForward) {
  view.stopPlay();
  view.exercise = null;
  const result = view.result ?? (await run(view));
  if (!result) return false;
  const questions = buildQuestions(view.graph, view.ops, result, askForward);
  if (!questions.some((q) => q.parts.some((p) => p.askable))) {
    view.setStatus("error", () => t("ex.nothingToAsk"));
    view.refresh();
    return false;
  }
  view.exercise = new Exercise(result, questions, askForward);
  view.exerciseFocus = "first";
  view.step = null;
  view.selected = null;
  view.setStatus("ok", () => t("ex.started"));
  view.refresh();
  return true;
}

/**
 * Leave the exercise; the graph and its result stay, everything shown.
 * @param {GraphView} view
 */
export function leaveExercise(view) {
  view.exercise = null;
  view.setStatus(null);
  view.refresh();
}

/**
 * What the canvas shows during an exercise: only what has been answered or revealed.
 * @param {GraphView} view
 * @returns {Visibility | null} null when no exercise is on
 */
export function exerciseVisibility(view) {
  const ex = view.exercise;
  if (!ex || ex.result !== view.result) return null;
  const result = ex.result;
  const q = ex.finished ? null : ex.current;
  /** @type {(id: string) => boolean} */
  const showValue = (id) => {
    if (!ex.askForward) return true;
    const i = ex.questionOf("forward", id);
    return i === -1 || ex.revealed(i);
  };
  /** @type {(id: string) => boolean} */
  const showGrad = (id) => {
    const i = ex.questionOf("backward", id);
    if (i !== -1) return ex.revealed(i);
    if (ex.finished) return true;
    // A reused input: its gradient once its branch question (the sum) is answered.
    const sum = ex.questionOf("branch", id);
    if (sum !== -1) return ex.revealed(sum);
    // An input: its gradient once every edge leaving it has been revealed.
    const uses = result.edges.filter((e) => e.from === id);
    return uses.length > 0 && uses.every((e) => ex.questionOf("backward", e.to) !== -1 && ex.revealed(ex.questionOf("backward", e.to)));
  };
  const backwardStarted = ex.finished || (q !== null && q.kind !== "forward");
  return {
    showValue,
    showGrad,
    showOutputGrad: () => backwardStarted,
    current: q ? q.node : null,
    phase: q ? (q.kind === "branch" ? "backward" : q.kind) : undefined,
    // The branch rule: every edge leaving the reused value is lit, whose gradients add up.
    lit: (from) => Boolean(q && q.kind === "branch" && from === q.node),
    ask: (kind, from, to) => {
      if (!q || ex.checked || q.kind === "branch") return false;
      if (q.kind === "backward") return kind === "grad" && to === q.node && q.parts.some((p) => p.from === from);
      return kind === "value" && from === q.node;
    },
  };
}

/**
 * The panel (and the buttons an exercise disables), drawn from the exercise's state.
 * @param {GraphView} view
 */
export function renderExercise(view) {
  const panel = byId("exercise-panel");
  const ex = view.exercise;
  byId("step-panel").hidden = Boolean(ex);
  // The examples' explanations give the answers away.
  byId("preset-explanation").hidden = Boolean(ex && !ex.finished);
  for (const id of ["g-run", "g-step", "g-step-back", "g-play", "g-step-reset"]) {
    if (ex) byId(id, HTMLButtonElement).disabled = true;
  }
  if (!ex) {
    if (!panel.hidden) panel.replaceChildren();
    panel.hidden = true;
    if (!view.exercise) byId("g-run", HTMLButtonElement).disabled = false;
    if (!view.exercise) for (const id of ["g-step", "g-step-back", "g-play"]) byId(id, HTMLButtonElement).disabled = false;
    return;
  }
  const active = document.activeElement;
  const focusKey = active instanceof HTMLElement && panel.contains(active) ? active.dataset.key : undefined;
  panel.hidden = false;
  panel.dataset.state = ex.finished ? "finished" : ex.checked ? "checked" : "asking";
  panel.replaceChildren(h("h2", { id: "ex-title", text: t("ex.title") }));
  if (ex.finished) renderSummary(view, panel);
  else renderQuestion(view, panel);
  panel.append(renderFooter(view));
  const want = view.exerciseFocus === "first"
    ? panel.querySelector("input.ex-cell:not([readonly])") ?? panel.querySelector("button.primary")
    : view.exerciseFocus === "primary"
      ? panel.querySelector("button.primary")
      : focusKey ? panel.querySelector(`[data-key="${CSS.escape(focusKey)}"]`) : null;
  // A new question on a phone: the canvas at the top of the screen, the question under it.
  const placed = view.exerciseFocus === "first" && placeForLearning(view, !ex.finished && ex.current ? ex.current.node : null);
  view.exerciseFocus = null;
  if (want instanceof HTMLElement) want.focus({ preventScroll: placed });
}

/**
 * @param {GraphView} view
 * @param {HTMLElement} panel
 */
function renderQuestion(view, panel) {
  const ex = /** @type {Exercise} */ (view.exercise);
  const q = /** @type {Question} */ (ex.current);
  const { asked, right, answered } = ex.score();
  panel.append(
    h("p", { className: "ex-progress muted small", id: "ex-progress",
      text: t("ex.progress", { i: ex.index + 1, n: ex.questions.length, right, answered, asked }) }),
    h("p", { className: `ex-phase ${q.kind}`, id: "ex-phase",
      text: t(q.kind === "forward" ? "ex.askForward" : q.kind === "branch" ? "ex.askBranch" : "ex.askBackward", {
        id: q.node, op: opName(q.op), n: ex.result.edges.filter((e) => e.from === q.node).length }) }),
    h("p", { className: "hint", id: "ex-explain", text: q.kind === "branch"
      ? t("ex.explainBranch", { id: q.node })
      : t(q.kind === "forward" ? "ex.explainForward" : "ex.explainBackward") }),
    h("p", { className: "hint small ex-tolerance", id: "ex-tolerance",
      text: t("ex.tolerance", { atol: ATOL.toExponential(), rtol: `${Number((RTOL * 100).toPrecision(3))} %` }) }),
  );
  const form = h("form", { className: "ex-form", novalidate: true });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (ex.checked) advance(view);
    else check(view);
  });
  // What the rules read, once for the node, when they have no numbers written in (tensors).
  const known = [...new Set(q.parts.flatMap((p) => (p.askable ? p.known : [])))];
  if (ex.hint && !ex.checked && known.length) {
    form.append(h("p", { className: "ex-known small", text: known.join("\n") }));
  }
  q.parts.forEach((p, j) => form.append(renderPart(view, q, p, j)));
  const buttons = h("div", { className: "row ex-buttons" });
  if (!ex.checked) {
    buttons.append(
      h("button", { type: "submit", className: "primary", id: "ex-check", "data-key": "check", text: t("ex.check") }),
      h("button", { type: "button", id: "ex-hint", "data-key": "hint", "aria-pressed": String(ex.hint), text: t("ex.hint"),
        onclick: () => { ex.hint = !ex.hint; view.refresh(); } }),
      h("button", { type: "button", id: "ex-show", "data-key": "show", text: t("ex.showAnswer"),
        onclick: () => { ex.reveal(); view.exerciseFocus = "primary"; view.refresh(); } }),
    );
  } else {
    const last = ex.index >= ex.questions.length - 1;
    buttons.append(h("button", { type: "submit", className: "primary", id: "ex-next", "data-key": "next",
      text: last ? t("ex.toScore") : t("ex.next") }));
  }
  form.append(h("p", { className: "error-text", id: "ex-error", role: "alert" }), buttons);
  panel.append(form);
}

/**
 * One thing to type: a number, or a small tensor cell by cell; marked once checked.
 * @param {GraphView} view
 * @param {Question} q
 * @param {Part} p
 * @param {number} j
 */
function renderPart(view, q, p, j) {
  const ex = /** @type {Exercise} */ (view.exercise);
  const i = ex.index;
  const markOf = ex.marks[i][j];
  const box = h("fieldset", { className: "ex-part", "data-from": p.from, "data-to": p.to, "data-port": p.port });
  const what = q.kind === "forward"
    ? t("ex.partForward", { id: p.from })
    : q.kind === "branch" ? t("ex.partBranch", { id: p.from })
      : t("ex.partBackward", { label: p.label, from: p.from, to: p.to });
  box.append(h("legend", { text: what }));
  if (ex.hint && !ex.checked) {
    box.append(h("p", { className: "ex-hint", text: p.hint }));
  }
  if (!p.askable) {
    const why = p.why === "labels" ? t("ex.labels") : t("ex.tooLarge", { shape: p.shape.join("×") });
    box.append(h("p", { className: "muted small ex-why", "data-why": p.why, text: why }));
    if (p.answer !== null) box.append(h("p", { className: "ex-answer", text: compact(p.answer) }));
    return box;
  }
  const answer = /** @type {Tensor} */ (p.answer); // askable parts always have one
  const truth = flatten(answer);
  const rows = p.shape.length === 2 ? p.shape[0] : 1;
  const cols = p.shape.length === 2 ? p.shape[1] : p.shape.length === 1 ? p.shape[0] : 1;
  const grid = h("div", { className: "ex-grid", role: p.shape.length ? "group" : null });
  grid.style.setProperty("--cols", String(cols));
  if (p.shape.length) grid.setAttribute("aria-label", t("ex.cellsOf", { shape: p.shape.join("×") }));
  for (let c = 0; c < rows * cols; c++) {
    const key = `${i}-${j}-${c}`;
    const cellMark = markOf ? (markOf.cells[c] ? "right" : "wrong") : ex.checked ? "shown" : "";
    const label = p.shape.length === 2 ? t("ex.cellLabel2", { label: p.label, r: Math.floor(c / cols) + 1, c: (c % cols) + 1 })
      : p.shape.length === 1 ? t("ex.cellLabel1", { label: p.label, c: c + 1 }) : p.label;
    const input = h("input", {
      type: "text", inputMode: "decimal", autocomplete: "off", spellcheck: false, enterKeyHint: "done",
      className: `ex-cell ${cellMark}`, id: `ex-cell-${key}`, "data-key": key, "data-part": j, "data-cell": c,
      "aria-label": label, value: ex.typed[i][j][c], readOnly: ex.checked,
      "aria-invalid": cellMark === "wrong" ? "true" : null,
      oninput: (/** @type {Event} */ e) => { ex.typed[i][j][c] = /** @type {HTMLInputElement} */ (e.target).value; },
    });
    const cell = h("span", { className: "ex-cellbox" }, input);
    if (ex.checked && cellMark !== "right") cell.append(h("span", { className: "ex-truth", text: fmt(truth[c], 6) }));
    grid.append(cell);
  }
  box.append(grid);
  if (ex.checked) {
    const verdict = markOf ? (markOf.right ? "right" : "wrong") : "shown";
    box.append(h("p", { className: `ex-verdict ${verdict}`, "data-verdict": verdict,
      text: verdict === "right" ? t("ex.right") : verdict === "wrong" ? t("ex.wrong", { answer: compact(answer, 16) }) : t("ex.shown", { answer: compact(answer, 16) }) }));
  }
  return box;
}

/**
 * @param {GraphView} view
 */
function check(view) {
  const ex = /** @type {Exercise} */ (view.exercise);
  if (!ex.complete()) {
    byId("ex-error").textContent = t("ex.fillEvery");
    for (const input of byId("exercise-panel").querySelectorAll("input.ex-cell")) {
      if (input instanceof HTMLInputElement && input.value.trim() === "") { input.focus(); break; }
    }
    return;
  }
  // NOTE: "abc" is not a wrong answer but no number at all: say so, and mark nothing.
  for (const input of byId("exercise-panel").querySelectorAll("input.ex-cell:not([readonly])")) {
    if (!(input instanceof HTMLInputElement)) continue;
    const bad = Number.isNaN(parseAnswer(input.value));
    input.setAttribute("aria-invalid", String(bad));
    if (bad) {
      byId("ex-error").textContent = t("ex.notNumber", { text: input.value.trim() });
      input.focus();
      return;
    }
  }
  ex.check();
  view.exerciseFocus = "primary";
  view.refresh();
}

/**
 * @param {GraphView} view
 */
function advance(view) {
  const ex = /** @type {Exercise} */ (view.exercise);
  ex.next();
  view.exerciseFocus = "first";
  view.refresh();
}

/**
 * The score and every answer, with a retry.
 * @param {GraphView} view
 * @param {HTMLElement} panel
 */
function renderSummary(view, panel) {
  const ex = /** @type {Exercise} */ (view.exercise);
  const { asked, right, answered } = ex.score();
  panel.append(h("p", { className: "ex-score", id: "ex-score", "data-right": right, "data-asked": asked,
    text: t("ex.score", { right, asked }) }));
  if (answered < asked) panel.append(h("p", { className: "muted small", text: t("ex.unanswered", { n: asked - answered }) }));
  const list = h("ol", { className: "ex-summary" });
  ex.questions.forEach((q, i) => q.parts.forEach((p, j) => {
    if (!p.askable) return;
    const m = ex.marks[i][j];
    const verdict = m ? (m.right ? "right" : "wrong") : "unanswered";
    const name = q.kind === "forward" ? p.from : q.kind === "branch" ? p.label : `${p.label} (${p.from} → ${p.to})`;
    list.append(h("li", { className: `ex-line ${verdict}`, "data-verdict": verdict },
      h("span", { className: "mark", "aria-hidden": "true", text: verdict === "right" ? "✓" : verdict === "wrong" ? "✗" : "–" }),
      ` ${name}: `,
      h("span", { className: "ex-answer", text: compact(/** @type {Tensor} */ (p.answer), 16) }),
      m && !m.right ? h("span", { className: "muted", text: ` ${t("ex.youTyped", { typed: ex.typed[i][j].join(", ") })}` }) : null,
      h("span", { className: "sr-only", text: ` ${t(`ex.verdict.${verdict}`)}` })));
  }));
  panel.append(list, h("div", { className: "row ex-buttons" },
    h("button", { type: "button", className: "primary", id: "ex-retry", "data-key": "retry", text: t("ex.retry"),
      onclick: () => startExercise(view, ex.askForward) })));
}

/**
 * The switch for forward values, the exercise link, reveal all, leave.
 * @param {GraphView} view
 */
function renderFooter(view) {
  const ex = /** @type {Exercise} */ (view.exercise);
  const foot = h("div", { className: "ex-footer" });
  foot.append(h("label", { className: "check" },
    h("input", { type: "checkbox", id: "ex-ask-forward", "data-key": "ask-forward", checked: ex.askForward,
      onchange: (/** @type {Event} */ e) => startExercise(view, /** @type {HTMLInputElement} */ (e.target).checked) }),
    h("span", { text: t("ex.forwardSwitch") })));
  const row = h("div", { className: "row ex-buttons" },
    h("button", { type: "button", id: "ex-link-button", "data-key": "link", text: t("ex.copyLink"),
      onclick: () => copyLink(view) }),
    ex.finished ? null : h("button", { type: "button", id: "ex-reveal-all", "data-key": "reveal-all", text: t("ex.revealAll"),
      onclick: () => { ex.revealAll(); view.exerciseFocus = "primary"; view.refresh(); } }),
    h("button", { type: "button", id: "ex-leave", "data-key": "leave", text: t("ex.leave"),
      onclick: () => leaveExercise(view) }));
  foot.append(row);
  if (view.exerciseUrl) {
    foot.append(h("label", { className: "field ex-link" }, h("span", { text: t("ex.linkLabel") }),
      h("input", { type: "text", id: "ex-link", readOnly: true, value: view.exerciseUrl, "data-key": "link-text",
        onfocus: (/** @type {Event} */ e) => /** @type {HTMLInputElement} */ (e.target).select() })));
  }
  return foot;
}

/**
 * The address that opens this graph straight in exercise mode (homework).
 * @param {GraphView} view
 */
export function exerciseLink(view) {
  const hash = urlHash({ view: "graph", g: view.urlState(), mode: "exercise", ask: view.exercise?.askForward ? "forward" : null });
  return `${location.origin}${location.pathname}${hash}`;
}

/**
 * Copy the exercise link, and show it in the panel (a phone may refuse the clipboard).
 * @param {GraphView} view
 */
async function copyLink(view) {
  view.exerciseUrl = exerciseLink(view);
  view.refresh();
  try {
    await navigator.clipboard.writeText(view.exerciseUrl);
    toast(t("ex.linkCopied"));
  } catch {
    toast(t("ex.linkHere"));
  }
}

// @ts-check
// A predict-then-reveal question of a chapter-6 page: pick an answer (radio buttons, so the
// keyboard's arrows and a finger both work), then Check or Skip; only then does the answer
// appear, marked right or wrong in words and a sign (never colour alone) with one sentence why.

import { t } from "./i18n.js";
import { h } from "./ui.js";

/** @typedef {import("./ch6-experiments.js").Question} Question */
/** @typedef {{choice: string | null, revealed: boolean}} QuizState */

/**
 * Draw the question of page `key` into `box`, in the state `state` (changed by the buttons).
 * @param {HTMLElement} box
 * @param {string} key the page (texts ch6.<key>.q.*)
 * @param {Question} question
 * @param {QuizState} state
 */
export function renderQuiz(box, key, question, state) {
  const name = `ch6-q-${key}`;
  const error = h("p", { className: "error-text", role: "alert", id: `${name}-error` });
  const options = h("fieldset", { className: "ch6-options", disabled: state.revealed },
    h("legend", { text: t(`ch6.${key}.q.text`) }),
    ...question.options.map((opt) => h("label", { className: "radio ch6-option" },
      h("input", { type: "radio", name, value: opt, checked: state.choice === opt,
        onchange: () => { state.choice = opt; error.textContent = ""; } }),
      " ", h("span", { text: t(`ch6.${key}.q.${opt}`) }))));
  const check = h("button", { type: "button", className: "primary", "data-quiz": "check", disabled: state.revealed,
    text: t("ch6.quiz.check"),
    onclick: () => {
      if (!state.choice) { error.textContent = t("ch6.quiz.pick"); return; }
      state.revealed = true;
      renderQuiz(box, key, question, state);
      /** @type {HTMLElement | null} */ (box.querySelector(".ch6-reveal"))?.focus();
    } });
  const skip = h("button", { type: "button", "data-quiz": "skip", disabled: state.revealed, text: t("ch6.quiz.skip"),
    onclick: () => {
      state.choice = null;
      state.revealed = true;
      renderQuiz(box, key, question, state);
      /** @type {HTMLElement | null} */ (box.querySelector(".ch6-reveal"))?.focus();
    } });
  const right = state.choice === question.answer;
  const verdict = !state.revealed ? "" : state.choice === null ? "skipped" : right ? "right" : "wrong";
  const reveal = h("div", { className: `ch6-reveal ${verdict}`, tabIndex: -1, hidden: !state.revealed, "data-verdict": verdict },
    h("p", { className: "ch6-verdict" },
      h("span", { className: "ch6-sign", "aria-hidden": "true", text: right ? "✓" : verdict === "wrong" ? "✗" : "→" }),
      " ", h("strong", { text: t(`ch6.quiz.${verdict || "skipped"}`) }),
      " ", h("span", { text: t("ch6.quiz.answer", { answer: t(`ch6.${key}.q.${question.answer}`) }) })),
    h("p", { className: "ch6-why", text: t(`ch6.${key}.q.why`) }));
  const again = h("button", { type: "button", "data-quiz": "again", hidden: !state.revealed, text: t("ch6.quiz.again"),
    onclick: () => { state.choice = null; state.revealed = false; renderQuiz(box, key, question, state); } });
  box.replaceChildren(
    h("h3", { text: t("ch6.quiz.heading") }),
    options,
    error,
    h("div", { className: "row" }, check, skip, again),
    reveal,
  );
}

// @ts-check
// What the chapter-6 experiment pages share: SVG drawing and the predict-then-reveal question.

import { t } from "./i18n.js";
import { h } from "./ui.js";

const NS = "http://www.w3.org/2000/svg";

/**
 * An SVG element with attributes (and text), appended to `parent` if given.
 * @param {string} name
 * @param {Record<string, string | number>} [attrs]
 * @param {Element | null} [parent]
 * @param {string | null} [text]
 * @returns {SVGElement}
 */
export function svg(name, attrs = {}, parent = null, text = null) {
  const node = /** @type {SVGElement} */ (document.createElementNS(NS, name));
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  if (parent) parent.append(node);
  return node;
}

/**
 * @typedef {object} Choice One answer a learner may pick.
 * @property {string} value
 * @property {string} label an i18n key
 */

/**
 * A question asked before the result is shown: pick an answer (or skip), then the page
 * reveals its result and marks the pick right or wrong, with one sentence saying why.
 */
export class Question {
  /**
   * @param {object} options
   * @param {string} options.id the element's id
   * @param {string} options.prompt i18n key of the question
   * @param {Choice[]} options.choices
   * @param {(value: string | null) => void} options.onAnswer called with the pick (null: skipped)
   */
  constructor({ id, prompt, choices, onAnswer }) {
    this.choices = choices;
    /** @type {string | null | undefined} the pick; undefined until answered, null if skipped */
    this.answer = undefined;
    /** @type {{correct: string[], why: string} | null} */
    this.marking = null;
    this.buttons = choices.map((c) =>
      h("button", {
        type: "button",
        class: "exp-choice",
        "data-choice": c.value,
        "aria-pressed": "false",
        onclick: () => this.pick(c.value),
      }, h("span", { class: "mark", "aria-hidden": "true" }), h("span", { "data-i18n": c.label, text: t(c.label) })),
    );
    this.skip = h("button", { type: "button", class: "link exp-skip", "data-i18n": "exp.skip", text: t("exp.skip"), onclick: () => this.pick(null) });
    this.verdict = h("p", { class: "exp-verdict", role: "status", "aria-live": "polite" });
    this.onAnswer = onAnswer;
    this.element = h("section", { id, class: "exp-question", "aria-labelledby": `${id}-prompt` },
      h("h3", { id: `${id}-prompt`, "data-i18n": prompt, text: t(prompt) }),
      h("p", { class: "hint", "data-i18n": "exp.predictFirst", text: t("exp.predictFirst") }),
      h("div", { class: "exp-choices", role: "group", "aria-labelledby": `${id}-prompt` }, ...this.buttons),
      this.skip,
      this.verdict,
    );
  }

  /** @param {string | null} value */
  pick(value) {
    if (this.answer !== undefined) return;
    this.answer = value;
    for (const b of this.buttons) {
      b.setAttribute("aria-pressed", String(b.dataset.choice === value));
      b.disabled = true;
    }
    this.skip.hidden = true;
    this.onAnswer(value);
  }

  /**
   * Mark the pick against the right answer(s), with the sentence that says why.
   * @param {string[]} correct
   * @param {string} why
   */
  mark(correct, why) {
    this.marking = { correct, why };
    this.element.dataset.answered = "true";
    for (const b of this.buttons) {
      const value = b.dataset.choice ?? "";
      const right = correct.includes(value);
      const picked = value === this.answer;
      b.classList.toggle("right", right);
      b.classList.toggle("wrong", picked && !right);
      const mark = b.querySelector(".mark");
      if (mark) mark.textContent = right ? "✓ " : picked ? "✗ " : "";
    }
    this.relabel();
  }

  /** Write the verdict again (after a change of language). */
  relabel() {
    if (!this.marking) return;
    const names = this.marking.correct
      .map((v) => t(this.choices.find((c) => c.value === v)?.label ?? v))
      .join(", ");
    const key = this.answer === null ? "exp.skipped" : this.marking.correct.includes(this.answer ?? "") ? "exp.right" : "exp.wrong";
    this.verdict.className = `exp-verdict ${key.slice(4)}`;
    this.verdict.textContent = `${t(key, { answer: names })} ${this.marking.why}`;
  }
}

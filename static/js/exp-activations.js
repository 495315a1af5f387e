// @ts-check
// The activation histograms of ch06/weight_init_activation_histogram.py: five layers side by
// side, for a chosen activation and weight initialisation.

import { api, ApiError } from "./api.js";
import { t } from "./i18n.js";
import { fmt } from "./tensor.js";
import { h } from "./ui.js";
import { Question, svg } from "./exp-common.js";

/**
 * @typedef {object} ActivationsAnswer The answer of POST /experiments/activations.
 * @property {{edges: number[], counts: number[], mean: number | null, std: number | null, outside: number}[]} layers
 * @property {number} scale
 * @property {number[]} range
 */

/** The weight inits offered: the book's four, each as the request's fields. */
const INITS = /** @type {Record<string, {init: string, weight_init_std?: number}>} */ ({
  std1: { init: "std", weight_init_std: 1 },
  std001: { init: "std", weight_init_std: 0.01 },
  xavier: { init: "xavier" },
  he: { init: "he" },
});
const ACTIVATIONS = ["sigmoid", "tanh", "relu"];
const HW = 160;
const HH = 120;

export class ActivationsPage {
  constructor() {
    /** @type {ActivationsAnswer | null} */
    this.data = null;
    this.requests = 0;
    /** "<activation> <init>" of the histograms drawn */
    this.shown = "";
    this.question = new Question({
      id: "act-question",
      prompt: "exp.act.question",
      choices: ["std1", "std001", "xavier"].map((v) => ({ value: v, label: `exp.init.${v}` })),
      onAnswer: (pick) => this.answered(pick),
    });
    this.activation = h("select", { id: "act-activation", onchange: () => this.load() },
      ...ACTIVATIONS.map((a) => h("option", { value: a, "data-i18n": `exp.act.${a}`, text: t(`exp.act.${a}`) })));
    this.init = h("select", { id: "act-init", onchange: () => this.load() },
      ...Object.keys(INITS).map((k) => h("option", { value: k, "data-i18n": `exp.init.${k}`, text: t(`exp.init.${k}`) })));
    this.hists = h("div", { id: "act-hists", class: "exp-hists" });
    this.note = h("p", { id: "act-note", class: "hint" });
    this.error = h("p", { id: "act-error", class: "error-text", role: "alert" });
    this.status = h("p", { id: "act-status", class: "sr-only", role: "status", "aria-live": "polite" });
    this.result = h("div", { id: "act-result", class: "exp-result", hidden: true },
      h("div", { class: "row exp-act-controls" },
        h("label", { class: "field" }, h("span", { "data-i18n": "exp.act.activation", text: t("exp.act.activation") }), this.activation),
        h("label", { class: "field" }, h("span", { "data-i18n": "exp.act.init", text: t("exp.act.init") }), this.init)),
      this.note,
      this.hists,
      this.error,
      this.status,
    );
    this.pending = h("p", { class: "muted exp-pending", "data-i18n": "exp.answerToSee", text: t("exp.answerToSee") });
    this.element = h("div", { id: "exp-activations", class: "exp-page", "data-page": "activations" },
      h("h2", { "data-i18n": "exp.act.title", text: t("exp.act.title") }),
      h("p", { class: "hint", "data-i18n": "exp.act.explain", text: t("exp.act.explain") }),
      this.question.element,
      this.pending,
      this.result,
    );
  }

  /** The request for the chosen activation and init: the book's sizes and seed 0. */
  body() {
    const activation = this.activation.value;
    // NOTE: tanh's outputs lie in (−1, 1); the book's (0, 1) would hide the negative half.
    const range = activation === "tanh" ? [-1, 1] : [0, 1];
    return { layers: 5, nodes: 100, samples: 1000, bins: 30, seed: 0, activation, range, ...INITS[this.init.value] };
  }

  async load() {
    this.error.textContent = "";
    this.hists.setAttribute("aria-busy", "true");
    // NOTE: answers may come back out of order when the menus change quickly; only the
    // answer to the latest request is drawn.
    const ticket = ++this.requests;
    const body = this.body();
    let data;
    try {
      data = /** @type {ActivationsAnswer} */ (await api.activations(body));
    } catch (err) {
      if (ticket === this.requests) this.error.textContent = err instanceof ApiError ? err.message : String(err);
      return;
    } finally {
      if (ticket === this.requests) this.hists.removeAttribute("aria-busy");
    }
    if (ticket !== this.requests) return;
    this.data = data;
    this.shown = `${body.activation} ${this.init.value}`;
    if (this.question.answer !== undefined) this.reveal();
  }

  /**
   * The learner answered: show the histograms of the init they picked (the book's std 1 if
   * they skipped), so they see for themselves whether the layers stay alive.
   * @param {string | null} pick
   */
  answered(pick) {
    const init = pick ?? "std1";
    if (this.activation.value === "sigmoid" && this.init.value === init) {
      this.reveal();
      return;
    }
    this.activation.value = "sigmoid";
    this.init.value = init;
    this.load();
  }

  reveal() {
    if (!this.data) return;
    this.pending.hidden = true;
    this.result.hidden = false;
    this.draw();
    this.question.mark(["xavier"], t("exp.act.why"));
  }

  /** Five histograms on one count scale, each with its mean and std. */
  draw() {
    const data = /** @type {ActivationsAnswer} */ (this.data);
    const top = Math.max(1, ...data.layers.flatMap((l) => l.counts));
    // NOTE: ReLU's zeros fill the first bin and would flatten every other bar; like the book's
    // plt.ylim, the scale then ends above the other bins and the first bar is cut, its count written.
    const rest = Math.max(0, ...data.layers.flatMap((l) => l.counts.slice(1)));
    const cap = this.activation.value === "relu" && rest > 0 ? Math.min(top, rest * 1.25) : top;
    const [lo, hi] = data.range;
    const total = data.layers[0] ? data.layers[0].counts.reduce((a, b) => a + b, 0) + data.layers[0].outside : 0;
    const noteKey = cap < top ? "exp.act.noteCut" : "exp.act.note";
    this.note.textContent = t(noteKey, { lo, hi, scale: fmt(data.scale, 4), top: Math.round(cap) });
    this.hists.dataset.shown = this.shown;
    this.hists.replaceChildren(...data.layers.map((layer, i) => {
      const plot = svg("svg", {
        class: "exp-hist", viewBox: `0 0 ${HW} ${HH + 16}`, role: "img", "data-layer": i + 1,
        "aria-label": t("exp.act.layerLabel", { layer: i + 1, mean: fmt(layer.mean, 3), std: fmt(layer.std, 3) }),
      });
      svg("rect", { x: 0, y: 0, width: HW, height: HH, class: "exp-plot-bg" }, plot);
      const bw = HW / layer.counts.length;
      layer.counts.forEach((c, j) => {
        const cut = c > cap;
        const bh = (Math.min(c, cap) / cap) * (HH - 4);
        svg("rect", { class: cut ? "bar cut" : "bar", "data-count": c, x: j * bw + 0.5, y: HH - bh, width: Math.max(bw - 1, 0.5), height: bh }, plot);
        if (cut) svg("text", { x: j * bw + bw + 2, y: 14, class: "tick cut-label" }, plot, `↑ ${c}`);
      });
      svg("text", { x: 2, y: HH + 13, class: "tick" }, plot, String(lo));
      svg("text", { x: HW - 2, y: HH + 13, class: "tick", "text-anchor": "end" }, plot, String(hi));
      const outside = layer.outside && total ? t("exp.act.outside", { pct: fmt((100 * layer.outside) / total, 3) }) : "";
      return h("figure", { class: "exp-hist-box" },
        h("figcaption", { class: "exp-hist-title", text: t("exp.act.layer", { layer: i + 1 }) }),
        plot,
        h("p", { class: "exp-hist-stats", text: `μ ${fmt(layer.mean, 3)} · σ ${fmt(layer.std, 3)}` }),
        outside ? h("p", { class: "exp-hist-stats muted", text: outside }) : null);
    }));
    this.status.textContent = t("exp.act.shown", {
      activation: t(`exp.act.${this.activation.value}`), init: t(`exp.init.${this.init.value}`),
    });
  }

  relabel() {
    if (this.data && !this.result.hidden) this.draw();
    if (this.question.marking) this.question.mark(this.question.marking.correct, t("exp.act.why"));
  }
}

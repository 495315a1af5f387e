// @ts-check
// The chapter-6 runs on MNIST, pages of the Experiments view: the book's experiments as sets
// of runs started with one click (weight init, optimizers, overfitting, a planted vanishing
// gradient), each page with its chart, the state of each of its runs, and a predict-then-reveal
// question. One element (#exp-ch6) shows whichever of the four pages is open.

import { api } from "./api.js";
import { t } from "./i18n.js";
import { EXPERIMENTS, MARKERS, DASHES, experiment } from "./ch6-experiments.js";
import { RunSet } from "./ch6-batch.js";
import { SetLossChart, GapChart, layerBars } from "./ch6-charts.js";
import { renderQuiz } from "./ch6-quiz.js";
import { COLORS } from "./charts.js";
import { h } from "./ui.js";

/** @typedef {import("./ch6-experiments.js").Experiment} Experiment */
/** @typedef {import("./ch6-batch.js").SetRun} SetRun */

/** The per-client cap of active runs when the server does not say it (api.md's default). */
const DEFAULT_CAP = 2;

/**
 * A small picture of a line as the charts draw it: its colour, dash pattern and marker.
 * @param {number} i the run's place in its set (its colour)
 * @param {number} [dash] its dash pattern's place in DASHES (default: i)
 * @param {number} [marker] its marker's place in MARKERS (default: i)
 */
function swatch(i, dash = i, marker = i) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "34");
  svg.setAttribute("height", "12");
  svg.setAttribute("aria-hidden", "true");
  svg.classList.add("ch6-swatch");
  const colour = COLORS[i % COLORS.length];
  const line = document.createElementNS(ns, "line");
  for (const [k, v] of Object.entries({ x1: "1", y1: "6", x2: "33", y2: "6", stroke: colour, "stroke-width": "2" })) line.setAttribute(k, v);
  const pattern = DASHES[dash % DASHES.length];
  if (pattern.length) line.setAttribute("stroke-dasharray", pattern.map((d) => d / 1.5).join(" "));
  const text = document.createElementNS(ns, "text");
  for (const [k, v] of Object.entries({ x: "17", y: "10", "text-anchor": "middle", "font-size": "11", fill: colour })) text.setAttribute(k, v);
  text.textContent = MARKERS[marker % MARKERS.length];
  svg.append(line, text);
  return svg;
}

/**
 * A run's name in the page's language (ch6.run.<key>), else the book's legend.
 * @param {import("./ch6-experiments.js").RunSpec} spec
 */
function runLabel(spec) {
  const key = `ch6.run.${spec.key}`;
  const text = t(key);
  return text === key ? spec.label : text;
}

export class Chapter6View {
  /**
   * @param {{openRun: (id: string, flow?: boolean) => void}} hooks
   *   openRun: open a run in the training view (flow: scrolled to its gradient-flow panel)
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.page = EXPERIMENTS[0].key;
    this.cap = DEFAULT_CAP;
    /** @type {Map<string, RunSet>} */
    this.sets = new Map();
    /** @type {Map<string, {choice: string | null, revealed: boolean}>} */
    this.quiz = new Map();
    /** @type {Map<string, Record<string, boolean>>} */
    this.switches = new Map();
    /** @type {Map<string, number>} */
    this.counts = new Map();
    this.frame = 0;
    for (const e of EXPERIMENTS) {
      this.sets.set(e.key, new RunSet(() => this.schedule()));
      this.quiz.set(e.key, { choice: null, revealed: false });
      this.switches.set(e.key, Object.fromEntries((e.switches ?? []).map((s) => [s, false])));
      this.counts.set(e.key, e.count.value);
    }
    this.element = h("div", { id: "exp-ch6", className: "exp-page ch6-view", hidden: true },
      h("div", { id: "ch6-page", className: "ch6-page" }));
    /** @type {SetLossChart | null} */
    this.loss = null;
    /** @type {GapChart | null} */
    this.gap = null;
  }

  /** Read the per-client cap from GET /limits. */
  async init() {
    try {
      const limits = await api.limits();
      const cap = limits.max_active_runs_per_client;
      if (typeof cap === "number" && cap >= 1) this.cap = cap;
    } catch {
      // the default cap; a 429 still paces the runs
    }
    this.render();
  }

  /**
   * Show one page (an unknown name shows the first), labelled by its tab.
   * @param {string | null} key
   * @param {string} [tab] the id of the page's tab
   */
  openPage(key, tab) {
    this.page = experiment(key).key;
    if (tab) this.element.setAttribute("aria-labelledby", tab);
    this.render();
  }

  /**
   * Open the vanishing-gradient page and start its two runs unless they are under way.
   */
  startVanishing() {
    this.openPage("vanishing");
    if (!this.sets.get("vanishing")?.busy()) this.start(experiment("vanishing"));
  }

  /** Redraw at the next frame (streams deliver many events a second). */
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.renderLive(); });
  }

  /**
   * Start the page's set of runs with its inputs.
   * @param {Experiment} e
   */
  start(e) {
    const count = this.counts.get(e.key) ?? e.count.value;
    const set = /** @type {RunSet} */ (this.sets.get(e.key));
    set.start(e.runs(count, this.switches.get(e.key) ?? {}), this.cap);
    this.render();
  }

  /** The whole page, anew (page change, language change). */
  render() {
    const box = /** @type {HTMLElement} */ (this.element.firstElementChild);
    const e = experiment(this.page);
    box.dataset.page = e.key;
    const quiz = h("section", { className: "panel ch6-quiz", id: "ch6-quiz" });
    renderQuiz(quiz, e.key, e.question, /** @type {{choice: string | null, revealed: boolean}} */ (this.quiz.get(e.key)));
    box.replaceChildren(
      h("h2", { text: t(`ch6.${e.key}.title`) }),
      h("p", { className: "explain", text: t(`ch6.${e.key}.intro`) }),
      quiz,
      this.form(e),
      h("ul", { className: "ch6-runs", id: "ch6-runs", "aria-live": "polite" }),
      this.chartBox(e),
    );
    this.loss = null;
    this.gap = null;
    this.renderLive();
  }

  /**
   * The page's inputs and its Start and Stop buttons.
   * @param {Experiment} e
   */
  form(e) {
    const set = /** @type {RunSet} */ (this.sets.get(e.key));
    const input = h("input", { id: "ch6-count", type: "number", min: e.count.min, max: e.count.max, step: 1,
      value: this.counts.get(e.key), inputMode: "numeric" });
    const error = h("p", { id: "ch6-error", className: "error-text", role: "alert" });
    const switches = (e.switches ?? []).map((s) => h("label", { className: "radio ch6-switch" },
      h("input", { type: "checkbox", id: `ch6-${s}`, checked: this.switches.get(e.key)?.[s],
        onchange: (/** @type {Event} */ ev) => {
          const box = /** @type {HTMLInputElement} */ (ev.target);
          /** @type {Record<string, boolean>} */ (this.switches.get(e.key))[s] = box.checked;
        } }),
      " ", h("span", { text: t(`ch6.switch.${s}`) })));
    return h("form", { className: "form ch6-form", novalidate: true,
      onsubmit: (/** @type {Event} */ ev) => {
        ev.preventDefault();
        const n = Number(input.value);
        if (!Number.isInteger(n) || n < e.count.min || n > e.count.max) {
          error.textContent = t("ch6.badCount", { field: t(`ch6.count.${e.count.name}`), min: e.count.min, max: e.count.max });
          input.focus();
          return;
        }
        error.textContent = "";
        this.counts.set(e.key, n);
        this.start(e);
      } },
    h("div", { className: "row ch6-inputs" },
      h("label", { className: "field" }, h("span", { text: t(`ch6.count.${e.count.name}`) }), input),
      ...switches),
    h("p", { className: "hint small", text: t(`ch6.${e.key}.time`) }),
    error,
    h("div", { className: "row" },
      h("button", { type: "submit", id: "ch6-start", className: "primary", text: t(`ch6.${e.key}.start`) }),
      h("button", { type: "button", id: "ch6-stop", disabled: !set.busy(), text: t("ch6.stop"),
        onclick: () => set.cancel() })));
  }

  /**
   * The figure of the page: a chart, or (vanishing) one column of layer bars per run.
   * @param {Experiment} e
   */
  chartBox(e) {
    if (e.chart === "layers") return h("div", { className: "ch6-columns", id: "ch6-columns" });
    const title = e.chart === "loss" ? t("ch6.lossChart") : t("ch6.gapChart");
    return h("figure", { className: "chart-box ch6-figure" },
      h("figcaption", { text: title }),
      h("div", { id: "ch6-chart", className: "chart", role: "img", "aria-label": title }),
      h("p", { id: "ch6-legend", className: "ch6-legend small" }),
      h("p", { id: "ch6-gap", className: "ch6-gap", "aria-live": "polite" }));
  }

  /**
   * A run's state in words.
   * @param {SetRun} run
   */
  stateText(run) {
    const n = run.spec.body.iterations ?? 0;
    if (run.status === "waiting") return run.note ? t("ch6.state.retry", { message: run.note }) : t("ch6.state.waiting");
    if (run.status === "queued") return t("ch6.state.queued");
    if (run.status === "running") return t("ch6.state.running", { i: run.iteration.toLocaleString(), n: n.toLocaleString() });
    if (run.status === "completed") {
      return t("ch6.state.completed", { acc: run.testAcc === null ? "–" : run.testAcc.toFixed(3), s: run.elapsed === null ? "–" : run.elapsed.toFixed(1) });
    }
    return t(`ch6.state.${run.status}`) + (run.note ? `: ${run.note}` : "");
  }

  /** What streams in: the runs' states, the chart, the bars. */
  renderLive() {
    const e = experiment(this.page);
    const set = /** @type {RunSet} */ (this.sets.get(e.key));
    const stop = document.getElementById("ch6-stop");
    if (stop instanceof HTMLButtonElement) stop.disabled = !set.busy();
    if (!this.element.isConnected) return;
    const list = document.getElementById("ch6-runs");
    if (list) {
      // Rows are updated in place, so a focused "open" button keeps its focus while runs stream.
      const rows = [...list.children].filter((li) => li instanceof HTMLElement);
      if (rows.length !== set.runs.length || rows.some((li, i) => li.dataset.run !== set.runs[i].spec.key)) {
        // a run's swatch is its line on the loss chart (the gap chart's lines are train and test)
        list.replaceChildren(...set.runs.map((run, i) => h("li", { "data-run": run.spec.key },
          e.chart === "gap" ? null : swatch(i), " ", h("strong", { text: runLabel(run.spec) }), " ", h("span", { className: "ch6-state" }), " ")));
      }
      set.runs.forEach((run, i) => {
        const li = /** @type {HTMLElement} */ (list.children[i]);
        li.dataset.status = run.status;
        li.dataset.id = run.id ?? "";
        const state = li.querySelector(".ch6-state");
        const text = this.stateText(run);
        if (state && state.textContent !== text) state.textContent = text;
        if (run.id && !li.querySelector("button")) {
          const id = run.id;
          li.append(h("button", { type: "button", className: "link", text: t("ch6.openRun"), onclick: () => this.hooks.openRun(id) }));
        }
      });
    }
    if (e.chart === "loss") this.drawLoss(set.runs);
    else if (e.chart === "gap") this.drawGap(set.runs);
    else this.drawLayers(set.runs);
  }

  /** @param {SetRun[]} runs */
  drawLoss(runs) {
    const el = document.getElementById("ch6-chart");
    if (!el || !runs.length) return;
    if (!this.loss) this.loss = new SetLossChart(el);
    this.loss.update(runs, { iteration: t("ch6.iteration"), loss: t("ch6.loss") });
    const legend = document.getElementById("ch6-legend");
    legend?.replaceChildren(...runs.map((run, i) => h("span", { className: "ch6-key" }, swatch(i), ` ${runLabel(run.spec)}`)));
  }

  /** @param {SetRun[]} runs */
  drawGap(runs) {
    const el = document.getElementById("ch6-chart");
    const run = runs[0];
    if (!el || !run) return;
    const last = run.epochs[run.epochs.length - 1];
    const gap = last ? last.train_acc - last.test_acc : null;
    if (!this.gap) this.gap = new GapChart(el);
    this.gap.update(run, {
      epoch: t("ch6.epoch"), accuracy: t("ch6.accuracy"), train: t("ch6.train"), test: t("ch6.test"),
      gap: gap === null ? "" : t("ch6.gapShort", { gap: gap.toFixed(2) }),
    });
    const legend = document.getElementById("ch6-legend");
    // train: solid blue with circles; test: dashed red with squares, as the chart draws them
    legend?.replaceChildren(
      h("span", { className: "ch6-key" }, swatch(1, 0, 0), ` ${t("ch6.train")}`),
      h("span", { className: "ch6-key" }, swatch(0, 1, 1), ` ${t("ch6.test")}`));
    const text = document.getElementById("ch6-gap");
    if (text && last && gap !== null) {
      text.dataset.gap = String(gap);
      text.textContent = t("ch6.gapText", { epoch: last.epoch, train: last.train_acc.toFixed(3), test: last.test_acc.toFixed(3), gap: gap.toFixed(3) });
    }
  }

  /**
   * One column per run: its layers' gradients as bars, and a way to its whole gradient flow
   * (the training view's panel: the graph, the histograms, update:data). A column is drawn
   * anew only when its run's state or statistics change, so focus stays put in between.
   * @param {SetRun[]} runs
   */
  drawLayers(runs) {
    const box = document.getElementById("ch6-columns");
    if (!box) return;
    const key = runs.map((r) => `${r.spec.key}:${r.status}:${r.id}:${r.layers?.iteration}`).join("|") + t("ch6.inputSide");
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren(...runs.map((run, i) => h("section", { className: "panel ch6-column", "data-run": run.spec.key },
      h("h3", {}, swatch(i), ` ${runLabel(run.spec)}`),
      h("p", { className: "small muted", text: run.layers ? t("ch6.layersAt", { i: run.layers.iteration.toLocaleString() }) : t("ch6.layersNone") }),
      run.layers ? layerBars(run.layers.layers, {
        input: t("ch6.inputSide"), output: t("ch6.outputSide"), ratio: (r) => t("ch6.ratio", { r }),
      }) : null,
      run.id && run.layers ? h("button", { type: "button", className: "link ch6-flow", text: t("ch6.openFlow"),
        onclick: () => this.hooks.openRun(/** @type {string} */ (run.id), true) }) : null)));
  }

  /** Texts in the language chosen. */
  relabel() {
    this.render();
  }
}

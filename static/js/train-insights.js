// @ts-check
// What a finished run learned: the digit pad and its probabilities, the first-layer weights,
// the confusion matrix and the misclassified digits (POST /runs/{id}/predict, GET
// /runs/{id}/weights, /confusion, /misclassified).
//
// What it is given of the open run (train-view.js wires it): `inspectable()`, the open run if
// it ended with weights to inspect, else null. `show()` is called whenever that may have
// changed (another run opened, the open one ended).

import { api } from "./api.js";
import { t } from "./i18n.js";
import { bindPad, drawGray, drawWeights, toMnist } from "./pad.js";
import { pct } from "./train-text.js";
import { bindTabs, byId as $, h, selectTab } from "./ui.js";

/** @typedef {import("./api.js").Prediction} Prediction */

/** The panel of each insight that is loaded from the server. */
const PANELS = /** @type {Record<string, string>} */ ({ weights: "weights-grid", confusion: "confusion", mistakes: "mistakes-grid" });

export class Insights {
  /** @param {{inspectable: () => {id: string} | null}} host */
  constructor(host) {
    this.host = host;
    this.insight = "draw";
    /** @type {Map<string, "loading" | "done">} */
    this.cache = new Map();
    /** @type {Prediction | null} */
    this.lastPrediction = null;
    this.pad = bindPad($("pad", HTMLCanvasElement), () => this.predict());
  }

  bind() {
    const tabs = [...document.querySelectorAll("[data-insight]")].filter((b) => b instanceof HTMLElement);
    bindTabs(tabs, "insight", (name) => {
      this.insight = name;
      selectTab(tabs, "insight", name);
      for (const p of document.querySelectorAll(".insight[data-panel]")) {
        if (p instanceof HTMLElement) p.hidden = p.dataset.panel !== name;
      }
      this.load();
    });
    $("pad-clear").addEventListener("click", () => {
      this.pad.clear();
      $("pad-small", HTMLCanvasElement).getContext("2d")?.clearRect(0, 0, 28, 28);
      $("prob-bars").replaceChildren();
      $("pad-result").textContent = "";
    });
  }

  /** The open run may have changed or ended: its insights, and the pad asks it anew. */
  show() {
    this.load();
    this.resetPrediction();
  }

  async load() {
    const run = this.host.inspectable();
    $("insight-note").hidden = Boolean(run);
    $("insights").dataset.ready = run ? "true" : "false";
    if (!run) {
      for (const id of Object.values(PANELS)) $(id).replaceChildren();
      return;
    }
    const key = `${run.id}:${this.insight}`;
    if (this.insight === "draw") return;
    if (this.cache.get(key) === "loading") return;
    const target = PANELS[this.insight];
    if (this.cache.has(key) && $(target).dataset.run === run.id) return;
    this.cache.set(key, "loading");
    $(target).replaceChildren(h("p", { className: "muted", text: t("train.loading") }));
    try {
      if (this.insight === "weights") this.renderWeights(await api.weights(run.id));
      if (this.insight === "confusion") this.renderConfusion(await api.confusion(run.id));
      if (this.insight === "mistakes") this.renderMistakes(await api.misclassified(run.id, 30));
      $(target).dataset.run = run.id;
      this.cache.set(key, "done");
    } catch (err) {
      this.cache.delete(key);
      $(target).replaceChildren(h("p", { className: "error-text", text: /** @type {Error} */ (err).message }));
    }
  }

  /** @param {import("./api.js").Weights} data */
  renderWeights(data) {
    const grid = $("weights-grid");
    grid.replaceChildren();
    data.images.forEach((w, k) => {
      const c = h("canvas", { width: 28, height: 28, className: "tile-img" });
      drawWeights(c, w);
      grid.append(h("figure", { className: "tile", title: t("train.unit", { k: data.units[k] }) }, c,
        h("figcaption", { text: String(data.units[k]) })));
    });
  }

  /** @param {import("./api.js").Confusion} data */
  renderConfusion(data) {
    const box = $("confusion");
    const max = Math.max(1, ...data.matrix.flatMap((row, i) => row.filter((_, j) => j !== i)));
    const table = h("table", { className: "cm" });
    table.append(h("caption", { text: t("train.cmCaption", { acc: pct(data.accuracy), n: data.test_size }) }));
    const head = h("tr", {}, h("th", { scope: "col", className: "corner", text: t("train.cmCorner") }));
    data.classes.forEach((c, j) => head.append(h("th", { scope: "col", text: String(j), title: c })));
    table.append(h("thead", {}, head));
    const body = h("tbody");
    data.matrix.forEach((row, i) => {
      const tr = h("tr", {}, h("th", { scope: "row", text: String(i), title: data.classes[i] }));
      const total = row.reduce((a, b) => a + b, 0) || 1;
      row.forEach((n, j) => {
        const diag = i === j;
        const a = diag ? n / total : Math.min(1, n / max);
        const bg = diag ? `rgba(47,158,68,${0.15 + 0.6 * a})` : n ? `rgba(214,51,108,${0.08 + 0.7 * a})` : "transparent";
        tr.append(h("td", { text: String(n), style: `background:${bg}`, title: t("train.cmCell", { t: data.classes[i], p: data.classes[j], n }) }));
      });
      body.append(tr);
    });
    table.append(body);
    box.replaceChildren(table, h("p", { className: "hint small", text: t("train.cmHint") }));
  }

  /** @param {import("./api.js").Mistakes} data */
  renderMistakes(data) {
    const grid = $("mistakes-grid");
    grid.replaceChildren();
    grid.append(h("p", { className: "hint small wide", text: t("train.mistakesHint", { total: data.total }) }));
    for (const m of data.items) {
      const c = h("canvas", { width: 28, height: 28, className: "tile-img" });
      drawGray(c, m.image);
      grid.append(h("figure", { className: "tile mistake", title: t("train.mistakeTitle", { index: m.index }) }, c,
        h("figcaption", {}, h("span", { className: "true", text: t("train.trueLabel", { label: m.label }) }), " ",
          h("span", { className: "pred", text: t("train.predLabel", { label: m.predicted, p: Math.round(100 * m.confidence) }) }))));
    }
  }

  async predict() {
    const image = toMnist($("pad", HTMLCanvasElement));
    if (!image) return;
    drawGray($("pad-small", HTMLCanvasElement), image.flat());
    const run = this.host.inspectable();
    if (!run) {
      $("pad-result").textContent = t("train.needsFinished");
      return;
    }
    try {
      const res = await api.predict(run.id, image);
      if (this.host.inspectable() !== run) return; // another run was opened meanwhile
      this.renderProbs(res);
    } catch (err) {
      if (this.host.inspectable() === run) $("pad-result").textContent = /** @type {Error} */ (err).message;
    }
  }

  /** A new run is shown: the probabilities of the previous one no longer apply; ask this one. */
  resetPrediction() {
    this.lastPrediction = null;
    $("prob-bars").replaceChildren();
    $("pad-result").textContent = "";
    this.predict();
  }

  /** @param {Prediction} res */
  renderProbs(res) {
    this.lastPrediction = res;
    const list = $("prob-bars");
    list.replaceChildren();
    res.probabilities.forEach((p, k) => {
      const li = h("li", { className: k === res.label ? "best" : "", "data-digit": String(k), "data-p": String(p) },
        h("span", { className: "digit", text: String(k) }),
        h("span", { className: "bar" }, h("span", { className: "fill", style: `width:${(100 * p).toFixed(1)}%` })),
        h("span", { className: "p", text: `${(100 * p).toFixed(1)}%` }));
      list.append(li);
    });
    $("pad-result").textContent = t("train.itIs", { label: res.label, p: (100 * res.probabilities[res.label]).toFixed(1) });
  }

  /** Write everything again in the page's language (the panels are loaded anew). */
  relabel() {
    if (this.lastPrediction) this.renderProbs(this.lastPrediction);
    this.cache.clear();
    for (const id of Object.values(PANELS)) delete $(id).dataset.run;
    this.load();
  }
}

// @ts-check
// A guided tour of the chapter: one short page per section, each with its figure as a live
// graph on the canvas and one exercise on it. The page is in the address (tour=3).

import { t } from "./i18n.js";
import { loadPreset, presetText } from "./graph-palette.js";
import { startExercise } from "./exercise-view.js";
import { byId, h } from "./ui.js";
import { placeForLearning } from "./graph-phone.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */

/**
 * One page: its text (tour.<key>.* in the catalogues), its figure, its exercise.
 * @typedef {object} TourPage
 * @property {string} key
 * @property {string} preset the figure, an example of GET /graphs/presets
 * @property {boolean} forward the exercise asks the forward values too
 * @property {string} [also] a second example the page mentions
 * @property {string[]} [views] other views the page points to
 * @property {boolean} [runs] the page opens the chapter-6 view's two vanishing-gradient runs
 */

/** @type {TourPage[]} */
export const PAGES = [
  { key: "graphs", preset: "apples", forward: true },
  { key: "chain", preset: "chain_rule", forward: false },
  { key: "addmul", preset: "apples", forward: false },
  { key: "layers", preset: "apples_oranges", forward: false },
  { key: "activations", preset: "relu_mask", forward: false, also: "sigmoid_primitives" },
  { key: "affine", preset: "affine_batch", forward: false, also: "softmax_with_loss" },
  { key: "net", preset: "two_layer_net", forward: false, views: ["gradcheck", "train"] },
  { key: "vanishing", preset: "sigmoid_primitives", forward: false, runs: true },
];

/**
 * Whether the canvas hides the tour page's answers (its gradients; its values too when the
 * exercise asks them): the page's figure is on, no exercise runs, and the page's exercise has
 * not been done or skipped yet.
 * @param {GraphView} view
 */
export function tourHides(view) {
  if (view.tour === null || view.exercise) return false;
  return view.presetId === PAGES[view.tour].preset && !view.tourSeen.has(view.tour);
}

/**
 * What the canvas shows while a tour page hides its answers: the inputs (and every value when
 * the page's exercise asks only gradients), no gradient.
 * @param {GraphView} view
 * @returns {import("./graph-step.js").Visibility}
 */
export function tourVisibility(view) {
  const forward = view.tour !== null && PAGES[view.tour].forward;
  return {
    showValue: (id) => !forward || view.node(id)?.op === "input",
    showGrad: () => false,
    showOutputGrad: () => false,
    current: null,
  };
}

/**
 * A page number from the address (1-based), or null when it names none.
 * @param {number | string | null} text
 */
export function pageFromUrl(text) {
  const n = text === null ? NaN : Number(text);
  return Number.isInteger(n) && n >= 1 && n <= PAGES.length ? n - 1 : null;
}

/**
 * Open page `index` (0-based) of the tour: its figure goes on the canvas.
 * @param {GraphView} view
 * @param {number} index
 * @param {{load?: boolean}} [options] load: false keeps the graph on the canvas
 */
export function openTour(view, index, { load = true } = {}) {
  const page = PAGES[Math.max(0, Math.min(PAGES.length - 1, index))];
  view.stopPlay();
  view.exercise = null;
  view.exerciseUrl = "";
  view.tour = PAGES.indexOf(page);
  if (load) {
    loadPreset(view, page.preset);
    view.setStatus(null);
  }
  view.tourFocus = true;
  view.refresh();
}

/**
 * @param {GraphView} view
 */
export function closeTour(view) {
  view.tour = null;
  view.refresh();
  byId("g-tour").focus();
}

/**
 * The tour panel, drawn from `view.tour`.
 * @param {GraphView} view
 */
export function renderTour(view) {
  const panel = byId("tour-panel");
  const toggle = byId("g-tour");
  toggle.setAttribute("aria-expanded", view.tour === null ? "false" : "true");
  if (view.tour === null) {
    panel.hidden = true;
    panel.replaceChildren();
    return;
  }
  const index = view.tour;
  const page = PAGES[index];
  const preset = view.presets.find((p) => p.id === page.preset);
  const also = page.also ? view.presets.find((p) => p.id === page.also) : undefined;
  const busy = Boolean(view.exercise);
  panel.hidden = false;
  panel.dataset.page = String(index + 1);
  const body = h("div", { className: "tour-body", hidden: busy },
    ...t(`tour.${page.key}.text`).split("\n").map((para) => h("p", { text: para })));
  const figure = h("p", { className: "tour-figure small" },
    h("span", { text: t("tour.figure", { title: preset ? presetText(preset, "title") : page.preset }) }));
  if (view.presetId !== page.preset) {
    figure.append(" ", h("button", { type: "button", className: "link", id: "tour-reload", text: t("tour.reload"),
      onclick: () => openTour(view, index) }));
  }
  if (also) {
    figure.append(h("br"), h("button", { type: "button", className: "link", id: "tour-also",
      text: t("tour.also", { title: presetText(also, "title") }),
      onclick: () => { loadPreset(view, also.id); view.setStatus(null); view.refresh(); } }));
  }
  const hidden = tourHides(view);
  const task = h("div", { className: "tour-task", hidden: busy },
    h("p", { text: t(`tour.${page.key}.task`) }),
    h("button", { type: "button", className: "primary", id: "tour-exercise", text: t("tour.tryExercise"),
      onclick: async () => {
        if (view.presetId !== page.preset) loadPreset(view, page.preset);
        await startExercise(view, page.forward);
      } }));
  // NOTE: the page's answers stay hidden until its exercise is done or skipped.
  if (hidden) {
    task.append(
      h("p", { className: "muted small", id: "tour-hidden", text: t("tour.answersHidden") }),
      h("button", { type: "button", id: "tour-skip", text: t("tour.skip"),
        onclick: () => { view.tourSeen.add(index); view.refresh(); byId("tour-exercise").focus(); } }));
  }
  for (const v of page.views ?? []) {
    task.append(h("button", { type: "button", className: "tour-view", "data-view": v, text: t(`tour.open.${v}`),
      onclick: () => byId(`tab-${v}`).click() }));
  }
  if (page.runs) {
    task.append(h("button", { type: "button", id: "tour-runs", className: "tour-view", text: t("tour.openRuns"),
      onclick: () => document.dispatchEvent(new CustomEvent("ch6:vanishing")) }));
  }
  const nav = h("div", { className: "row tour-nav" },
    h("button", { type: "button", id: "tour-back", disabled: index === 0, text: t("tour.back"),
      onclick: () => openTour(view, index - 1) }),
    h("span", { id: "tour-page", className: "muted small", text: t("tour.page", { i: index + 1, n: PAGES.length }) }),
    h("button", { type: "button", id: "tour-next", disabled: index === PAGES.length - 1, text: t("tour.next"),
      onclick: () => openTour(view, index + 1) }),
    h("button", { type: "button", id: "tour-close", text: t("tour.close"), onclick: () => closeTour(view) }));
  const title = h("h3", { id: "tour-title", tabIndex: -1, text: t(`tour.${page.key}.title`) });
  panel.replaceChildren(
    h("h2", { text: t("tour.heading") }),
    title,
    body,
    figure,
    task,
    nav,
  );
  if (view.tourFocus) {
    view.tourFocus = false;
    title.focus({ preventScroll: true });
    if (!placeForLearning(view, null)) panel.scrollIntoView({ block: "nearest" });
  }
}

// @ts-check
// The page: tabs, language switch, the address (url-state.js: view, graph, tour, exercise,
// experiment), and the views.

import { preferredLanguage, setLanguage, language } from "./i18n.js";
import { GraphView } from "./graph-view.js";
import { bindTabs, byId, selectTab } from "./ui.js";
import { VIEWS, readUrl, urlHash } from "./url-state.js";

const tabs = [...document.querySelectorAll(".tabs [role=tab]")].filter((b) => b instanceof HTMLElement);
let currentView = "graph";
let ready = false;

function writeUrl() {
  if (!ready) return;
  const g = graph.urlState();
  const next = urlHash({
    view: currentView, g, p: g ? graph.presetId : "", ...graph.learnState(),
    exp: currentView === "experiments" && lab ? lab.experiments.page : null,
  });
  if (location.hash === next) return;
  // A new graph is a new history entry, so Back returns to the one before; edits are not.
  if (graph.pushUrl) history.pushState(null, "", next);
  else history.replaceState(null, "", next);
  graph.pushUrl = false;
}

/** The address changed under the page (Back, Forward, another link): show what it names. */
async function restore() {
  const state = readUrl(location.hash);
  await load(state.view);
  await graph.openFromUrl(state.g, state.p);
  await graph.followLearn(state);
  if (state.view === "experiments") (await experimentsView()).experiments.open(state.exp, false);
  show(state.view);
}

const graph = new GraphView({ onUrlChange: writeUrl });

// NOTE: the Training and Gradient check views (and the charts' library) are fetched the first
// time they are needed, so the graph view's first load stays light. Until a view is ready its
// form's submit button stays disabled (in the page's HTML), so nothing is sent half-wired.

/** @type {import("./train-view.js").TrainView | null} */
let train = null;
/** @type {Promise<import("./train-view.js").TrainView> | null} */
let trainLoading = null;

/** The Training view, loaded and started once. */
function trainView() {
  trainLoading ??= import("./train-view.js").then(async (m) => {
    const view = new m.TrainView();
    await view.init();
    byId("t-start", HTMLButtonElement).disabled = false;
    train = view;
    return view;
  });
  return trainLoading;
}

/** @type {import("./gradcheck-view.js").GradcheckView | null} */
let gradcheck = null;
/** @type {Promise<import("./gradcheck-view.js").GradcheckView> | null} */
let gradcheckLoading = null;

/** The Gradient check view, loaded and started once. */
function gradcheckView() {
  gradcheckLoading ??= import("./gradcheck-view.js").then(async (m) => {
    const view = new m.GradcheckView({ graphBody: () => graph.apiBody() });
    await view.init();
    byId("gc-run", HTMLButtonElement).disabled = false;
    gradcheck = view;
    return view;
  });
  return gradcheckLoading;
}

/**
 * A view's modules, loaded (for the views loaded on first use).
 * @param {string} view
 */
async function load(view) {
  if (view === "train") await trainView();
  if (view === "gradcheck") await gradcheckView();
  if (view === "experiments") await experimentsView();
}

/** @typedef {{experiments: import("./experiments-view.js").ExperimentsView, ch6: import("./ch6-view.js").Chapter6View}} ExperimentsLab */
/** @type {ExperimentsLab | null} */
let lab = null;
/** @type {Promise<ExperimentsLab> | null} */
let labLoading = null;

/**
 * The Experiments view, its modules fetched the first time it is needed (the graph view's
 * first load stays light). The chapter-6 runs on MNIST (ch6-view.js) are pages of it.
 */
/** @returns {Promise<ExperimentsLab>} */
function experimentsView() {
  labLoading ??= Promise.all([import("./experiments-view.js"), import("./ch6-view.js")]).then(async ([e, c]) => {
    const ch6 = new c.Chapter6View({
      openRun: async (id, flow) => {
        show("train");
        await (await trainView()).open(id);
        if (flow) document.getElementById("layers-panel")?.scrollIntoView({ block: "start" });
      },
    });
    const experiments = new e.ExperimentsView({ onUrlChange: writeUrl, ch6 });
    await ch6.init();
    experiments.init();
    lab = { experiments, ch6 };
    return lab;
  });
  return labLoading;
}
// The tour's vanishing-gradient page opens the two runs.
document.addEventListener("ch6:vanishing", async () => {
  const { experiments, ch6 } = await experimentsView();
  experiments.open("vanishing");
  ch6.startVanishing();
  show("experiments");
});

/**
 * Show one view (graph, train, gradcheck or experiments; an unknown name shows the graph).
 * @param {string} view
 */
function show(view) {
  if (!(/** @type {readonly string[]} */ (VIEWS)).includes(view)) view = "graph";
  currentView = view;
  selectTab(tabs, "view", view);
  for (const v of VIEWS) byId(`view-${v}`).hidden = v !== view;
  document.body.dataset.view = view;
  if (view === "graph") graph.onShow();
  // The charts' library loads when a view that draws charts first opens.
  if (view === "train" || view === "experiments") import("./charts.js").then((m) => m.loadUPlot());
  if (view === "train") {
    if (train) train.onShow();
    else trainView().then((loaded) => { if (currentView === "train") loaded.onShow(); });
  }
  if (view === "gradcheck" && !gradcheck) gradcheckView();
  if (view === "experiments") {
    if (lab) lab.experiments.onShow();
    else experimentsView().then((loaded) => { if (currentView === "experiments") { loaded.experiments.onShow(); writeUrl(); } });
  }
  writeUrl();
}

async function main() {
  await setLanguage(preferredLanguage());
  const select = byId("lang-select", HTMLSelectElement);
  select.value = language();
  select.addEventListener("change", () => setLanguage(select.value));
  document.addEventListener("langchange", () => {
    select.value = language();
    graph.relabel();
    train?.relabel();
    gradcheck?.relabel();
    lab?.experiments.relabel();
    lab?.ch6.relabel();
  });
  bindTabs(tabs, "view", show);
  const state = readUrl(location.hash);
  await Promise.all([graph.init(state.g, state.p), load(state.view)]);
  if (state.view === "experiments") (await experimentsView()).experiments.open(state.exp, false);
  await graph.initLearn(state);
  ready = true;
  show(state.view);
  window.addEventListener("popstate", restore);
  window.addEventListener("hashchange", restore);
  document.body.dataset.ready = "true";
}

main();

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
    exp: currentView === "experiments" && lab.now ? lab.now.experiments.page : null,
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
  if (state.view === "experiments") (await lab.get()).experiments.open(state.exp, false);
  show(state.view);
}

const graph = new GraphView({ onUrlChange: writeUrl });

// NOTE: the Training and Gradient check views (and the charts' library) are fetched the first
// time they are needed, so the graph view's first load stays light. Until a view is ready its
// form's submit button stays disabled (in the page's HTML), so nothing is sent half-wired.

/**
 * A view loaded and started the first time it is needed: `get()` starts it once (later calls
 * share that promise), `now` is the view once it is ready (null before).
 * @template T
 * @param {() => Promise<T>} start
 */
function onFirstUse(start) {
  /** @type {Promise<T> | null} */
  let loading = null;
  /** @type {{now: T | null, get: () => Promise<T>}} */
  const lazy = {
    now: null,
    get: () => (loading ??= start().then((view) => (lazy.now = view))),
  };
  return lazy;
}

const train = onFirstUse(async () => {
  const { TrainView } = await import("./train-view.js");
  const view = new TrainView();
  await view.init();
  byId("t-start", HTMLButtonElement).disabled = false;
  return view;
});

const gradcheck = onFirstUse(async () => {
  const { GradcheckView } = await import("./gradcheck-view.js");
  const view = new GradcheckView({ graphBody: () => graph.apiBody() });
  await view.init();
  byId("gc-run", HTMLButtonElement).disabled = false;
  return view;
});

/**
 * The Experiments view; the chapter-6 runs on MNIST (ch6-view.js) are pages of it.
 * @typedef {{experiments: import("./experiments-view.js").ExperimentsView, ch6: import("./ch6-view.js").Chapter6View}} ExperimentsLab
 */
const lab = onFirstUse(async () => {
  const [e, c] = await Promise.all([import("./experiments-view.js"), import("./ch6-view.js")]);
  const ch6 = new c.Chapter6View({
    openRun: async (id, flow) => {
      show("train");
      await (await train.get()).open(id);
      if (flow) document.getElementById("layers-panel")?.scrollIntoView({ block: "start" });
    },
  });
  const experiments = new e.ExperimentsView({ onUrlChange: writeUrl, ch6 });
  await ch6.init();
  experiments.init();
  return /** @type {ExperimentsLab} */ ({ experiments, ch6 });
});

/**
 * A view's modules, loaded (for the views loaded on first use).
 * @param {string} view
 */
async function load(view) {
  if (view === "train") await train.get();
  if (view === "gradcheck") await gradcheck.get();
  if (view === "experiments") await lab.get();
}

// The tour's vanishing-gradient page opens the two runs.
document.addEventListener("ch6:vanishing", async () => {
  const { experiments, ch6 } = await lab.get();
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
    if (train.now) train.now.onShow();
    else train.get().then((loaded) => { if (currentView === "train") loaded.onShow(); });
  }
  if (view === "gradcheck") gradcheck.get();
  if (view === "experiments") {
    if (lab.now) lab.now.experiments.onShow();
    else lab.get().then((loaded) => { if (currentView === "experiments") { loaded.experiments.onShow(); writeUrl(); } });
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
    train.now?.relabel();
    gradcheck.now?.relabel();
    lab.now?.experiments.relabel();
    lab.now?.ch6.relabel();
  });
  bindTabs(tabs, "view", show);
  const state = readUrl(location.hash);
  await Promise.all([graph.init(state.g, state.p), load(state.view)]);
  if (state.view === "experiments") (await lab.get()).experiments.open(state.exp, false);
  await graph.initLearn(state);
  ready = true;
  show(state.view);
  window.addEventListener("popstate", restore);
  window.addEventListener("hashchange", restore);
  document.body.dataset.ready = "true";
}

main();

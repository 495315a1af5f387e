// @ts-check
// The Experiments view: the book's chapter-6 experiments, one page at a time, the page in the URL.

import { apply } from "./i18n.js";
import { bindTabs, byId, h, selectTab } from "./ui.js";
import { RacePage } from "./exp-race.js";
import { ActivationsPage } from "./exp-activations.js";

/** The chapter-6 runs on MNIST, drawn by ch6-view.js (one element for its four pages). */
const RUN_PAGES = ["init", "optim", "overfit", "vanishing"];
const PAGES = ["race", "activations", ...RUN_PAGES];

export class ExperimentsView {
  /** @param {{onUrlChange: () => void, ch6: import("./ch6-view.js").Chapter6View}} options */
  constructor({ onUrlChange, ch6 }) {
    this.onUrlChange = onUrlChange;
    this.ch6 = ch6;
    this.page = "race";
    this.race = new RacePage();
    this.activations = new ActivationsPage();
    /** @type {Set<string>} pages whose data has been asked for */
    this.loaded = new Set();
    this.tabs = PAGES.map((p) => h("button", {
      role: "tab", id: `exp-tab-${p}`, "data-page": p, "aria-controls": RUN_PAGES.includes(p) ? "exp-ch6" : `exp-${p}`, "aria-selected": "false",
      "data-i18n": `exp.tab.${p}`,
    }));
  }

  init() {
    const root = byId("view-experiments");
    root.append(
      h("nav", { class: "exp-tabs", role: "tablist", "data-i18n-aria": "exp.pages" }, ...this.tabs),
      this.race.element,
      this.activations.element,
      this.ch6.element,
    );
    this.ch6.element.setAttribute("role", "tabpanel");
    this.race.element.setAttribute("role", "tabpanel");
    this.activations.element.setAttribute("role", "tabpanel");
    bindTabs(this.tabs, "page", (p) => this.open(p));
    apply(root);
    this.open(this.page, false);
  }

  /**
   * Show one page (an unknown name shows the race) and fetch its data the first time.
   * @param {string | null} page
   * @param {boolean} [fetch]
   */
  open(page, fetch = true) {
    this.page = page && PAGES.includes(page) ? page : "race";
    selectTab(this.tabs, "page", this.page);
    this.race.element.hidden = this.page !== "race";
    this.activations.element.hidden = this.page !== "activations";
    this.ch6.element.hidden = !RUN_PAGES.includes(this.page);
    if (RUN_PAGES.includes(this.page)) this.ch6.openPage(this.page, `exp-tab-${this.page}`);
    if (fetch) this.onShow();
    this.onUrlChange();
  }

  /** The view became visible: load the current page's data once. */
  onShow() {
    if (this.loaded.has(this.page) || RUN_PAGES.includes(this.page)) return;
    this.loaded.add(this.page);
    if (this.page === "race") this.race.load();
    else this.activations.load();
  }

  relabel() {
    this.race.relabel();
    this.activations.relabel();
  }
}

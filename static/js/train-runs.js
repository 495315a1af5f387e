// @ts-check
// The runs list: every run (or only the reader's), newest first, each with its status, its
// place in the queue and its test accuracy; Delete for the reader's own; a checkbox that draws
// another run's loss and accuracy beside the open run's.
//
// What it is given of the open run (train-view.js wires it): `openId()`, the id of the run on
// show or null (its row is marked and its checkbox is fixed on); `open(id)` to show another
// run; `deleted(id)` after a run was removed; `overlaysChanged()` when the runs to draw beside
// it changed. It is told `opened(id)` and `renamed(id, name)`, and gives `overlays()`, the runs
// drawn beside the open one. It never reads the open run's events.

import { api } from "./api.js";
import { t } from "./i18n.js";
import { bindMineFilter, deleteRun, onlyMine, ownerMarks } from "./run-owner.js";
import { pct, queueText, runLabel } from "./train-text.js";
import { byId as $, h, toast } from "./ui.js";

/** @typedef {import("./api.js").Run} Run */
/** @typedef {import("./api.js").RunSummary} RunSummary */

/** Milliseconds between two looks at the list while the view is shown (others start runs too). */
const REFRESH_MS = 15000;

export class RunsList {
  /**
   * @param {{openId: () => string | null, open: (id: string) => void, deleted: (id: string) => void,
   *   overlaysChanged: () => void}} host
   */
  constructor(host) {
    this.host = host;
    /** @type {RunSummary[]} newest first */
    this.runs = [];
    this.rendered = false;
    /** @type {Set<string>} other runs whose loss is drawn too */
    this.overlay = new Set();
    /** @type {Map<string, Run>} */
    this.overlayData = new Map();
  }

  /** Load the list, and refresh it while the training view is shown. */
  async init() {
    bindMineFilter(() => this.load());
    await this.load();
    setInterval(() => {
      if (!$("view-train").hidden && document.visibilityState === "visible") this.load();
    }, REFRESH_MS);
  }

  async load() {
    let runs;
    try {
      runs = (await api.runs(onlyMine())).runs;
    } catch (err) {
      toast(/** @type {Error} */ (err).message);
      return;
    }
    const changed = JSON.stringify(runs) !== JSON.stringify(this.runs);
    this.runs = runs;
    if (changed || !this.rendered) this.render();
    this.rendered = true;
  }

  /**
   * The listed run with this id, if it is listed.
   * @param {string} id
   */
  find(id) {
    return this.runs.find((r) => r.id === id);
  }

  render() {
    const body = /** @type {HTMLTableSectionElement} */ ($("runs-table").querySelector("tbody"));
    body.replaceChildren();
    if (!this.runs.length) {
      body.append(h("tr", {}, h("td", { colSpan: 4, className: "muted", text: t("train.noRuns") })));
      return;
    }
    const openId = this.host.openId();
    for (const run of this.runs) {
      const open = openId === run.id;
      // A name a person gave is theirs, in their language: marked, so tools (and tests) tell it from the page's words.
      const tr = h("tr", { className: open ? "open" : "", "data-run": run.id, "data-user-text": run.named ? run.name : "" });
      tr.append(
        h("td", {}, h("input", {
          type: "checkbox", checked: this.overlay.has(run.id) || open, disabled: open,
          "aria-label": t("train.overlayRun", { run: runLabel(run) }),
          onchange: (/** @type {Event} */ e) => this.toggleOverlay(run.id, /** @type {HTMLInputElement} */ (e.target).checked),
        })),
        h("td", {}, h("button", {
          type: "button", className: "link", text: runLabel(run), "aria-current": open ? "true" : "false",
          onclick: () => this.host.open(run.id),
        }), ...ownerMarks(run, runLabel(run), (r) => this.deleteListed(r))),
        h("td", { className: `status-${run.status}`, text: t(`status.${run.status}`) },
          run.warning ? h("span", { className: "warn-mark", text: "⚠", title: t("train.divergedShort"), "aria-label": t("train.divergedShort") }) : null,
          run.status === "queued" && typeof run.queue_position === "number"
            ? h("span", { className: "queue-place", text: queueText(run.queue_position, "short") }) : null),
        h("td", { className: "num", text: run.test_acc === null || run.test_acc === undefined ? "–" : pct(run.test_acc) }),
      );
      body.append(tr);
    }
  }

  /**
   * Delete one of the reader's runs (asked first); the open run closes if it was that one.
   * @param {RunSummary} run
   */
  async deleteListed(run) {
    if (!(await deleteRun(run, runLabel(run), toast))) return;
    this.overlay.delete(run.id);
    this.host.deleted(run.id);
    await this.load();
  }

  /**
   * Draw another run's loss beside the current one, or stop drawing it.
   * @param {string} id
   * @param {boolean} on
   */
  async toggleOverlay(id, on) {
    if (on) {
      this.overlay.add(id);
      if (!this.overlayData.has(id)) {
        try {
          this.overlayData.set(id, await api.run(id));
        } catch (err) {
          toast(/** @type {Error} */ (err).message);
          this.overlay.delete(id);
        }
      }
    } else {
      this.overlay.delete(id);
    }
    this.host.overlaysChanged();
  }

  /**
   * The other runs drawn beside the open one, as the charts take them.
   * @returns {import("./charts.js").LossRun[]}
   */
  overlays() {
    /** @type {import("./charts.js").LossRun[]} */
    const out = [];
    for (const id of this.overlay) {
      const d = this.overlayData.get(id);
      if (d) out.push({ id, label: runLabel(d), loss: d.history.loss, epochs: d.history.epochs, current: false });
    }
    return out;
  }

  /**
   * A run is opened: it is drawn as the open run, no longer beside it.
   * @param {string} id
   */
  opened(id) {
    this.overlay.delete(id);
  }

  /**
   * A run was renamed: its drawn copy takes the new name.
   * @param {string} id
   * @param {string} name
   */
  renamed(id, name) {
    const data = this.overlayData.get(id);
    if (data) Object.assign(data, { name, named: true });
  }
}

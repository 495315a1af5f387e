// @ts-check
// The open run, live: its header (name, rename, settings, how it ended, where it stands), the
// numbers (status, iteration, loss, rate, time left, accuracy), the loss and accuracy charts
// with the other runs drawn beside it, the gradient flow, and Stop. train-follow.js keeps the
// run's state from its record and its event stream; this draws it.
//
// This module holds the open run; the other sections see it only through train-view.js. What
// it is given (`LiveHost`): the dataset's title and the "choose instead" hint (the form's
// menu), the other runs to draw beside it (the runs list), and whom to tell when its header
// was drawn, when the queue ahead of it moved, when it ended and when it was renamed.

import { api } from "./api.js";
import { AccuracyChart, LossChart } from "./charts.js";
import { t } from "./i18n.js";
import { runErrorText } from "./run-owner.js";
import { ACTIVE, RunFollower, newRun, rate, takeRecord } from "./train-follow.js";
import { LayerPanel } from "./train-layers.js";
import { duration, optimizerLabel, pct, queueText, runLabel } from "./train-text.js";
import { fmt } from "./tensor.js";
import { byId as $, h, setDisabled, toast } from "./ui.js";

/** @typedef {import("./api.js").Run} Run */
/** @typedef {import("./api.js").RunSummary} RunSummary */
/** @typedef {import("./api.js").TrainConfig} TrainConfig */
/** @typedef {import("./run-stream.js").DoneEvent} DoneEvent */
/** @typedef {import("./train-follow.js").LiveRun} LiveRun */

/**
 * What the open run needs from the rest of the training view.
 * @typedef {object} LiveHost
 * @property {(name: string | undefined) => string} datasetTitle
 * @property {(done: DoneEvent | Run | null) => string} insteadHint
 * @property {() => import("./charts.js").LossRun[]} overlays other runs drawn beside it
 * @property {() => void} rendered its header and numbers were drawn anew
 * @property {() => void} queueMoved the runs ahead of it in the queue changed
 * @property {() => void} ended it ended, or it turned out to have weights after it ended
 * @property {(id: string, name: string) => void} renamed
 */

export class LiveRunView {
  /** @param {LiveHost} host */
  constructor(host) {
    this.host = host;
    /** @type {LiveRun | null} */
    this.run = null;
    /** @type {RunFollower | null} its record and events, while it has not ended */
    this.follower = null;
    this.renderPending = false;
    // One line under the header for where the run stands: its place in the queue, or a restart.
    $("run-warning").after(h("p", { id: "run-note", className: "run-note", role: "status", hidden: true }));
    this.lossChart = new LossChart($("loss-chart"));
    this.accChart = new AccuracyChart($("acc-chart"));
    this.layerPanel = new LayerPanel($("layers-panel"));
  }

  bind() {
    this.bindRename();
    $("t-stop").addEventListener("click", async () => {
      if (!this.run) return;
      setDisabled($("t-stop", HTMLButtonElement), true);
      try {
        await api.cancel(this.run.id);
      } catch (err) {
        toast(runErrorText(err));
      }
    });
    const smooth = $("t-smooth", HTMLInputElement);
    smooth.addEventListener("input", () => {
      $("t-smooth-out").textContent = Number(smooth.value).toFixed(2);
      this.drawCharts();
    });
  }

  /** The open run, if it is finished and has weights to inspect (completed, or cancelled after training). */
  inspectable() {
    const run = this.run;
    return run && !ACTIVE.includes(run.status) && (run.status === "completed" || run.hasWeights) ? run : null;
  }

  labels() {
    return {
      iteration: t("chart.iteration"), loss: t("chart.loss"), raw: t("chart.raw"), smoothed: t("chart.smoothed"),
      epoch: t("chart.epoch"), accuracy: t("chart.accuracy"), train: t("chart.train"), test: t("chart.test"),
    };
  }

  /** Stop following the open run's events. */
  closeStream() {
    this.follower?.close();
    this.follower = null;
  }

  /**
   * A run was deleted: if it is the open one, nothing is open any more.
   * @param {string} id
   */
  deleted(id) {
    if (!this.run || this.run.id !== id) return;
    this.closeStream();
    this.run = null;
    $("run-title").textContent = t("train.noRun");
    $("run-rename").hidden = true;
    $("run-config").textContent = "";
    this.renderRun();
  }

  /**
   * Show a run: its history at once, then (if it is still going) its live events. Returns the
   * run, or null when another run was opened meanwhile.
   * @param {string} id
   * @param {TrainConfig} [config] what was just posted, shown until the run's record arrives
   * @param {RunSummary} [listed] its row of the runs list, for its name until then
   */
  async open(id, config, listed) {
    this.closeStream();
    const run = newRun(id, config, listed);
    this.run = run;
    this.layerPanel.reset(run.config);
    let record = null;
    try {
      record = await api.run(id);
    } catch (err) {
      toast(runErrorText(err), 6000);
    }
    if (this.run !== run) return null;
    if (record) {
      takeRecord(run, record);
      if (run.done) this.layerPanel.setHistory(record.history, record.config);
      else this.layerPanel.reset(record.config);
    }
    if (!run.done) {
      this.follower = new RunFollower(run, {
        changed: () => this.scheduleRender(),
        queueMoved: () => this.host.queueMoved(),
        ended: () => this.host.ended(),
        layers: (data) => this.layerPanel.add(data),
        history: (r) => this.layerPanel.setHistory(r.history, r.config),
      });
    }
    this.closeRename();
    this.renderRun();
    return run;
  }

  scheduleRender() {
    if (this.renderPending) return;
    this.renderPending = true;
    requestAnimationFrame(() => {
      this.renderPending = false;
      this.renderRun();
    });
  }

  renderStats() {
    const run = this.run;
    const total = run ? run.config.iterations : undefined;
    const done = run ? run.loss.filter((v) => v !== null && v !== undefined).length : 0;
    const iteration = run ? run.iteration ?? (done || null) : null;
    const lastLoss = run ? run.lastLoss ?? [...run.loss].reverse().find((v) => v !== null && v !== undefined) : null;
    const lastEpoch = run && run.epochs.length ? run.epochs[run.epochs.length - 1] : null;
    const speed = run ? rate(run) : null;
    let status = run ? t(`status.${run.status}`) : "–";
    if (run && run.reconnecting) status = t("train.reconnecting");
    $("s-status").textContent = status;
    $("s-status").className = run ? `status-${run.status}` : "";
    $("s-iter").textContent = iteration ? `${iteration}${total ? ` / ${total}` : ""}` : "–";
    const dl = run && !run.done && !iteration ? run.download : null; // fetching the dataset first
    if (dl) $("s-iter").textContent = t("train.downloading", { dataset: dl.dataset, pct: dl.total ? Math.floor((100 * dl.bytes) / dl.total) : "?" });
    $("s-loss").textContent = lastLoss === null || lastLoss === undefined ? "–" : fmt(lastLoss, 3);
    $("s-rate").textContent = speed ? t("train.rate", { rate: Math.round(speed) }) : "–";
    $("s-eta").textContent = speed && total && iteration ? duration((total - iteration) / speed) : run && run.done && run.status === "completed" ? duration(0) : "–";
    const acc = run && run.done && typeof run.done.test_acc === "number" ? run.done.test_acc : lastEpoch ? lastEpoch.test_acc : null;
    $("s-acc").textContent = pct(acc);
    $("run-progress").style.width = total && iteration ? `${Math.min(100, (100 * iteration) / total)}%` : run && run.done ? "100%" : "0";
  }

  renderRun() {
    const run = this.run;
    if (run) {
      const c = run.config;
      $("run-title").textContent = runLabel(run);
      $("run-title").title = t("train.runId", { id: run.id });
      if ($("run-rename-form").hidden) $("run-rename").hidden = !run.mine;
      $("run-config").textContent = t("train.configLine", {
        dataset: this.host.datasetTitle(c.dataset), hidden: c.hidden_size ?? "?", lr: c.learning_rate ?? "?",
        batch: c.batch_size ?? "?", iterations: c.iterations ?? "?", opt: optimizerLabel(c.optimizer),
        seed: c.seed ?? "?",
      }) + this.endedText(run) + this.host.insteadHint(run.done);
      for (const [id, format] of /** @type {const} */ ([["export-csv", "csv"], ["export-json", "json"]])) {
        $(id, HTMLAnchorElement).href = api.historyUrl(run.id, format);
        $(id).setAttribute("aria-disabled", "false");
      }
    }
    const note = run ? this.noteText(run) : "";
    $("run-note").hidden = !note;
    if ($("run-note").textContent !== note) $("run-note").textContent = note; // a live region: said once
    const warning = run && run.done && run.done.warning ? this.warningText(run) : "";
    $("run-warning").hidden = !warning;
    $("run-warning").textContent = warning;
    $("view-train").dataset.runStatus = run ? run.status : "";
    $("view-train").dataset.runId = run ? run.id : "";
    this.renderStats();
    this.drawCharts();
    setDisabled($("t-stop", HTMLButtonElement), !(run && ACTIVE.includes(run.status)));
    $("t-stop").hidden = Boolean(run && !run.mine); // only the owner stops it
    this.host.rendered();
  }

  /**
   * How a run ended, when it did not complete: the page's own words for a cancelled or
   * interrupted run (in its language), else the server's message (a failure's reason).
   * @param {LiveRun} run
   */
  endedText(run) {
    if (!run.done) return "";
    if (run.status === "cancelled") {
      // Whether it kept weights is in its done event (or record); until then, only that it was cancelled.
      if (!("has_weights" in run.done)) return ` — ${t("train.cancelledPlain")}`;
      return ` — ${t(run.hasWeights ? "train.cancelledKept" : "train.cancelled")}`;
    }
    if (run.status === "interrupted") return ` — ${t("train.interrupted")}`;
    return run.done.message ? ` — ${run.done.message}` : "";
  }

  /**
   * The line under the header: where a queued run stands, or that a lost worker's run started
   * again (and which attempt the charts show); empty when there is nothing to say.
   * @param {LiveRun} run
   */
  noteText(run) {
    if (run.status === "queued" && typeof run.queuePosition === "number") {
      const place = queueText(run.queuePosition, "long");
      return run.noWorker ? `${place} — ${t("train.noWorker")}` : place;
    }
    if (run.attempt && run.attempt > 1) return t("train.restarted", { attempt: run.attempt });
    return "";
  }

  /**
   * The page's words for a run whose loss diverged, with its first and highest loss.
   * @param {LiveRun} run
   */
  warningText(run) {
    let first = null;
    let peak = -Infinity;
    for (const v of run.loss) {
      if (typeof v !== "number") continue;
      if (first === null) first = v;
      if (v > peak) peak = v;
    }
    return first === null ? t("train.divergedPlain") : t("train.diverged", { first: fmt(first, 4), peak: fmt(peak, 4) });
  }

  bindRename() {
    const form = $("run-rename-form", HTMLFormElement);
    const input = $("run-name-input", HTMLInputElement);
    const close = () => {
      form.hidden = true;
      $("run-title").hidden = false;
      $("run-rename").hidden = !this.run;
      $("run-rename-error").textContent = "";
    };
    $("run-rename").addEventListener("click", () => {
      if (!this.run) return;
      input.value = runLabel(this.run);
      form.hidden = false;
      $("run-title").hidden = true;
      $("run-rename").hidden = true;
      input.focus();
      input.select();
    });
    $("run-rename-cancel").addEventListener("click", close);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") close();
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const run = this.run;
      if (!run) return;
      try {
        const saved = await api.rename(run.id, input.value);
        run.name = saved.name || run.name;
        run.named = true;
        close();
        this.renderRun();
        this.host.renamed(run.id, run.name);
      } catch (err) {
        $("run-rename-error").textContent = runErrorText(err);
      }
    });
  }

  closeRename() {
    $("run-rename-form").hidden = true;
    $("run-title").hidden = false;
    $("run-rename-error").textContent = "";
  }

  drawCharts() {
    const weight = Number($("t-smooth", HTMLInputElement).value);
    /** @type {import("./charts.js").LossRun[]} */
    const runs = [];
    if (this.run) {
      runs.push({ id: this.run.id, label: t("chart.thisRun"), loss: this.run.loss, epochs: this.run.epochs, current: true });
    }
    runs.push(...this.host.overlays());
    if (!$("view-train").hidden || !this.lossChart.plot) {
      this.lossChart.update(runs, weight, this.labels());
      this.accChart.update(runs, this.labels());
    }
    this.renderAccNote();
  }

  /** Under the accuracy chart: a run shorter than one epoch was measured once, at its end. */
  renderAccNote() {
    const run = this.run;
    const epochs = run ? run.epochs : [];
    const last = epochs[epochs.length - 1];
    const short = Boolean(last && epochs.length === 1 && last.epoch < 1);
    $("acc-note").hidden = !short;
    $("acc-note").textContent = short && last
      ? t("train.shortRun", { epoch: fmt(last.epoch, 2), train: pct(last.train_acc), test: pct(last.test_acc) })
      : "";
  }

  /** Write everything again in the page's language. */
  relabel() {
    this.lossChart.key = "";
    this.accChart.key = "";
    this.layerPanel.relabel();
    if (this.run) this.renderRun();
    else this.drawCharts();
  }
}

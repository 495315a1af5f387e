// @ts-check
// The training dashboard: form, start/stop, live charts over SSE, runs, and what a run learned.

import { api } from "./api.js";
import { AccuracyChart, LossChart } from "./charts.js";
import { t } from "./i18n.js";
import { bindPad, drawGray, drawWeights, toMnist } from "./pad.js";
import { bindMineFilter, deleteRun, onlyMine, ownerMarks, runErrorText } from "./run-owner.js";
import { RunStream } from "./run-stream.js";
import { LayerPanel, fillDeepForm, readDeepForm } from "./train-layers.js";
import { fmt } from "./tensor.js";
import { bindTabs, byId as $, fieldMessage, h, oneColumn, selectTab, toast } from "./ui.js";

/** @typedef {import("./api.js").Run} Run */
/** @typedef {import("./api.js").RunSummary} RunSummary */
/** @typedef {import("./api.js").RunStatus} RunStatus */
/** @typedef {import("./api.js").TrainConfig} TrainConfig */
/** @typedef {import("./api.js").EpochPoint} EpochPoint */
/** @typedef {import("./api.js").Dataset} Dataset */
/** @typedef {import("./api.js").Prediction} Prediction */
/** @typedef {import("./run-stream.js").ProgressEvent} ProgressEvent */
/** @typedef {import("./run-stream.js").DoneEvent} DoneEvent */

/**
 * The run on show, as the page follows it.
 * @typedef {object} LiveRun
 * @property {string} id
 * @property {string} name readable, editable (GET /train/{id}'s name)
 * @property {boolean} named a person named it (else the page names it by its settings)
 * @property {boolean} hasWeights it saved weights: the inspectors and the pad can use it
 * @property {RunStatus} status
 * @property {TrainConfig} config
 * @property {(number | null)[]} loss index 0 = iteration 1
 * @property {EpochPoint[]} epochs
 * @property {{t: number, it: number}[]} samples recent (time, iteration) pairs, for the rate
 * @property {DoneEvent | Run | null} done how it ended, once it has
 * @property {RunStream | null} stream
 * @property {boolean} [reconnecting]
 * @property {number} [iteration]
 * @property {number} [lastLoss]
 * @property {import("./run-stream.js").DownloadEvent} [download] the dataset being fetched
 * @property {number | null} [queuePosition] while queued: the queued runs ahead of it (GET /train/{id})
 * @property {boolean} [noWorker] while queued: the lab has no live worker to take it (GET /train/{id})
 * @property {number} [attempt] the worker's attempt at it (2+: a worker was lost, it started again)
 * @property {boolean} [mine] the reader started it: only then may the page rename, stop or delete it
 */

/** @type {RunStatus[]} */
const ACTIVE = ["queued", "running"];
/** Milliseconds between two looks at a queued run's place (its event stream is silent meanwhile). */
const QUEUE_POLL_MS = 1500;
/** @type {[name: string, id: string, limit: string | null, kind: "int" | "float"][]} */
const FIELDS = [
  ["hidden_size", "t-hidden", "max_hidden_size", "int"],
  ["learning_rate", "t-lr", null, "float"],
  ["batch_size", "t-batch", "max_batch_size", "int"],
  ["iterations", "t-iters", "max_iterations", "int"],
  ["seed", "t-seed", null, "int"],
];

/** @param {number} seconds */
function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}` : `${m}:${String(s % 60).padStart(2, "0")}`;
}

/** @param {number | null | undefined} x */
function pct(x) {
  return typeof x === "number" ? `${(100 * x).toFixed(2)} %` : "–";
}

export class TrainView {
  constructor() {
    /** @type {Record<string, number>} GET /limits */
    this.limits = {};
    /** @type {Dataset[]} */
    this.datasets = [];
    /** @type {string | null} the server's default dataset (the best one here) */
    this.defaultDataset = null;
    /** @type {RunSummary[]} newest first */
    this.runs = [];
    this.runsRendered = false;
    /** @type {Set<string>} other runs whose loss is drawn too */
    this.overlay = new Set();
    /** @type {Map<string, Run>} */
    this.overlayData = new Map();
    /** @type {LiveRun | null} */
    this.current = null;
    this.renderPending = false;
    this.insight = "draw";
    /** @type {Map<string, "loading" | "done">} */
    this.insightCache = new Map();
    /** @type {Prediction | null} */
    this.lastPrediction = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} the next look at the open run's place in the queue */
    this.queueTimer = undefined;
    this.queueWatch = 0; // which watch is current (a look still under way when it ends is dropped)
    // One line under the header for where the run stands: its place in the queue, or a restart.
    $("run-warning").after(h("p", { id: "run-note", className: "run-note", role: "status", hidden: true }));
    this.lossChart = new LossChart($("loss-chart"));
    this.accChart = new AccuracyChart($("acc-chart"));
    this.layerPanel = new LayerPanel($("layers-panel"));
    this.pad = bindPad($("pad", HTMLCanvasElement), () => this.predict());
  }

  async init() {
    this.bindForm();
    bindMineFilter(() => this.loadRuns());
    this.bindInsights();
    const [datasets, limits] = await Promise.allSettled([api.datasets(), api.limits()]);
    this.datasets = datasets.status === "fulfilled" ? datasets.value.datasets : [];
    this.defaultDataset = datasets.status === "fulfilled" ? datasets.value.default : null;
    this.limits = limits.status === "fulfilled" ? limits.value : {};
    this.renderDatasets();
    this.renderLimits();
    await this.loadRuns();
    // Others may start runs on a shared server: refresh the list while this view is open.
    setInterval(() => {
      if (!$("view-train").hidden && document.visibilityState === "visible") this.loadRuns();
    }, 15000);
    const latest = this.runs[0];
    if (latest) await this.open(latest.id);
    else this.drawCharts();
  }

  labels() {
    return {
      iteration: t("chart.iteration"), loss: t("chart.loss"), raw: t("chart.raw"), smoothed: t("chart.smoothed"),
      epoch: t("chart.epoch"), accuracy: t("chart.accuracy"), train: t("chart.train"), test: t("chart.test"),
    };
  }

  // ------------------------------------------------------------------ form

  renderDatasets() {
    for (const id of ["t-dataset", "gc-dataset"]) {
      const sel = $(id, HTMLSelectElement);
      const keep = sel.value;
      sel.replaceChildren();
      // Only what the server accepts can be chosen; it names its default (the best one here).
      for (const d of this.datasets) {
        const state = d.available ? t("train.available") : d.usable ? t("train.downloadable") : t("train.unavailable");
        const option = h("option", { value: d.name, text: `${d.title || d.name} — ${state}`, disabled: !d.usable });
        if (!d.usable) option.title = t("train.notHere");
        sel.append(option);
      }
      /** @param {string | null} name */
      const usable = (name) => this.datasets.some((d) => d.name === name && d.usable);
      sel.value = usable(keep) ? keep : (usable(this.defaultDataset) && this.defaultDataset) || "";
    }
    this.renderDatasetInfo();
  }

  renderDatasetInfo() {
    const d = this.datasets.find((x) => x.name === $("t-dataset", HTMLSelectElement).value);
    if (!d) {
      $("t-dataset-info").textContent = "";
      return;
    }
    const sizes = d.sizes ? t("train.sizes", { train: d.sizes.train, test: d.sizes.test }) : "";
    const where = d.available ? d.source : t("train.downloadInfo");
    $("t-dataset-info").textContent = [sizes, d.subset ? t("train.subsetInfo") : "", where].filter(Boolean).join(" · ");
  }

  /**
   * What to do after a run failed for want of its dataset, in the page's words (a menu choice).
   * @param {DoneEvent | Run | null} done
   */
  insteadHint(done) {
    const alternative = done && "alternative" in done ? done.alternative : undefined;
    const alt = alternative && this.datasets.find((d) => d.name === alternative && d.usable);
    return alt ? ` ${t("train.tryInstead", { title: alt.title || alt.name })}` : "";
  }

  renderLimits() {
    /** @type {Record<string, number | undefined>} */
    const max = {
      hidden_size: this.limits.max_hidden_size,
      batch_size: this.limits.max_batch_size,
      iterations: this.limits.max_iterations,
      gradcheck_batch: this.limits.max_gradcheck_batch,
    };
    for (const el of document.querySelectorAll("[data-limit]")) {
      const name = el instanceof HTMLElement ? el.dataset.limit ?? "" : "";
      if (name === "learning_rate") el.textContent = t("train.lrLimit");
      else el.textContent = max[name] ? t("train.limit", { max: max[name] }) : "";
    }
    for (const [, id, key] of FIELDS) if (key && this.limits[key]) $(id, HTMLInputElement).max = String(this.limits[key]);
    if (this.limits.max_gradcheck_batch) $("gc-batch", HTMLInputElement).max = String(this.limits.max_gradcheck_batch);
    if (this.limits.max_hidden_size) $("gc-hidden", HTMLInputElement).max = String(this.limits.max_hidden_size);
  }

  /**
   * The training form as a POST /train body, and a message for every field it refuses
   * (each such field marked invalid, the first one focused).
   * @returns {{config: TrainConfig, errors: string[]}}
   */
  readForm() {
    /** @type {Record<string, string | number>} */
    const config = { dataset: $("t-dataset", HTMLSelectElement).value, optimizer: $("t-optimizer", HTMLSelectElement).value };
    /** @type {string[]} */
    const errors = [];
    /** @type {HTMLInputElement | null} */
    let first = null;
    for (const [name, id, limitKey, kind] of FIELDS) {
      const input = $(id, HTMLInputElement);
      const value = Number(input.value);
      const limit = limitKey ? this.limits[limitKey] : null;
      const bad = input.value.trim() === "" || !Number.isFinite(value) || (kind === "int" && !Number.isInteger(value))
        || (name === "learning_rate" ? value <= 0 : name === "seed" ? value < 0 : value < 1)
        || (limit && value > limit);
      input.setAttribute("aria-invalid", bad ? "true" : "false");
      if (bad) {
        first = first || input;
        errors.push(fieldMessage(name, limit ? Number(limit) : NaN));
      }
      config[name] = value;
    }
    const deep = readDeepForm(this.limits);
    errors.push(...deep.errors);
    first = first || /** @type {HTMLInputElement | null} */ (deep.first);
    if (first) first.focus();
    return { config: { ...config, ...deep.fields }, errors };
  }

  /**
   * Show the form's errors, one line each (none: clear them).
   * @param {string[]} errors
   */
  showFormErrors(errors) {
    const box = $("t-form-error");
    box.dataset.count = String(errors.length);
    if (errors.length <= 1) box.textContent = errors[0] || "";
    else box.replaceChildren(h("ul", { className: "form-errors" }, ...errors.map((e) => h("li", { text: e }))));
  }

  /**
   * Put a run's settings into the form (the form follows the run that is open).
   * @param {TrainConfig} config
   */
  fillForm(config) {
    for (const [name, id] of FIELDS) {
      const value = /** @type {Record<string, unknown>} */ (config)[name];
      if (typeof value === "number") {
        $(id, HTMLInputElement).value = String(value);
        $(id).setAttribute("aria-invalid", "false");
      }
    }
    const dataset = $("t-dataset", HTMLSelectElement);
    if (config.dataset && this.datasets.some((d) => d.name === config.dataset && d.usable)) {
      dataset.value = config.dataset;
      this.renderDatasetInfo();
    }
    fillDeepForm(/** @type {Record<string, unknown>} */ (config));
    const opt = $("t-optimizer", HTMLSelectElement);
    if (config.optimizer && [...opt.options].some((o) => o.value === config.optimizer)) opt.value = config.optimizer;
    this.showFormErrors([]);
  }

  /**
   * Start a run and open it; a refused request shows its message (and marks its field).
   * @param {TrainConfig} config
   */
  async startRun(config) {
    $("t-start", HTMLButtonElement).disabled = true;
    $("t-again", HTMLButtonElement).disabled = true;
    try {
      const accepted = await api.train(config);
      await this.loadRuns();
      await this.open(accepted.id, config);
      // One column (a phone): the form is above the run; show the live chart it starts.
      if (oneColumn()) document.querySelector(".chart-box")?.scrollIntoView({ block: "end", behavior: "instant" });
    } catch (err) {
      const error = /** @type {import("./api.js").ApiError} */ (err);
      this.showFormErrors([runErrorText(error)]);
      const field = error.details && error.details.field;
      const entry = FIELDS.find((f) => f[0] === field);
      if (entry) $(entry[1]).setAttribute("aria-invalid", "true");
    } finally {
      this.updateButtons();
    }
  }

  bindForm() {
    $("t-dataset").addEventListener("change", () => this.renderDatasetInfo());
    $("train-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const { config, errors } = this.readForm();
      this.showFormErrors(errors);
      if (errors.length) return;
      await this.startRun(config);
    });
    // The open run's own settings, all of them (the form shows the ones it has fields for).
    $("t-again").addEventListener("click", async () => {
      if (!this.current) return;
      this.fillForm(this.current.config);
      await this.startRun({ ...this.current.config });
    });
    this.bindRename();
    $("t-stop").addEventListener("click", async () => {
      if (!this.current) return;
      $("t-stop", HTMLButtonElement).disabled = true;
      try {
        await api.cancel(this.current.id);
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

  updateButtons() {
    const active = Boolean(this.current && ACTIVE.includes(this.current.status));
    $("t-stop", HTMLButtonElement).disabled = !active;
    $("t-stop").hidden = Boolean(this.current && !this.current.mine); // only the owner stops it
    $("t-start", HTMLButtonElement).disabled = false;
    $("t-again", HTMLButtonElement).disabled = !(this.current && this.current.config.iterations);
  }

  // ------------------------------------------------------------------ the open run's name

  bindRename() {
    const form = $("run-rename-form", HTMLFormElement);
    const input = $("run-name-input", HTMLInputElement);
    const close = () => {
      form.hidden = true;
      $("run-title").hidden = false;
      $("run-rename").hidden = !this.current;
      $("run-rename-error").textContent = "";
    };
    $("run-rename").addEventListener("click", () => {
      if (!this.current) return;
      input.value = this.runLabel(this.current);
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
      const run = this.current;
      if (!run) return;
      try {
        const saved = await api.rename(run.id, input.value);
        run.name = saved.name || run.name;
        run.named = true;
        const data = this.overlayData.get(run.id);
        if (data) Object.assign(data, { name: run.name, named: true });
        close();
        this.renderRun();
        await this.loadRuns();
      } catch (err) {
        $("run-rename-error").textContent = runErrorText(err);
      }
    });
  }

  // ------------------------------------------------------------------ runs

  async loadRuns() {
    let runs;
    try {
      runs = (await api.runs(onlyMine())).runs;
    } catch (err) {
      toast(/** @type {Error} */ (err).message);
      return;
    }
    const changed = JSON.stringify(runs) !== JSON.stringify(this.runs);
    this.runs = runs;
    if (changed || !this.runsRendered) this.renderRuns();
    this.runsRendered = true;
  }

  /**
   * A run as the page names it (never by its hex id): the name a person gave it, else one
   * built from its settings in the page's language (as the server builds its default name).
   * @param {{id: string, name?: string, named?: boolean, config: TrainConfig}} run
   */
  runLabel(run) {
    if (run.named && run.name) return run.name;
    const c = run.config;
    if (c.iterations === undefined) return run.name || "";
    const option = [...$("t-optimizer", HTMLSelectElement).options].find((o) => o.value === c.optimizer);
    return t("train.runLabel", {
      opt: (option && option.textContent) || c.optimizer || "?", lr: c.learning_rate ?? "?",
      hidden: c.hidden_size ?? "?", iterations: c.iterations.toLocaleString("en-US"),
    });
  }

  renderRuns() {
    const body = /** @type {HTMLTableSectionElement} */ ($("runs-table").querySelector("tbody"));
    body.replaceChildren();
    if (!this.runs.length) {
      body.append(h("tr", {}, h("td", { colSpan: 4, className: "muted", text: t("train.noRuns") })));
      return;
    }
    this.runs.forEach((run) => {
      const open = Boolean(this.current && this.current.id === run.id);
      const tr = h("tr", { className: open ? "open" : "", "data-run": run.id });
      tr.append(
        h("td", {}, h("input", {
          type: "checkbox", checked: this.overlay.has(run.id) || open, disabled: open,
          "aria-label": t("train.overlayRun", { run: this.runLabel(run) }),
          onchange: (/** @type {Event} */ e) => this.toggleOverlay(run.id, /** @type {HTMLInputElement} */ (e.target).checked),
        })),
        h("td", {}, h("button", {
          type: "button", className: "link", text: this.runLabel(run), "aria-current": open ? "true" : "false",
          onclick: () => this.open(run.id),
        }), ...ownerMarks(run, this.runLabel(run), (r) => this.deleteListed(r))),
        h("td", { className: `status-${run.status}`, text: t(`status.${run.status}`) },
          run.warning ? h("span", { className: "warn-mark", text: "⚠", title: t("train.divergedShort"), "aria-label": t("train.divergedShort") }) : null,
          run.status === "queued" && typeof run.queue_position === "number"
            ? h("span", { className: "queue-place", text: this.queueText(run.queue_position, "short") }) : null),
        h("td", { className: "num", text: run.test_acc === null || run.test_acc === undefined ? "–" : pct(run.test_acc) }),
      );
      body.append(tr);
    });
  }

  /**
   * Delete one of the reader's runs (asked first); the open run closes if it was that one.
   * @param {RunSummary} run
   */
  async deleteListed(run) {
    if (!(await deleteRun(run, this.runLabel(run), toast))) return;
    this.overlay.delete(run.id);
    if (this.current && this.current.id === run.id) {
      this.closeStream();
      this.current = null;
      $("run-title").textContent = t("train.noRun");
      $("run-rename").hidden = true;
      $("run-config").textContent = "";
      this.renderRun();
    }
    await this.loadRuns();
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
    this.drawCharts();
  }

  // ------------------------------------------------------------------ one run, live

  closeStream() {
    this.stopQueueWatch();
    if (this.current && this.current.stream) {
      this.current.stream.close();
      this.current.stream = null;
    }
  }

  /**
   * Where a queued run stands, in the page's words: the note's sentence, or the runs list's few.
   * @param {number} ahead queued runs ahead of it
   * @param {"long" | "short"} form
   */
  queueText(ahead, form) {
    const key = ahead === 0 ? "Next" : ahead === 1 ? "One" : "Many";
    return t(`train.queue${form === "short" ? "Short" : ""}${key}`, { n: ahead });
  }

  /**
   * While the open run waits in the queue, ask the server where it stands every QUEUE_POLL_MS
   * (its event stream sends nothing until a worker starts it). The look stops once the run
   * has left the queue (the stream says what follows) or another run is opened.
   * @param {LiveRun} run
   */
  watchQueue(run) {
    this.stopQueueWatch();
    const watch = this.queueWatch;
    const waiting = () => this.queueWatch === watch && this.current === run && run.status === "queued" && !run.done;
    const look = async () => {
      this.queueTimer = undefined;
      if (!waiting()) return;
      if (document.visibilityState === "visible") {
        let record = null;
        try {
          record = await api.run(run.id);
        } catch {
          // A look that failed is tried again at the next one.
        }
        if (!waiting()) return;
        if (record) {
          const position = record.status === "queued" ? record.queue_position ?? null : null;
          const noWorker = record.status === "queued" && Boolean(record.no_worker);
          if (position !== run.queuePosition || noWorker !== Boolean(run.noWorker)) {
            run.queuePosition = position;
            run.noWorker = noWorker;
            this.renderRun();
            this.loadRuns(); // the other queued runs moved up too
          }
          if (record.status !== "queued") return;
        }
      }
      this.queueTimer = setTimeout(look, QUEUE_POLL_MS);
    };
    this.queueTimer = setTimeout(look, QUEUE_POLL_MS);
  }

  /** Stop looking at a queued run's place (a look under way is dropped when it answers). */
  stopQueueWatch() {
    clearTimeout(this.queueTimer);
    this.queueTimer = undefined;
    this.queueWatch += 1;
  }

  /**
   * Show a run: its history at once, then (if it is still going) its live events.
   * @param {string} id
   * @param {TrainConfig} [config] what was just posted, shown until the run's record arrives
   */
  async open(id, config) {
    this.closeStream();
    const listed = this.runs.find((r) => r.id === id);
    /** @type {LiveRun} */
    const run = {
      id, name: listed && listed.name ? listed.name : "", named: Boolean(listed && listed.named), hasWeights: false,
      status: "queued", config: config || {},
      loss: [], epochs: [], samples: [], done: null, stream: null,
    };
    this.current = run;
    this.layerPanel.reset(run.config);
    this.overlay.delete(id);
    let record = null;
    try {
      record = await api.run(id);
    } catch (err) {
      toast(runErrorText(err), 6000);
    }
    if (this.current !== run) return;
    if (record) {
      run.status = record.status;
      run.config = record.config;
      run.name = record.name || run.name;
      run.named = Boolean(record.named);
      run.hasWeights = Boolean(record.has_weights);
      run.mine = Boolean(record.mine);
      run.queuePosition = record.status === "queued" ? record.queue_position ?? null : null;
      run.noWorker = record.status === "queued" && Boolean(record.no_worker);
      if (!ACTIVE.includes(record.status)) {
        run.loss = record.history.loss;
        run.epochs = record.history.epochs;
        run.done = record;
        this.layerPanel.setHistory(record.history, record.config);
      } else {
        this.layerPanel.reset(record.config);
      }
    }
    if (!run.done) this.listen(run);
    if (run.status === "queued") this.watchQueue(run);
    // The form follows the run that is open: its settings, ready to train again.
    if (run.config.iterations) this.fillForm(run.config);
    this.closeRename();
    this.renderRun();
    this.renderRuns();
    this.loadInsight();
    this.resetPrediction();
  }

  /**
   * Follow a run's event stream while it is the one on show.
   * @param {LiveRun} run
   */
  listen(run) {
    /** @type {<T>(handle: (data: T) => void) => (data: T) => void} */
    const ifShown = (handle) => (data) => {
      if (this.current !== run) return;
      handle(data);
      this.scheduleRender();
    };
    run.stream = new RunStream(api.eventsUrl(run.id), {
      // The log says when a worker starts the run (the status follows from it, not from progress).
      running: ifShown((data) => {
        run.status = "running";
        run.queuePosition = null;
        this.stopQueueWatch();
        // A worker was lost and the run started again from the beginning: so do the charts and
        // the numbers (a replayed log holds every attempt; only the latest one is shown).
        if (data.attempt > 1) {
          Object.assign(run, {
            loss: [], epochs: [], samples: [], iteration: undefined, lastLoss: undefined, download: undefined,
            attempt: data.attempt,
          });
        }
      }),
      progress: ifShown((data) => this.onProgress(run, data)),
      layers: (data) => {
        if (this.current === run) this.layerPanel.add(data);
      },
      // The worker fetches the dataset before the first iteration.
      download: ifShown((data) => {
        run.download = data;
      }),
      epoch: ifShown((data) => {
        if (!run.epochs.some((e) => e.iteration === data.iteration)) run.epochs.push(data);
      }),
      done: ifShown((data) => {
        run.status = data.status;
        run.done = data;
        run.queuePosition = null;
        run.stream = null;
        run.hasWeights = data.status === "completed";
        this.loadRuns();
        this.loadInsight();
        this.resetPrediction();
        // A cancelled run keeps the weights it reached, if it trained: its record says.
        if (data.status !== "completed") {
          api.run(run.id).then((record) => {
            if (this.current !== run) return;
            run.hasWeights = Boolean(record.has_weights);
            if (data.status === "cancelled") {
              run.done = { ...data, has_weights: run.hasWeights }; // the header says which
              this.renderRun();
            }
            if (!run.hasWeights) return;
            this.loadInsight();
            this.resetPrediction();
          }, () => {});
        }
      }),
      connection: (state) => {
        if (this.current !== run || run.done) return;
        run.reconnecting = state === "reconnecting";
        if (state === "closed") this.pollUntilDone(run);
        this.renderStats();
      },
    });
  }

  /**
   * The stream was refused for good: follow the run by its state instead.
   * @param {LiveRun} run
   */
  async pollUntilDone(run) {
    while (this.current === run && !run.done) {
      await new Promise((r) => setTimeout(r, 1500));
      try {
        const record = await api.run(run.id);
        run.loss = record.history.loss;
        run.epochs = record.history.epochs;
        run.status = record.status;
        this.layerPanel.setHistory(record.history, record.config);
        if (!ACTIVE.includes(record.status)) {
          run.done = record;
          run.hasWeights = Boolean(record.has_weights);
          this.loadInsight();
          this.resetPrediction();
        }
        this.renderRun();
      } catch {
        return;
      }
    }
  }

  /**
   * New losses: into the chart's array at their iterations, and a sample for the rate.
   * @param {LiveRun} run
   * @param {ProgressEvent} data
   */
  onProgress(run, data) {
    data.losses.forEach((v, k) => {
      run.loss[data.first_iteration + k - 1] = v;
    });
    for (let i = 0; i < run.loss.length; i++) if (run.loss[i] === undefined) run.loss[i] = null;
    run.iteration = data.iteration;
    run.lastLoss = data.loss;
    const now = performance.now();
    const prev = run.samples[run.samples.length - 1];
    // Events close together (a short epoch flushes often) replace the latest sample, never the
    // first: otherwise a fast run, its events 25 ms apart, would never show a rate.
    if (prev && run.samples.length > 1 && now - prev.t < 60) run.samples.pop();
    run.samples.push({ t: now, it: data.iteration });
    while (run.samples.length > 2 && now - run.samples[0].t > 5000) run.samples.shift();
  }

  scheduleRender() {
    if (this.renderPending) return;
    this.renderPending = true;
    requestAnimationFrame(() => {
      this.renderPending = false;
      this.renderRun();
    });
  }

  /**
   * Iterations per second over the last few seconds, or null.
   * @param {LiveRun} run
   */
  rate(run) {
    const s = run.samples;
    if (s.length < 2 || run.status !== "running") return null;
    const a = s[0];
    const b = s[s.length - 1];
    if (b.t - a.t < 400) return null;
    return ((b.it - a.it) * 1000) / (b.t - a.t);
  }

  renderStats() {
    const run = this.current;
    const total = run ? run.config.iterations : undefined;
    const done = run ? run.loss.filter((v) => v !== null && v !== undefined).length : 0;
    const iteration = run ? run.iteration ?? (done || null) : null;
    const lastLoss = run ? run.lastLoss ?? [...run.loss].reverse().find((v) => v !== null && v !== undefined) : null;
    const lastEpoch = run && run.epochs.length ? run.epochs[run.epochs.length - 1] : null;
    const rate = run ? this.rate(run) : null;
    let status = run ? t(`status.${run.status}`) : "–";
    if (run && run.reconnecting) status = t("train.reconnecting");
    $("s-status").textContent = status;
    $("s-status").className = run ? `status-${run.status}` : "";
    $("s-iter").textContent = iteration ? `${iteration}${total ? ` / ${total}` : ""}` : "–";
    const dl = run && !run.done && !iteration ? run.download : null; // fetching the dataset first
    if (dl) $("s-iter").textContent = t("train.downloading", { dataset: dl.dataset, pct: dl.total ? Math.floor((100 * dl.bytes) / dl.total) : "?" });
    $("s-loss").textContent = lastLoss === null || lastLoss === undefined ? "–" : fmt(lastLoss, 3);
    $("s-rate").textContent = rate ? t("train.rate", { rate: Math.round(rate) }) : "–";
    $("s-eta").textContent = rate && total && iteration ? duration((total - iteration) / rate) : run && run.done && run.status === "completed" ? duration(0) : "–";
    const acc = run && run.done && typeof run.done.test_acc === "number" ? run.done.test_acc : lastEpoch ? lastEpoch.test_acc : null;
    $("s-acc").textContent = pct(acc);
    $("run-progress").style.width = total && iteration ? `${Math.min(100, (100 * iteration) / total)}%` : run && run.done ? "100%" : "0";
  }

  renderRun() {
    const run = this.current;
    if (run) {
      const c = run.config;
      $("run-title").textContent = this.runLabel(run);
      $("run-title").title = t("train.runId", { id: run.id });
      if ($("run-rename-form").hidden) $("run-rename").hidden = !run.mine;
      const dataset = this.datasets.find((d) => d.name === c.dataset);
      const option = [...$("t-optimizer", HTMLSelectElement).options].find((o) => o.value === c.optimizer);
      $("run-config").textContent = t("train.configLine", {
        dataset: (dataset && dataset.title) || c.dataset || "?", hidden: c.hidden_size ?? "?", lr: c.learning_rate ?? "?",
        batch: c.batch_size ?? "?", iterations: c.iterations ?? "?", opt: (option && option.textContent) || c.optimizer || "?",
        seed: c.seed ?? "?",
      }) + this.endedText(run) + this.insteadHint(run.done);
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
    this.updateButtons();
  }

  /**
   * How a run ended, when it did not complete: the page's own words for a cancelled or
   * interrupted run (in its language), else the server's message (a failure's reason).
   * @param {LiveRun} run
   */
  endedText(run) {
    if (!run.done) return "";
    if (run.status === "cancelled") {
      // Its record says whether it kept weights; until it arrives, only that it was cancelled.
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
      const place = this.queueText(run.queuePosition, "long");
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

  closeRename() {
    $("run-rename-form").hidden = true;
    $("run-title").hidden = false;
    $("run-rename-error").textContent = "";
  }

  drawCharts() {
    const weight = Number($("t-smooth", HTMLInputElement).value);
    /** @type {import("./charts.js").LossRun[]} */
    const runs = [];
    if (this.current) {
      runs.push({ id: this.current.id, label: t("chart.thisRun"), loss: this.current.loss, epochs: this.current.epochs, current: true });
    }
    for (const id of this.overlay) {
      const d = this.overlayData.get(id);
      if (d) runs.push({ id, label: this.runLabel(d), loss: d.history.loss, epochs: d.history.epochs, current: false });
    }
    if (!$("view-train").hidden || !this.lossChart.plot) {
      this.lossChart.update(runs, weight, this.labels());
      this.accChart.update(runs, this.labels());
    }
    this.renderAccNote();
  }

  /** Under the accuracy chart: a run shorter than one epoch was measured once, at its end. */
  renderAccNote() {
    const run = this.current;
    const epochs = run ? run.epochs : [];
    const last = epochs[epochs.length - 1];
    const short = Boolean(last && epochs.length === 1 && last.epoch < 1);
    $("acc-note").hidden = !short;
    $("acc-note").textContent = short && last
      ? t("train.shortRun", { epoch: fmt(last.epoch, 2), train: pct(last.train_acc), test: pct(last.test_acc) })
      : "";
  }

  // ------------------------------------------------------------------ what a finished run learned

  bindInsights() {
    const tabs = [...document.querySelectorAll("[data-insight]")].filter((b) => b instanceof HTMLElement);
    bindTabs(tabs, "insight", (name) => {
      this.insight = name;
      selectTab(tabs, "insight", name);
      for (const p of document.querySelectorAll(".insight[data-panel]")) {
        if (p instanceof HTMLElement) p.hidden = p.dataset.panel !== name;
      }
      this.loadInsight();
    });
    $("pad-clear").addEventListener("click", () => {
      this.pad.clear();
      $("pad-small", HTMLCanvasElement).getContext("2d")?.clearRect(0, 0, 28, 28);
      $("prob-bars").replaceChildren();
      $("pad-result").textContent = "";
    });
  }

  /** The open run, if it is finished and has weights to inspect (completed, or cancelled after training). */
  completed() {
    const run = this.current;
    return run && !ACTIVE.includes(run.status) && (run.status === "completed" || run.hasWeights) ? run : null;
  }

  async loadInsight() {
    const run = this.completed();
    $("insight-note").hidden = Boolean(run);
    $("insights").dataset.ready = run ? "true" : "false";
    if (!run) {
      for (const id of ["weights-grid", "confusion", "mistakes-grid"]) $(id).replaceChildren();
      return;
    }
    const key = `${run.id}:${this.insight}`;
    if (this.insight === "draw") return;
    if (this.insightCache.get(key) === "loading") return;
    /** @type {Record<string, string>} */
    const panels = { weights: "weights-grid", confusion: "confusion", mistakes: "mistakes-grid" };
    const target = panels[this.insight];
    if (this.insightCache.has(key) && $(target).dataset.run === run.id) return;
    this.insightCache.set(key, "loading");
    $(target).replaceChildren(h("p", { className: "muted", text: t("train.loading") }));
    try {
      if (this.insight === "weights") this.renderWeights(await api.weights(run.id));
      if (this.insight === "confusion") this.renderConfusion(await api.confusion(run.id));
      if (this.insight === "mistakes") this.renderMistakes(await api.misclassified(run.id, 30));
      $(target).dataset.run = run.id;
      this.insightCache.set(key, "done");
    } catch (err) {
      this.insightCache.delete(key);
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
    const run = this.completed();
    if (!run) {
      $("pad-result").textContent = t("train.needsFinished");
      return;
    }
    try {
      const res = await api.predict(run.id, image);
      if (this.current !== run) return; // another run was opened meanwhile
      this.renderProbs(res);
    } catch (err) {
      if (this.current === run) $("pad-result").textContent = /** @type {Error} */ (err).message;
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

  relabel() {
    this.renderDatasets();
    this.renderLimits();
    this.renderRuns();
    this.lossChart.key = "";
    this.accChart.key = "";
    this.layerPanel.relabel();
    if (this.current) this.renderRun();
    else this.drawCharts();
    if (this.lastPrediction) this.renderProbs(this.lastPrediction);
    for (const [key] of this.insightCache) this.insightCache.delete(key);
    for (const id of ["weights-grid", "confusion", "mistakes-grid"]) delete $(id).dataset.run;
    this.loadInsight();
  }

  onShow() {
    this.drawCharts();
    this.loadRuns();
  }
}


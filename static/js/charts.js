// @ts-check
// Live charts with uPlot: loss per iteration (raw + smoothed, other runs overlaid) and accuracy.

// NOTE: uPlot and its stylesheet load at the first chart drawn (or when a view with charts
// opens): the graph view, the page's first view, never needs them.
/** @type {typeof import("/vendor/uplot/uPlot.esm.js") | null} */
let UPlot = null;
/** @type {Promise<typeof import("/vendor/uplot/uPlot.esm.js")> | null} */
let loading = null;

/** Load uPlot and its stylesheet once; resolves to the uPlot class. */
export function loadUPlot() {
  if (!loading) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = "/vendor/uplot/uPlot.min.css";
    document.head.append(link);
    loading = import("/vendor/uplot/uPlot.esm.js").then((m) => {
      UPlot = m.default;
      for (const chart of waiting) chart.flush();
      waiting.clear();
      return UPlot;
    });
  }
  return loading;
}

/** Charts asked to draw before uPlot loaded: each draws its latest data once it has. */
/** @type {Set<Chart>} */
const waiting = new Set();

/** The uPlot class, for code that runs in a drawn chart (its hooks): loaded by then. */
export function uPlotClass() {
  if (!UPlot) throw new Error("uPlot is not loaded yet");
  return UPlot;
}

/** @typedef {(number | null)[]} Values */
/** @typedef {{iteration: string, loss: string, raw: string, smoothed: string, epoch: string, accuracy: string, train: string, test: string}} Labels */
/**
 * @typedef {{id: string, label: string, loss: (number | null)[], epochs?: import("./api.js").EpochPoint[],
 *   current: boolean}} LossRun a run drawn: the open one (current) or one overlaid
 */

export const COLORS = ["#d6336c", "#1c7ed6", "#2f9e44", "#f08c00", "#7048e8", "#0c8599", "#e8590c", "#5c940d"];
const HEIGHT = 210;
const EPOCH_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/**
 * TensorBoard's smoothing: an exponential moving average, debiased at the start.
 * @param {(number | null | undefined)[]} values
 * @param {number} weight
 * @returns {Values}
 */
export function smooth(values, weight) {
  /** @type {Values} */
  const out = new Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    n += 1;
    last = last * weight + (1 - weight) * v;
    out[i] = weight > 0 ? last / (1 - weight ** n) : v;
  }
  return out;
}

export class Chart {
  /**
   * @param {HTMLElement} el where the chart is drawn
   * @param {number} height its height in px
   * @param {number} minWidth its least width in px
   */
  constructor(el, height = HEIGHT, minWidth = 280) {
    this.el = el;
    this.height = height;
    this.minWidth = minWidth;
    /** @type {uPlot | null} */
    this.plot = null;
    this.key = "";
    /** @type {{key: string, options: Omit<uPlot.Options, "width" | "height">, data: uPlot.AlignedData} | null} */
    this.pending = null;
    new ResizeObserver(() => {
      if (this.plot && this.el.clientWidth) this.plot.setSize(this.size());
    }).observe(el);
  }

  /** The chart's size for its element's width now. */
  size() {
    return { width: Math.max(this.minWidth, this.el.clientWidth - 4), height: this.height };
  }

  /**
   * Draw `data` with `options`; the plot is rebuilt only when the series change (`key`).
   * @param {string} key
   * @param {Omit<uPlot.Options, "width" | "height">} options
   * @param {uPlot.AlignedData} data
   */
  draw(key, options, data) {
    if (!UPlot) {
      // The latest drawing asked for is drawn once uPlot has loaded; a chart on screen loads it
      // now, one in a hidden view waits for its view to open (app.js loads uPlot then).
      this.pending = { key, options, data };
      waiting.add(this);
      if (this.el.getClientRects().length) loadUPlot();
      return;
    }
    if (!this.plot || key !== this.key) {
      if (this.plot) this.plot.destroy();
      this.plot = new UPlot({ ...this.size(), ...options }, data, this.el);
      this.key = key;
    } else {
      this.plot.setData(data);
    }
  }

  /** Draw what was asked for before uPlot loaded. */
  flush() {
    const p = this.pending;
    this.pending = null;
    if (p) this.draw(p.key, p.options, p.data);
  }

  /** How many x values are drawn now (used by tests and the status line). */
  points() {
    return this.plot ? this.plot.data[0].length : 0;
  }
}

export class LossChart extends Chart {
  /**
   * The loss of each run (loss[0] is iteration 1), smoothed; the current run's raw loss too.
   * @param {LossRun[]} runs
   * @param {number} weight the smoothing
   * @param {Labels} labels
   */
  update(runs, weight, labels) {
    const length = Math.max(0, ...runs.map((r) => r.loss.length));
    const xs = Array.from({ length }, (_, i) => i + 1);
    /** @type {uPlot.Series[]} */
    const series = [{ label: labels.iteration }];
    /** @type {Values[]} */
    const data = [xs];
    runs.forEach((run, i) => {
      /** @type {(arr: Values) => Values} */
      const pad = (arr) => (arr.length < length ? arr.concat(new Array(length - arr.length).fill(null)) : arr);
      const raw = pad(run.loss.map((v) => (v === undefined ? null : v)));
      const color = COLORS[i % COLORS.length];
      if (run.current) {
        series.push({ label: `${run.label} ${labels.raw}`, stroke: `${color}40`, width: 1, points: { show: false } });
        data.push(raw);
      }
      series.push({ label: run.current ? `${run.label} ${labels.smoothed}` : run.label, stroke: color, width: 2, points: { show: false } });
      data.push(smooth(raw, weight));
    });
    const key = series.map((s) => s.label).join("|");
    this.draw(key, {
      series,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false } },
      axes: [{ label: labels.iteration }, { label: labels.loss, size: 56 }],
    }, /** @type {uPlot.AlignedData} */ (data));
    this.el.dataset.points = String(runs.find((r) => r.current)?.loss.filter((v) => v !== null && v !== undefined).length ?? 0);
  }
}

export class AccuracyChart extends Chart {
  /**
   * Train and test accuracy per epoch of the open run; the test accuracy of each run overlaid,
   * in its colour of the loss chart. The x axis starts at 0, so a run shorter than one epoch
   * (measured once, at its end, e.g. epoch 0.4) is a point on a sensible axis.
   * @param {LossRun[]} runs
   * @param {Labels} labels
   */
  update(runs, labels) {
    const xs = [...new Set(runs.flatMap((r) => (r.epochs || []).map((e) => e.epoch)))].sort((a, b) => a - b);
    /** @type {uPlot.Series[]} */
    const series = [{ label: labels.epoch }];
    /** @type {Values[]} */
    const data = [xs];
    /**
     * @param {import("./api.js").EpochPoint[]} epochs
     * @param {"train_acc" | "test_acc"} key
     */
    const column = (epochs, key) => {
      const at = new Map(epochs.map((e) => [e.epoch, e[key]]));
      return xs.map((x) => at.get(x) ?? null);
    };
    runs.forEach((run, i) => {
      const epochs = run.epochs || [];
      const color = COLORS[i % COLORS.length];
      // Each run in the colour of its loss curve: test accuracy solid, the open run's train
      // accuracy dashed; overlaid runs show their test accuracy.
      // Alone, the open run keeps two distinct colours for train and test.
      const alone = runs.length === 1;
      if (run.current) {
        series.push({
          label: `${run.label} ${labels.train}`, stroke: alone ? COLORS[1] : `${color}99`, width: 2,
          dash: alone ? undefined : [6, 4], spanGaps: true, points: { show: true, size: 6 },
        });
        data.push(column(epochs, "train_acc"));
      }
      series.push({ label: `${run.label} ${labels.test}`, stroke: alone ? COLORS[2] : color, width: 2, spanGaps: true, points: { show: true, size: 6 } });
      data.push(column(epochs, "test_acc"));
    });
    this.draw(series.map((s) => `${s.label}:${s.stroke}`).join("|"), {
      series,
      scales: {
        x: { time: false, range: (_u, _min, max) => [0, Math.max(1, Math.ceil(Number.isFinite(max) ? max : 1))] },
        y: { range: (_u, min) => [Math.max(0, Math.min(Number.isFinite(min) ? min : 0.8, 0.8) - 0.02), 1] },
      },
      // The epoch ticks drawn, for tests (uPlot draws them on a canvas; _splits is its own field).
      hooks: { draw: [(u) => { this.el.dataset.xTicks = (/** @type {{_splits?: number[]}} */ (u.axes[0])._splits || []).join(" "); }] },
      // Epochs are whole numbers: never a tick at 1.2 or 1.4.
      axes: [{ label: labels.epoch, incrs: EPOCH_STEPS }, { label: labels.accuracy, size: 56 }],
    }, /** @type {uPlot.AlignedData} */ (data));
    const current = runs.find((r) => r.current);
    this.el.dataset.points = String(current && current.epochs ? current.epochs.length : 0);
    this.el.dataset.series = String(series.length - 1);
  }
}

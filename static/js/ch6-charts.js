// @ts-check
// The chapter-6 pages' pictures: the loss curves of a set of runs on one chart (each its own
// dash and marker, as the book's figures mark them, not colour alone), train and test accuracy
// with the gap between them labelled, and each layer's gradient magnitude as bars.

import { Chart, COLORS, smooth, uPlotClass } from "./charts.js";
import { DASHES } from "./ch6-experiments.js";
import { h } from "./ui.js";

/** @typedef {import("./ch6-batch.js").SetRun} SetRun */
/** @typedef {import("./ch6-batch.js").LayerStat} LayerStat */

const HEIGHT = 240;
/** Loss curves are smoothed like the training view's (an exponential moving average). */
const SMOOTHING = 0.9;
/** Markers drawn along each curve, about this many per curve. */
const MARKS = 12;

/**
 * Draw marker `shape` (0 circle, 1 square, 2 triangle, 3 diamond) at x, y on a canvas.
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} shape
 * @param {number} x
 * @param {number} y
 * @param {number} r
 * @param {string} color
 */
export function mark(ctx, shape, x, y, r, color) {
  ctx.beginPath();
  if (shape % 4 === 0) ctx.arc(x, y, r, 0, 2 * Math.PI);
  else if (shape % 4 === 1) ctx.rect(x - r, y - r, 2 * r, 2 * r);
  else if (shape % 4 === 2) { ctx.moveTo(x, y - r * 1.2); ctx.lineTo(x + r * 1.1, y + r * 0.9); ctx.lineTo(x - r * 1.1, y + r * 0.9); ctx.closePath(); }
  else { ctx.moveTo(x, y - r * 1.3); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r * 1.3); ctx.lineTo(x - r, y); ctx.closePath(); }
  ctx.fillStyle = "#fff";
  ctx.fill();
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.stroke();
}

/**
 * A hook that draws each series' marker (its index's shape) on every few of its points.
 * @param {number[]} shapes the shape of series 1, 2, ...
 * @returns {(u: uPlot) => void}
 */
function markers(shapes) {
  return (u) => {
    const ctx = u.ctx;
    const r = 4 * uPlotClass().pxRatio;
    ctx.save();
    u.series.forEach((s, si) => {
      if (si === 0 || s.show === false) return;
      const ys = u.data[si];
      const xs = u.data[0];
      const defined = ys.map((v, i) => (v === null || v === undefined ? -1 : i)).filter((i) => i >= 0);
      const every = Math.max(1, Math.ceil(defined.length / MARKS));
      defined.forEach((i, k) => {
        if (k % every !== 0 && k !== defined.length - 1) return;
        const x = u.valToPos(xs[i], "x", true);
        const y = u.valToPos(/** @type {number} */ (ys[i]), "y", true);
        mark(ctx, shapes[si - 1] ?? 0, x, y, r, String(s.stroke ? (typeof s.stroke === "function" ? s.stroke(u, si) : s.stroke) : "#333"));
      });
    });
    ctx.restore();
  };
}

class Plot extends Chart {
  /** @param {HTMLElement} el */
  constructor(el) {
    super(el, HEIGHT, 260);
  }
}

export class SetLossChart extends Plot {
  /**
   * Every run's loss per iteration, smoothed; the element carries each run's points and last
   * raw loss (data-points, data-last: JSON by run key) for tests and screen readers' summary.
   * @param {SetRun[]} runs
   * @param {{iteration: string, loss: string}} labels
   */
  update(runs, labels) {
    const length = Math.max(0, ...runs.map((r) => r.loss.length));
    /** @type {(number | null)[][]} */
    const data = [Array.from({ length }, (_, i) => i + 1)];
    /** @type {uPlot.Series[]} */
    const series = [{ label: labels.iteration }];
    runs.forEach((run, i) => {
      const raw = Array.from({ length }, (_, k) => run.loss[k] ?? null);
      data.push(smooth(raw, SMOOTHING));
      series.push({ label: run.spec.label, stroke: COLORS[i % COLORS.length], width: 2, dash: DASHES[i % DASHES.length], points: { show: false } });
    });
    this.draw(series.map((s) => s.label).join("|"), {
      series,
      legend: { show: false },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, y: { range: (_u, min, max) => [0, Math.max(0.5, Number.isFinite(max) ? max : 2.5)] } },
      axes: [{ label: labels.iteration }, { label: labels.loss, size: 48 }],
      hooks: { draw: [markers(runs.map((_, i) => i))] },
    }, /** @type {uPlot.AlignedData} */ (/** @type {unknown} */ (data)));
    /** @type {Record<string, number>} */
    const points = {};
    /** @type {Record<string, number | null>} */
    const last = {};
    for (const run of runs) {
      const defined = run.loss.filter((v) => v !== null && v !== undefined);
      points[run.spec.key] = defined.length;
      last[run.spec.key] = defined.length ? /** @type {number} */ (defined[defined.length - 1]) : null;
    }
    this.el.dataset.points = JSON.stringify(points);
    this.el.dataset.last = JSON.stringify(last);
  }
}

export class GapChart extends Plot {
  /** @param {HTMLElement} el */
  constructor(el) {
    super(el);
    this.gapText = "";
  }

  /**
   * Train and test accuracy per epoch of one run, the gap at the last epoch drawn as a bracket
   * with its value written beside it.
   * @param {SetRun} run
   * @param {{epoch: string, accuracy: string, train: string, test: string, gap: string}} labels
   */
  update(run, labels) {
    const xs = run.epochs.map((e) => e.epoch);
    const data = [xs, run.epochs.map((e) => e.train_acc), run.epochs.map((e) => e.test_acc)];
    // read when drawn: the plot (and this hook) outlives the update that made it
    this.gapText = labels.gap;
    /** @param {uPlot} u */
    const bracket = (u) => {
      const n = u.data[0].length;
      if (!n) return;
      const x = u.valToPos(u.data[0][n - 1], "x", true);
      const yTrain = u.valToPos(/** @type {number} */ (u.data[1][n - 1]), "y", true);
      const yTest = u.valToPos(/** @type {number} */ (u.data[2][n - 1]), "y", true);
      const ctx = u.ctx;
      const px = uPlotClass().pxRatio;
      ctx.save();
      ctx.strokeStyle = "#212529";
      ctx.lineWidth = 1.5 * px;
      ctx.beginPath();
      ctx.moveTo(x - 6 * px, yTrain); ctx.lineTo(x - 12 * px, yTrain); ctx.lineTo(x - 12 * px, yTest); ctx.lineTo(x - 6 * px, yTest);
      ctx.stroke();
      ctx.font = `${12 * px}px system-ui, sans-serif`;
      ctx.fillStyle = "#212529";
      ctx.textAlign = "right";
      ctx.fillText(this.gapText, x - 16 * px, (yTrain + yTest) / 2 + 4 * px);
      ctx.restore();
    };
    this.draw("gap", {
      series: [
        { label: labels.epoch },
        { label: labels.train, stroke: COLORS[1], width: 2, points: { show: false } },
        { label: labels.test, stroke: COLORS[0], width: 2, dash: DASHES[1], points: { show: false } },
      ],
      legend: { show: false },
      scales: { x: { time: false }, y: { range: () => [0, 1] } },
      axes: [{ label: labels.epoch }, { label: labels.accuracy, size: 48 }],
      hooks: { draw: [markers([0, 1]), bracket] },
    }, /** @type {uPlot.AlignedData} */ (/** @type {unknown} */ (data)));
    this.el.dataset.points = String(xs.length);
    this.el.dataset.gapLabel = labels.gap; // the words drawn beside the bracket
  }
}

/**
 * Each layer's mean |gradient| of its weights as a bar, input side first, with the number
 * written on it: bars on a linear scale, the run's largest full width, so a gradient that
 * dies toward the input is a bar that shrinks toward the top; and how far the first is below
 * the last.
 * @param {LayerStat[]} layers
 * @param {{input: string, output: string, ratio: (r: string) => string}} labels
 */
export function layerBars(layers, labels) {
  const values = layers.map((l) => l.grad_mean_abs).filter((v) => v > 0 && Number.isFinite(v));
  const top = Math.max(...values, 0);
  const list = h("ol", { className: "ch6-bars" });
  layers.forEach((layer, i) => {
    const v = layer.grad_mean_abs;
    const width = v > 0 && top > 0 ? Math.max(1, (100 * v) / top) : 0;
    const side = i === 0 ? labels.input : i === layers.length - 1 ? labels.output : "";
    list.append(h("li", { "data-layer": layer.name, "data-grad": String(v) },
      h("span", { className: "ch6-bar-name", text: `${layer.param ?? layer.name}${side ? ` (${side})` : ""}` }),
      h("span", { className: "ch6-bar-track" }, h("span", { className: "ch6-bar", style: `width: ${width.toFixed(1)}%` })),
      h("span", { className: "ch6-bar-value", text: v.toExponential(1) })));
  });
  const first = layers[0]?.grad_mean_abs;
  const last = layers[layers.length - 1]?.grad_mean_abs;
  const ratio = first > 0 && last > 0 ? last / first : null;
  return h("div", { className: "ch6-layers" }, list,
    ratio === null ? null : h("p", { className: "small ch6-ratio", "data-ratio": String(ratio), text: labels.ratio(ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)) }));
}

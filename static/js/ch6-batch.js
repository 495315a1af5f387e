// @ts-check
// A set of training runs started with one click: each goes through POST /train (so it is a
// normal run of the run list), at most `cap` at a time (the per-client limit of active runs):
// the others wait on the page and start as earlier ones end; a 429 puts the run back to wait
// and tries again after Retry-After. Each run's events stream in (RunStream) and are kept.

import { api, ApiError } from "./api.js";
import { RunStream } from "./run-stream.js";

/** @typedef {import("./ch6-experiments.js").RunSpec} RunSpec */
/** @typedef {import("./api.js").EpochPoint} EpochPoint */

/**
 * One layer's statistics of a `layers` event (../shared/docs/api.md).
 * @typedef {object} LayerStat
 * @property {string} name
 * @property {string} [param]
 * @property {number} grad_mean_abs
 * @property {number} [grad_max_abs]
 * @property {number} [grad_to_data]
 * @property {number} [update_to_data]
 * @property {number} [saturated]
 */

/** @typedef {{iteration: number, layers: LayerStat[]}} LayersEvent */

/**
 * Where one run of the set stands, and everything it streamed.
 * @typedef {object} SetRun
 * @property {RunSpec} spec
 * @property {"waiting" | import("./api.js").RunStatus} status waiting: not yet sent (its turn comes)
 * @property {string | null} id
 * @property {number} iteration
 * @property {(number | null)[]} loss the loss of iteration i at index i - 1
 * @property {EpochPoint[]} epochs
 * @property {LayersEvent | null} layers the latest per-layer statistics
 * @property {number | null} testAcc
 * @property {number | null} elapsed
 * @property {string} note why it waits (a 429's message), or why it failed
 */

/** Seconds before a run refused with 429 and no Retry-After is sent again. */
const RETRY_S = 5;

export class RunSet {
  /**
   * @param {() => void} onChange called after anything changed (the view redraws)
   */
  constructor(onChange) {
    this.onChange = onChange;
    /** @type {SetRun[]} */
    this.runs = [];
    this.cap = 2;
    /** @type {Map<SetRun, RunStream>} */
    this.streams = new Map();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retry = undefined;
    this.generation = 0; // a set started anew drops what answers for the one before
  }

  /** Runs of this set sent and not ended. */
  active() {
    return this.runs.filter((r) => r.status === "queued" || r.status === "running");
  }

  /** Any run of the set still to end. */
  busy() {
    return this.runs.some((r) => r.status === "waiting" || r.status === "queued" || r.status === "running");
  }

  /**
   * Start these runs (dropping the previous set's streams; its runs go on on the server).
   * @param {RunSpec[]} specs
   * @param {number} cap runs of this client that may be active at once
   */
  start(specs, cap) {
    this.stopStreams();
    this.generation += 1;
    this.cap = Math.max(1, cap);
    this.runs = specs.map((spec) => ({
      spec, status: "waiting", id: null, iteration: 0, loss: [], epochs: [], layers: null,
      testAcc: null, elapsed: null, note: "",
    }));
    this.onChange();
    this.pump();
  }

  /** Send waiting runs while fewer than `cap` are active. */
  async pump() {
    clearTimeout(this.retry);
    this.retry = undefined;
    const generation = this.generation;
    while (this.generation === generation && this.active().length < this.cap) {
      const next = this.runs.find((r) => r.status === "waiting");
      if (!next) return;
      next.status = "queued"; // counted as active while the request is under way
      try {
        const answer = await api.train(next.spec.body);
        if (this.generation !== generation) return;
        next.id = answer.id;
        next.note = "";
        this.listen(next);
      } catch (err) {
        if (this.generation !== generation) return;
        const e = err instanceof ApiError ? err : new ApiError(0, "network", String(err));
        if (e.status === 429) {
          next.status = "waiting";
          next.note = e.message;
          const after = Number(e.details.retry_after ?? e.details.retry_after_s ?? RETRY_S);
          this.retry = setTimeout(() => this.pump(), 1000 * (Number.isFinite(after) && after > 0 ? after : RETRY_S));
          this.onChange();
          return;
        }
        next.status = "failed";
        next.note = e.message;
      }
      this.onChange();
    }
  }

  /**
   * Follow one sent run's events.
   * @param {SetRun} run
   */
  listen(run) {
    if (!run.id) return;
    const stream = new RunStream(api.eventsUrl(run.id), {
      running: () => { run.status = "running"; run.loss = []; run.epochs = []; run.layers = null; this.onChange(); },
      progress: (data) => {
        run.status = "running";
        const first = data.first_iteration ?? data.iteration;
        const losses = data.losses ?? [data.loss];
        losses.forEach((v, k) => { run.loss[first - 1 + k] = v; });
        run.iteration = Math.max(run.iteration, data.iteration);
        this.onChange();
      },
      epoch: (data) => { run.epochs.push(data); this.onChange(); },
      download: () => {},
      done: (data) => {
        this.streams.delete(run);
        run.status = data.status;
        run.testAcc = data.test_acc ?? null;
        run.elapsed = data.elapsed_s ?? null;
        run.note = data.message ?? "";
        this.onChange();
        this.pump();
      },
      connection: (state) => {
        if (state !== "closed" || !this.streams.has(run)) return;
        this.streams.delete(run);
        run.status = "failed";
        run.note = "stream closed";
        this.onChange();
        this.pump();
      },
    });
    stream.on("layers", (/** @type {LayersEvent} */ data) => { run.layers = data; this.onChange(); });
    this.streams.set(run, stream);
  }

  /** Cancel the set: its active runs on the server, its waiting ones here. */
  async cancel() {
    clearTimeout(this.retry);
    for (const run of this.runs) if (run.status === "waiting") run.status = "cancelled";
    await Promise.all(this.active().filter((r) => r.id).map((r) => api.cancel(/** @type {string} */ (r.id)).catch(() => null)));
    this.onChange();
  }

  /** Close every stream (the runs go on on the server). */
  stopStreams() {
    clearTimeout(this.retry);
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
  }
}

// @ts-check
// Following one run: its state as the page keeps it (`LiveRun`), filled from its record
// (GET /train/{id}) and then from its event stream (GET /train/{id}/events) while it is
// queued or running. No drawing here: train-live.js draws what this keeps.
//
// What a `RunFollower` is given (`FollowHandlers`): whom to tell that the run changed (draw it
// soon), that the runs ahead of it in the queue changed, that it ended (or turned out to have
// weights after it ended), a `layers` event, or the whole history read again. Nothing is told
// once the follower is closed (another run was opened).

import { api } from "./api.js";
import { RunStream } from "./run-stream.js";

/** @typedef {import("./api.js").Run} Run */
/** @typedef {import("./api.js").RunSummary} RunSummary */
/** @typedef {import("./api.js").RunStatus} RunStatus */
/** @typedef {import("./api.js").TrainConfig} TrainConfig */
/** @typedef {import("./api.js").EpochPoint} EpochPoint */
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
 * @property {boolean} [reconnecting]
 * @property {number} [iteration]
 * @property {number} [lastLoss]
 * @property {import("./run-stream.js").DownloadEvent} [download] the dataset being fetched
 * @property {number | null} [queuePosition] while queued: the queued runs ahead of it (GET
 *   /train/{id} when opened, then the stream's `queued` events)
 * @property {boolean} [noWorker] while queued: the lab has no live worker to take it (GET
 *   /train/{id} when opened, then the stream's `no_worker` events)
 * @property {number} [attempt] the worker's attempt at it (2+: a worker was lost, it started again)
 * @property {boolean} [mine] the reader started it: only then may the page rename, stop or delete it
 */

/**
 * @typedef {object} FollowHandlers
 * @property {() => void} changed its state changed: draw it (soon)
 * @property {() => void} queueMoved the runs ahead of it in the queue changed
 * @property {() => void} ended it ended, or it turned out to have weights after it ended
 * @property {(data: import("./train-layers.js").LayersEvent) => void} layers
 * @property {(record: Run) => void} history its record was read again (the stream was refused)
 */

/** @type {RunStatus[]} */
export const ACTIVE = ["queued", "running"];
/**
 * Milliseconds between two looks at a queued run's place, for a server whose stream does not
 * say it (one that predates the `queued` event: several servers may share one database, and
 * not all be upgraded at once). The first look comes this long after the stream opened (a
 * stream that says it sends `queued` as it opens); once any stream has sent `queued`, nothing
 * is looked at.
 */
const QUEUE_POLL_MS = 1500;
/** Whether this server's streams send `queued` (learned from the first one that does). */
let streamSaysQueue = false;

/**
 * A run about to be opened: what the page knows before its record arrives.
 * @param {string} id
 * @param {TrainConfig} [config] what was just posted
 * @param {RunSummary} [listed] its row of the runs list
 * @returns {LiveRun}
 */
export function newRun(id, config, listed) {
  return {
    id, name: listed && listed.name ? listed.name : "", named: Boolean(listed && listed.named), hasWeights: false,
    status: "queued", config: config || {}, loss: [], epochs: [], samples: [], done: null,
  };
}

/**
 * Take a run's record (GET /train/{id}) into the page's state; an ended run's history with it.
 * @param {LiveRun} run
 * @param {Run} record
 */
export function takeRecord(run, record) {
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
  }
}

export class RunFollower {
  /**
   * Follow a run that has not ended: its stream, and (from a server that does not say it
   * there) its place in the queue.
   * @param {LiveRun} run
   * @param {FollowHandlers} on
   */
  constructor(run, on) {
    this.run = run;
    this.on = on;
    this.closed = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} the next look at its place in the queue */
    this.queueTimer = undefined;
    this.watching = false; // looks at its place are under way (one chain of them at most)
    this.stream = this.listen();
  }

  /** Stop following: no more events, looks or calls. */
  close() {
    this.closed = true;
    this.stopQueueWatch();
    this.stream.close();
  }

  /** Its stream opened: if it says nothing of the queue by the first look, look at the record. */
  watchQueue() {
    if (this.watching || !this.waiting()) return;
    this.watching = true;
    this.queueTimer = setTimeout(() => this.lookAtQueue(), QUEUE_POLL_MS);
  }

  /** No more looks (one under way drops its answer: `waiting()` no longer holds). */
  stopQueueWatch() {
    clearTimeout(this.queueTimer);
    this.queueTimer = undefined;
  }

  /** Whether the run still waits and only a look at its record can say where. */
  waiting() {
    return !streamSaysQueue && !this.closed && this.run.status === "queued" && !this.run.done;
  }

  /** One look at the queued run's record (GET /train/{id}), then the next one is planned. */
  async lookAtQueue() {
    const run = this.run;
    this.queueTimer = undefined;
    if (!this.waiting()) {
      this.watching = false;
      return;
    }
    if (document.visibilityState === "visible") {
      let record = null;
      try {
        record = await api.run(run.id);
      } catch {
        // A look that failed is tried again at the next one.
      }
      if (!this.waiting()) {
        this.watching = false;
        return;
      }
      if (record) {
        const position = record.status === "queued" ? record.queue_position ?? null : null;
        const noWorker = record.status === "queued" && Boolean(record.no_worker);
        if (position !== run.queuePosition || noWorker !== Boolean(run.noWorker)) {
          run.queuePosition = position;
          run.noWorker = noWorker;
          this.on.changed();
          this.on.queueMoved();
        }
        if (record.status !== "queued") {
          this.watching = false;
          return;
        }
      }
    }
    this.queueTimer = setTimeout(() => this.lookAtQueue(), QUEUE_POLL_MS);
  }

  listen() {
    const run = this.run;
    /** @type {<T>(handle: (data: T) => void) => (data: T) => void} */
    const live = (handle) => (data) => {
      if (this.closed) return;
      handle(data);
      this.on.changed();
    };
    return new RunStream(api.eventsUrl(run.id), {
      // While it waits: how many queued runs are ahead of it, at once and whenever that changes.
      queued: (data) => {
        streamSaysQueue = true;
        this.stopQueueWatch();
        if (this.closed || run.status !== "queued" || run.done || data.queue_position === run.queuePosition) return;
        run.queuePosition = data.queue_position;
        this.on.changed();
        this.on.queueMoved(); // the other queued runs moved up too
      },
      // While it waits in a lab whose workers are all gone (said at each of the stream's pings).
      no_worker: (data) => {
        if (this.closed || run.status !== "queued" || run.done || run.noWorker) return;
        run.noWorker = true;
        if (typeof data.queue_position === "number") run.queuePosition = data.queue_position;
        this.on.changed();
      },
      // The log says when a worker starts the run (the status follows from it, not from progress).
      running: live((data) => {
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
      progress: live((data) => progress(run, data)),
      layers: (data) => {
        if (!this.closed) this.on.layers(data);
      },
      // The worker fetches the dataset before the first iteration.
      download: live((data) => {
        run.download = data;
      }),
      epoch: live((data) => {
        if (!run.epochs.some((e) => e.iteration === data.iteration)) run.epochs.push(data);
      }),
      done: live((data) => this.ended(data)),
      connection: (state) => {
        if (this.closed || run.done) return;
        run.reconnecting = state === "reconnecting";
        if (state === "open") this.watchQueue();
        if (state === "closed") this.pollUntilDone();
        this.on.changed();
      },
    });
  }

  /**
   * The run ended. A cancelled run keeps the weights it reached, if it trained: `done` says
   * whether it has them; from a server whose `done` does not, the run's record says.
   * @param {DoneEvent} data
   */
  ended(data) {
    const run = this.run;
    run.status = data.status;
    run.done = data;
    run.queuePosition = null;
    this.stopQueueWatch();
    const told = typeof data.has_weights === "boolean";
    run.hasWeights = told ? Boolean(data.has_weights) : data.status === "completed";
    this.on.ended();
    if (told || data.status === "completed") return;
    api.run(run.id).then((record) => {
      if (this.closed || !record.has_weights) return;
      run.hasWeights = true;
      this.on.changed();
      this.on.ended();
    }, () => {});
  }

  /** The stream was refused for good: follow the run by its record instead. */
  async pollUntilDone() {
    const run = this.run;
    while (!this.closed && !run.done) {
      await new Promise((r) => setTimeout(r, 1500));
      if (this.closed) return;
      try {
        const record = await api.run(run.id);
        if (this.closed) return;
        run.loss = record.history.loss;
        run.epochs = record.history.epochs;
        run.status = record.status;
        this.on.history(record);
        if (!ACTIVE.includes(record.status)) {
          run.done = record;
          run.hasWeights = Boolean(record.has_weights);
          this.on.ended();
        }
        this.on.changed();
      } catch {
        return;
      }
    }
  }
}

/**
 * New losses: into the chart's array at their iterations, and a sample for the rate.
 * @param {LiveRun} run
 * @param {ProgressEvent} data
 */
function progress(run, data) {
  data.losses.forEach((v, k) => {
    run.loss[data.first_iteration + k - 1] = v;
  });
  for (let i = 0; i < run.loss.length; i++) if (run.loss[i] === undefined) run.loss[i] = null;
  run.iteration = data.iteration;
  run.lastLoss = data.loss ?? undefined; // null: the loss was not finite
  const now = performance.now();
  const prev = run.samples[run.samples.length - 1];
  // Events close together (a short epoch flushes often) replace the latest sample, never the
  // first: otherwise a fast run, its events 25 ms apart, would never show a rate.
  if (prev && run.samples.length > 1 && now - prev.t < 60) run.samples.pop();
  run.samples.push({ t: now, it: data.iteration });
  while (run.samples.length > 2 && now - run.samples[0].t > 5000) run.samples.shift();
}

/**
 * Iterations per second over the last few seconds, or null.
 * @param {LiveRun} run
 */
export function rate(run) {
  const s = run.samples;
  if (s.length < 2 || run.status !== "running") return null;
  const a = s[0];
  const b = s[s.length - 1];
  if (b.t - a.t < 400) return null;
  return ((b.it - a.it) * 1000) / (b.t - a.t);
}

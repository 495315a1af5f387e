// @ts-check
// The event stream of one training run (GET /train/{id}/events, ../shared/docs/api.md):
// EventSource reconnects by itself and sends Last-Event-ID, so the server resumes after the
// last event seen; an event seen twice (same id) is dropped here. `queued` and `no_worker`
// carry no id (they are not in the run's log: the server says where a waiting run stands when
// the stream opens and whenever that changes), so they are never dropped as seen.

/** @typedef {import("./api.js").RunStatus} RunStatus */
/** @typedef {import("./types").RunEventData} RunEventData each kind's data: types.d.ts */
/** @typedef {RunEventData["running"]} RunningEvent a worker started the run (attempt 2+: retried from the start) */
/** @typedef {RunEventData["progress"]} ProgressEvent */
/** @typedef {RunEventData["epoch"]} EpochEvent */
/** @typedef {RunEventData["download"]} DownloadEvent the worker fetches the dataset first */
/** @typedef {RunEventData["done"]} DoneEvent */
/** @typedef {RunEventData["queued"]} QueuedEvent while the run waits: how many queued runs are ahead of it */
/** @typedef {RunEventData["no_worker"]} NoWorkerEvent it waits, and no worker is taking runs */

/**
 * @typedef {object} StreamHandlers
 * @property {(data: QueuedEvent) => void} [queued] where the waiting run stands (no id: never dropped)
 * @property {(data: NoWorkerEvent) => void} [no_worker] the lab has no live worker (no id: never dropped)
 * @property {(data: RunningEvent) => void} running
 * @property {(data: ProgressEvent) => void} progress
 * @property {(data: EpochEvent) => void} epoch
 * @property {(data: DownloadEvent) => void} download
 * @property {(data: import("./train-layers.js").LayersEvent) => void} [layers] per-layer statistics
 * @property {(data: DoneEvent) => void} done the stream is closed before this is called
 * @property {(state: "open" | "reconnecting" | "closed") => void} connection
 *   "closed": the server refused the stream for good (the browser will not retry)
 */

export class RunStream {
  /**
   * Start listening at `url`.
   * @param {string} url
   * @param {StreamHandlers} handlers
   */
  constructor(url, handlers) {
    this.handlers = handlers;
    this.lastEventId = 0;
    /** @type {EventSource | null} */
    this.source = new EventSource(url);
    for (const name of /** @type {const} */ (["queued", "no_worker"])) {
      const handle = handlers[name];
      if (!handle) continue;
      this.source.addEventListener(name, (e) => handle(JSON.parse(/** @type {MessageEvent<string>} */ (e).data)));
    }
    this.on("running", handlers.running);
    this.on("progress", handlers.progress);
    this.on("epoch", handlers.epoch);
    this.on("download", handlers.download);
    if (handlers.layers) this.on("layers", handlers.layers);
    this.on("done", (/** @type {DoneEvent} */ data) => {
      this.close();
      handlers.done(data);
    });
    this.source.addEventListener("open", () => handlers.connection("open"));
    this.source.addEventListener("error", () => {
      if (!this.source) return;
      handlers.connection(this.source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    });
  }

  /**
   * Call `handle` with the JSON of each new event named `name`.
   * @template T
   * @param {string} name
   * @param {(data: T) => void} handle
   */
  on(name, handle) {
    this.source?.addEventListener(name, (e) => {
      const message = /** @type {MessageEvent<string>} */ (e);
      const id = Number(message.lastEventId);
      if (id <= this.lastEventId) return;
      this.lastEventId = id;
      handle(JSON.parse(message.data));
    });
  }

  /** Stop listening (no reconnection). */
  close() {
    this.source?.close();
    this.source = null;
  }
}

// Types the JSDoc in static/js cannot spell, for `tsc --noEmit` only (the page never loads this).
import type * as dagre from "@dagrejs/dagre";

/** A number or a rectangular nested list of numbers (JSDoc cannot write a recursive type). */
export type Tensor = number | Tensor[];

declare global {
  interface Window {
    /** dagre, loaded by templates/index.html as a classic script, for "Tidy layout". */
    dagre?: typeof dagre;
  }
}

/** A run's status (app/training/events.py: Status). */
export type RunStatus = "queued" | "running" | "completed" | "cancelled" | "failed" | "interrupted";

/**
 * The data of every kind of event a run's stream sends (GET /train/{id}/events), by kind:
 * the log's kinds, then `queued` and `no_worker` (sent without an id, never stored).
 * The same kinds and fields as app/training/events.py's `DATA` (tests/app/test_event_kinds.py
 * compares them: a field marked `?` is a `NotRequired` one there).
 */
export interface RunEventData {
  /** A worker started an attempt (2+: again from the beginning; `message` says why). */
  running: { attempt: number; message?: string };
  /** The worker fetches the run's dataset first. */
  download: { dataset: string; file: string; bytes: number; total: number | null };
  /** The losses since the last one: `losses[0]` is iteration `first_iteration`'s. */
  progress: {
    iteration: number;
    loss: number | null;
    first_iteration: number;
    losses: (number | null)[];
  };
  /** Per-layer statistics of one step (engine/layer_stats.py). */
  layers: { iteration: number; layers: import("./train-layers.js").LayerStats[] };
  /** Accuracies at an epoch's end (or the last iteration). */
  epoch: { epoch: number; iteration: number; train_acc: number; test_acc: number };
  /** How the run ended; `has_weights`: predictions and insights are available. */
  done: {
    status: RunStatus;
    has_weights?: boolean;
    iterations?: number | null;
    train_acc?: number | null;
    test_acc?: number | null;
    elapsed_s?: number | null;
    message?: string;
    warning?: string;
    dataset?: string;
    alternative?: string | null;
  };
  /** The run is queued with `queue_position` runs ahead of it (on opening, then on change). */
  queued: { queue_position: number };
  /** Runs wait and no worker lives: `message` says what to do. */
  no_worker: { message: string; queue_position: number | null };
}

/** Every kind of event a run's stream sends. */
export type RunEventKind = keyof RunEventData;

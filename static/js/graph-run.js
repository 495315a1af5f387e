// @ts-check
// Run: check the graph in the page (unconnected ports, dout), POST it to /graphs/evaluate,
// and put the answer, or the API's error on the node it names, on the canvas.

import { api, ApiError } from "./api.js";
import { t } from "./i18n.js";
import { toApi } from "./graph-model.js";
import { byId } from "./ui.js";
import { fmt, parseValue, short } from "./tensor.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */
/** @typedef {import("./api.js").Evaluation} Evaluation */
/** @typedef {import("./api.js").Tensor} Tensor */

/**
 * The dout field's text: a number as-is, a tensor as JSON (never "1,2,3,4").
 * @param {Tensor} dout
 */
export function doutText(dout) {
  return Array.isArray(dout) ? JSON.stringify(dout) : String(dout);
}

/**
 * Evaluate the graph; the answer (also kept in `view.result`), or null when it could not run.
 * @param {GraphView} view
 * @returns {Promise<Evaluation | null>}
 */
export function run(view) {
  // One evaluation at a time per graph: a Step pressed while the graph is being evaluated
  // after an edit waits for that answer instead of asking again (and being reset by it).
  const key = JSON.stringify(toApi(view.graph));
  if (inFlight && inFlight.key === key) return inFlight.promise;
  const promise = evaluateNow(view).finally(() => {
    if (inFlight && inFlight.promise === promise) inFlight = null;
  });
  inFlight = { key, promise };
  return promise;
}

/** @type {{key: string, promise: Promise<Evaluation | null>} | null} */
let inFlight = null;

/**
 * @param {GraphView} view
 * @returns {Promise<Evaluation | null>}
 */
async function evaluateNow(view) {
  if (view.playing) view.stopPlay();
  view.errors = {};
  if (!view.graph.nodes.length) {
    view.setStatus("error", () => t("graph.nothingToRun"));
    view.refresh();
    return null;
  }
  for (const n of view.graph.nodes) {
    const missing = n.inputs.findIndex((i) => !i);
    if (n.op !== "input" && missing !== -1) {
      const names = view.ops.get(n.op)?.inputs ?? [];
      view.errors[n.id] = () => t("graph.unconnected", { port: missing, name: names[missing] ?? "" });
    }
  }
  if (Object.keys(view.errors).length) {
    view.result = null;
    view.setStatus("error", () => t("graph.fixUnconnected"));
    view.refresh();
    return null;
  }
  const typed = byId("g-dout", HTMLInputElement).value;
  const dout = parseValue(typed);
  if (dout === undefined && typed.trim() !== "" && typed !== doutText(view.graph.dout)) {
    view.setStatus("error", () => t("graph.badDout"));
    view.refresh();
    return null;
  }
  if (dout !== undefined) view.graph.dout = dout;
  view.setStatus("busy", () => t("graph.running"));
  view.refreshStatus();
  const asked = JSON.stringify(toApi(view.graph));
  try {
    const result = await api.evaluate(JSON.parse(asked));
    // The graph changed while this answer was on its way: it describes an older graph.
    if (JSON.stringify(toApi(view.graph)) !== asked) return view.result;
    view.result = result;
    view.check = null;
    const out = result.output;
    view.setStatus("ok", () => t("graph.ran", { id: out.id, value: formatOut(out.value) }));
  } catch (err) {
    if (JSON.stringify(toApi(view.graph)) !== asked) return view.result;
    view.result = null;
    showError(view, /** @type {Error} */ (err));
  }
  view.step = null;
  view.refresh();
  return view.result;
}

/**
 * The output's value for the status line.
 * @param {Tensor} value
 */
function formatOut(value) {
  return Array.isArray(value) ? short(value) : fmt(value, 6);
}

/**
 * Put an API error on the node it names, or in the status line.
 * @param {GraphView} view
 * @param {Error} err
 */
function showError(view, err) {
  const details = err instanceof ApiError ? err.details : {};
  let id = typeof details.node === "string" ? details.node : undefined;
  if (!id && typeof details.field === "string") {
    const m = details.field.match(/^nodes\.(\d+)/);
    if (m && view.graph.nodes[Number(m[1])]) id = view.graph.nodes[Number(m[1])].id;
  }
  if (id && view.node(id)) {
    const named = err.message.includes(`'${id}'`);
    const node = id;
    view.errors[node] = () => err.message; // said again in the language of the moment
    view.selected = node;
    // The API's message usually names the node already ("Node 'x' (mul) …"): don't say it twice.
    view.setStatus("error", () => (named ? err.message : t("graph.errorOnNode", { id: node, message: err.message })));
  } else {
    view.setStatus("error", err.message);
  }
}

// @ts-check
// The HTTP API as the server documents it (its OpenAPI schema at /openapi.json, README.md's
// "The API"): its answers' shapes, and the one error shape.

import { language, t } from "./i18n.js";

/** @typedef {import("./types").Tensor} Tensor */

/**
 * @typedef {object} Op One node type of the palette (GET /graphs/ops).
 * @property {string} name
 * @property {string[]} inputs port names, in order
 * @property {number} arity
 * @property {{name: string, type: string, default: unknown, required: boolean, where: string, doc: string}[]} params
 * @property {string} doc
 * @property {string} formula
 * @property {Record<string, string>} backward each input's gradient rule, e.g. dx: "dout · y"
 * @property {string[]} label_inputs
 * @property {{name: string, doc: string, backward: Record<string, string>}[]} [variants]
 *   broken layers a node of this op may use, each with the bug it plants
 */

/** @typedef {{ops: Op[], limits: Record<string, number>}} OpsAnswer */

/**
 * @typedef {object} OpCode GET /graphs/ops/{op}/code: the Python a node runs.
 * @property {string} op
 * @property {string | null} variant
 * @property {string} class the class whose forward and backward run
 * @property {string} code its source (after its base class's, for a broken layer)
 * @property {number[] | null} forward first and last line of forward, 1-based
 * @property {number[] | null} backward first and last line of backward
 * @property {BookCode | null} [book] the book's class, when the engine's does more
 */

/**
 * @typedef {object} BookCode The book's own class for a chapter-5 layer (GET /graphs/ops/{op}/code).
 * @property {string} class
 * @property {string} code the class as chapter 5 prints it
 * @property {number[] | null} forward first and last line of forward, 1-based
 * @property {number[] | null} backward first and last line of backward
 */

/**
 * @typedef {object} GraphNodeBody A node of a posted graph.
 * @property {string} id
 * @property {string} op
 * @property {string[]} [inputs]
 * @property {Tensor} [value]
 * @property {Record<string, unknown>} [params]
 * @property {string} [variant] a broken layer (one of the op's variants)
 * @property {boolean} [label] an input node holding class labels: data, no gradient
 */

/**
 * @typedef {{nodes: GraphNodeBody[], output: string | null, dout?: Tensor,
 *   accumulate?: "sum" | "overwrite"}} GraphBody
 */

/** @typedef {{id: string, title: string, description: string, graph: GraphBody}} Preset */

/**
 * @typedef {object} LocalPort The backward rule of one input of a node.
 * @property {number} port
 * @property {string} input the op's port name
 * @property {string} from the node feeding that port
 * @property {string} rule
 * @property {string | null} numbers the rule with the numbers written in (scalars only)
 * @property {string} text e.g. "dx = dout · y = 1.1 · 2 = 2.2"
 * @property {boolean} [label] the input is class labels: data, no gradient to show
 */

/**
 * @typedef {object} EvaluatedNode
 * @property {string} op
 * @property {string[]} inputs
 * @property {number[]} shape
 * @property {Tensor} value
 * @property {Tensor | null} grad dL/d(node), summed over every use; null for class labels (no gradient)
 * @property {boolean} [differentiable] false for a node used only as class labels
 * @property {{rule: string, scalar: boolean, ports: LocalPort[], text: string,
 *   terms?: {name: string, value: Tensor}[]} | null} local
 */

/** @typedef {{from: string, to: string, port: number, input: string, value: Tensor, grad: Tensor | null}} EvaluatedEdge */

/**
 * @typedef {object} Evaluation The answer of POST /graphs/evaluate.
 * @property {{id: string, value: Tensor, shape: number[]}} output
 * @property {Record<string, EvaluatedNode>} nodes
 * @property {EvaluatedEdge[]} edges
 * @property {string[]} forward_order
 * @property {string[]} backward_order
 * @property {"sum" | "overwrite"} [accumulate] how a reused value got its gradient
 */

/** @typedef {"queued" | "running" | "completed" | "cancelled" | "failed" | "interrupted"} RunStatus */

/**
 * @typedef {object} TrainConfig The body of POST /train.
 * @property {string} [dataset]
 * @property {number} [hidden_size]
 * @property {number} [learning_rate]
 * @property {number} [batch_size]
 * @property {number} [iterations]
 * @property {number} [seed]
 * @property {string} [optimizer]
 * @property {number[]} [layers] hidden sizes (none: [hidden_size])
 * @property {string} [activation]
 * @property {string} [init]
 * @property {number} [weight_init_std]
 * @property {boolean} [batch_norm]
 * @property {number} [dropout]
 * @property {number} [weight_decay]
 */

/** @typedef {{epoch: number, iteration: number, train_acc: number, test_acc: number}} EpochPoint */

/**
 * @typedef {object} RunSummary One run of GET /runs.
 * @property {string} id
 * @property {RunStatus} status
 * @property {TrainConfig} config
 * @property {number | null} [test_acc]
 * @property {number | null} [train_acc]
 * @property {string | null} [message]
 * @property {string | null} [warning] set when the run completed but its loss diverged
 * @property {string} [name] readable, from its settings at first; PATCH /train/{id} renames it
 * @property {boolean} [named] a person named it (else the page names it by its settings, in its language)
 * @property {boolean} [has_weights] it saved weights (completed, or cancelled after training)
 * @property {number | null} [queue_position] a queued run: how many queued runs are ahead of it
 *   (0: it starts as soon as a worker is free); null otherwise
 * @property {boolean} [mine] the asking browser started it (its owner cookie)
 * @property {string | null} [removed] why its log and weights were removed (to free space)
 * @property {boolean} [no_worker] a queued run: no worker has taken or beaten for a run lately
 */

/**
 * @typedef {RunSummary & {history: {loss: (number | null)[], epochs: EpochPoint[]}
 *   & import("./train-layers.js").LayersHistory}} Run GET /train/{id}
 */

/**
 * @typedef {object} Dataset One dataset of GET /datasets.
 * @property {string} name
 * @property {string} title
 * @property {string} [description]
 * @property {"available" | "download" | "missing" | "broken"} state
 * @property {boolean} available
 * @property {boolean} downloadable
 * @property {boolean} usable the server accepts it: here, or downloaded on first use
 * @property {string | null} source where the files are (never a server path)
 * @property {{train: number, test: number} | null} sizes
 * @property {boolean} subset
 * @property {string | null} message
 */

/**
 * @typedef {object} ParamCheck One parameter's row of a gradient check.
 * @property {number | null} mean_abs_diff
 * @property {number | null} max_abs_diff
 * @property {number | null} max_rel_error
 * @property {boolean} passed
 * @property {number} size
 * @property {number} checked
 * @property {number} [kinks]
 * @property {{index: number[], backprop: number, numerical: number, abs_diff: number,
 *   formula?: Formula, central?: number | null}[]} [worst]
 *   the elements (fast mode: directions) that differ most
 * @property {number} [undefined] elements (directions) not checked: no finite value within eps
 * @property {{index: number[], reason: string}[]} [unchecked] the first of them, and why
 * @property {Tensor | null} [numerical] a graph's full check: the whole numerical gradient
 * @property {unknown} [central] a graph's full check: the plain central difference of each element
 * @property {unknown} [formula] a graph's full check: which formula gave each element's estimate
 * @property {Record<Formula, number>} [formulas] how many estimates each formula gave
 */

/** @typedef {"central" | "central_half" | "richardson"} Formula which formula gave an estimate */
/**
 * @typedef {{node: string | null, variant: string, why: "one_row" | null, reason: string}} UnseenBug
 *   a planted bug that changes no gradient on the checked graph (node null: overwrite)
 */

/**
 * @typedef {object} GradcheckReport The answer of POST /gradcheck.
 * @property {boolean} passed
 * @property {"full" | "fast"} mode
 * @property {number} eps
 * @property {number} atol
 * @property {number} rtol
 * @property {number} elapsed_ms
 * @property {Record<string, ParamCheck>} params
 * @property {number} [kinks]
 * @property {number} [undefined]
 * @property {string[]} [notes]
 * @property {Record<Formula, number>} [formulas] a graph's check: how many estimates each formula gave
 * @property {UnseenBug[]} [unseen_bugs] a graph's check: planted bugs this graph cannot show
 */

/** @typedef {{label: number, probabilities: number[]}} Prediction */
/** @typedef {{images: number[][], units: number[]}} Weights GET /runs/{id}/weights */
/** @typedef {{classes: string[], matrix: number[][], accuracy: number, test_size: number}} Confusion */
/**
 * @typedef {{total: number, items: {index: number, image: number[], label: number, predicted: number, confidence: number}[]}} Mistakes
 */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown>} [details]
   */
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
    /** the server's own sentence (English) */
    this.serverMessage = message;
    // The message is said in the page's language when read (after a switch too): from the
    // code and details for a known code, else a sentence with the HTTP status.
    Object.defineProperty(this, "message", { get: () => errorText(this), configurable: true });
  }
}

/**
 * A detail of an error as a person reads it: shapes as (2, 3), lists joined, a cycle with arrows.
 * @param {string} key
 * @param {unknown} value
 * @returns {string}
 */
function detailText(key, value) {
  /** @param {unknown} v */
  const shape = (v) => (Array.isArray(v) ? `(${v.join(", ")}${v.length === 1 ? "," : ""})` : String(v));
  if (key === "shapes" && Array.isArray(value)) return value.map(shape).join("、");
  if (key === "shapes" && value && typeof value === "object") {
    return Object.entries(value).map(([port, s]) => `${port} ${shape(s)}`).join("、");
  }
  if (key === "cycle" && Array.isArray(value)) return value.join(" → ");
  if (key === "op" && typeof value === "string") return opName(value);
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

/**
 * An error's message in the page's language: English is the server's own sentence; another
 * language says the code's sentence with the details filled in (`error.<code>`), or, for a
 * code it does not know or details it lacks, that the server refused (with the HTTP status).
 * @param {ApiError} err
 * @returns {string}
 */
export function errorText(err) {
  if (language() === "en") return err.serverMessage;
  /** @type {Record<string, string>} */
  const params = { status: String(err.status) };
  for (const [key, value] of Object.entries(err.details)) {
    if (value !== null && value !== undefined) params[key] = detailText(key, value);
  }
  const keys = [`error.${err.code}.${err.details.node !== undefined ? "node" : "plain"}`, `error.${err.code}`];
  for (const key of keys) {
    const text = t(key, params);
    if (text !== key && !/\{\w+\}/.test(text)) return text;
  }
  return err.status === 0 ? t("error.network") : t("error.generic", params);
}

/**
 * An op's name in the page's language (op.<name>.name), else its own.
 * @param {string} op
 */
function opName(op) {
  const text = t(`op.${op}.name`);
  return text === `op.${op}.name` ? op : text;
}

/**
 * One request; the answer's JSON, or an ApiError carrying the one error shape.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>} the JSON of the answer; each `api` entry below names its shape
 */
async function request(method, path, body) {
  /** @type {RequestInit & {headers: Record<string, string>}} */
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "network", `The server could not be reached (${/** @type {Error} */ (err).message}).`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = data && data.error ? data.error : {};
    throw new ApiError(
      response.status,
      e.code || "http_error",
      e.message || `${method} ${path} answered ${response.status}.`,
      e.details,
    );
  }
  return data;
}

const enc = encodeURIComponent;

/** @type {Map<string, Promise<any>>} */
const pending = new Map();

/**
 * GET `path`, one request for the views that ask at once (they all start on load); a later
 * call asks again, so a dataset's state is never stale.
 * @param {string} path
 */
function inFlight(path) {
  let answer = pending.get(path);
  if (!answer) {
    answer = request("GET", path).finally(() => pending.delete(path));
    pending.set(path, answer);
  }
  return answer;
}

export const api = {
  /** @returns {Promise<OpsAnswer>} */
  ops: () => request("GET", "/graphs/ops"),
  /** @returns {Promise<{presets: Preset[]}>} */
  presets: () => request("GET", "/graphs/presets"),
  /** @param {GraphBody} graph @returns {Promise<Evaluation>} */
  evaluate: (graph) => request("POST", "/graphs/evaluate", graph),
  /**
   * The graph as a Python script (text), or an ApiError as for evaluate.
   * @param {GraphBody} graph
   * @returns {Promise<string>}
   */
  exportPython: async (graph) => {
    const response = await fetch("/graphs/export/python", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(graph),
    });
    if (response.ok) return response.text();
    const e = (await response.json().catch(() => null))?.error || {};
    throw new ApiError(response.status, e.code || "http_error", e.message || `export answered ${response.status}.`, e.details);
  },
  /**
   * The engine's code a node of this op runs, and the lines of its forward and backward.
   * @param {string} op
   * @param {string} [variant]
   * @returns {Promise<OpCode>}
   */
  opCode: (op, variant) => request("GET", `/graphs/ops/${enc(op)}/code${variant ? `?variant=${enc(variant)}` : ""}`),
  /** @param {object} body @returns {Promise<GradcheckReport>} */
  gradcheck: (body) => request("POST", "/gradcheck", body),
  /** @returns {Promise<{datasets: Dataset[], default: string}>} */
  datasets: () => inFlight("/datasets"),
  /** @returns {Promise<Record<string, number>>} */
  limits: () => inFlight("/limits"),
  /** @param {TrainConfig} config @returns {Promise<{id: string, status: RunStatus, events: string, owner_token: string}>} */
  train: (config) => request("POST", "/train", config),
  /** @param {string} id @returns {Promise<Run>} */
  run: (id) => request("GET", `/train/${enc(id)}`),
  /** @param {string} id @param {string} name @returns {Promise<RunSummary>} */
  rename: (id, name) => request("PATCH", `/train/${enc(id)}`, { name }),
  /** @param {string} id @returns {Promise<unknown>} */
  cancel: (id) => request("DELETE", `/train/${enc(id)}`),
  /** @param {boolean} [mine] only the asking browser's @returns {Promise<{runs: RunSummary[]}>} */
  runs: (mine = false) => request("GET", mine ? "/runs?mine=1" : "/runs"),
  /** @param {string} id @returns {Promise<null>} 204: the run, its events and weights are gone */
  deleteRun: (id) => request("DELETE", `/runs/${enc(id)}`),
  /** @param {string} id @param {number[][]} image @returns {Promise<Prediction>} */
  predict: (id, image) => request("POST", `/runs/${enc(id)}/predict`, { image }),
  /** @param {string} id @returns {Promise<Weights>} */
  weights: (id) => request("GET", `/runs/${enc(id)}/weights`),
  /** @param {string} id @returns {Promise<Confusion>} */
  confusion: (id) => request("GET", `/runs/${enc(id)}/confusion`),
  /** @param {string} id @param {number} limit @returns {Promise<Mistakes>} */
  misclassified: (id, limit) => request("GET", `/runs/${enc(id)}/misclassified?limit=${limit}`),
  /** @param {object} body @returns {Promise<unknown>} an exp-race.js RaceAnswer */
  optimizerRace: (body) => request("POST", "/experiments/optimizer-race", body),
  /** @param {object} body @returns {Promise<unknown>} an exp-activations.js ActivationsAnswer */
  activations: (body) => request("POST", "/experiments/activations", body),
  /** @param {string} id */
  eventsUrl: (id) => `/train/${enc(id)}/events`,
  /** @param {string} id @param {"csv" | "json"} format */
  historyUrl: (id, format) => `/train/${enc(id)}/history.${format}`,
};

// @ts-check
// The page's address, in one table read both ways (as tensorflow/playground's state.ts): each
// parameter of the hash once, with its type, its default and how it is read and written.
// `readUrl` parses an address with it, `urlHash` writes one; nothing else in the page reads or
// builds the hash's parameters.

/** The views, as the tabs and `view=` name them. */
export const VIEWS = /** @type {const} */ (["graph", "train", "gradcheck", "experiments"]);

/**
 * The state an address holds. Absent parameters read as their defaults.
 * @typedef {object} UrlState
 * @property {string} view the view shown (one of VIEWS)
 * @property {string} g the graph on the canvas, encoded (graph-model.js); "" for none
 * @property {string} p the example that graph is, an id of GET /graphs/presets; "" for none
 * @property {number | null} tour the tour's page, 1-based (tour.js checks the range)
 * @property {"exercise" | null} mode the graph opens in an exercise
 * @property {"forward" | null} ask the exercise asks the forward values too
 * @property {string | null} exp the Experiments view's page (experiments-view.js checks it)
 */

/**
 * One parameter: its name in the address, its type, its default, and how it is read and
 * written (written: null leaves it out of the address).
 * @typedef {object} Param
 * @property {keyof UrlState} name
 * @property {"choice" | "text" | "integer"} type
 * @property {string | number | null} fallback the value when it is absent or unreadable
 * @property {(text: string) => string | number | null} read
 * @property {(value: string | number | null) => string | null} write
 */

/**
 * One of a few words; anything else reads as the default.
 * @param {readonly string[]} words
 * @param {string | null} fallback
 * @returns {Pick<Param, "type" | "fallback" | "read" | "write">}
 */
function choice(words, fallback) {
  return {
    type: "choice", fallback,
    read: (text) => (words.includes(text) ? text : fallback),
    write: (value) => (typeof value === "string" && words.includes(value) ? value : null),
  };
}

/**
 * Any text; empty reads as the default and is left out.
 * @param {string | null} fallback
 * @returns {Pick<Param, "type" | "fallback" | "read" | "write">}
 */
function text(fallback) {
  return { type: "text", fallback, read: (s) => s || fallback, write: (value) => (value ? String(value) : null) };
}

/**
 * A whole number from 1 up; anything else reads as null.
 * @returns {Pick<Param, "type" | "fallback" | "read" | "write">}
 */
function positive() {
  return {
    type: "integer", fallback: null,
    read: (s) => (Number.isInteger(Number(s)) && Number(s) >= 1 ? Number(s) : null),
    write: (value) => (typeof value === "number" && Number.isInteger(value) && value >= 1 ? String(value) : null),
  };
}

/** Every parameter of the address, in the order they are written. */
export const PARAMS = /** @type {Param[]} */ ([
  { name: "view", ...choice(VIEWS, "graph") },
  { name: "g", ...text("") },
  { name: "p", ...text("") },
  { name: "tour", ...positive() },
  { name: "mode", ...choice(["exercise"], null) },
  { name: "ask", ...choice(["forward"], null) },
  { name: "exp", ...text(null) },
]);

/**
 * The state an address names (its hash), every parameter read by the table.
 * @param {string} hash e.g. location.hash, with or without its "#"
 * @returns {UrlState}
 */
export function readUrl(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  /** @type {Record<string, string | number | null>} */
  const state = {};
  for (const p of PARAMS) {
    const raw = params.get(p.name);
    state[p.name] = raw === null ? p.fallback : p.read(raw);
  }
  return /** @type {UrlState} */ (/** @type {unknown} */ (state));
}

/**
 * The hash ("#view=graph&g=...") that names a state; parameters not given, or at a value
 * written as nothing, are left out.
 * @param {Partial<UrlState>} state
 */
export function urlHash(state) {
  const params = new URLSearchParams();
  for (const p of PARAMS) {
    const value = state[p.name];
    const written = value === undefined ? null : p.write(value);
    if (written !== null) params.set(p.name, written);
  }
  return `#${params.toString()}`;
}

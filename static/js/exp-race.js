// @ts-check
// The optimizer race of ch06/optimizer_compare_naive.py: four paths on one contour plot,
// stepped through update by update with each rule written out with its numbers.

import { api, ApiError } from "./api.js";
import { t } from "./i18n.js";
import { fmt } from "./tensor.js";
import { h } from "./ui.js";
import { Question, svg } from "./exp-common.js";

/**
 * @typedef {object} RaceAnswer The answer of POST /experiments/optimizer-race.
 * @property {string} function
 * @property {string} title
 * @property {number[]} start
 * @property {number} steps
 * @property {Record<string, number>} lrs
 * @property {Record<string, (number | null)[][]>} paths steps + 1 points [x, y] per optimizer
 * @property {Record<string, {grad: (number | null)[], state: Record<string, any>}[]>} trace
 * @property {{x_range: number[], y_range: number[], minimum: number[], levels: number[], segments: number[][][]}} contours
 * @property {{radius: number, steps: Record<string, number | null>, first: string[]}} arrival
 */

/** Each optimizer's look: a colour, a dash pattern and a marker, so colour is never alone. */
const STYLE = /** @type {Record<string, {color: string, dash: string, marker: string, title: string}>} */ ({
  sgd: { color: "#c2410c", dash: "", marker: "circle", title: "SGD" },
  momentum: { color: "#1d4ed8", dash: "9 5", marker: "square", title: "Momentum" },
  adagrad: { color: "#047857", dash: "2 4", marker: "triangle", title: "AdaGrad" },
  adam: { color: "#7e22ce", dash: "12 4 2 4", marker: "diamond", title: "Adam" },
  nesterov: { color: "#374151", dash: "5 3", marker: "cross", title: "Nesterov" },
});
/** The book's race (the API's defaults, sent explicitly so the form shows them). */
const BOOK = { start: [-7, 2], steps: 30, lrs: { sgd: 0.95, momentum: 0.1, adagrad: 1.5, adam: 0.3 } };
const W = 800;
const H = 400;
const E = "1e-7";

/**
 * A marker of the given shape centred on (x, y).
 * @param {string} shape
 * @param {number} x
 * @param {number} y
 * @param {number} r
 * @param {Record<string, string | number>} attrs
 * @param {Element} parent
 */
function marker(shape, x, y, r, attrs, parent) {
  if (shape === "circle") return svg("circle", { cx: x, cy: y, r, ...attrs }, parent);
  if (shape === "square") return svg("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r, ...attrs }, parent);
  /** @type {number[][]} */
  const pts = shape === "triangle" ? [[0, -1.2], [1.1, 0.8], [-1.1, 0.8]]
    : shape === "diamond" ? [[0, -1.3], [1.1, 0], [0, 1.3], [-1.1, 0]]
    : [[-1, -1], [1, 1], [0, 0], [1, -1], [-1, 1], [0, 0]];
  const points = pts.map(([a, b]) => `${x + a * r},${y + b * r}`).join(" ");
  return svg(shape === "cross" ? "polyline" : "polygon", { points, ...attrs }, parent);
}

/** A number as the rules write it. @param {number | null | undefined} x */
const n = (x) => fmt(x, 5);
/** A number in brackets when negative or written with an exponent: "0.1·(-0.7)", "(2.4e-15)²". @param {number | null | undefined} x */
const p = (x) => {
  const text = n(x);
  return typeof x === "number" && (x < 0 || text.includes("e")) ? `(${text})` : text;
};

/**
 * The lines of one update of one optimizer for one coordinate, with its numbers.
 * @param {string} name the optimizer
 * @param {"x" | "y"} c
 * @param {number} lr
 * @param {number} before the coordinate before the update
 * @param {number | null} after
 * @param {number} g the gradient read at `before`
 * @param {Record<string, any>} prev the optimizer's state before the update ({} at first)
 * @param {Record<string, any>} state after
 */
export function ruleLines(name, c, lr, before, after, g, prev, state) {
  const i = c === "x" ? 0 : 1;
  const was = (/** @type {string} */ key) => (prev[key] ? prev[key][i] : 0);
  const lines = [c === "x" ? `∂f/∂x = x/10 = ${n(g)}` : `∂f/∂y = 2y = ${n(g)}`];
  const g_ = `∂f/∂${c}`;
  if (name === "sgd") {
    lines.push(`${c} ← ${c} − lr·${g_} = ${n(before)} − ${n(lr)}·${p(g)} = ${n(after)}`);
  } else if (name === "momentum") {
    const v = state.v[i];
    lines.push(`v${c} = 0.9·v${c} − lr·${g_} = 0.9·${p(was("v"))} − ${n(lr)}·${p(g)} = ${n(v)}`);
    lines.push(`${c} ← ${c} + v${c} = ${n(before)} + ${p(v)} = ${n(after)}`);
  } else if (name === "nesterov") {
    const v = state.v[i];
    lines.push(`v${c} = 0.9·v${c} − lr·${g_} = 0.9·${p(was("v"))} − ${n(lr)}·${p(g)} = ${n(v)}`);
    lines.push(`${c} ← ${c} + 0.81·v${c} − 1.9·lr·${g_} = ${n(before)} + 0.81·${p(v)} − 1.9·${n(lr)}·${p(g)} = ${n(after)}`);
  } else if (name === "adagrad") {
    const hh = state.h[i];
    lines.push(`h${c} = h${c} + ${g_}² = ${n(was("h"))} + ${p(g)}² = ${n(hh)}`);
    lines.push(`${c} ← ${c} − lr·${g_}/(√h${c} + ${E}) = ${n(before)} − ${n(lr)}·${p(g)}/(${n(Math.sqrt(hh))} + ${E}) = ${n(after)}`);
  } else if (name === "adam") {
    const m = state.m[i];
    const v = state.v[i];
    const tt = state.t;
    lines.push(`m${c} = m${c} + (1 − β₁)(${g_} − m${c}) = ${n(was("m"))} + 0.1·(${n(g)} − ${p(was("m"))}) = ${n(m)}`);
    lines.push(`v${c} = v${c} + (1 − β₂)(${g_}² − v${c}) = ${n(was("v"))} + 0.001·(${p(g)}² − ${p(was("v"))}) = ${n(v)}`);
    if (c === "x") lines.push(`lr_t = lr·√(1 − 0.999^${tt})/(1 − 0.9^${tt}) = ${n(state.lr_t)}`);
    lines.push(`${c} ← ${c} − lr_t·m${c}/(√v${c} + ${E}) = ${n(before)} − ${n(state.lr_t)}·${p(m)}/(${n(Math.sqrt(v))} + ${E}) = ${n(after)}`);
  }
  return lines;
}

export class RacePage {
  constructor() {
    /** @type {RaceAnswer | null} */
    this.data = null;
    this.step = 0;
    this.requests = 0;
    /** @type {SVGElement | null} the paths' group of the plot */
    this.pathLayer = null;
    this.question = new Question({
      id: "race-question",
      prompt: "exp.race.question",
      choices: ["sgd", "momentum", "adagrad", "adam"].map((v) => ({ value: v, label: `exp.opt.${v}` })),
      onAnswer: () => this.reveal(),
    });
    this.plot = svg("svg", { id: "race-plot", class: "exp-plot", viewBox: `0 0 ${W} ${H}`, role: "img" });
    this.legend = h("ul", { id: "race-legend", class: "exp-legend" });
    this.slider = h("input", { id: "race-slider", type: "range", min: "0", max: "30", value: "30", step: "1", "data-i18n-aria": "exp.race.slider", "aria-label": t("exp.race.slider"), oninput: () => this.go(Number(this.slider.value)) });
    this.stepLabel = h("span", { id: "race-step-label", class: "exp-step-label" });
    this.live = h("p", { id: "race-live", class: "sr-only", role: "status", "aria-live": "polite" });
    this.rules = h("div", { id: "race-rules", class: "exp-rules" });
    this.error = h("p", { id: "race-error", class: "error-text", role: "alert" });
    /** @type {Record<string, HTMLInputElement>} */
    this.inputs = {};
    const field = (/** @type {string} */ id, /** @type {string} */ label, /** @type {number} */ value, step = "any") => {
      const input = h("input", { id, type: "number", step, value: String(value), inputmode: "decimal" });
      this.inputs[id] = input;
      return h("label", { class: "field" }, h("span", { "data-i18n": label, text: t(label) }), input);
    };
    const form = h("form", { id: "race-form", class: "exp-form", novalidate: true, onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); this.load(); } },
      ...Object.entries(BOOK.lrs).map(([k, lr]) => field(`race-lr-${k}`, `exp.race.lr.${k}`, lr)),
      field("race-x", "exp.race.startX", BOOK.start[0]),
      field("race-y", "exp.race.startY", BOOK.start[1]),
      field("race-steps", "exp.race.steps", BOOK.steps, "1"),
      h("div", { class: "exp-form-actions" },
        h("button", { type: "submit", class: "primary", id: "race-run", "data-i18n": "exp.race.run", text: t("exp.race.run") }),
        h("button", { type: "button", id: "race-book", "data-i18n": "exp.race.book", text: t("exp.race.book"), onclick: () => this.resetForm() })),
      this.error,
    );
    this.result = h("div", { id: "race-result", class: "exp-result", hidden: true },
      h("div", { class: "exp-race-layout" },
        h("div", { class: "exp-plot-box" },
          this.plot,
          this.legend,
          h("div", { class: "exp-stepper", role: "group", "data-i18n-aria": "exp.race.stepper", "aria-label": t("exp.race.stepper") },
            h("button", { type: "button", id: "race-prev", "data-i18n": "exp.prev", text: t("exp.prev"), onclick: () => this.go(this.step - 1) }),
            this.slider,
            h("button", { type: "button", id: "race-next", "data-i18n": "exp.next", text: t("exp.next"), onclick: () => this.go(this.step + 1) }),
            this.stepLabel),
          this.live),
        this.rules),
      h("details", { class: "exp-settings", open: true }, h("summary", { "data-i18n": "exp.race.settings", text: t("exp.race.settings") }), form),
    );
    this.pending = h("p", { class: "muted exp-pending", "data-i18n": "exp.answerToSee", text: t("exp.answerToSee") });
    this.element = h("div", { id: "exp-race", class: "exp-page", "data-page": "race" },
      h("h2", { "data-i18n": "exp.race.title", text: t("exp.race.title") }),
      h("p", { class: "hint", "data-i18n": "exp.race.explain", text: t("exp.race.explain") }),
      this.question.element,
      this.pending,
      this.result,
    );
    this.element.addEventListener("keydown", (e) => this.onKey(e));
  }

  /** Arrow keys, Home and End step the race (outside text fields). @param {KeyboardEvent} e */
  onKey(e) {
    const target = e.target;
    if (target instanceof HTMLInputElement && target.type !== "range") return;
    if (target === this.slider || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
    const last = this.data ? this.data.steps : 0;
    const to = { ArrowLeft: this.step - 1, ArrowRight: this.step + 1, Home: 0, End: last }[e.key];
    if (to === undefined || this.result.hidden) return;
    e.preventDefault();
    this.go(to);
  }

  resetForm() {
    for (const [k, lr] of Object.entries(BOOK.lrs)) this.inputs[`race-lr-${k}`].value = String(lr);
    this.inputs["race-x"].value = String(BOOK.start[0]);
    this.inputs["race-y"].value = String(BOOK.start[1]);
    this.inputs["race-steps"].value = String(BOOK.steps);
    this.load();
  }

  /** The form as a request body; null (and the field marked) when a field is not a number. */
  body() {
    for (const input of Object.values(this.inputs)) input.removeAttribute("aria-invalid");
    /** @param {string} id */
    const num = (id) => {
      const input = this.inputs[id];
      const v = Number(input.value);
      if (input.value.trim() === "" || !Number.isFinite(v)) {
        input.setAttribute("aria-invalid", "true");
        throw new Error(t("exp.notNumber", { field: input.closest("label")?.textContent ?? id }));
      }
      return v;
    };
    /** @type {Record<string, {lr: number}>} */
    const optimizers = {};
    for (const k of Object.keys(BOOK.lrs)) optimizers[k] = { lr: num(`race-lr-${k}`) };
    return { start: [num("race-x"), num("race-y")], steps: num("race-steps"), optimizers };
  }

  /** Ask the server for the race (in the background, before the question is answered). */
  async load() {
    this.error.textContent = "";
    let body;
    try {
      body = this.body();
    } catch (err) {
      this.error.textContent = /** @type {Error} */ (err).message;
      return;
    }
    const ticket = ++this.requests; // only the latest request's answer is drawn
    let data;
    try {
      data = /** @type {RaceAnswer} */ (await api.optimizerRace(body));
    } catch (err) {
      if (ticket === this.requests) this.error.textContent = err instanceof ApiError ? err.message : String(err);
      return;
    }
    if (ticket !== this.requests) return;
    this.data = data;
    this.slider.max = String(this.data.steps);
    this.step = this.data.steps;
    if (this.question.answer !== undefined) this.reveal();
  }

  /** Show the race and mark the learner's pick (once the data is here). */
  reveal() {
    if (!this.data) return;
    this.pending.hidden = true;
    this.result.hidden = false;
    this.drawStatic();
    this.go(this.step);
    this.markQuestion();
  }

  markQuestion() {
    if (!this.data) return;
    const first = this.data.arrival.first;
    const at = first.length ? this.data.arrival.steps[first[0]] : null;
    const why = first.length
      ? `${t("exp.race.arrived", { names: first.map((k) => STYLE[k]?.title ?? k).join(", "), step: at ?? "", steps: this.data.steps, radius: this.data.arrival.radius })} ${first.map((k) => t(`exp.race.why.${k}`)).join(" ")}`
      : t("exp.race.noneArrived", { radius: this.data.arrival.radius });
    this.question.mark(first, why);
  }

  /** Plot coordinates of a point of the function's window. @param {number} x @param {number} y */
  xy(x, y) {
    const c = /** @type {RaceAnswer} */ (this.data).contours;
    const [x0, x1] = c.x_range;
    const [y0, y1] = c.y_range;
    return [((x - x0) / (x1 - x0)) * W, H - ((y - y0) / (y1 - y0)) * H];
  }

  /** The contours, axes, minimum and legend: what does not change while stepping. */
  drawStatic() {
    const data = /** @type {RaceAnswer} */ (this.data);
    this.plot.replaceChildren();
    this.plot.setAttribute("aria-label", t("exp.race.plotLabel", { title: data.title }));
    const defs = svg("defs", {}, this.plot);
    svg("rect", { x: 0, y: 0, width: W, height: H }, svg("clipPath", { id: "race-clip" }, defs));
    svg("rect", { x: 0, y: 0, width: W, height: H, class: "exp-plot-bg" }, this.plot);
    const levels = svg("g", { class: "exp-contours", "aria-hidden": "true" }, this.plot);
    data.contours.segments.forEach((segs, li) => {
      const d = segs.map(([x1, y1, x2, y2]) => {
        const [a, b] = this.xy(x1, y1);
        const [c, e] = this.xy(x2, y2);
        return `M${a.toFixed(1)},${b.toFixed(1)}L${c.toFixed(1)},${e.toFixed(1)}`;
      }).join("");
      svg("path", { d, "data-level": data.contours.levels[li] }, levels);
    });
    const axes = svg("g", { class: "exp-axes", "aria-hidden": "true" }, this.plot);
    const [ox, oy] = this.xy(0, 0);
    svg("line", { x1: 0, y1: oy, x2: W, y2: oy }, axes);
    svg("line", { x1: ox, y1: 0, x2: ox, y2: H }, axes);
    for (const x of [-10, -5, 5, 10]) svg("text", { x: this.xy(x, 0)[0] + (x === 10 ? -26 : 3), y: oy + 16 }, axes, String(x));
    for (const y of [-4, -2, 2, 4]) svg("text", { x: ox + 5, y: this.xy(0, y)[1] + 4 }, axes, String(y));
    const [mx, my] = this.xy(data.contours.minimum[0], data.contours.minimum[1]);
    svg("path", { d: `M${mx - 9},${my}h18M${mx},${my - 9}v18`, class: "exp-minimum" }, this.plot);
    this.pathLayer = svg("g", { "clip-path": "url(#race-clip)" }, this.plot);
    this.legend.replaceChildren(...Object.keys(data.paths).map((k) => {
      const st = STYLE[k] ?? STYLE.nesterov;
      const sw = svg("svg", { width: 44, height: 16, viewBox: "0 0 44 16", "aria-hidden": "true" });
      svg("line", { x1: 2, y1: 8, x2: 42, y2: 8, stroke: st.color, "stroke-width": 2.5, "stroke-dasharray": st.dash }, sw);
      marker(st.marker, 22, 8, 5, { fill: st.color, stroke: st.color }, sw);
      return h("li", { "data-optimizer": k }, sw, h("span", { text: `${st.title} (lr ${fmt(data.lrs[k])})` }));
    }));
  }

  /**
   * Show the race after `step` updates (0: everyone at the start).
   * @param {number} step
   */
  go(step) {
    const data = this.data;
    if (!data) return;
    this.step = Math.max(0, Math.min(data.steps, Math.round(step)));
    this.slider.value = String(this.step);
    this.stepLabel.textContent = t("exp.race.stepOf", { step: this.step, steps: data.steps });
    const layer = /** @type {SVGElement} */ (this.pathLayer);
    layer.replaceChildren();
    for (const [k, path] of Object.entries(data.paths)) {
      const st = STYLE[k] ?? STYLE.nesterov;
      const g = svg("g", { class: "exp-path", "data-optimizer": k }, layer);
      /** @type {number[][]} */
      const pts = [];
      for (const q of path) {
        if (q[0] === null || q[1] === null) break; // diverged: the path ends where it overflowed
        pts.push(this.xy(q[0], q[1]));
      }
      const line = (/** @type {number[][]} */ ps, /** @type {string} */ cls) => svg("polyline", {
        points: ps.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" "),
        class: cls, stroke: st.color, "stroke-dasharray": st.dash, fill: "none",
      }, g);
      line(pts, "future");
      const done = pts.slice(0, this.step + 1);
      line(done, "done");
      done.forEach(([a, b], i) => marker(st.marker, a, b, i === done.length - 1 ? 9 : 4.5, {
        fill: i === done.length - 1 ? "#fff" : st.color, stroke: st.color, "stroke-width": 2, class: i === done.length - 1 ? "current" : "point",
      }, g));
    }
    this.writeRules();
  }

  /** Each optimizer's update at the current step, with its numbers; announced politely. */
  writeRules() {
    const data = /** @type {RaceAnswer} */ (this.data);
    const k = this.step;
    /** @type {string[]} */
    const said = [];
    const cards = Object.entries(data.paths).map(([name, path]) => {
      const st = STYLE[name] ?? STYLE.nesterov;
      const point = path[k];
      said.push(`${st.title} (${n(point[0])}, ${n(point[1])})`);
      const sw = svg("svg", { width: 16, height: 16, viewBox: "0 0 16 16", "aria-hidden": "true" });
      marker(st.marker, 8, 8, 5, { fill: st.color, stroke: st.color }, sw);
      const head = h("h3", {}, sw, h("span", { text: ` ${st.title}` }));
      /** @type {string[]} */
      let lines;
      if (k === 0) {
        lines = [t("exp.race.atStart", { x: n(point[0]), y: n(point[1]) })];
      } else {
        const before = path[k - 1];
        const step = data.trace[name][k - 1];
        const prev = k > 1 ? data.trace[name][k - 2].state : {};
        if (before[0] === null || before[1] === null || step.grad[0] === null || step.grad[1] === null) {
          lines = [t("exp.race.diverged")];
        } else {
          lines = [
            ...ruleLines(name, "x", data.lrs[name], before[0], point[0], step.grad[0], prev, step.state),
            ...ruleLines(name, "y", data.lrs[name], before[1], point[1], step.grad[1], prev, step.state),
          ];
        }
      }
      return h("section", { class: "exp-rule", "data-optimizer": name, "data-x": String(point[0]), "data-y": String(point[1]) },
        head, h("pre", { class: "exp-rule-lines", text: lines.join("\n") }));
    });
    this.rules.replaceChildren(...cards);
    this.live.textContent = `${t("exp.race.stepOf", { step: k, steps: data.steps })}: ${said.join("; ")}`;
  }

  relabel() {
    if (!this.data) return;
    if (!this.result.hidden) {
      this.drawStatic();
      this.go(this.step);
    }
    if (this.question.marking) this.markQuestion();
  }
}

// @ts-check
// The graph editor's state and drawing. Each job is a module of its own: graph-palette (node
// types, examples), graph-edit (editing, undo, layout), graph-run (Run), graph-step (step and
// play), graph-pointer (pointer and keys), graph-toolbar (buttons and files).

import { api } from "./api.js";
import { t } from "./i18n.js";
import { History, decodeFromUrl, emptyGraph, encodeForUrl, needsLayout, outputOf, toApi } from "./graph-model.js";
import { renderErrors } from "./graph-errors.js";
import { bounds } from "./graph-geometry.js";
import { render } from "./graph-render.js";
import { asLaidOut, relayoutIfStale, tidy } from "./graph-layout.js";
import { bindChips, syncChip } from "./graph-chips.js";
import { afterStructuralChange, holdReevaluation, inspectorActions, layout } from "./graph-edit.js";
import { loadPreset, renderPalette, renderPresets } from "./graph-palette.js";
import { bindCanvas } from "./graph-pointer.js";
import { doutText, run } from "./graph-run.js";
import { currentStep, renderStepPanel, visibility } from "./graph-step.js";
import { bindToolbar } from "./graph-toolbar.js";
import { MIN_USER_ZOOM } from "./graph-zoom.js";
import { leaveExercise, renderExercise, startExercise } from "./exercise-view.js";
import { PAGES, closeTour, openTour, pageFromUrl, renderTour, tourHides } from "./tour.js";
import { renderInspector } from "./inspector.js";
import { byId, setDisabled } from "./ui.js";

/**
 * The nudge slider of an input: which element, h = 10^exp, and the estimate once computed.
 * @typedef {{id: string, index: number, exp: number, estimate: number | null, error: string | null}} Nudge
 */
/** @typedef {import("./api.js").Op} Op */
/** @typedef {import("./api.js").Preset} Preset */
/** @typedef {import("./api.js").Evaluation} Evaluation */
/** @typedef {import("./graph-geometry.js").Geometry} Geometry */
/** @typedef {{x: number, y: number}} Point */
/**
 * A drag in progress: a new edge from a node's output port, or a node being moved.
 * @typedef {{kind: "connect", from: string, a: Point, b: Point}
 *   | {kind: "move", id: string, dx: number, dy: number, start: Point, moved: boolean}
 *   | {kind: "pan", x: number, y: number, left: number, top: number}} Drag
 */
/** @typedef {"error" | "busy" | "ok" | "warn"} StatusKind warn: all agree, but something cannot be seen */

/** The smallest zoom a graph is shrunk to, to fit it to the canvas when opened. */
const MIN_FIT_ZOOM = 0.1;
/** Room kept free around the drawing, in canvas units. */
const EDGE_ROOM = 6;

export class GraphView {
  /** @param {{onUrlChange: () => void}} options called whenever the graph may have changed */
  constructor({ onUrlChange }) {
    this.onUrlChange = onUrlChange;
    this.graph = emptyGraph();
    this.history = new History();
    /** @type {Map<string, Op>} the node types, by name */
    this.ops = new Map();
    /** @type {Preset[]} */
    this.presets = [];
    /** The example on the canvas, "" once edited or for any other graph. */
    this.presetId = "";
    /** Whether the next address is a new history entry (a new graph), not an edit of this one. */
    this.pushUrl = false;
    /** @type {"auto" | "numbers" | "heatmap"} how tensors are drawn on the edges */
    this.tensors = "auto";
    /** @type {Evaluation | null} the answer of the last Run, until the graph changes */
    this.result = null;
    /** @type {import("./api.js").GradcheckReport | null} "Check on the graph", until it changes */
    this.check = null;
    /** @type {Nudge | null} the nudge slider of the selected input */
    this.nudge = null;
    /** @type {Record<string, () => string>} an error message per node id, read in the page's language when drawn */
    this.errors = {};
    /** @type {{kind: StatusKind, message: string | (() => string)} | null} a function is re-read after a language switch */
    this.status = null;
    /** @type {string | null} */
    this.selected = null;
    /** @type {string | null} "from>to>port" */
    this.selectedEdge = null;
    /** @type {number | null} the step shown, null: everything */
    this.step = null;
    /** @type {Drag | null} */
    this.drag = null;
    this.zoom = 1;
    /** Whether the zoom fits the graph to the canvas (until the learner zooms). */
    this.autoZoom = true;
    /** Fit pressed: the whole graph on the canvas, even below the readable size. */
    this.fitAll = false;
    /** @type {ReturnType<typeof setInterval> | null} the play timer */
    this.playing = null;
    /** @type {Element | null} the element whose hover card is open */
    this.tipTarget = null;
    /** @type {import("./graph-layout.js").Layout | null} the last tidy layout */
    this.layout = null;
    /** @type {unknown[] | null} what that layout's label sizes depended on */
    this.layoutKey = null;
    /** An opened link of an example: laid out anew once its labels' sizes are known. */
    this.relayoutOnResult = false;
    /** @type {Map<string, Geometry>} each node's shape as last drawn */
    this.geos = new Map();
    /** @type {import("./exercise.js").Exercise | null} predict, then reveal (null: not on) */
    this.exercise = null;
    /** @type {"first" | "primary" | null} what the exercise panel focuses when next drawn */
    this.exerciseFocus = null;
    /** the last exercise link made, shown in the panel ("" until asked for) */
    this.exerciseUrl = "";
    /** @type {number | null} the tour's page (0-based), null: closed */
    this.tour = null;
    this.tourFocus = false;
    /** @type {Set<number>} tour pages whose exercise was done or skipped: their answers show */
    this.tourSeen = new Set();
    this.svg = byId("graph-svg", SVGSVGElement);
    this.scroll = byId("graph-scroll");
  }

  /**
   * Load the node types and examples, then the graph from the URL (or the apples example).
   * @param {string | null} encoded the graph as the URL carries it
   * @param {string | null} [presetId] the example it is, if the address says so
   */
  async init(encoded, presetId = null) {
    bindToolbar(this);
    bindCanvas(this);
    bindChips(this);
    byId("g-exercise").addEventListener("click", () => startExercise(this, false));
    byId("g-tour").addEventListener("click", () => (this.tour === null ? openTour(this, 0) : closeTour(this)));
    const [ops, presets] = await Promise.allSettled([api.ops(), api.presets()]);
    if (ops.status === "fulfilled") this.ops = new Map(ops.value.ops.map((o) => [o.name, o]));
    else this.setStatus("error", () => t("graph.opsFailed", { message: ops.reason.message }));
    if (presets.status === "fulfilled") this.presets = presets.value.presets;
    renderPalette(this);
    this.renderPresets();
    let loaded = false;
    let badLink = false;
    if (encoded) {
      try {
        this.graph = decodeFromUrl(encoded);
        if (needsLayout(this.graph)) layout(this);
        loaded = true;
        if (presetId && this.presets.some((p) => p.id === presetId)) this.presetId = presetId;
        // An example as it was laid out: laid out here anew, for this screen, with its labels.
        this.relayoutOnResult = this.presetId !== "";
        this.renderPresets();
      } catch {
        badLink = true;
      }
    }
    if (!loaded && this.presets.length) {
      const apples = this.presets.find((p) => p.id === "apples") ?? this.presets[0];
      loadPreset(this, apples.id, { record: false });
    }
    // After the fallback example, which clears the status line (and is not evaluated, so
    // that the line keeps saying what was wrong with the link).
    if (badLink) {
      holdReevaluation();
      this.setStatus("error", () => t("graph.badLink"));
    }
    this.refresh();
    if (loaded) await run(this); // a shared graph opens evaluated
  }

  /**
   * After init: open the tour page and start the exercise the address asks for
   * (tour=3, mode=exercise, ask=forward).
   * @param {import("./url-state.js").UrlState} state
   */
  async initLearn(state) {
    const page = pageFromUrl(state.tour);
    if (page !== null) openTour(this, page, { load: !state.g });
    if (state.mode === "exercise") {
      const forward = state.ask === "forward" || (page !== null && !state.g && PAGES[page].forward);
      await startExercise(this, forward);
    }
  }

  /**
   * The tour and exercise state, for the address.
   * @returns {Pick<import("./url-state.js").UrlState, "tour" | "mode" | "ask">}
   */
  learnState() {
    return {
      tour: this.tour === null ? null : this.tour + 1,
      mode: this.exercise ? "exercise" : null,
      ask: this.exercise && this.exercise.askForward ? "forward" : null,
    };
  }

  /**
   * Back or Forward to an address: its tour page and its exercise, on or off, as it says
   * (after its graph is on the canvas), so the page and the address agree.
   * @param {import("./url-state.js").UrlState} state
   */
  async followLearn(state) {
    const page = pageFromUrl(state.tour === null ? null : String(state.tour));
    if (page === null && this.tour !== null) this.tour = null;
    else if (page !== null && page !== this.tour) openTour(this, page, { load: false });
    const wants = state.mode === "exercise";
    const forward = state.ask === "forward";
    if (wants && (!this.exercise || this.exercise.askForward !== forward)) await startExercise(this, forward);
    else if (!wants && this.exercise) leaveExercise(this);
    else this.refresh();
  }

  /** The step shown now ({phase, id}), or null when not stepping. */
  currentStep() {
    return currentStep(this);
  }

  /**
   * The node with this id.
   * @param {string} id
   */
  node(id) {
    return this.graph.nodes.find((n) => n.id === id);
  }

  /**
   * A node's shape as last drawn.
   * @param {string} id
   * @returns {Geometry}
   */
  geo(id) {
    return /** @type {Geometry} */ (this.geos.get(id));
  }

  /**
   * Set the status line (drawn by the next refresh); null clears it.
   * @param {StatusKind | null} kind
   * @param {string | (() => string)} [message]
   */
  setStatus(kind, message = "") {
    this.status = kind ? { kind, message } : null;
  }

  refreshStatus() {
    const box = byId("graph-status");
    box.className = `status ${this.status ? this.status.kind : ""}`;
    const m = this.status ? this.status.message : "";
    box.textContent = typeof m === "function" ? m() : m;
  }

  renderPresets() {
    renderPresets(this);
  }

  stopPlay() {
    if (this.playing) clearInterval(this.playing);
    this.playing = null;
    this.renderPlay();
  }

  renderPlay() {
    const b = byId("g-play");
    b.textContent = t(this.playing ? "graph.pause" : "graph.play");
    b.setAttribute("aria-pressed", this.playing ? "true" : "false");
  }

  /** Redraw the canvas, the inspector, the step panel, the status line and the toolbar. */
  refresh() {
    const active = document.activeElement;
    const focused = active ? active.closest("[data-node]") : null;
    const focusId = focused instanceof SVGElement && this.svg.contains(focused) ? focused.dataset.node : undefined;
    // A tour page's exercise done: its answers show from now on.
    if (this.exercise && this.exercise.finished && this.tour !== null) this.tourSeen.add(this.tour);
    // An edit (or a new Run) replaces the result the exercise was about: the exercise ends.
    if (this.exercise && this.exercise.result !== this.result) {
      this.exercise = null;
      if (this.result === null) this.setStatus("ok", () => t("ex.ended"));
    }
    const vis = visibility(this);
    const output = outputOf(this.graph);
    // Redrawing replaces the element under the pointer, which then never reports leaving:
    // a hover card left open would show the values of a node that is gone.
    if (this.tipTarget) {
      this.tipTarget = null;
      byId("tooltip").hidden = true;
    }
    if (this.relayoutOnResult && this.result && !this.drag) {
      this.relayoutOnResult = false;
      tidy(this);
    } else relayoutIfStale(this);
    this.draw(vis, output);
    this.keepInside(vis, output);
    this.fitCanvas();
    syncChip(this);
    byId("heat-legend").hidden = !this.svg.querySelector(".label.heatmap");
    renderErrors(this);
    byId("graph-empty").hidden = this.graph.nodes.length > 0;
    if (focusId) this.focusNode(focusId);
    if (this.drag && this.drag.kind === "move") return;
    renderInspector(byId("inspector-body"), {
      graph: this.graph,
      node: this.selected ? this.node(this.selected) ?? null : null,
      ops: this.ops,
      result: (this.exercise && !this.exercise.finished) || tourHides(this) ? null : this.result,
      output,
      actions: inspectorActions(this),
      nudge: this.nudge,
      showGrad: vis.showGrad,
    });
    renderStepPanel(this);
    this.refreshStatus();
    setDisabled(byId("g-undo", HTMLButtonElement), !this.history.canUndo);
    setDisabled(byId("g-redo", HTMLButtonElement), !this.history.canRedo);
    setDisabled(byId("g-step-reset", HTMLButtonElement), this.step === null);
    const dout = byId("g-dout", HTMLInputElement);
    if (document.activeElement !== dout) {
      dout.value = doutText(this.graph.dout);
      dout.size = Math.max(4, Math.min(40, dout.value.length + 1));
      dout.title = dout.value;
    }
    byId("g-accumulate", HTMLSelectElement).value = this.graph.accumulate === "overwrite" ? "overwrite" : "sum";
    renderTour(this);
    renderExercise(this);
    if (!this.exercise && this.result) {
      // At the last step there is nothing further to step to (Show all or ◀ Step go on).
      const last = this.result.forward_order.length + this.result.backward_order.length - 1;
      setDisabled(byId("g-step", HTMLButtonElement), this.step !== null && this.step >= last);
    }
    // A tour page hiding its answers: no explanation, stepping or check gives them away.
    const hides = tourHides(this);
    if (hides) {
      byId("preset-explanation").hidden = true;
      for (const id of ["g-step", "g-step-back", "g-play", "g-step-reset"]) setDisabled(byId(id, HTMLButtonElement), true);
    } else if (!this.exercise) byId("preset-explanation").hidden = false;
    setDisabled(byId("g-check", HTMLButtonElement), hides);
    this.onUrlChange();
  }

  /**
   * A graph as laid out whose labels, moved apart, reach past the top or left edge: moved
   * right or down as far as needed, and drawn again.
   * @param {ReturnType<typeof visibility>} vis
   * @param {string | null} output
   */
  keepInside(vis, output) {
    if (!this.layout || this.drag || !asLaidOut(this)) return;
    const box = this.drawingBox();
    if (!box) return;
    const dx = Math.max(0, EDGE_ROOM - box.x);
    const dy = Math.max(0, EDGE_ROOM - box.y);
    if (dx < 0.5 && dy < 0.5) return;
    const move = (/** @type {{x: number, y: number}} */ p) => ({ x: Math.round(p.x + dx), y: Math.round(p.y + dy) });
    const layout = this.layout;
    for (const n of this.graph.nodes) Object.assign(n, move(n));
    for (const [id, p] of layout.nodes) layout.nodes.set(id, move(p));
    for (const route of layout.edges.values()) {
      route.points = route.points.map((p) => ({ x: p.x + Math.round(dx), y: p.y + Math.round(dy) }));
      route.label = { x: route.label.x + Math.round(dx), y: route.label.y + Math.round(dy) };
    }
    if (layout.out) layout.out = move(layout.out);
    this.draw(vis, output);
  }

  /** The box of everything drawn on the canvas (canvas units), or null when nothing shows. */
  drawingBox() {
    const b = this.svg.getBBox();
    return b.width > 0 && b.height > 0 ? b : null;
  }

  /**
   * Draw the graph on the canvas.
   * @param {ReturnType<typeof visibility>} vis
   * @param {string | null} output
   */
  draw(vis, output) {
    this.geos = render(this.svg, this.graph, {
      ops: this.ops,
      result: this.result,
      selected: this.selected,
      selectedEdge: this.selectedEdge,
      current: vis.current,
      phase: vis.phase,
      lit: vis.lit,
      errors: this.errors,
      output,
      pending: this.drag && this.drag.kind === "connect" ? this.drag : null,
      showValue: vis.showValue,
      showGrad: vis.showGrad,
      showOutputGrad: vis.showOutputGrad,
      check: this.check,
      ask: vis.ask,
      tensors: this.tensors,
      moving: Boolean(this.drag && this.drag.kind === "move"),
      layout: this.layout,
    });
  }

  /**
   * Size the canvas to the graph. Until the learner zooms, the whole drawing (every label
   * included, as measured) is fitted to the canvas: shrunk when larger, never enlarged.
   */
  fitCanvas() {
    const box = this.drawingBox();
    const guess = bounds(this.graph, this.geos);
    const maxX = box ? box.x + box.width + EDGE_ROOM : guess.maxX;
    const maxY = box ? box.y + box.height + EDGE_ROOM : guess.maxY;
    const availW = Math.max(200, this.scroll.clientWidth);
    const availH = Math.max(200, this.scroll.clientHeight);
    if (!this.drag && this.autoZoom) {
      const least = this.fitAll ? Math.min(MIN_USER_ZOOM, MIN_FIT_ZOOM) : MIN_FIT_ZOOM;
      // A hair under the exact fit: rounding must not leave a scroll bar (which takes room).
      const fit = Math.min(availW / Math.max(1, maxX), availH / Math.max(1, maxY)) * 0.998;
      this.zoom = Math.max(least, Math.min(1, fit));
    }
    const z = this.zoom;
    const width = Math.max(availW, maxX * z);
    const height = Math.max(availH, maxY * z);
    this.svg.setAttribute("width", String(width));
    this.svg.setAttribute("height", String(height));
    this.svg.setAttribute("viewBox", `0 0 ${width / z} ${height / z}`);
    this.svg.dataset.zoom = z.toFixed(3);
  }

  /** @param {string} id */
  focusNode(id) {
    const g = this.svg.querySelector(`[data-node="${CSS.escape(id)}"]`);
    if (g instanceof SVGElement) g.focus({ preventScroll: true });
  }

  /** The graph, encoded for the URL ("" for an empty canvas). */
  urlState() {
    return this.graph.nodes.length ? encodeForUrl(this.graph) : "";
  }

  /**
   * Show the graph an address names (Back, Forward, a second link opened in this tab),
   * evaluated, with its example's explanation; nothing to do if it is on the canvas already.
   * @param {string | null} encoded
   * @param {string | null} presetId
   */
  async openFromUrl(encoded, presetId) {
    if (!encoded || (encoded === this.urlState() && (presetId ?? "") === this.presetId)) return;
    let graph;
    try {
      graph = decodeFromUrl(encoded);
    } catch {
      this.setStatus("error", () => t("graph.badLink"));
      this.refresh();
      return;
    }
    this.graph = graph;
    this.presetId = presetId && this.presets.some((p) => p.id === presetId) ? presetId : "";
    this.selected = null;
    afterStructuralChange(this);
    this.autoZoom = true; // a graph opened is fitted anew
    this.fitAll = false;
    if (needsLayout(this.graph)) layout(this);
    this.relayoutOnResult = this.presetId !== "";
    this.renderPresets();
    this.refresh();
    await run(this);
  }

  /** Relabel after a language switch; the graph and results stay. */
  relabel() {
    this.renderPlay();
    renderPalette(this);
    this.renderPresets();
    this.refresh();
  }

  onShow() {
    this.refresh();
  }

  /** The graph as the API body (used by the gradient-check view). */
  apiBody() {
    return toApi(this.graph);
  }
}

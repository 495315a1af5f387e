// The graph editor: palette, presets, editing with undo, Run, step-through, URL and files.

import { api, ApiError, listOf } from "./api.js";
import { t } from "./i18n.js";
import {
  History, clone, decodeFromUrl, emptyGraph, encodeForUrl, freshId, fromApi, outputOf, toApi, toFile,
} from "./graph-model.js";
import { arityOf, bounds, geometry, outPort, render } from "./graph-render.js";
import { renderInspector } from "./inspector.js";
import { backwardRule, forwardRule, opDoc, serverRule, symbolFor } from "./rules.js";
import { compact, fmt, isScalar, parseValue, short } from "./tensor.js";
import { toast } from "./ui.js";

const $ = (id) => document.getElementById(id);
const ID_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MIN_ZOOM = 0.6;

export class GraphView {
  constructor({ onUrlChange }) {
    this.onUrlChange = onUrlChange;
    this.graph = emptyGraph();
    this.history = new History();
    this.ops = new Map();
    this.opList = [];
    this.presets = [];
    this.presetId = "";
    this.result = null;
    this.errors = {};
    this.status = null;
    this.selected = null;
    this.selectedEdge = null;
    this.step = null;
    this.drag = null;
    this.zoom = 1;
    this.playing = null;
    this.tipTarget = null;
    this.svg = $("graph-svg");
    this.scroll = $("graph-scroll");
  }

  /** Load the ops table and presets, then the graph from the URL (or the apples example). */
  async init(encoded) {
    this.bindToolbar();
    this.bindCanvas();
    const [ops, presets] = await Promise.allSettled([api.ops(), api.presets()]);
    if (ops.status === "fulfilled") {
      this.opList = listOf(ops.value, "ops").map((o) => ({ ...o, name: o.name ?? o.op ?? o.id }));
    } else {
      this.setStatus("error", () => t("graph.opsFailed", { message: ops.reason.message }));
    }
    if (!this.opList.some((o) => o.name === "input")) {
      this.opList.unshift({ name: "input", inputs: [], params: ["value"], doc: t("graph.inputDoc") });
    }
    this.ops = new Map(this.opList.map((o) => [o.name, o]));
    if (presets.status === "fulfilled") this.presets = listOf(presets.value, "presets");
    this.renderPalette();
    this.renderPresets();
    let loaded = false;
    let badLink = false;
    if (encoded) {
      try {
        this.graph = decodeFromUrl(encoded);
        if (this.graph.nodes.some((n) => typeof n.x !== "number")) this.layout();
        loaded = true;
      } catch {
        badLink = true;
      }
    }
    if (!loaded && this.presets.length) {
      const apples = this.presets.find((p) => /apple/i.test(p.id ?? "")) || this.presets[0];
      this.loadPreset(apples.id, { record: false });
    }
    // After the fallback example, which clears the status line.
    if (badLink) this.setStatus("error", () => t("graph.badLink"));
    this.refresh();
  }

  // ------------------------------------------------------------------ palette and presets

  renderPalette() {
    const box = $("palette");
    box.replaceChildren();
    for (const op of this.opList) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "op-button";
      b.dataset.op = op.name;
      const sym = document.createElement("span");
      sym.className = "sym";
      const symbol = op.name === "input" ? "x" : symbolFor(op.name, op);
      sym.textContent = symbol.length <= 4 ? symbol : "";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = op.name;
      b.append(sym, name);
      b.title = [opDoc(op), op.formula].filter(Boolean).join("\n");
      b.setAttribute("aria-label", t("graph.addNode", { op: op.name }));
      b.addEventListener("click", () => this.addNode(op.name));
      box.append(b);
    }
  }

  presetText(p, field) {
    const key = `preset.${p.id}.${field}`;
    const local = t(key);
    if (local !== key) return local;
    if (field === "title") return p.title ?? p.name ?? p.id;
    return p.explanation ?? p.description ?? p.doc ?? p.text ?? "";
  }

  renderPresets() {
    const sel = $("preset-select");
    const keep = this.presetId;
    sel.replaceChildren();
    const none = document.createElement("option");
    none.value = "";
    none.textContent = t("graph.choosePreset");
    sel.append(none);
    for (const p of this.presets) {
      const o = document.createElement("option");
      o.value = p.id;
      o.textContent = this.presetText(p, "title");
      sel.append(o);
    }
    sel.value = keep;
    const p = this.presets.find((x) => x.id === keep);
    $("preset-explanation").textContent = p ? this.presetText(p, "explanation") : "";
  }

  loadPreset(id, { record = true } = {}) {
    const p = this.presets.find((x) => x.id === id);
    if (!p) return;
    if (record) this.checkpoint();
    this.graph = fromApi(p.graph ?? p);
    this.presetId = id;
    this.afterStructuralChange();
    this.layout();
    this.renderPresets();
  }

  // ------------------------------------------------------------------ editing

  checkpoint() {
    this.history.push(this.graph);
  }

  afterStructuralChange() {
    if (this.playing) this.stopPlay();
    this.result = null;
    this.errors = {};
    this.step = null;
    this.setStatus(null);
  }

  node(id) {
    return this.graph.nodes.find((n) => n.id === id);
  }

  /**
   * Where to put a new node, in the visible part of the canvas. Inputs go down the first
   * column, like the book's figures; each new operation goes one column to the right of the
   * rightmost operation, so a graph built in order reads left to right (not one tall stack).
   */
  freeSpot(op) {
    const z = this.zoom || 1;
    const left = this.scroll.scrollLeft / z + 90;
    const top = this.scroll.scrollTop / z + 70;
    const width = Math.max(300, this.scroll.clientWidth / z - 180);
    const height = Math.max(200, this.scroll.clientHeight / z - 120);
    const colW = 170;
    const rowH = 110;
    const cols = Math.max(2, Math.floor(width / colW) + 1);
    const free = (x, y) => !this.graph.nodes.some((n) => Math.abs(n.x - x) < 120 && Math.abs(n.y - y) < 90);
    let first = 0;
    if (op !== "input") {
      const opsX = this.graph.nodes.filter((n) => n.op !== "input").map((n) => n.x);
      first = opsX.length ? Math.round((Math.max(...opsX) - left) / colW) + 1 : 1;
      first = Math.max(1, Math.min(cols - 1, first));
    }
    const order = [...Array.from({ length: cols - first }, (_, k) => first + k), ...Array.from({ length: first }, (_, k) => k)];
    for (const gx of order) {
      for (let gy = 0; gy * rowH <= height; gy++) {
        const x = left + gx * colW;
        const y = top + gy * rowH;
        if (free(x, y)) return { x, y };
      }
    }
    return { x: left + 20 * (this.graph.nodes.length % 10), y: top + 20 * (this.graph.nodes.length % 10) };
  }

  addNode(op) {
    this.checkpoint();
    const meta = this.ops.get(op);
    const id = freshId(this.graph, op);
    const { x, y } = this.freeSpot(op);
    const node = { id, op, x, y, inputs: [] };
    if (op === "input") node.value = 1;
    else node.inputs = Array.from({ length: arityOf(meta, null) }, () => null);
    this.graph.nodes.push(node);
    this.presetId = "";
    this.selected = id;
    this.selectedEdge = null;
    this.afterStructuralChange();
    this.refresh();
    this.renderPresets();
    this.focusNode(id);
  }

  remove(id) {
    if (!this.node(id)) return;
    this.checkpoint();
    this.graph.nodes = this.graph.nodes.filter((n) => n.id !== id);
    for (const n of this.graph.nodes) n.inputs = (n.inputs || []).map((i) => (i === id ? null : i));
    if (this.graph.output === id) this.graph.output = null;
    if (this.selected === id) this.selected = null;
    this.afterStructuralChange();
    this.refresh();
  }

  removeEdge(key) {
    const [, to, port] = key.split(">");
    const n = this.node(to);
    if (!n) return;
    this.checkpoint();
    n.inputs[Number(port)] = null;
    this.selectedEdge = null;
    this.afterStructuralChange();
    this.refresh();
  }

  connect(from, to, port) {
    const n = this.node(to);
    if (!n || !this.node(from)) return;
    this.checkpoint();
    n.inputs = n.inputs || [];
    while (n.inputs.length <= port) n.inputs.push(null);
    n.inputs[port] = from;
    this.afterStructuralChange();
    this.refresh();
  }

  actions() {
    return {
      rename: (oldId, newId) => {
        if (newId === oldId) return;
        if (!ID_RE.test(newId)) return this.invalid(t("inspector.badId"));
        if (this.node(newId)) return this.invalid(t("inspector.idTaken", { id: newId }));
        this.checkpoint();
        this.node(oldId).id = newId;
        for (const n of this.graph.nodes) n.inputs = (n.inputs || []).map((i) => (i === oldId ? newId : i));
        if (this.graph.output === oldId) this.graph.output = newId;
        this.selected = newId;
        this.afterStructuralChange();
        this.refresh();
      },
      setValue: (id, value) => {
        this.checkpoint();
        this.node(id).value = value;
        this.afterStructuralChange();
        this.refresh();
      },
      setInput: (id, k, src) => {
        this.checkpoint();
        const n = this.node(id);
        while (n.inputs.length <= k) n.inputs.push(null);
        n.inputs[k] = src;
        this.afterStructuralChange();
        this.refresh();
      },
      setParam: (id, name, value) => {
        this.checkpoint();
        const n = this.node(id);
        n.params = { ...(n.params || {}) };
        if (value === undefined) delete n.params[name];
        else n.params[name] = value;
        this.afterStructuralChange();
        this.refresh();
      },
      setOutput: (id) => {
        this.checkpoint();
        this.graph.output = id;
        this.afterStructuralChange();
        this.refresh();
      },
      remove: (id) => this.remove(id),
      invalid: (message) => this.invalid(message),
    };
  }

  invalid(message) {
    this.setStatus("error", message);
    this.refresh();
  }

  undo() {
    const g = this.history.undo(this.graph);
    if (!g) return;
    this.graph = g;
    this.afterStructuralChange();
    if (this.selected && !this.node(this.selected)) this.selected = null;
    this.refresh();
  }

  redo() {
    const g = this.history.redo(this.graph);
    if (!g) return;
    this.graph = g;
    this.afterStructuralChange();
    if (this.selected && !this.node(this.selected)) this.selected = null;
    this.refresh();
  }

  /** Left-to-right layout by dagre, like the book's figures. */
  layout() {
    if (!this.graph.nodes.length || !window.dagre) return;
    const g = new window.dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 60, ranksep: 120, marginx: 50, marginy: 60 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of this.graph.nodes) {
      const geo = geometry(n, this.ops.get(n.op));
      g.setNode(n.id, { width: geo.w, height: geo.h + 30 });
    }
    for (const n of this.graph.nodes) {
      for (const src of n.inputs || []) if (src && this.node(src)) g.setEdge(src, n.id);
    }
    window.dagre.layout(g);
    for (const n of this.graph.nodes) {
      const p = g.node(n.id);
      n.x = Math.round(p.x + 20);
      n.y = Math.round(p.y + 20);
    }
  }

  // ------------------------------------------------------------------ run and step

  async run() {
    if (this.playing) this.stopPlay();
    this.errors = {};
    if (!this.graph.nodes.length) {
      this.setStatus("error", () => t("graph.nothingToRun"));
      this.refresh();
      return null;
    }
    for (const n of this.graph.nodes) {
      const missing = (n.inputs || []).findIndex((i) => !i);
      if (n.op !== "input" && missing !== -1) {
        const names = (this.ops.get(n.op) || {}).inputs || [];
        this.errors[n.id] = t("graph.unconnected", { port: missing, name: names[missing] ?? "" });
      }
    }
    if (Object.keys(this.errors).length) {
      this.result = null;
      this.setStatus("error", () => t("graph.fixUnconnected"));
      this.refresh();
      return null;
    }
    const typed = $("g-dout").value;
    const dout = parseValue(typed);
    if (dout === undefined && typed.trim() !== "" && typed !== doutText(this.graph.dout)) {
      this.setStatus("error", () => t("graph.badDout"));
      this.refresh();
      return null;
    }
    if (dout !== undefined) this.graph.dout = dout;
    this.setStatus("busy", () => t("graph.running"));
    this.refreshStatus();
    try {
      this.result = await api.evaluate(toApi(this.graph));
      const out = this.result.output || {};
      this.setStatus("ok", () => t("graph.ran", { id: out.id ?? outputOf(this.graph), value: formatOut(out.value) }));
    } catch (err) {
      this.result = null;
      this.showError(err);
    }
    this.step = null;
    this.refresh();
    return this.result;
  }

  /** Put an API error on the node it names, or in the status line. */
  showError(err) {
    const details = err instanceof ApiError ? err.details : {};
    let id = details.node;
    if (!id && typeof details.field === "string") {
      const m = details.field.match(/^nodes\.(\d+)/);
      if (m && this.graph.nodes[Number(m[1])]) id = this.graph.nodes[Number(m[1])].id;
    }
    if (id && this.node(id)) {
      this.errors[id] = err.message;
      this.selected = id;
      // The API's message usually names the node already ("Node 'x' (mul) …"): don't say it twice.
      const named = err.message.includes(`'${id}'`);
      this.setStatus("error", () => (named ? err.message : t("graph.errorOnNode", { id, message: err.message })));
    } else {
      this.setStatus("error", err.message);
    }
  }

  steps() {
    if (!this.result) return [];
    const f = (this.result.forward_order || []).map((id) => ({ phase: "forward", id }));
    const b = (this.result.backward_order || []).map((id) => ({ phase: "backward", id }));
    return [...f, ...b];
  }

  async stepBy(delta) {
    if (!this.result && !(await this.run())) return;
    const steps = this.steps();
    if (!steps.length) return;
    let i = this.step === null ? (delta > 0 ? -1 : steps.length) : this.step;
    i = Math.max(0, Math.min(steps.length - 1, i + delta));
    this.step = i;
    this.selected = steps[i].id;
    this.refresh();
  }

  /** Step through both passes on a timer (one node every 1.2 s), or pause. */
  async togglePlay() {
    if (this.playing) return this.stopPlay();
    if (!this.result && !(await this.run())) return;
    if (this.step !== null && this.step >= this.steps().length - 1) this.step = null;
    this.playing = setInterval(() => {
      const last = this.steps().length - 1;
      if (!this.result || (this.step !== null && this.step >= last)) return this.stopPlay();
      this.stepBy(1);
    }, 1200);
    this.stepBy(1);
    this.renderPlay();
  }

  stopPlay() {
    clearInterval(this.playing);
    this.playing = null;
    this.renderPlay();
  }

  renderPlay() {
    const b = $("g-play");
    b.textContent = t(this.playing ? "graph.pause" : "graph.play");
    b.setAttribute("aria-pressed", this.playing ? "true" : "false");
  }

  visibility() {
    const steps = this.steps();
    if (this.step === null || !steps.length) {
      return { showValue: () => true, showGrad: () => true, showOutputGrad: () => true, current: null };
    }
    const cur = steps[this.step];
    const fwd = this.result.forward_order || [];
    const bwd = this.result.backward_order || [];
    const fi = cur.phase === "forward" ? fwd.indexOf(cur.id) : fwd.length;
    const bi = cur.phase === "backward" ? bwd.indexOf(cur.id) : -1;
    return {
      showValue: (id) => fwd.indexOf(id) <= fi,
      showGrad: (id) => bwd.indexOf(id) !== -1 && bwd.indexOf(id) <= bi,
      showOutputGrad: () => bi >= 0,
      current: cur.id,
      phase: cur.phase,
    };
  }

  ruleContext(id) {
    const node = this.node(id);
    const res = this.result.nodes || {};
    const edges = this.result.edges || [];
    const ins = (node.inputs || []).filter(Boolean).map((src) => ({ id: src, value: res[src] ? res[src].value : undefined }));
    const grads = (node.inputs || []).filter(Boolean).map((src, k) => {
      const e = edges.find((x) => x.to === id && x.from === src && Number(x.port) === k);
      return e ? e.grad : undefined;
    });
    return {
      ins,
      grads,
      out: res[id] ? res[id].value : undefined,
      dout: res[id] ? res[id].grad : undefined,
      usesGrads: edges.filter((e) => e.from === id).map((e) => e.grad),
      meta: this.ops.get(node.op),
    };
  }

  renderStepPanel() {
    const phase = $("step-phase");
    const list = $("step-rule");
    const progress = $("step-progress");
    list.replaceChildren();
    const steps = this.steps();
    if (this.step === null || !steps.length) {
      phase.textContent = this.result ? t("graph.stepReady") : t("graph.stepIdle");
      phase.className = "phase";
      progress.textContent = "";
      return;
    }
    const cur = steps[this.step];
    const node = this.node(cur.id);
    const nf = (this.result.forward_order || []).length;
    const n = cur.phase === "forward" ? this.step + 1 : this.step + 1 - nf;
    const total = cur.phase === "forward" ? nf : steps.length - nf;
    phase.textContent = t(cur.phase === "forward" ? "graph.phaseForward" : "graph.phaseBackward", { n, total, id: cur.id, op: node ? node.op : "" });
    phase.className = `phase ${cur.phase}`;
    let lines = serverRule(this.result, cur.id, cur.phase);
    if (lines && node) {
      // The server writes numbers into scalar rules only: add what a small tensor rule gives
      // (softmax-with-loss's y − t, the ReLU mask), element by element.
      const ctx = this.ruleContext(cur.id);
      const srcs = (node.inputs || []).filter(Boolean);
      lines = lines.concat(srcs.flatMap((src, k) => {
        const g = ctx.grads[k];
        return Array.isArray(g) && !isScalar(g) && compact(g) !== short(g) ? [`∂L/∂${src} = ${compact(g)}`] : [];
      }));
    }
    if (!lines && node) {
      const ctx = this.ruleContext(cur.id);
      lines = cur.phase === "forward" ? forwardRule(node, ctx) : backwardRule(node, ctx);
    }
    for (const line of lines || []) {
      const li = document.createElement("li");
      li.textContent = line;
      list.append(li);
    }
    progress.textContent = t("graph.stepOf", { i: this.step + 1, n: steps.length });
  }

  // ------------------------------------------------------------------ drawing

  setStatus(kind, message) {
    this.status = kind ? { kind, message } : null;
  }

  refreshStatus() {
    const box = $("graph-status");
    box.className = `status ${this.status ? this.status.kind : ""}`;
    const m = this.status ? this.status.message : "";
    box.textContent = typeof m === "function" ? m() : m;
  }

  refresh() {
    const focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("[data-node]") : null;
    const focusId = focused && this.svg.contains(focused) ? focused.dataset.node : null;
    const vis = this.visibility();
    const output = outputOf(this.graph);
    // Redrawing replaces the element under the pointer, which then never reports leaving:
    // a hover card left open would show the values of a node that is gone.
    if (this.tipTarget) {
      this.tipTarget = null;
      $("tooltip").hidden = true;
    }
    const geos = render(this.svg, this.graph, {
      ops: this.ops,
      result: this.result,
      selected: this.selected,
      selectedEdge: this.selectedEdge,
      current: vis.current,
      phase: vis.phase,
      errors: this.errors,
      output,
      pending: this.drag && this.drag.kind === "connect" ? this.drag : null,
      showValue: vis.showValue,
      showGrad: vis.showGrad,
      showOutputGrad: vis.showOutputGrad,
    });
    this.geos = geos;
    const { maxX, maxY } = bounds(this.graph, geos);
    const availW = Math.max(200, this.scroll.clientWidth - 2);
    const availH = Math.max(200, this.scroll.clientHeight - 2);
    if (!this.drag) {
      // Shrink a graph larger than the canvas to fit (down to 60 %, still legible), never enlarge it.
      this.zoom = Math.max(MIN_ZOOM, Math.min(1, availW / Math.max(1, maxX), availH / Math.max(1, maxY)));
    }
    const z = this.zoom || 1;
    const width = Math.max(availW, maxX * z);
    const height = Math.max(availH, maxY * z);
    this.svg.setAttribute("width", width);
    this.svg.setAttribute("height", height);
    this.svg.setAttribute("viewBox", `0 0 ${width / z} ${height / z}`);
    this.svg.dataset.zoom = z.toFixed(3);
    this.renderErrors();
    $("graph-empty").hidden = this.graph.nodes.length > 0;
    if (focusId) this.focusNode(focusId);
    if (this.drag && this.drag.kind === "move") return;
    renderInspector($("inspector-body"), {
      graph: this.graph,
      node: this.selected ? this.node(this.selected) : null,
      ops: this.ops,
      result: this.result,
      output,
      actions: this.actions(),
    });
    this.renderStepPanel();
    this.refreshStatus();
    $("g-undo").disabled = !this.history.canUndo;
    $("g-redo").disabled = !this.history.canRedo;
    $("g-step-reset").disabled = this.step === null;
    const dout = $("g-dout");
    if (document.activeElement !== dout) {
      dout.value = doutText(this.graph.dout);
      dout.size = Math.max(4, Math.min(24, dout.value.length + 1));
      dout.title = dout.value;
    }
    this.onUrlChange();
  }

  renderErrors() {
    const box = $("graph-errors");
    box.replaceChildren();
    for (const [id, message] of Object.entries(this.errors)) {
      const n = this.node(id);
      if (!n) continue;
      const geo = this.geos.get(id);
      const div = document.createElement("div");
      div.className = "node-error";
      div.dataset.node = id;
      div.setAttribute("role", "alert");
      div.textContent = message;
      const z = this.zoom || 1;
      div.style.left = `${Math.max(0, n.x * z - 110)}px`;
      div.style.top = `${(n.y + geo.h / 2 + 22) * z}px`;
      box.append(div);
    }
  }

  focusNode(id) {
    const g = this.svg.querySelector(`[data-node="${CSS.escape(id)}"]`);
    if (g) g.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ input handling

  point(e) {
    const r = this.svg.getBoundingClientRect();
    const z = this.zoom || 1;
    return { x: (e.clientX - r.left) / z, y: (e.clientY - r.top) / z };
  }

  bindCanvas() {
    this.svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      const p = this.point(e);
      const out = e.target.closest("[data-port-out]");
      const nodeEl = e.target.closest("[data-node]");
      const edgeEl = e.target.closest("[data-edge]");
      if (out) {
        const from = this.node(out.dataset.portOut);
        this.drag = { kind: "connect", from: from.id, a: outPort(from, this.geos.get(from.id)), b: p };
      } else if (nodeEl && !e.target.closest("[data-port-in]")) {
        const n = this.node(nodeEl.dataset.node);
        this.drag = { kind: "move", id: n.id, dx: p.x - n.x, dy: p.y - n.y, start: clone({ x: n.x, y: n.y }), moved: false };
        this.selected = n.id;
        this.selectedEdge = null;
      } else if (edgeEl) {
        this.selectedEdge = edgeEl.dataset.edge;
        this.selected = null;
      } else {
        this.selected = null;
        this.selectedEdge = null;
      }
      this.svg.setPointerCapture(e.pointerId);
      this.refresh();
      if (nodeEl) this.focusNode(nodeEl.dataset.node);
      e.preventDefault();
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!this.drag) return;
      const p = this.point(e);
      if (this.drag.kind === "move") {
        const n = this.node(this.drag.id);
        const x = Math.max(60, Math.round(p.x - this.drag.dx));
        const y = Math.max(40, Math.round(p.y - this.drag.dy));
        if (!this.drag.moved && Math.hypot(x - this.drag.start.x, y - this.drag.start.y) < 3) return;
        if (!this.drag.moved) this.history.push(this.graphWithPosition(n.id, this.drag.start));
        this.drag.moved = true;
        n.x = x;
        n.y = y;
      } else {
        this.drag.b = p;
      }
      this.refresh();
    });
    const finish = (e) => {
      if (!this.drag) return;
      const drag = this.drag;
      this.drag = null;
      if (drag.kind === "connect") {
        const target = document.elementFromPoint(e.clientX, e.clientY);
        const port = target && target.closest("[data-port-in]");
        const nodeEl = target && target.closest("[data-node]");
        if (port) {
          this.connect(drag.from, port.dataset.nodeId, Number(port.dataset.portIn));
          return;
        }
        if (nodeEl && nodeEl.dataset.node !== drag.from) {
          const n = this.node(nodeEl.dataset.node);
          const arity = Math.max(arityOf(this.ops.get(n.op), n), (n.inputs || []).length);
          const free = Array.from({ length: arity }, (_, k) => k).find((k) => !(n.inputs || [])[k]);
          if (free !== undefined) {
            this.connect(drag.from, n.id, free);
            return;
          }
        }
      }
      this.refresh();
    };
    this.svg.addEventListener("pointerup", finish);
    this.svg.addEventListener("pointercancel", () => {
      this.drag = null;
      this.refresh();
    });
    this.svg.addEventListener("focusin", (e) => {
      const g = e.target.closest && e.target.closest("[data-node]");
      if (g && this.selected !== g.dataset.node && !this.drag) {
        this.selected = g.dataset.node;
        this.selectedEdge = null;
        this.refresh();
      }
    });
    this.svg.addEventListener("keydown", (e) => {
      const g = e.target.closest && e.target.closest("[data-node]");
      if (!g) return;
      const n = this.node(g.dataset.node);
      const step = e.shiftKey ? 40 : 10;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[e.key]) {
        this.checkpoint();
        n.x = Math.max(60, n.x + moves[e.key][0]);
        n.y = Math.max(40, n.y + moves[e.key][1]);
        this.refresh();
        e.preventDefault();
      } else if (e.key === "Delete" || e.key === "Backspace") {
        this.remove(n.id);
        e.preventDefault();
      } else if (e.key === "Enter") {
        const first = $("inspector-body").querySelector("input, select, textarea");
        if (first) first.focus();
        e.preventDefault();
      }
    });
    document.addEventListener("keydown", (e) => {
      if ($("view-graph").hidden) return;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key === "Enter") {
        this.run();
        e.preventDefault();
        return;
      }
      const typing = e.target.matches && e.target.matches("input, textarea, select");
      if (typing) return;
      if (mod && e.key.toLowerCase() === "z" && !e.shiftKey) {
        this.undo();
        e.preventDefault();
      } else if (mod && (e.key.toLowerCase() === "y" || (e.key.toLowerCase() === "z" && e.shiftKey))) {
        this.redo();
        e.preventDefault();
      } else if ((e.key === "Delete" || e.key === "Backspace") && this.selectedEdge) {
        this.removeEdge(this.selectedEdge);
        e.preventDefault();
      }
    });
    const tip = $("tooltip");
    this.svg.addEventListener("pointerover", (e) => {
      const target = e.target.closest && e.target.closest("[data-tip]");
      if (!target || this.drag) return;
      this.tipTarget = target;
      tip.textContent = target.dataset.tip;
      tip.hidden = false;
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!this.tipTarget || tip.hidden) return;
      const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
      const y = Math.min(e.clientY + 16, window.innerHeight - tip.offsetHeight - 8);
      tip.style.left = `${x}px`;
      tip.style.top = `${y}px`;
    });
    this.svg.addEventListener("pointerout", (e) => {
      const target = e.target.closest && e.target.closest("[data-tip]");
      if (target && target === this.tipTarget && !target.contains(e.relatedTarget)) {
        this.tipTarget = null;
        tip.hidden = true;
      }
    });
  }

  graphWithPosition(id, pos) {
    const g = clone(this.graph);
    const n = g.nodes.find((x) => x.id === id);
    Object.assign(n, pos);
    return g;
  }

  bindToolbar() {
    $("g-run").addEventListener("click", () => this.run());
    $("g-step").addEventListener("click", () => this.stepBy(1));
    $("g-step-back").addEventListener("click", () => this.stepBy(-1));
    $("g-play").addEventListener("click", () => this.togglePlay());
    $("g-step-reset").addEventListener("click", () => {
      this.stopPlay();
      this.step = null;
      this.refresh();
    });
    $("g-undo").addEventListener("click", () => this.undo());
    $("g-redo").addEventListener("click", () => this.redo());
    $("g-layout").addEventListener("click", () => {
      this.checkpoint();
      this.layout();
      this.refresh();
    });
    $("g-clear").addEventListener("click", () => {
      this.checkpoint();
      this.graph = emptyGraph();
      this.presetId = "";
      this.selected = null;
      this.afterStructuralChange();
      this.renderPresets();
      this.refresh();
    });
    $("preset-select").addEventListener("change", (e) => {
      if (e.target.value) this.loadPreset(e.target.value);
      this.refresh();
    });
    $("g-dout").addEventListener("change", (e) => {
      const v = parseValue(e.target.value);
      if (v === undefined) return this.invalid(t("inspector.badNumber"));
      this.checkpoint();
      this.graph.dout = v;
      this.afterStructuralChange();
      this.refresh();
    });
    $("g-save").addEventListener("click", () => {
      const blob = new Blob([JSON.stringify(toFile(this.graph), null, 2)], { type: "application/json" });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `${this.presetId || "graph"}.json`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    });
    $("g-load").addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        $("g-load-file").click();
        e.preventDefault();
      }
    });
    $("g-load-file").addEventListener("change", async (e) => {
      const file = e.target.files[0];
      e.target.value = "";
      if (!file) return;
      try {
        let raw;
        try {
          raw = JSON.parse(await file.text());
        } catch {
          throw new Error(t("graph.fileNotJson"));
        }
        const ok = (n) => n && typeof n === "object" && typeof n.id === "string" && typeof n.op === "string";
        if (!raw || !Array.isArray(raw.nodes) || !raw.nodes.length || !raw.nodes.every(ok)) {
          throw new Error(t("graph.fileNoNodes"));
        }
        const g = fromApi(raw);
        this.checkpoint();
        this.graph = g;
        this.presetId = "";
        this.selected = null;
        this.afterStructuralChange();
        if (g.nodes.some((n) => typeof n.x !== "number")) this.layout();
        this.setStatus("ok", () => t("graph.loaded", { name: file.name }));
        this.renderPresets();
        this.refresh();
      } catch (err) {
        this.invalid(t("graph.badFile", { name: file.name, message: err.message }));
      }
    });
    $("g-share").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(location.href);
        toast(t("graph.linkCopied"));
      } catch {
        toast(t("graph.linkHere"));
      }
    });
  }

  /** The graph, encoded for the URL. */
  urlState() {
    return this.graph.nodes.length ? encodeForUrl(this.graph) : "";
  }

  /** Relabel after a language switch; the graph and results stay. */
  relabel() {
    this.renderPlay();
    this.renderPalette();
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

/** The dout field's text: a number as-is, a tensor as JSON (never "1,2,3,4"). */
function doutText(dout) {
  if (dout === undefined || dout === null || dout === "") return "1";
  return Array.isArray(dout) ? JSON.stringify(dout) : String(dout);
}

function formatOut(value) {
  return Array.isArray(value) ? short(value) : typeof value === "number" ? fmt(value, 6) : String(value);
}

// @ts-check
// The canvas under the pointer and keyboard: select, drag nodes, drag from an output port to
// an input to connect, arrow keys and Delete on a focused node, Ctrl+Z/Y/Enter, hover cards.

import { arityOf, outPort } from "./graph-geometry.js";
import { checkpoint, closesCycle, connect, graphWithPosition, remove, removeEdge, undoRedo } from "./graph-edit.js";
import { t } from "./i18n.js";
import { run } from "./graph-run.js";
import { byId } from "./ui.js";
import { bindWheelZoom, pinch } from "./graph-zoom.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */

/**
 * The element of the canvas an event happened on, as an Element (or null).
 * @param {Event} e
 */
function targetOf(e) {
  return e.target instanceof Element ? e.target : null;
}

/**
 * A data-* attribute of an HTML or SVG element ("" when absent).
 * @param {Element} el
 * @param {string} name
 */
function data(el, name) {
  return (el instanceof HTMLElement || el instanceof SVGElement ? el.dataset[name] : undefined) ?? "";
}

/**
 * The pointer's position in canvas units.
 * @param {GraphView} view
 * @param {MouseEvent} e
 */
function point(view, e) {
  const r = view.svg.getBoundingClientRect();
  return { x: (e.clientX - r.left) / view.zoom, y: (e.clientY - r.top) / view.zoom };
}

/**
 * Listen to the pointer and keys on the canvas (and to the view's shortcuts on the page).
 * @param {GraphView} view
 */
export function bindCanvas(view) {
  const svg = view.svg;
  const fingers = pinch(view);
  bindWheelZoom(view);
  svg.addEventListener("pointerdown", (e) => {
    const target = targetOf(e);
    if (fingers.down(e)) {
      svg.setPointerCapture(e.pointerId);
      e.preventDefault();
      return;
    }
    if (e.button !== 0 || !target) return;
    const p = point(view, e);
    const out = target.closest("[data-port-out]");
    const nodeEl = target.closest("[data-node]");
    const edgeEl = target.closest("[data-edge]");
    const from = out ? view.node(data(out, "portOut")) : undefined;
    // An input port takes no press of its own (connections are dropped on it): a press there,
    // where a finger's touch is often moved to on a small fitted node, selects its node.
    const n = nodeEl ? view.node(data(nodeEl, "node")) : undefined;
    if (from) {
      view.drag = { kind: "connect", from: from.id, a: outPort(from, view.geo(from.id)), b: p };
    } else if (n) {
      view.drag = { kind: "move", id: n.id, dx: p.x - n.x, dy: p.y - n.y, start: { x: n.x, y: n.y }, moved: false };
      view.selected = n.id;
      view.selectedEdge = null;
    } else if (edgeEl) {
      view.selectedEdge = data(edgeEl, "edge");
      view.selected = null;
    } else {
      view.selected = null;
      view.selectedEdge = null;
      // A drag on the empty canvas pans it (a finger has no scroll bars to grab).
      view.drag = { kind: "pan", x: e.clientX, y: e.clientY, left: view.scroll.scrollLeft, top: view.scroll.scrollTop };
    }
    svg.setPointerCapture(e.pointerId);
    view.refresh();
    if (nodeEl) view.focusNode(data(nodeEl, "node"));
    e.preventDefault();
  });
  svg.addEventListener("pointermove", (e) => {
    if (fingers.move(e)) return;
    const drag = view.drag;
    if (!drag) return;
    if (drag.kind === "pan") {
      view.scroll.scrollLeft = drag.left - (e.clientX - drag.x);
      view.scroll.scrollTop = drag.top - (e.clientY - drag.y);
      return;
    }
    const p = point(view, e);
    if (drag.kind === "move") {
      const n = view.node(drag.id);
      if (!n) return;
      const x = Math.max(60, Math.round(p.x - drag.dx));
      const y = Math.max(40, Math.round(p.y - drag.dy));
      if (!drag.moved && Math.hypot(x - drag.start.x, y - drag.start.y) < 3) return;
      if (!drag.moved) view.history.push(graphWithPosition(view, n.id, drag.start), view.presetId);
      drag.moved = true;
      n.x = x;
      n.y = y;
    } else {
      drag.b = p;
    }
    view.refresh();
  });
  svg.addEventListener("pointerup", (e) => {
    if (fingers.up(e)) return;
    const drag = view.drag;
    if (!drag) return;
    view.drag = null;
    if (drag.kind === "pan") return;
    if (drag.kind === "connect" && dropConnection(view, drag.from, e)) return;
    view.refresh();
  });
  svg.addEventListener("pointercancel", (e) => {
    fingers.up(e);
    view.drag = null;
    view.refresh();
  });
  svg.addEventListener("focusin", (e) => {
    const g = targetOf(e)?.closest("[data-node]");
    if (g && view.selected !== data(g, "node") && !view.drag) {
      view.selected = data(g, "node");
      view.selectedEdge = null;
      view.refresh();
    }
  });
  svg.addEventListener("keydown", (e) => nodeKey(view, e));
  document.addEventListener("keydown", (e) => pageKey(view, e));
  bindHoverCards(view);
}

/**
 * A connection dropped at the pointer: onto an input port, or onto a node's first free port.
 * @param {GraphView} view
 * @param {string} from
 * @param {PointerEvent} e
 * @returns {boolean} whether it connected
 */
function dropConnection(view, from, e) {
  const target = document.elementFromPoint(e.clientX, e.clientY);
  const port = target && target.closest("[data-port-in]");
  const nodeEl = target && target.closest("[data-node]");
  if (port) {
    const to = data(port, "nodeId");
    if (closesCycle(view, from, to)) messageAt(e, t("graph.cycleRefused", { from, to }));
    connect(view, from, to, Number(data(port, "portIn")));
    return true;
  }
  const n = nodeEl && data(nodeEl, "node") !== from ? view.node(data(nodeEl, "node")) : undefined;
  if (n) {
    const arity = Math.max(arityOf(view.ops.get(n.op), n), n.inputs.length);
    const free = Array.from({ length: arity }, (_, k) => k).find((k) => !n.inputs[k]);
    if (free !== undefined) {
      connect(view, from, n.id, free);
      return true;
    }
  }
  return false;
}

/**
 * A short message where the pointer is (a refused connection), gone after a few seconds.
 * @param {PointerEvent} e
 * @param {string} text
 */
function messageAt(e, text) {
  const box = byId("pointer-message");
  box.textContent = text;
  box.hidden = false;
  box.style.left = `${Math.max(8, Math.min(e.clientX + 12, window.innerWidth - box.offsetWidth - 8))}px`;
  box.style.top = `${Math.max(8, Math.min(e.clientY + 14, window.innerHeight - box.offsetHeight - 8))}px`;
  clearTimeout(Number(box.dataset.timer));
  box.dataset.timer = String(setTimeout(() => { box.hidden = true; }, 4000));
}

/** @type {Record<string, [number, number]>} */
const MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

/**
 * Keys on a focused node: arrows move it (Shift: further), Delete removes it, Enter edits it.
 * @param {GraphView} view
 * @param {KeyboardEvent} e
 */
function nodeKey(view, e) {
  const g = targetOf(e)?.closest("[data-node]");
  const n = g ? view.node(data(g, "node")) : undefined;
  if (!n) return;
  const step = e.shiftKey ? 40 : 10;
  const move = MOVES[e.key];
  if (move) {
    checkpoint(view);
    n.x = Math.max(60, n.x + move[0] * step);
    n.y = Math.max(40, n.y + move[1] * step);
    view.refresh();
    e.preventDefault();
  } else if (e.key === "Delete" || e.key === "Backspace") {
    remove(view, n.id);
    e.preventDefault();
  } else if (e.key === "Enter") {
    const first = byId("inspector-body").querySelector("input, select, textarea");
    if (first instanceof HTMLElement) first.focus();
    e.preventDefault();
  }
}

/**
 * The graph view's shortcuts anywhere on the page: Ctrl+Enter runs, Ctrl+Z / Ctrl+Y (or
 * Ctrl+Shift+Z) undo and redo, Delete removes the selected edge.
 * @param {GraphView} view
 * @param {KeyboardEvent} e
 */
function pageKey(view, e) {
  if (byId("view-graph").hidden) return;
  const mod = e.ctrlKey || e.metaKey;
  if (mod && e.key === "Enter") {
    run(view);
    e.preventDefault();
    return;
  }
  if (targetOf(e)?.matches("input, textarea, select")) return;
  const key = e.key.toLowerCase();
  if (mod && key === "z" && !e.shiftKey) {
    undoRedo(view, "undo");
    e.preventDefault();
  } else if (mod && (key === "y" || (key === "z" && e.shiftKey))) {
    undoRedo(view, "redo");
    e.preventDefault();
  } else if ((e.key === "Delete" || e.key === "Backspace") && view.selectedEdge) {
    removeEdge(view, view.selectedEdge);
    e.preventDefault();
  }
}

/**
 * The hover card: an element's data-tip (a value in full, an op's doc) next to the pointer.
 * @param {GraphView} view
 */
function bindHoverCards(view) {
  const tip = byId("tooltip");
  view.svg.addEventListener("pointerover", (e) => {
    const target = targetOf(e)?.closest("[data-tip]");
    if (!target || view.drag) return;
    view.tipTarget = target;
    tip.textContent = data(target, "tip");
    tip.hidden = false;
  });
  view.svg.addEventListener("pointermove", (e) => {
    if (!view.tipTarget || tip.hidden) return;
    // On the screen whatever the pointer's place: left of it near the right edge, above it
    // near the bottom, never past the left or top edge.
    const x = Math.max(8, Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8));
    const y = Math.max(8, Math.min(e.clientY + 16, window.innerHeight - tip.offsetHeight - 8));
    tip.style.left = `${x}px`;
    tip.style.top = `${y}px`;
  });
  view.svg.addEventListener("pointerout", (e) => {
    const target = targetOf(e)?.closest("[data-tip]");
    const to = e.relatedTarget instanceof Node ? e.relatedTarget : null;
    if (target && target === view.tipTarget && !target.contains(to)) {
      view.tipTarget = null;
      tip.hidden = true;
    }
  });
}

// @ts-check
// Phones and upright tablets (the one-column layout of app.css, up to 900 px wide): the tour's
// page and the exercise sit right under the canvas, so when one opens (or the next question
// comes) the page scrolls to put the canvas at the top of the screen with the question under it,
// and the canvas scrolls to the node asked about.

import { oneColumn } from "./ui.js";

/** @typedef {import("./graph-view.js").GraphView} GraphView */

/**
 * The middle of a node and the nodes feeding it, in canvas pixels (what a backward question
 * asks about: the edges into the node), or null for a node not drawn.
 * @param {GraphView} view
 * @param {string} id
 */
function focusPoint(view, id) {
  const node = view.node(id);
  if (!node || !view.geos.has(id)) return null;
  const feeds = node.inputs.map((s) => (s ? view.node(s) : undefined)).filter((n) => n !== undefined);
  const fx = feeds.length ? feeds.reduce((a, n) => a + n.x, 0) / feeds.length : node.x;
  const fy = feeds.length ? feeds.reduce((a, n) => a + n.y, 0) / feeds.length : node.y;
  // Halfway towards the inputs, where the asked edges' labels are, but never so far that the
  // node itself leaves a canvas of the size on show.
  const z = view.zoom;
  const halfW = view.scroll.clientWidth / 2 - 40;
  const halfH = view.scroll.clientHeight / 2 - 40;
  const x = node.x * z + Math.max(-halfW, Math.min(halfW, ((fx - node.x) * z) / 2));
  const y = node.y * z + Math.max(-halfH, Math.min(halfH, ((fy - node.y) * z) / 2));
  return { x, y };
}

/**
 * Scroll the canvas (not the page) so that node `id` is in its middle, as far as it scrolls.
 * @param {GraphView} view
 * @param {string} id
 */
export function scrollCanvasTo(view, id) {
  const at = focusPoint(view, id);
  if (!at) return;
  const scroll = view.scroll;
  scroll.scrollLeft = Math.max(0, at.x - scroll.clientWidth / 2);
  scroll.scrollTop = Math.max(0, at.y - scroll.clientHeight / 2);
}

/**
 * On one column: the canvas at the top of the screen (the tour's page or the question is right
 * under it) and node `id` in the canvas's view. Returns whether it did (false on wide screens).
 * @param {GraphView} view
 * @param {string | null} id the node asked about, or null
 */
export function placeForLearning(view, id) {
  if (!oneColumn()) return false;
  const top = view.scroll.getBoundingClientRect().top + window.scrollY - 4;
  window.scrollTo({ top: Math.max(0, top), behavior: "instant" });
  if (id) scrollCanvasTo(view, id);
  return true;
}

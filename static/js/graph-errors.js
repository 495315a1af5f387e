// @ts-check
// The error bubbles of a graph's nodes: each under (or beside) the node it names, covering none.

import { byId } from "./ui.js";

/**
 * The error bubbles under the nodes they name.
 * @param {import("./graph-view.js").GraphView} view
 */
export function renderErrors(view) {
  const box = byId("graph-errors");
  box.replaceChildren();
  const z = view.zoom;
  // Every node's box on the screen, and the bubbles placed so far: a bubble covers none.
  /** @type {{x: number, y: number, w: number, h: number}[]} */
  const taken = [];
  for (const n of view.graph.nodes) {
    const g = view.geo(n.id);
    if (g) taken.push({ x: (n.x - g.w / 2) * z, y: (n.y - g.h / 2) * z, w: g.w * z, h: g.h * z });
  }
  const clear = (/** @type {{x: number, y: number, w: number, h: number}} */ r) =>
    taken.every((t) => r.x >= t.x + t.w || t.x >= r.x + r.w || r.y >= t.y + t.h || t.y >= r.y + r.h);
  for (const [id, message] of Object.entries(view.errors)) {
    const n = view.node(id);
    if (!n) continue;
    const div = document.createElement("div");
    div.className = "node-error";
    div.dataset.node = id;
    div.setAttribute("role", "alert");
    div.textContent = message();
    box.append(div);
    const w = div.offsetWidth;
    const h = div.offsetHeight;
    const geo = view.geo(id);
    const below = (n.y + geo.h / 2 + 22) * z; // under the node's name
    const above = (n.y - geo.h / 2 - 6) * z - h;
    const left = (n.x - geo.w / 2) * z;
    const right = (n.x + geo.w / 2) * z;
    // Under the node (centred, then reaching right, then left), above it, then beside it:
    // the first place that covers no node; under it, centred, when every place does.
    const places = [
      { x: n.x * z - w / 2, y: below },
      { x: left, y: below },
      { x: right - w, y: below },
      { x: n.x * z - w / 2, y: above },
      { x: left, y: above },
      { x: right - w, y: above },
      { x: right + 8, y: n.y * z - h / 2 },
    ].map((p) => ({ x: Math.max(0, p.x), y: Math.max(0, p.y), w, h }));
    const place = places.find(clear) ?? places[0];
    div.style.left = `${place.x}px`;
    div.style.top = `${place.y}px`;
    taken.push(place);
  }
}

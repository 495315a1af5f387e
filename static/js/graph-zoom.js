// @ts-check
// Zoom and pan of the canvas: buttons, Ctrl+wheel (a trackpad pinch), two-finger pinch, and a
// drag on the empty canvas. Until the learner zooms, the view fits the graph; Fit goes back to that.

/** @typedef {import("./graph-view.js").GraphView} GraphView */

export const MIN_USER_ZOOM = 0.3;
export const MAX_USER_ZOOM = 3;

/**
 * Zoom to `z`, keeping the canvas point under (clientX, clientY) where it is (default: centre).
 * @param {GraphView} view
 * @param {number} z
 * @param {{x: number, y: number}} [around] a point on the screen
 */
export function zoomTo(view, z, around) {
  const scroll = view.scroll;
  const box = scroll.getBoundingClientRect();
  const at = around ?? { x: box.left + box.width / 2, y: box.top + box.height / 2 };
  const old = view.zoom;
  const next = Math.max(MIN_USER_ZOOM, Math.min(MAX_USER_ZOOM, z));
  // The canvas point under `at`, in canvas units, before the change.
  const cx = (scroll.scrollLeft + at.x - box.left) / old;
  const cy = (scroll.scrollTop + at.y - box.top) / old;
  view.autoZoom = false;
  view.fitAll = false;
  view.zoom = next;
  view.refresh();
  scroll.scrollLeft = cx * next - (at.x - box.left);
  scroll.scrollTop = cy * next - (at.y - box.top);
}

/**
 * Zoom in or out by a factor.
 * @param {GraphView} view
 * @param {number} factor
 */
export function zoomBy(view, factor) {
  zoomTo(view, view.zoom * factor);
}

/**
 * Fit the graph to the canvas again (text never below its smallest readable size).
 * @param {GraphView} view
 */
export function fitView(view) {
  view.autoZoom = true;
  view.fitAll = true;
  view.refresh();
  view.scroll.scrollLeft = 0;
  view.scroll.scrollTop = 0;
}

/**
 * Ctrl+wheel (and a trackpad's pinch, which browsers send as one) zooms around the pointer.
 * @param {GraphView} view
 */
export function bindWheelZoom(view) {
  view.scroll.addEventListener("wheel", (e) => {
    if (!e.ctrlKey && !e.metaKey) return; // a plain wheel scrolls, as everywhere
    e.preventDefault();
    zoomTo(view, view.zoom * Math.exp(-e.deltaY / 300), { x: e.clientX, y: e.clientY });
  }, { passive: false });
}

/**
 * Two fingers on the canvas: pinch to zoom. Returns the handlers the canvas's pointer code
 * calls first; each says whether it took the event.
 * @param {GraphView} view
 */
export function pinch(view) {
  /** @type {Map<number, {x: number, y: number}>} */
  const down = new Map();
  /** @type {{distance: number, zoom: number} | null} */
  let start = null;
  const spread = () => {
    const [a, b] = [...down.values()];
    return { distance: Math.hypot(a.x - b.x, a.y - b.y), mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } };
  };
  return {
    /** @param {PointerEvent} e */
    down(e) {
      down.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (down.size !== 2) return false;
      start = { distance: Math.max(1, spread().distance), zoom: view.zoom };
      view.drag = null; // a second finger turns a drag into a pinch
      return true;
    },
    /** @param {PointerEvent} e */
    move(e) {
      if (!down.has(e.pointerId)) return false;
      down.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (!start || down.size !== 2) return false;
      const now = spread();
      zoomTo(view, start.zoom * (now.distance / start.distance), now.mid);
      return true;
    },
    /** @param {PointerEvent} e */
    up(e) {
      down.delete(e.pointerId);
      const was = start !== null;
      if (down.size < 2) start = null;
      return was;
    },
  };
}

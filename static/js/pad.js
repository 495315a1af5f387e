// @ts-check
// A pad to draw a digit, turned into a 28×28 MNIST-like image: the stroke's box scaled to fit
// 20×20 keeping its aspect ratio, then placed so its centre of mass is the image centre (as
// MNIST was made), values 0..1. A small drawing is not blown up past 1.5× the pad's own scale,
// so the pen stays a pen (about 3 px wide) and a short dash stays a dash, not a blob.

import { diverging, maxOf } from "./tensor.js";

const SIZE = 28;
const BOX = 20;

/**
 * The 2-D context of a canvas (every canvas here has one).
 * @param {HTMLCanvasElement} canvas
 * @param {CanvasRenderingContext2DSettings} [settings]
 */
function context(canvas, settings) {
  return /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d", settings));
}

/**
 * Draw 784 values (0..1) as a grey image on a 28×28 canvas (white ink on black, like MNIST).
 * @param {HTMLCanvasElement} canvas
 * @param {number[]} pixels
 */
export function drawGray(canvas, pixels) {
  const ctx = context(canvas);
  const img = ctx.createImageData(SIZE, SIZE);
  for (let i = 0; i < SIZE * SIZE; i++) {
    const v = Math.round(255 * Math.max(0, Math.min(1, pixels[i])));
    img.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * Draw 784 weights on a 28×28 canvas: red positive, blue negative, scaled by `scale`.
 * @param {HTMLCanvasElement} canvas
 * @param {number[]} weights
 * @param {number} [scale] the |weight| drawn at full colour (default: the largest)
 */
export function drawWeights(canvas, weights, scale) {
  const ctx = context(canvas);
  const img = ctx.createImageData(SIZE, SIZE);
  const s = scale || Math.max(1e-12, maxOf(weights.map(Math.abs)));
  for (let i = 0; i < SIZE * SIZE; i++) img.data.set([...diverging(weights[i] / s), 255], i * 4);
  ctx.putImageData(img, 0, 0);
}

/**
 * The pad's ink as a Float32Array of w×h intensities in 0..1.
 * @param {HTMLCanvasElement} canvas
 */
function inkOf(canvas) {
  const { width, height } = canvas;
  const data = context(canvas).getImageData(0, 0, width, height).data;
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = data[i * 4] / 255;
  return ink;
}

/**
 * The drawing as 28 rows of 28 numbers in 0..1, or null if the pad is empty.
 * @param {HTMLCanvasElement} canvas
 * @returns {number[][] | null}
 */
export function toMnist(canvas) {
  const { width, height } = canvas;
  const ink = inkOf(canvas);
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > 0.1) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  // NOTE: the same factor on both axes (aspect kept), and at most 1.5× the pad-to-28 scale.
  const scale = Math.min(BOX / Math.max(w, h), (1.5 * SIZE) / Math.max(width, height));
  const dw = Math.max(1, Math.round(w * scale));
  const dh = Math.max(1, Math.round(h * scale));
  // Box filter: each small pixel is the mean of the pad pixels it covers.
  const small = new Float32Array(dw * dh);
  for (let v = 0; v < dh; v++) {
    const sy0 = y0 + Math.floor((v * h) / dh);
    const sy1 = Math.max(sy0 + 1, y0 + Math.floor(((v + 1) * h) / dh));
    for (let u = 0; u < dw; u++) {
      const sx0 = x0 + Math.floor((u * w) / dw);
      const sx1 = Math.max(sx0 + 1, x0 + Math.floor(((u + 1) * w) / dw));
      let sum = 0;
      for (let y = sy0; y < sy1; y++) for (let x = sx0; x < sx1; x++) sum += ink[y * width + x];
      small[v * dw + u] = sum / ((sy1 - sy0) * (sx1 - sx0));
    }
  }
  let mass = 0;
  let cx = 0;
  let cy = 0;
  for (let v = 0; v < dh; v++) {
    for (let u = 0; u < dw; u++) {
      const m = small[v * dw + u];
      mass += m;
      cx += m * (u + 0.5);
      cy += m * (v + 0.5);
    }
  }
  cx /= mass;
  cy /= mass;
  const ox = Math.round(SIZE / 2 - cx);
  const oy = Math.round(SIZE / 2 - cy);
  const peak = maxOf(small);
  const rows = Array.from({ length: SIZE }, () => new Array(SIZE).fill(0));
  for (let v = 0; v < dh; v++) {
    for (let u = 0; u < dw; u++) {
      const x = u + ox;
      const y = v + oy;
      if (x >= 0 && x < SIZE && y >= 0 && y < SIZE) {
        rows[y][x] = Math.round(Math.min(1, small[v * dw + u] / peak) * 1000) / 1000;
      }
    }
  }
  return rows;
}

/**
 * Make `canvas` a drawing pad; `onStroke` is called after each stroke ends.
 * @param {HTMLCanvasElement} canvas
 * @param {() => void} onStroke
 */
export function bindPad(canvas, onStroke) {
  const ctx = context(canvas, { willReadFrequently: true }); // toMnist reads it back after every stroke
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let drawing = false;
  let last = { x: 0, y: 0 };
  /** @type {(e: PointerEvent) => {x: number, y: number}} */
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * canvas.width) / r.width, y: ((e.clientY - r.top) * canvas.height) / r.height };
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    last = at(e);
    canvas.setPointerCapture(e.pointerId);
    ctx.fillStyle = "#fff";
    ctx.beginPath();
    ctx.arc(last.x, last.y, 10, 0, Math.PI * 2);
    ctx.fill();
    e.preventDefault();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = at(e);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 20;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    onStroke();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  // The keyboard's pen (WCAG 2.1.1, 2.5.7): arrows draw a stroke from the pen, Shift+arrows
  // move it without ink; the digit is read once the keys rest.
  let pen = { x: canvas.width / 2, y: canvas.height / 4 };
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let rest;
  /** @type {Record<string, [number, number]>} */
  const STEPS = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
  canvas.addEventListener("keydown", (e) => {
    const step = STEPS[e.key];
    if (!step) return;
    e.preventDefault();
    const next = {
      x: Math.max(10, Math.min(canvas.width - 10, pen.x + step[0] * 20)),
      y: Math.max(10, Math.min(canvas.height - 10, pen.y + step[1] * 20)),
    };
    if (!e.shiftKey) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 20;
      ctx.lineCap = "round";
      ctx.beginPath();
      ctx.moveTo(pen.x, pen.y);
      ctx.lineTo(next.x, next.y);
      ctx.stroke();
      clearTimeout(rest);
      rest = setTimeout(onStroke, 400);
    }
    pen = next;
  });
  const clearAll = () => {
    clear();
    pen = { x: canvas.width / 2, y: canvas.height / 4 };
  };
  return { clear: clearAll };
}

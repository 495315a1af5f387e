// @ts-check
// A tensor collapsed to a chip on the canvas ("2×3" and a mini heatmap) opens its numbers in a
// popover: on hover, on a tap or click (which keeps it open), and on keyboard focus (Enter or
// Space toggles it). Escape closes it; the popover always stays inside the window.

/** @typedef {import("./graph-view.js").GraphView} GraphView */

/** @type {HTMLElement | null} */
let pop = null;
/** @type {{key: string, pinned: boolean} | null} the chip whose numbers are open */
let open = null;

/** The popover element, made on first use. */
function popover() {
  if (pop) return pop;
  pop = document.createElement("div");
  pop.id = "chip-pop";
  pop.className = "chip-pop";
  pop.setAttribute("role", "dialog");
  pop.hidden = true;
  const title = document.createElement("p");
  title.className = "chip-pop-title";
  title.id = "chip-pop-title";
  const numbers = document.createElement("pre");
  numbers.className = "chip-pop-numbers";
  pop.setAttribute("aria-labelledby", title.id);
  pop.append(title, numbers);
  document.body.append(pop);
  return pop;
}

/**
 * The chip element with this key on the canvas, if drawn.
 * @param {GraphView} view
 * @param {string} key
 */
function chipEl(view, key) {
  const g = view.svg.querySelector(`[data-chip="${CSS.escape(key)}"]`);
  return g instanceof SVGGElement ? g : null;
}

/**
 * Open the numbers of a chip beside it, inside the window.
 * @param {GraphView} view
 * @param {SVGGElement} chip
 * @param {boolean} pinned opened by a tap or a key: stays until closed
 */
function show(view, chip, pinned) {
  const box = popover();
  const key = chip.dataset.chip ?? "";
  if (open && open.key !== key) hide(view);
  open = { key, pinned: pinned || Boolean(open && open.pinned) };
  const [title, numbers] = /** @type {[HTMLElement, HTMLElement]} */ ([box.children[0], box.children[1]]);
  title.textContent = chip.dataset.title ?? "";
  numbers.textContent = chip.dataset.numbers ?? "";
  box.classList.toggle("grad", key.startsWith("grad:"));
  box.hidden = false;
  chip.setAttribute("aria-expanded", "true");
  chip.setAttribute("aria-controls", box.id);
  place(chip);
}

/**
 * Put the popover under the chip (above it when there is no room below), inside the window.
 * @param {SVGGElement} chip
 */
function place(chip) {
  const box = popover();
  const r = chip.getBoundingClientRect();
  const w = box.offsetWidth;
  const h = box.offsetHeight;
  const x = Math.max(8, Math.min(r.left + r.width / 2 - w / 2, window.innerWidth - w - 8));
  let y = r.bottom + 6;
  if (y + h > window.innerHeight - 8) y = r.top - h - 6;
  y = Math.max(8, Math.min(y, window.innerHeight - h - 8));
  box.style.left = `${x}px`;
  box.style.top = `${y}px`;
}

/**
 * Close the popover.
 * @param {GraphView} view
 */
function hide(view) {
  if (!open) return;
  const chip = chipEl(view, open.key);
  if (chip) chip.setAttribute("aria-expanded", "false");
  open = null;
  popover().hidden = true;
}

/**
 * The chip an event is on, if any.
 * @param {Event} e
 */
function chipOf(e) {
  const g = e.target instanceof Element ? e.target.closest("[data-chip]") : null;
  return g instanceof SVGGElement ? g : null;
}

/**
 * Listen for hover, taps, focus and keys on chips.
 * @param {GraphView} view
 */
export function bindChips(view) {
  const svg = view.svg;
  /** @type {{key: string, x: number, y: number} | null} */
  let press = null;
  // In the capture phase: the canvas's own pointer handling redraws it on a press.
  svg.addEventListener("pointerdown", (e) => {
    const chip = chipOf(e);
    press = chip ? { key: chip.dataset.chip ?? "", x: e.clientX, y: e.clientY } : null;
    if (!chip && open) hide(view);
  }, { capture: true });
  svg.addEventListener("pointerup", (e) => {
    const was = press;
    press = null;
    if (!was || Math.hypot(e.clientX - was.x, e.clientY - was.y) > 8) return;
    const chip = chipEl(view, was.key);
    if (!chip) return;
    if (open && open.key === was.key && open.pinned) hide(view);
    else show(view, chip, true);
  }, { capture: true });
  svg.addEventListener("pointerover", (e) => {
    const chip = chipOf(e);
    if (chip && e.pointerType === "mouse" && !view.drag && !(open && open.pinned)) show(view, chip, false);
  });
  svg.addEventListener("pointerout", (e) => {
    const chip = chipOf(e);
    const to = e.relatedTarget instanceof Node ? e.relatedTarget : null;
    if (chip && open && !open.pinned && open.key === chip.dataset.chip && !chip.contains(to)) hide(view);
  });
  svg.addEventListener("focusin", (e) => {
    const chip = chipOf(e);
    if (chip) show(view, chip, false);
  });
  svg.addEventListener("focusout", (e) => {
    const chip = chipOf(e);
    if (chip && open && open.key === chip.dataset.chip) hide(view);
  });
  svg.addEventListener("keydown", (e) => {
    const chip = chipOf(e);
    if (!chip || (e.key !== "Enter" && e.key !== " ")) return;
    e.preventDefault();
    if (open && open.key === chip.dataset.chip) hide(view);
    else show(view, chip, true);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && open) {
      hide(view);
      e.stopPropagation();
    }
  }, { capture: true });
  window.addEventListener("resize", () => hide(view));
  view.scroll.addEventListener("scroll", () => {
    const chip = open ? chipEl(view, open.key) : null;
    if (chip) place(chip);
  });
}

/**
 * After the canvas was drawn again: the open popover follows its chip, or closes when the
 * chip is gone (another graph, the value hidden).
 * @param {GraphView} view
 */
export function syncChip(view) {
  if (!open) return;
  const chip = chipEl(view, open.key);
  if (!chip) {
    hide(view);
    return;
  }
  chip.setAttribute("aria-expanded", "true");
  chip.setAttribute("aria-controls", popover().id);
  place(chip);
}

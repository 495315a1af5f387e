// @ts-check
// Small shared pieces of the page: the toast line and element helpers.

import { t } from "./i18n.js";

/**
 * The page's element with this id, of the given class (HTMLElement unless said).
 * @template {Element} [T=HTMLElement]
 * @param {string} id
 * @param {new (...args: any[]) => T} [type]
 * @returns {T}
 */
export function byId(id, type) {
  const node = document.getElementById(id);
  const want = type ?? HTMLElement;
  if (!(node instanceof want)) throw new Error(`the page has no ${want.name} #${id}`);
  return /** @type {T} */ (/** @type {unknown} */ (node));
}

/**
 * What a form field accepts, said when it is refused ("a whole number from 1 to 2048").
 * @param {string} name
 * @param {number} max
 */
export function fieldMessage(name, max) {
  if (name === "learning_rate") return t("train.badLr");
  const min = name === "seed" ? 0 : 1;
  const field = t(`field.${name}`);
  return Number.isFinite(max) && max > 0 ? t("train.badInt", { field, min, max }) : t("train.badIntMin", { field, min });
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;

/**
 * Show a short message at the top of the page for a few seconds.
 * @param {string} message
 */
export function toast(message, ms = 2600) {
  const box = byId("toast");
  box.textContent = message;
  box.classList.add("show");
  clearTimeout(timer);
  timer = setTimeout(() => box.classList.remove("show"), ms);
}

/**
 * Create an HTML element with properties, attributes, listeners (`onclick`) and children.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = String(v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (!k.includes("-") && k !== "role" && k in node) /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (node))[k] = v;
    else node.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/**
 * Tabs with roving focus: arrow keys move between them, activation calls `onSelect(value)`.
 * @param {HTMLElement[]} buttons
 * @param {string} key the data-<key> attribute naming each tab
 * @param {(value: string) => void} onSelect
 */
export function bindTabs(buttons, key, onSelect) {
  buttons.forEach((b, i) => {
    b.addEventListener("click", () => onSelect(b.dataset[key] ?? ""));
    b.addEventListener("keydown", (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (!d) return;
      const next = buttons[(i + d + buttons.length) % buttons.length];
      next.focus();
      onSelect(next.dataset[key] ?? "");
      e.preventDefault();
    });
  });
}

/**
 * Mark the tab whose data-<key> is `value` as selected.
 * @param {HTMLElement[]} buttons
 * @param {string} key
 * @param {string} value
 */
export function selectTab(buttons, key, value) {
  for (const b of buttons) {
    const on = b.dataset[key] === value;
    b.setAttribute("aria-selected", on ? "true" : "false");
    b.tabIndex = on ? 0 : -1;
  }
}

/** The width up to which the page is one column (app.css's small-screen media query). */
export const ONE_COLUMN = "(max-width: 900px)";

/** Whether the page is in its one-column layout (phones, upright tablets). */
export function oneColumn() {
  return window.matchMedia(ONE_COLUMN).matches;
}

/**
 * Whether a button can be pressed now (enabled, shown, not busy).
 * @param {HTMLButtonElement} b
 */
function usable(b) {
  return !b.disabled && b.getAttribute("aria-disabled") !== "true" && b.getClientRects().length > 0;
}

/**
 * Enable or disable a button. Disabling the focused one first hands the focus to the nearest
 * usable button of its group (the one before it first), so that the keyboard's place is never
 * lost to the page's body (WCAG 2.4.3).
 * @param {HTMLButtonElement} button
 * @param {boolean} disabled
 */
export function setDisabled(button, disabled) {
  if (disabled && !button.disabled && document.activeElement === button) {
    const group = button.closest("[role=toolbar], [role=group], form, .row") ?? button.parentElement;
    const buttons = group ? [...group.querySelectorAll("button")] : [];
    const i = buttons.indexOf(button);
    const next = [...buttons.slice(0, i).reverse(), ...buttons.slice(i + 1)].find(usable);
    if (next) next.focus();
  }
  button.disabled = disabled;
}

/**
 * A button busy with the work it started: it keeps the focus (aria-disabled rather than
 * disabled, which would drop it) and says it is busy; its action checks `isBusy` first.
 * @param {HTMLButtonElement} button
 * @param {boolean} busy
 */
export function setBusy(button, busy) {
  if (busy) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
  button.setAttribute("aria-busy", busy ? "true" : "false");
}

/**
 * Whether a button is busy (see `setBusy`).
 * @param {HTMLButtonElement} button
 */
export function isBusy(button) {
  return button.getAttribute("aria-disabled") === "true";
}

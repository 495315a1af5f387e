// Small shared pieces of the page: the toast line and element helpers.

import { t } from "./i18n.js";

/** What a form field accepts, said when it is refused ("a whole number from 1 to 2048"). */
export function fieldMessage(name, max) {
  if (name === "learning_rate") return t("train.badLr");
  const min = name === "seed" ? 0 : 1;
  const field = t(`field.${name}`);
  return Number.isFinite(max) && max > 0 ? t("train.badInt", { field, min, max }) : t("train.badIntMin", { field, min });
}

let timer = null;

/** Show a short message at the top of the page for a few seconds. */
export function toast(message, ms = 2600) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.add("show");
  clearTimeout(timer);
  timer = setTimeout(() => box.classList.remove("show"), ms);
}

/** Create an HTML element with properties, attributes, listeners and children. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (!k.includes("-") && k !== "role" && k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** Tabs with roving focus: arrow keys move between them, activation calls `onSelect(value)`. */
export function bindTabs(buttons, key, onSelect) {
  buttons.forEach((b, i) => {
    b.addEventListener("click", () => onSelect(b.dataset[key]));
    b.addEventListener("keydown", (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (!d) return;
      const next = buttons[(i + d + buttons.length) % buttons.length];
      next.focus();
      onSelect(next.dataset[key]);
      e.preventDefault();
    });
  });
}

/** Mark the tab whose data-<key> is `value` as selected. */
export function selectTab(buttons, key, value) {
  for (const b of buttons) {
    const on = b.dataset[key] === value;
    b.setAttribute("aria-selected", on ? "true" : "false");
    b.tabIndex = on ? 0 : -1;
  }
}

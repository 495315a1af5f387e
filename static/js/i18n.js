// @ts-check
// One catalogue per language (static/i18n/<lang>.json); t() looks strings up, apply() fills the page.

const STORAGE_KEY = "backprop-lab.lang";
export const LANGUAGES = ["en", "zh"];

let current = "en";
/** @type {Record<string, string>} */
let catalogue = {};
/** @type {Record<string, string>} */
let fallback = {};

/**
 * @param {string} lang
 * @returns {Promise<Record<string, string>>}
 */
async function fetchCatalogue(lang) {
  const response = await fetch(`/static/i18n/${lang}.json`);
  if (!response.ok) throw new Error(`cannot load the ${lang} catalogue (${response.status})`);
  return response.json();
}

/** The language chosen before (localStorage), else the browser's, else English. */
export function preferredLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && LANGUAGES.includes(saved)) return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function language() {
  return current;
}

/**
 * The string for `key` with {name} placeholders filled from `params`.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params = {}) {
  const text = catalogue[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/**
 * Fill every element marked with data-i18n, data-i18n-title, data-i18n-placeholder, data-i18n-aria.
 * @param {ParentNode} [root]
 */
export function apply(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(dataOf(el).i18n ?? "");
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    if (el instanceof HTMLElement) el.title = t(el.dataset.i18nTitle ?? "");
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) el.placeholder = t(el.dataset.i18nPlaceholder ?? "");
  }
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(dataOf(el).i18nAria ?? ""));
  }
}

/**
 * The data-* attributes of an HTML or SVG element.
 * @param {Element} el
 * @returns {DOMStringMap}
 */
function dataOf(el) {
  return el instanceof HTMLElement || el instanceof SVGElement ? el.dataset : {};
}

/**
 * Switch to `lang`, remember it, relabel the page and tell the views (event "langchange").
 * @param {string} lang
 */
export async function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) lang = "en";
  if (!Object.keys(fallback).length) fallback = await fetchCatalogue("en");
  catalogue = lang === "en" ? fallback : await fetchCatalogue(lang);
  current = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("app.title");
  apply();
  document.dispatchEvent(new CustomEvent("langchange", { detail: { lang } }));
}

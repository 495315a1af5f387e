// The page's real catalogues (static/i18n/<lang>.json) for modules whose text goes through t():
// i18n.js's setLanguage with the few browser globals it touches, fetch reading the file itself.
import { readFile } from "node:fs/promises";

import { setLanguage } from "../../static/js/i18n.js";

const ROOT = new URL("../../", import.meta.url);

/**
 * Switch i18n.js to `lang`, reading its catalogue from static/i18n.
 * @param {string} lang
 */
export async function useCatalogue(lang) {
  const g = /** @type {Record<string, unknown>} */ (globalThis);
  g.fetch = async (/** @type {string} */ url) => {
    const text = await readFile(new URL(`.${url}`, ROOT), "utf8");
    return { ok: true, status: 200, json: async () => JSON.parse(text) };
  };
  g.localStorage ??= { getItem: () => null, setItem: () => {} };
  g.document ??= { documentElement: {}, title: "", querySelectorAll: () => [], dispatchEvent: () => true };
  g.CustomEvent ??= class { constructor(/** @type {string} */ type) { this.type = type; } };
  await setLanguage(lang);
}

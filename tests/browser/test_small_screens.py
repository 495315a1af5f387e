"""Phones and tablets: one column, no sideways page scroll, every control reachable by a tap,
the canvas full width with pinch-zoom and a one-finger pan."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect

from tests.browser.conftest import SCREENSHOTS, Lab
from tests.conftest import Server

SCREENS = [(360, 740), (390, 844), (768, 1024)]


@pytest.fixture
def touch(browser: Browser, ui_server: Server) -> Iterator[Callable[..., Page]]:
    """Open the page on a touch screen of a given size; closes every context afterwards."""
    opened: list[BrowserContext] = []

    def open_at(width: int, height: int, fragment: str = "") -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height}, has_touch=True, bypass_csp=True
        )
        context.set_default_timeout(15_000)
        opened.append(context)
        page = context.new_page()
        page.goto(f"{ui_server.url}/{fragment}")
        page.wait_for_selector("body[data-ready=true]")
        return page

    yield open_at
    for context in opened:
        context.close()


def page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def inside(page: Page, selector: str, width: int) -> None:
    """The element is on the screen horizontally (not cut off, not off to the right)."""
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (selector, box)


@pytest.mark.parametrize(("width", "height"), SCREENS)
@pytest.mark.parametrize("view", ["graph", "train", "gradcheck"])
def test_no_view_scrolls_sideways_and_the_header_fits(
    touch: Callable[..., Page], width: int, height: int, view: str
) -> None:
    page = touch(width, height, f"#view={view}")
    assert page_width(page) <= width
    for selector in ("#tab-graph", "#tab-train", "#tab-gradcheck", "#lang-select"):
        inside(page, selector, width)
        box = page.locator(selector).bounding_box()
        assert box is not None and box["height"] >= 40, selector  # big enough for a finger


@pytest.mark.parametrize(("width", "height"), SCREENS[:2])
def test_a_phone_runs_and_steps_the_apples_by_touch(
    touch: Callable[..., Page], width: int, height: int
) -> None:
    page = touch(width, height)
    canvas = page.locator("#graph-scroll").bounding_box()
    assert canvas is not None and canvas["width"] >= 0.9 * width and canvas["height"] >= 300
    page.select_option("#preset-select", "apples")
    page.tap("#g-run")
    expect(page.locator("#graph-status")).to_have_class("status ok")
    expect(page.locator('[data-node-grad="tax"]')).to_have_text("∂L/∂tax = 200")
    if width == 390:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "phone-graph.png"))
    page.tap("#g-step")
    expect(page.locator("#step-phase")).to_contain_text("apple")
    page.locator('#graph-svg [data-node="tax"] .body').tap()
    expect(page.locator("#node-id")).to_have_value("tax")
    page.tap("#tab-gradcheck")
    expect(page.locator("#view-gradcheck")).to_be_visible()
    assert page_width(page) <= width
    page.select_option("#lang-select", "zh")
    expect(page.locator("#tab-graph")).to_have_text("计算图")
    assert page_width(page) <= width


def fingers(cdp: CDPSession, kind: str, points: list[tuple[float, float]]) -> None:
    cdp.send(
        "Input.dispatchTouchEvent",
        {
            "type": kind,
            "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)],
        },
    )


def test_pinch_zooms_the_canvas_and_one_finger_pans_it(touch: Callable[..., Page]) -> None:
    page = touch(390, 844)
    page.select_option("#preset-select", "apples")
    svg = page.locator("#graph-svg")
    before = float(svg.get_attribute("data-zoom") or 0)
    box = page.locator("#graph-scroll").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8  # empty canvas
    cdp = page.context.new_cdp_session(page)
    fingers(cdp, "touchStart", [(cx - 40, cy), (cx + 40, cy)])
    for step in range(1, 6):
        fingers(cdp, "touchMove", [(cx - 40 - 16 * step, cy), (cx + 40 + 16 * step, cy)])
    fingers(cdp, "touchEnd", [])
    after = float(svg.get_attribute("data-zoom") or 0)
    assert after > 1.5 * before, (before, after)
    scroll = page.locator("#graph-scroll")
    left = scroll.evaluate("e => e.scrollLeft")
    assert left > 100  # zoomed in around the fingers, so scrolled into the canvas
    fingers(cdp, "touchStart", [(cx - 100, cy)])
    for step in range(1, 6):
        fingers(cdp, "touchMove", [(cx - 100 + 20 * step, cy)])
    fingers(cdp, "touchEnd", [])
    assert scroll.evaluate("e => e.scrollLeft") == left - 100  # the finger pulled it right
    # NOTE: a click, not a tap: after raw CDP touches Chromium drops Playwright's next tap.
    page.click("#g-zoom-fit")  # the whole graph again, at most the size it opened at
    expect(svg).not_to_have_attribute("data-zoom", f"{after:.3f}")
    assert float(svg.get_attribute("data-zoom") or 0) <= before


def test_zoom_buttons_on_the_desktop(lab: Lab) -> None:
    page = lab.open()
    page.select_option("#preset-select", "apples")
    svg = page.locator("#graph-svg")
    fit = float(svg.get_attribute("data-zoom") or 0)
    page.click("#g-zoom-in")
    assert float(svg.get_attribute("data-zoom") or 0) == pytest.approx(fit * 1.25, abs=0.002)
    page.click("#g-zoom-out")
    page.click("#g-zoom-out")
    assert float(svg.get_attribute("data-zoom") or 0) == pytest.approx(fit * 0.8, abs=0.002)
    page.click("#g-zoom-fit")
    expect(svg).to_have_attribute("data-zoom", f"{fit:.3f}")


def test_the_learning_tools_work_by_touch_on_a_phone(touch: Callable[..., Page]) -> None:
    """Broken layer, check on the graph, code panel, nudge slider and export at 390 px."""
    page = touch(390, 844)
    page.select_option("#preset-select", "apples")
    page.tap("#g-check")
    expect(page.locator("#graph-status")).to_contain_text("All 5 gradients agree")
    page.locator('#graph-svg [data-node="price"] .body').tap()
    page.select_option("#node-variant", "no_swap")
    page.tap("#g-check")
    expect(page.locator('#graph-svg [data-edge="tax>price>1"]')).to_have_class("edge check-fail")
    for _ in range(6):  # to price's backward step
        page.tap("#g-step")
    expect(page.locator("#step-code-title")).to_contain_text("MulLayerNoSwap.backward()")
    page.locator('#graph-svg [data-node="apple"] .body').tap()
    page.locator("#nudge-slider").fill("-3")
    # The nudge tells the truth (2.2) beside the broken backprop's 400.
    expect(page.locator("#nudge-estimate")).to_contain_text("/ 2h = 2.2")
    expect(page.locator("#nudge-estimate")).to_contain_text("∂L/∂apple = 400")
    with page.expect_download() as info:
        page.tap("#g-export")
    assert info.value.suggested_filename == "apples.py"
    assert page_width(page) <= 390
    page.select_option("#lang-select", "zh")
    expect(page.locator("#step-code-title")).to_contain_text("正在运行的代码")
    assert page_width(page) <= 390


def test_a_phone_trains_and_a_finger_draws_a_digit(touch: Callable[..., Page]) -> None:
    """The training view at 390 px: Start by a tap, then a 7 drawn with a finger is classified."""
    from tests.browser.test_train_view import start, wait_status

    page = touch(390, 844, "#view=train")
    start(page, 60)
    wait_status(page, "completed")
    assert page_width(page) <= 390
    page.locator("#pad").scroll_into_view_if_needed()
    box = page.locator("#pad").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    cdp = page.context.new_cdp_session(page)
    path = [at(0.25 + 0.5 * i / 8, 0.22) for i in range(9)]
    path += [at(0.75 - 0.3 * i / 12, 0.22 + 0.63 * i / 12) for i in range(1, 13)]
    fingers(cdp, "touchStart", [path[0]])
    for point in path[1:]:
        fingers(cdp, "touchMove", [point])
    fingers(cdp, "touchEnd", [])
    expect(page.locator("#pad-result")).not_to_be_empty()
    expect(page.locator(".prob-bars li")).to_have_count(10)

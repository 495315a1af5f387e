"""Phones and upright tablets, measured: where things are on the screen (bounding boxes, in the
viewport's pixels) at 390×844 and 360×740 by touch, in English and 简体中文.

An exercise link shows the asked node on the canvas and the question right under it without the
learner scrolling, nothing laid over the canvas; Tour, Exercise and the examples are near the top;
Start on Training shows the live chart; the gradient check's numbers and chart read on a phone;
the code panel shows the lines that run, with the book's beside the engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser.conftest import Lab, lab_on, link
from tests.conftest import Server

PHONES = [(390, 844), (360, 740)]
LANGS = ["en", "zh"]

Box = dict[str, float]


@pytest.fixture
def touch(browser: Browser, ui_server: Server) -> Iterator[Callable[..., Lab]]:
    """A touch screen of a given size in a given language; fails on console errors."""
    with ExitStack() as stack:

        def open_at(width: int, height: int, lang: str = "en") -> Lab:
            viewport: ViewportSize = {"width": width, "height": height}
            lab = stack.enter_context(lab_on(browser, ui_server.url, viewport, has_touch=True))
            lab.page.add_init_script(f"localStorage.setItem('backprop-lab.lang', '{lang}')")
            return lab

        yield open_at


def box_of(page: Page, selector: str) -> Box:
    """The element's box; a panel drawn anew as the page settles (the tour's, on each answer)
    may replace the element between finding and measuring it: measured again then."""
    box = None
    for _ in range(20):
        box = page.locator(selector).first.bounding_box()
        if box is not None:
            break
        page.wait_for_timeout(50)
    assert box is not None, selector
    return box


def on_screen(box: Box, width: int, height: int, what: str) -> None:
    """Wholly inside the viewport: seen without scrolling."""
    assert box["x"] >= -0.5 and box["x"] + box["width"] <= width + 0.5, (what, box)
    assert box["y"] >= -0.5 and box["y"] + box["height"] <= height + 0.5, (what, box)


def within(inner: Box, outer: Box, what: str) -> None:
    assert (
        inner["x"] >= outer["x"] - 0.5
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
    ), (
        what,
        inner,
        outer,
    )
    assert (
        inner["y"] >= outer["y"] - 0.5
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5
    ), (
        what,
        inner,
        outer,
    )


def apples_link(url: str) -> str:
    """The exercise link the panel's "Copy exercise link" makes for the apples."""
    presets = httpx.get(url + "/graphs/presets").json()
    presets = presets["presets"] if isinstance(presets, dict) else presets
    graph = next(p for p in presets if p["id"] == "apples")["graph"]
    return f"#view=graph&g={link(graph)}&mode=exercise"


def top_element_is_canvas(page: Page, box: Box) -> bool:
    """What a finger at the middle of `box` touches is the canvas (no sheet or panel over it)."""
    return bool(
        page.evaluate(
            "([x, y]) => document.getElementById('graph-svg')"
            ".contains(document.elementFromPoint(x, y))",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
    )


def asked_in_view(page: Page, width: int, height: int) -> str:
    """The asked node and its '?' labels on the canvas, the question and its first field under
    the canvas, all on the screen at once; returns the asked node's id."""
    canvas = box_of(page, "#graph-scroll")
    on_screen(canvas, width, height, "canvas")
    assert canvas["height"] >= 240 and canvas["width"] >= 0.9 * width, canvas
    node = page.locator("#graph-svg .node.current")
    expect(node).to_have_count(1)
    asked = node.get_attribute("data-node") or ""
    node_box = box_of(page, "#graph-svg .node.current")
    within(node_box, canvas, "asked node in the canvas")
    assert top_element_is_canvas(page, node_box), "something covers the asked node"
    labels = page.locator("#graph-svg .edge-ask")
    assert labels.count() >= 1
    for i in range(labels.count()):
        label = labels.nth(i).bounding_box()
        assert label is not None
        within(label, canvas, "an asked edge's '?'")
    for selector in ("#ex-phase", "#exercise-panel input.ex-cell"):
        b = box_of(page, selector)
        on_screen(b, width, height, selector)
        assert b["y"] >= canvas["y"] + canvas["height"], (selector, "under the canvas, not over it")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    return asked


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("width", "height"), PHONES)
def test_an_exercise_link_shows_the_asked_node_with_its_question(
    touch: Callable[..., Lab], ui_server: Server, width: int, height: int, lang: str
) -> None:
    lab = touch(width, height, lang)
    page = lab.open(apples_link(ui_server.url))
    expect(page.locator("#ex-phase")).to_be_visible()
    assert asked_in_view(page, width, height) == "price"
    # The next question comes to the screen the same way, its node in the canvas's view.
    page.locator("#ex-show").tap()
    page.locator("#ex-next").tap()
    expect(page.locator("#graph-svg .node.current")).not_to_have_attribute("data-node", "price")
    assert asked_in_view(page, width, height) != "price"


@pytest.mark.parametrize(("width", "height"), [*PHONES, (768, 1024)])
def test_tour_exercise_and_examples_are_at_the_top(
    touch: Callable[..., Lab], width: int, height: int
) -> None:
    page = touch(width, height).open("#view=graph")
    for selector in ("#g-tour", "#g-exercise", "#preset-select", "#g-run"):
        b = box_of(page, selector)
        on_screen(b, width, height, selector)
        assert b["y"] + b["height"] <= 300, (selector, b)  # not 1,300 px down under the palette
        assert b["height"] >= 40, selector
    canvas = box_of(page, "#graph-scroll")
    # A tablet's toolbar wraps to a second row: its canvas starts a little lower.
    assert canvas["y"] < (310 if width < 600 else 360) and canvas["width"] >= 0.9 * width, canvas
    # The palette and the file buttons come after the canvas, the step-through and the node.
    assert box_of(page, "#palette")["y"] > canvas["y"] + canvas["height"]
    assert box_of(page, "#g-save")["y"] > canvas["y"] + canvas["height"]


@pytest.mark.parametrize("lang", LANGS)
def test_a_tour_page_sits_under_the_canvas_on_a_phone(touch: Callable[..., Lab], lang: str) -> None:
    width, height = 360, 740
    page = touch(width, height, lang).open("#view=graph&tour=3")
    expect(page.locator("#tour-panel")).to_be_visible()
    canvas = box_of(page, "#graph-scroll")
    on_screen(canvas, width, height, "canvas")
    title = box_of(page, "#tour-title")
    on_screen(title, width, height, "the tour page's title")
    assert title["y"] >= canvas["y"] + canvas["height"]
    # Nothing over the canvas: its middle is the canvas's to a finger.
    assert top_element_is_canvas(page, canvas)


def test_start_on_a_phone_shows_the_live_chart(touch: Callable[..., Lab]) -> None:
    from tests.browser.test_train_view import start, wait_status

    width, height = 390, 844
    page = touch(width, height).open("#view=train")
    start(page, 200)
    chart = page.locator("#loss-chart")
    expect(chart).to_be_in_viewport(ratio=1)
    on_screen(box_of(page, "#loss-chart"), width, height, "loss chart")
    wait_status(page, "completed")


def text_boxes(page: Page, selector: str) -> list[Box]:
    return list(
        page.evaluate(
            """(sel) => [...document.querySelectorAll(sel)].map((el) => {
                const r = el.getBoundingClientRect();
                return {x: r.x, y: r.y, width: r.width, height: r.height, text: el.textContent};
            })""",
            selector,
        )
    )


def overlaps(a: Box, b: Box) -> bool:
    return (
        a["x"] < b["x"] + b["width"] - 0.5
        and b["x"] < a["x"] + a["width"] - 0.5
        and a["y"] < b["y"] + b["height"] - 0.5
        and b["y"] < a["y"] + a["height"] - 0.5
    )


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("width", "height"), PHONES)
def test_the_gradient_check_reads_on_a_phone(
    touch: Callable[..., Lab], width: int, height: int, lang: str
) -> None:
    page = touch(width, height, lang).open("#view=gradcheck")
    page.locator("#gc-run").tap()
    rows = page.locator("#gc-table tbody tr")
    expect(rows).to_have_count(4, timeout=60_000)  # W1, b1, W2, b2 (a first check loads data)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Every number on one line ("2.68e-13", never "2.68e-" over "13"), inside the screen.
    lines = page.evaluate(
        """() => [...document.querySelectorAll('#gc-table td.num')].map((td) => {
            const range = document.createRange();
            range.selectNodeContents(td);
            const r = td.getBoundingClientRect();
            return [td.textContent, range.getClientRects().length, r.x, r.x + r.width];
        })"""
    )
    assert len(lines) == 4 * 5
    for text, count, left, right in lines:
        assert count == 1, text
        assert left >= 0 and right <= width, text
    # Each value is named beside it (the column's heading), in the page's language.
    mean = page.locator('#gc-table tr[data-param="W1"] td').nth(1)
    heading = page.locator("#gc-table thead th").nth(2).text_content()
    assert mean.get_attribute("data-label") == heading
    # The chart: no two texts overlap (ticks, legend, tolerance, names) and all inside it.
    page.locator("#gc-picture svg").scroll_into_view_if_needed()
    svg = box_of(page, "#gc-picture svg")
    assert svg["x"] >= 0 and svg["x"] + svg["width"] <= width
    texts = text_boxes(page, "#gc-picture svg text")
    assert len(texts) >= 4 + 3 + 3  # names, legend, ticks at least
    for i, a in enumerate(texts):
        within(a, svg, f"chart text {a['text']!r}")
        for b in texts[i + 1 :]:
            assert not overlaps(a, b), (a, b)
    # Legend marks are apart from the tolerance's line label too.
    tol = text_boxes(page, "#gc-picture svg .tol-label")
    marks = text_boxes(page, "#gc-picture svg .legend > *")
    assert tol and marks
    for m in marks:
        assert not overlaps(tol[0], m), (tol[0], m)


def not_cut(page: Page, selector: str) -> bool:
    """The element's content is no wider than its box (nothing hidden sideways)."""
    return bool(
        page.evaluate(
            "(s) => { const e = document.querySelector(s);"
            " return e.scrollWidth <= e.clientWidth; }",
            selector,
        )
    )


def lit_line_in_view(page: Page, words: str) -> None:
    """The lit line containing `words` is wholly inside the code box's visible part, unclipped."""
    pre = box_of(page, "#step-code-pre")
    line = page.locator("#step-code-lines .line.running", has_text=words)
    expect(line).to_have_count(1)
    b = line.bounding_box()
    assert b is not None
    within(b, pre, f"lit line {words!r}")
    assert not_cut(page, "#step-code-pre")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_code_panel_shows_the_lit_lines_and_the_books_beside_them(
    browser: Browser, ui_server: Server, width: int, height: int, lang: str
) -> None:
    viewport: ViewportSize = {"width": width, "height": height}
    with lab_on(browser, ui_server.url, viewport, has_touch=width < 900) as lab:
        lab.page.add_init_script(f"localStorage.setItem('backprop-lab.lang', '{lang}')")
        page = lab.open("#view=graph&tour=3")  # "Add and multiply": the apples
        # The page hides its answers (stepping too) until its exercise is done or skipped.
        expect(page.locator("#g-step")).to_be_disabled()
        page.locator("#tour-skip").click()
        for _ in range(6):  # to price's backward step: MulLayer.backward
            page.locator("#g-step").click()
        expect(page.locator("#step-code-title")).to_contain_text("MulLayer.backward()")
        lit_line_in_view(page, "dout * self.y")
        lit_line_in_view(page, "dout * self.x")
        book = page.locator("#step-book")
        expect(book).to_be_visible()
        expect(page.locator("#step-book-title")).to_contain_text("MulLayer.backward()")
        expect(page.locator("#step-book-lines .line")).to_have_text(
            [
                "12    def backward(self, dout):",
                "13        dx = dout * self.y  # swapped",
                "14        dy = dout * self.x",
                "15        return dx, dy",
            ]
        )
        adds = page.locator("#step-book-adds")
        expect(adds).to_contain_text("unbroadcast")
        expect(adds).to_contain_text(
            "What the engine adds:" if lang == "en" else "引擎多做了什么："
        )
        b = box_of(page, "#step-book pre")
        assert page.evaluate("document.querySelector('#step-book pre').scrollWidth") <= b["width"]
        # One step back, price's forward: the book's forward beside the engine's.
        page.locator("#g-step-back").click()
        expect(page.locator("#step-code-title")).to_contain_text("MulLayer.forward()")
        expect(page.locator("#step-book-lines .line").first).to_have_text(
            "6    def forward(self, x, y):"
        )
        lit_line_in_view(page, "self.y = y")


def test_no_book_code_where_the_engine_is_the_books(lab: Lab) -> None:
    """Sigmoid is the book's line for line: only the engine's code is shown."""
    graph = {
        "nodes": [
            {"id": "x", "op": "input", "value": 1},
            {"id": "s", "op": "sigmoid", "inputs": ["x"]},
        ],
        "output": "s",
    }
    page = lab.open(f"#view=graph&g={link(graph)}")
    page.click("#g-step")  # x: an input, no code
    page.click("#g-step")
    expect(page.locator("#step-code-title")).to_contain_text("Sigmoid.forward()")
    expect(page.locator("#step-book")).to_be_hidden()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("width", [1280, 1100])
def test_the_file_buttons_keep_their_border_in_the_sidebar(
    browser: Browser, ui_server: Server, width: int, lang: str
) -> None:
    viewport: ViewportSize = {"width": width, "height": 800}
    with lab_on(browser, ui_server.url, viewport) as lab:
        lab.page.add_init_script(f"localStorage.setItem('backprop-lab.lang', '{lang}')")
        page = lab.open("#view=graph")
        aside = box_of(page, "#view-graph .side.left")
        side = aside["x"] + aside["width"]
        for selector in ("#g-clear", "#g-save", "#g-load", "#g-share", "#g-export"):
            b = box_of(page, selector)
            assert b["x"] + b["width"] <= side - 1, (selector, b, side)  # its right border shows
            assert not_cut(page, selector), selector


@pytest.mark.parametrize(
    ("lang", "mul", "inp"),
    [("en", "Add node: mul", "Add node: input"), ("zh", "添加节点：乘法", "添加节点：输入")],
)
def test_the_palette_buttons_are_named_in_words(lab: Lab, lang: str, mul: str, inp: str) -> None:
    lab.page.add_init_script(f"localStorage.setItem('backprop-lab.lang', '{lang}')")
    page = lab.open("#view=graph")
    expect(page.locator('#palette [data-op="mul"]')).to_have_accessible_name(mul)
    expect(page.locator('#palette [data-op="input"]')).to_have_accessible_name(inp)

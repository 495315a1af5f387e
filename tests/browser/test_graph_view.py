"""The graph view in a real browser: the chapter's numbers, building by mouse, errors, stepping."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Lab

HAS_ERROR = re.compile(r"\bhas-error\b")


def load_preset(page: Page, preset: str) -> None:
    """Pick a preset from the examples menu."""
    page.select_option("#preset-select", preset)
    expect(page.locator("#graph-svg [data-node]").first).to_be_visible()


def run(page: Page) -> None:
    """Press Run and wait for the answer."""
    page.click("#g-run")
    expect(page.locator("#graph-status")).to_have_class("status ok")


def edge(page: Page, src: str, dst: str) -> Locator:
    """The labels drawn on the edge src -> dst."""
    return page.locator(f'#graph-svg .edge-labels[data-from="{src}"][data-to="{dst}"]')


def centre(locator: Locator) -> tuple[float, float]:
    """The middle of an element on the screen."""
    box = locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, source: Locator, target: Locator) -> None:
    """Press on source, move to target in small steps, release."""
    x0, y0 = centre(source)
    x1, y1 = centre(target)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()


def connect(page: Page, src: str, dst: str, port: int) -> None:
    """Drag from src's output port onto input port `port` of dst."""
    out = page.locator(f'#graph-svg [data-port-out="{src}"] circle')
    into = page.locator(f'#graph-svg [data-node="{dst}"] [data-port-in="{port}"] circle')
    drag(page, out, into)
    expect(page.locator(f'#graph-svg [data-edge="{src}>{dst}>{port}"]')).to_have_count(1)


def set_value(page: Page, node: str, value: str) -> None:
    """Select a node by clicking it and type its value in the inspector."""
    page.locator(f'#graph-svg [data-node="{node}"] .body').click()
    expect(page.locator("#node-id")).to_have_value(node)
    page.fill("#node-value", value)
    page.press("#node-value", "Enter")
    expect(page.locator(f'#graph-svg [data-node="{node}"] .node-value')).to_have_text(value)


def test_apples_preset_shows_the_books_numbers(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    run(page)
    out = page.locator('#graph-svg .output-labels[data-from="price"]')
    expect(out.locator(".edge-value")).to_have_text("220")
    expect(out.locator(".edge-grad")).to_have_text("1")
    expect(edge(page, "apple", "apple_price").locator(".edge-grad")).to_have_text("2.2")
    expect(edge(page, "apple_num", "apple_price").locator(".edge-grad")).to_have_text("110")
    expect(edge(page, "tax", "price").locator(".edge-grad")).to_have_text("200")
    expect(edge(page, "apple", "apple_price").locator(".edge-value")).to_have_text("100")
    expect(edge(page, "apple_price", "price").locator(".edge-value")).to_have_text("200")
    expect(edge(page, "apple_price", "price").locator(".edge-grad")).to_have_text("1.1")
    assert "#view=graph&g=" in page.url
    lab.screenshot("graph-view")


def test_build_x_times_y_plus_x_with_the_mouse(lab: Lab) -> None:
    page = lab.open()
    page.click("#g-clear")
    expect(page.locator("#graph-svg [data-node]")).to_have_count(0)
    for op in ("input", "input", "mul", "add"):
        page.click(f'#palette [data-op="{op}"]')
    expect(page.locator("#graph-svg [data-node]")).to_have_count(4)
    # Move the nodes into a readable left-to-right arrangement by dragging them.
    svg = page.locator("#graph-svg").bounding_box()
    assert svg is not None
    places = {"a": (90, 110), "c": (90, 260), "mul1": (300, 180), "add1": (500, 140)}
    for node, (x, y) in places.items():
        body = page.locator(f'#graph-svg [data-node="{node}"] .body')
        x0, y0 = centre(body)
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(svg["x"] + x, svg["y"] + y, steps=6)
        page.mouse.up()
    connect(page, "a", "mul1", 0)
    connect(page, "c", "mul1", 1)
    connect(page, "mul1", "add1", 0)
    connect(page, "a", "add1", 1)
    set_value(page, "a", "3")
    set_value(page, "c", "4")
    run(page)
    out = page.locator('#graph-svg .output-labels[data-from="add1"] .edge-value')
    expect(out).to_have_text("15")
    # a is used twice: its gradient is c (through the product) plus 1 (through the sum).
    expect(edge(page, "a", "mul1").locator(".edge-grad")).to_have_text("4")
    expect(edge(page, "a", "add1").locator(".edge-grad")).to_have_text("1")
    expect(page.locator('#graph-svg [data-node-grad="a"]')).to_have_text("∂L/∂a = 5")
    expect(page.locator('#graph-svg [data-node-grad="c"]')).to_have_text("∂L/∂c = 3")
    # Undo takes back the last edit (c's value), and the graph is evaluated again at once.
    page.locator("#graph-svg").click(position={"x": 700, "y": 500})
    page.keyboard.press("Control+z")
    expect(page.locator('#graph-svg [data-node="c"] .node-value')).to_have_text("1")
    expect(out).to_have_text("6")  # a · c + a = 3 · 1 + 3


def test_a_cycle_is_refused_when_it_is_made(lab: Lab) -> None:
    """A cycle used to be accepted and reported only on Run; now the edit is refused."""
    page = lab.open()
    load_preset(page, "apples")
    run(page)
    connect_via_panel(page, "apple_price", 0, "price")
    status = page.locator("#graph-status")
    expect(status).to_contain_text("apple_price already feeds price, so price → apple_price")
    expect(page.locator('#graph-svg [data-edge="price>apple_price>0"]')).to_have_count(0)
    expect(page.locator('#graph-svg [data-edge="apple>apple_price>0"]')).to_have_count(1)
    # By drag: the message appears where the pointer let go, and nothing is connected.
    out = page.locator('#graph-svg [data-port-out="price"] circle')
    into = page.locator('#graph-svg [data-node="apple_price"] [data-port-in="1"] circle')
    drag(page, out, into)
    message = page.locator("#pointer-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("would close a cycle")
    box, port = message.bounding_box(), into.bounding_box()
    assert box is not None and port is not None
    assert abs(box["x"] - (port["x"] + port["width"] / 2)) < 40
    expect(page.locator('#graph-svg [data-edge="price>apple_price>1"]')).to_have_count(0)


def connect_via_panel(page: Page, node: str, port: int, source: str) -> None:
    """Connect with the keyboard-friendly route: the inspector's input menus."""
    page.locator(f'#graph-svg [data-node="{node}"] .body').click()
    page.select_option(f'#inspector-body [data-focus-key="port-{port}"]', source)


def test_a_shape_mismatch_is_reported_on_the_offending_node(lab: Lab) -> None:
    lab.allow(422, "/graphs/evaluate")  # each edit is evaluated at once
    page = lab.open()
    page.click("#g-clear")
    for op in ("input", "input", "add"):
        page.click(f'#palette [data-op="{op}"]')
    connect_via_panel(page, "add1", 0, "a")
    connect_via_panel(page, "add1", 1, "c")
    page.locator('#graph-svg [data-node="a"] .body').click()
    page.select_option("#node-kind", "matrix")
    page.locator('#graph-svg [data-node="c"] .body').click()
    page.select_option("#node-kind", "vector")
    expect(page.locator('#graph-svg [data-node="a"] .node-value')).to_have_text("[2×2]")
    expect(page.locator('#graph-svg [data-node="c"] .node-value')).to_have_text("[3]")
    page.click("#g-run")
    bubble = page.locator('#graph-errors .node-error[data-node="add1"]')
    expect(bubble).to_contain_text("(2, 2)")
    expect(page.locator('#graph-svg [data-node="add1"]')).to_have_class(HAS_ERROR)
    expect(page.locator("#graph-status")).to_contain_text("add1")


def test_step_through_backward_in_reverse_order_with_local_rules(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    run(page)
    forward = ["apple", "apple_num", "apple_price", "tax", "price"]
    seen: list[str] = []
    for _ in range(5):
        page.click("#g-step")
        current = page.locator("#graph-svg .node.current")
        expect(current).to_have_count(1)
        seen.append(current.get_attribute("data-node") or "")
    assert sorted(seen) == sorted(forward)
    assert seen.index("apple_price") > max(seen.index("apple"), seen.index("apple_num"))
    assert seen[-1] == "price"
    rule = page.locator("#step-rule")
    expect(rule).to_contain_text("price = apple_price · tax = 200 · 1.1 = 220")
    # Forward only so far: no gradient is drawn yet.
    expect(page.locator("#graph-svg .edge-grad")).to_have_count(0)
    backward: list[str] = []
    rules: dict[str, str] = {}
    for _ in range(5):
        page.click("#g-step")
        expect(page.locator("#step-phase")).to_have_class("phase backward")
        node = page.locator("#graph-svg .node.current").get_attribute("data-node") or ""
        backward.append(node)
        rules[node] = page.locator("#step-rule").inner_text()
        if node == "apple_price":
            lab.screenshot("graph-step-through")
    assert backward == list(reversed(seen))
    assert "dx = dout · y = 1.1 · 2 = 2.2" in rules["apple_price"]
    assert "dy = dout · x = 1.1 · 100 = 110" in rules["apple_price"]
    assert "dy = dout · x = 1 · 200 = 200" in rules["price"]
    assert "∂L/∂apple = dout = 2.2" in rules["apple"]
    expect(page.locator("#graph-svg .node.current")).to_have_attribute("data-node", backward[-1])
    # Play steps on its own from the start; pressing it again pauses.
    page.click("#g-play")
    expect(page.locator("#g-play")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#step-progress")).to_have_text("Step 2 of 10", timeout=5000)
    page.click("#g-play")
    expect(page.locator("#g-play")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#g-play")).to_have_text("Play")
    page.wait_for_timeout(1500)
    expect(page.locator("#step-progress")).to_have_text("Step 2 of 10")


def test_language_switch_keeps_graph_and_results(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples_oranges")
    run(page)
    expect(page.locator("#graph-svg .output-labels .edge-value")).to_have_text("715")
    expect(page.locator("#g-run")).to_contain_text("Run")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#tab-graph")).to_have_text("计算图")
    expect(page.locator("#tab-gradcheck")).to_have_text("梯度确认")
    expect(page.locator("#g-run")).to_have_text("运行 ▶")
    expect(page.locator("#graph-svg .output-labels .edge-value")).to_have_text("715")
    expect(page.locator("#graph-svg .edge-grad")).not_to_have_count(0)
    lab.screenshot("graph-view-zh")
    lab.reload()
    expect(page.locator("#tab-graph")).to_have_text("计算图")
    expect(page.locator("#graph-svg [data-node]")).to_have_count(9)
    page.select_option("#lang-select", "en")
    expect(page.locator("#tab-graph")).to_have_text("Computational graph")
    expect(page.locator("#graph-svg [data-node]")).to_have_count(9)


def test_delete_undo_save_and_open_a_graph_file(lab: Lab, tmp_path: Path) -> None:
    page = lab.open()
    load_preset(page, "apples")
    nodes = page.locator("#graph-svg [data-node]")
    expect(nodes).to_have_count(5)
    page.locator('#graph-svg [data-node="tax"]').focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Delete")
    expect(nodes).to_have_count(4)
    page.keyboard.press("Control+z")
    expect(nodes).to_have_count(5)
    with page.expect_download() as download:
        page.click("#g-save")
    saved = tmp_path / "apples.json"
    download.value.save_as(saved)
    body = json.loads(saved.read_text())
    assert body["output"] == "price"
    assert {n["id"] for n in body["nodes"]} == {"apple", "apple_num", "tax", "apple_price", "price"}
    assert all(isinstance(n["x"], int) for n in body["nodes"])
    page.click("#g-clear")
    expect(nodes).to_have_count(0)
    page.set_input_files("#g-load-file", str(saved))
    expect(nodes).to_have_count(5)
    run(page)
    expect(edge(page, "tax", "price").locator(".edge-grad")).to_have_text("200")
    # The link holds the graph: a new page opened on it shows the same graph.
    other = page.context.new_page()
    other.goto(page.url)
    other.wait_for_selector("body[data-ready=true]")
    expect(other.locator("#graph-svg [data-node]")).to_have_count(5)
    other.close()

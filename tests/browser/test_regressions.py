"""Regressions found by using the app as a teacher and a student would, each one a real bug."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from playwright.sync_api import Page, Route, expect

from tests.app.sse_client import finished_run
from tests.browser.conftest import Lab
from tests.browser.test_graph_view import connect, edge, load_preset, run, set_value
from tests.conftest import Server


def inside(page: Page, inner: str, outer: str) -> bool:
    """Whether `inner`'s box lies within `outer`'s box on the screen."""
    a = page.locator(inner).first.bounding_box()
    b = page.locator(outer).first.bounding_box()
    assert a is not None and b is not None
    return (
        a["x"] >= b["x"] - 0.5
        and a["y"] >= b["y"] - 0.5
        and a["x"] + a["width"] <= b["x"] + b["width"] + 0.5
        and a["y"] + a["height"] <= b["y"] + b["height"] + 0.5
    )


def overlaps(page: Page, a: str, b: str) -> bool:
    """Whether the boxes of `a` and `b` intersect on the screen."""
    p = page.locator(a).first.bounding_box()
    q = page.locator(b).first.bounding_box()
    assert p is not None and q is not None
    return not (
        p["x"] + p["width"] <= q["x"]
        or q["x"] + q["width"] <= p["x"]
        or p["y"] + p["height"] <= q["y"]
        or q["y"] + q["height"] <= p["y"]
    )


def test_nodes_added_from_the_palette_read_left_to_right_without_overlaps(lab: Lab) -> None:
    # New nodes used to be stacked in one column, so every edge and label of x*y + x piled up;
    # and an edge running past a node on its row (x -> add, past x*y) had its labels under it.
    page = lab.open()
    page.click("#g-clear")
    for op in ("input", "input", "mul", "add"):
        page.click(f'#palette [data-op="{op}"]')
    xs = {
        n: (page.locator(f'#graph-svg [data-node="{n}"] .body').bounding_box() or {"x": 0})["x"]
        for n in ("a", "c", "mul1", "add1")
    }
    assert xs["a"] == xs["c"] < xs["mul1"] < xs["add1"], xs
    connect(page, "a", "mul1", 0)
    connect(page, "c", "mul1", 1)
    connect(page, "mul1", "add1", 0)
    connect(page, "a", "add1", 1)
    set_value(page, "a", "3")
    set_value(page, "c", "4")
    run(page)
    expect(edge(page, "a", "add1").locator(".edge-grad")).to_have_text("1")
    labels = '#graph-svg .edge-labels[data-from="a"][data-to="add1"]'
    for node in ("mul1", "add1", "a", "c"):
        assert not overlaps(page, labels, f'#graph-svg [data-node="{node}"] .body'), node
    page.click("#g-layout")
    for node in ("mul1", "add1", "a", "c"):
        assert not overlaps(page, labels, f'#graph-svg [data-node="{node}"] .body'), node


def test_a_presets_tensor_dout_is_kept_so_db_is_the_batch_sum(lab: Lab) -> None:
    # The batch-Affine preset backpropagates dY = [[1,2,3],[4,5,6]]: dB = [5, 7, 9], as its
    # explanation says. The dout field used to show "1,2,3,4,5,6" and Run then sent dout = 1.
    page = lab.open()
    load_preset(page, "affine_batch")
    expect(page.locator("#g-dout")).to_have_value("[[1,2,3],[4,5,6]]")
    with page.expect_request("**/graphs/evaluate") as request:
        run(page)
    body = request.value.post_data_json
    assert body is not None and body["dout"] == [[1, 2, 3], [4, 5, 6]]
    page.locator('#graph-svg [data-node="B"] .body').click()
    # The inspector shows the gradient's elements, not only its shape.
    grad = page.locator("#inspector-body pre.full-grad")
    expect(grad).to_contain_text(re.compile(r"5\s+7\s+9"))

    # The ReLU preset: the mask lets dout through where x > 0 only.
    load_preset(page, "relu_mask")
    expect(page.locator("#g-dout")).to_have_value("[[1,2],[3,4]]")
    run(page)
    page.locator('#graph-svg [data-node="x"] .body').click()
    expect(page.locator("#inspector-body pre.full-grad")).to_contain_text(
        re.compile(r"1\s+0\n\s*0\s+4")
    )

    # A dout that cannot be read is refused, not silently replaced by 1.
    page.fill("#g-dout", "[[1, 2")
    page.press("#g-dout", "Control+Enter")
    expect(page.locator("#graph-status")).to_have_class("status error")
    expect(page.locator("#graph-status")).to_contain_text("dout")


def test_a_graph_wider_than_the_canvas_is_shrunk_to_show_its_output(lab: Lab) -> None:
    # The two-layer-net preset is ~1140 px wide: at 80 % it overflowed the canvas at 1280x800
    # and the loss drawn at the output was cut off. It opens fitted to the canvas (its matrices
    # collapsed to chips), the loss included; Fit keeps it so.
    page = lab.open()
    load_preset(page, "two_layer_net")
    run(page)
    out = "#graph-svg .output-labels"
    expect(page.locator(out + " .edge-value")).to_have_text("1.6213")
    assert inside(page, out, "#graph-scroll")
    assert inside(page, '#graph-svg [data-node="x"]', "#graph-scroll")
    assert float(page.locator("#graph-svg").get_attribute("data-zoom") or 0) >= 0.5
    page.click("#g-zoom-fit")
    assert inside(page, out, "#graph-scroll")
    assert inside(page, '#graph-svg [data-node="x"]', "#graph-scroll")


def test_a_broken_link_says_so_instead_of_silently_showing_an_example(lab: Lab) -> None:
    page = lab.open("#view=graph&g=not-a-graph")
    expect(page.locator("#graph-svg [data-node]")).to_have_count(5)
    expect(page.locator("#graph-status")).to_contain_text("could not be read")


def test_the_hover_card_closes_when_the_graph_is_replaced(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "affine_batch")
    page.locator('#graph-svg [data-node="B"] .body').hover()
    expect(page.locator("#tooltip")).to_be_visible()
    expect(page.locator("#tooltip")).to_contain_text("1  2  3")
    page.select_option("#preset-select", "apples")
    expect(page.locator("#tooltip")).to_be_hidden()


def test_an_error_names_the_node_once_and_does_not_shrink_the_canvas(lab: Lab) -> None:
    lab.allow(422, "/graphs/evaluate")
    page = lab.open()
    load_preset(page, "apples")
    run(page)
    before = page.locator("#graph-scroll").bounding_box()
    page.locator('#graph-svg [data-node="apple"] .body').click()
    page.fill("#node-value", "1e308")
    page.press("#node-value", "Enter")
    page.click("#g-run")
    status = page.locator("#graph-status")
    expect(status).to_have_class("status error")
    expect(status).to_contain_text("Node 'apple_price' (mul) produced a non-finite value")
    expect(status).not_to_contain_text("Node apple_price:")
    expect(page.locator('#graph-errors .node-error[data-node="apple_price"]')).to_be_visible()
    assert page.locator("#graph-scroll").bounding_box() == before


def test_form_messages_say_what_each_field_accepts(lab: Lab) -> None:
    page = lab.open("#view=train")
    page.fill("#t-lr", "")
    page.click("#t-start")
    expect(page.locator("#t-form-error")).to_have_text(
        "Check the learning rate: a number greater than 0."
    )
    page.fill("#t-lr", "0.1")
    page.fill("#t-seed", "-1")
    page.click("#t-start")
    expect(page.locator("#t-form-error")).to_have_text("Check the seed: a whole number, 0 or more.")
    page.click("#tab-gradcheck")
    page.fill("#gc-hidden", "")
    page.click("#gc-run")
    expect(page.locator("#gc-error")).to_have_text(
        "Check the hidden size: a whole number from 1 to 2048."
    )
    # Checking an empty graph is refused in the page (no 422 from the server).
    page.click("#tab-graph")
    page.click("#g-clear")
    page.click("#tab-gradcheck")
    page.check('input[name="gc-target"][value="graph"]')
    page.click("#gc-run")
    expect(page.locator("#gc-error")).to_contain_text("The graph is empty")


def test_stepping_a_tensor_rule_shows_its_numbers_y_minus_t(lab: Lab) -> None:
    # Softmax-with-Loss backward is the chapter's y − t: the step used to say only "[3]".
    page = lab.open()
    load_preset(page, "softmax_with_loss")
    for _ in range(4):
        page.click("#g-step")
    expect(page.locator("#step-phase")).to_contain_text("loss")
    expect(page.locator("#step-rule")).to_contain_text("∂L/∂x = [0.018211, 0.24519, -0.2634]")
    page.click("#g-step")
    page.click("#g-step")
    expect(page.locator("#step-rule")).to_have_text("∂L/∂x = dout = [0.018211, 0.24519, -0.2634]")


def test_a_cycle_with_no_way_out_is_reported_as_a_cycle(lab: Lab) -> None:
    # Two adds feeding each other have no sink: the page sent no output and the server
    # answered "the graph has no 'output'" instead of naming the cycle. The page now refuses
    # such an edit; a file or link can still hold one, and the server names the cycle.
    lab.allow(422, "/graphs/evaluate")
    graph = {
        "nodes": [
            {"id": "add1", "op": "add", "inputs": ["add2", "add2"]},
            {"id": "add2", "op": "add", "inputs": ["add1", "add1"]},
        ]
    }
    encoded = base64.urlsafe_b64encode(json.dumps(graph).encode()).decode().rstrip("=")
    page = lab.open(f"#g={encoded}")
    page.click("#g-run")
    expect(page.locator("#graph-status")).to_contain_text("cycle")
    expect(page.locator("#graph-errors .node-error")).to_contain_text("cycle")


def test_a_large_tensor_is_drawn_as_a_small_heatmap(lab: Lab) -> None:
    # A 50x50 value was drawn 50 px tall, over the nodes next to it; heatmaps stay within 40 px.
    page = lab.open()
    load_preset(page, "relu_mask")
    page.fill("#g-dout", "1")
    page.press("#g-dout", "Enter")
    page.locator('#graph-svg [data-node="x"] .body').click()
    big = (
        "["
        + ",".join("[" + ",".join(str((i * j) % 5 - 2) for j in range(50)) + "]" for i in range(50))
        + "]"
    )
    page.fill("#inspector-body textarea", big)
    page.press("#inspector-body textarea", "Tab")
    run(page)
    images = page.locator("#graph-svg .edge-labels image")
    expect(images).to_have_count(4)
    for k in range(4):
        box = images.nth(k).bounding_box()
        assert box is not None and box["width"] <= 40.5 and box["height"] <= 40.5, box


def test_opening_a_file_that_is_not_a_graph_says_why_in_plain_words(
    lab: Lab, tmp_path: Path
) -> None:
    # It used to show the script's own error: "(body.nodes || []).map is not a function".
    page = lab.open()
    bad = tmp_path / "bad.json"
    bad.write_text('{"nodes": "nope"}')
    page.set_input_files("#g-load-file", str(bad))
    status = page.locator("#graph-status")
    expect(status).to_have_text(
        'bad.json is not a graph file: it needs a list "nodes", each node with an "id" and an "op"'
    )
    bad.write_text("not json")
    page.set_input_files("#g-load-file", str(bad))
    expect(status).to_have_text("bad.json is not a graph file: it is not JSON")
    expect(page.locator("#graph-svg [data-node]")).to_have_count(5)


def test_what_a_learner_types_before_the_newest_run_shows_is_kept(
    lab: Lab, ui_server: Server
) -> None:
    # The lab's newest run, finished: the Training view shows it when first opened.
    newest = finished_run(ui_server.url, {"iterations": 30, "hidden_size": 7})
    page = lab.open()
    held: list[Route] = []

    def hold(route: Route) -> None:  # its record waits until the learner has typed
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(f"**/train/{newest}", hold)
    page.click("#tab-train")
    page.fill("#t-iters", "123")
    page.fill("#t-hidden", "9")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the view did not ask for the newest run's record"
    held[0].continue_()
    expect(page.locator("#view-train")).to_have_attribute("data-run-id", newest)
    expect(page.locator("#s-status")).to_have_class(re.compile("status-completed"))
    # Its settings did not replace what was typed (CI once trained 100,000 iterations so).
    expect(page.locator("#t-iters")).to_have_value("123")
    expect(page.locator("#t-hidden")).to_have_value("9")

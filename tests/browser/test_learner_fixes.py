"""Rough edges a learner hit (issue 11), each checked in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import Lab, link, reused_x
from tests.browser.test_graph_view import load_preset, run


def test_the_softmax_with_loss_step_shows_y_t_and_n_and_no_gradient_for_t(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "softmax_with_loss")
    run(page)
    # Labels are data: no ∂L/∂t under t, none on the edge t -> loss.
    expect(page.locator('[data-node-grad="t"]')).to_have_count(0)
    expect(page.locator('.edge-labels[data-from="t"] .edge-grad')).to_have_count(0)
    expect(page.locator('[data-node-grad="x"]')).to_have_count(1)
    for _ in range(4):  # x, t, loss forward; loss backward
        page.click("#g-step")
    rule = page.locator("#step-rule")
    expect(rule).to_contain_text("y = softmax(x) = [0.018211, 0.24519, 0.7366]")
    expect(rule).to_contain_text("t = [0, 0, 1]")
    expect(rule).to_contain_text("N = 1")
    expect(rule).to_contain_text("(y − t) / N = [0.018211, 0.24519, -0.2634]")
    expect(rule).not_to_contain_text("dt =")
    page.click("#g-step")  # t's own backward step
    expect(rule).to_contain_text("t holds class labels")
    page.locator('#graph-svg [data-node="t"] .body').click()
    expect(page.locator("#inspector-body dd.grad")).to_have_text("none: labels get no gradient")


def test_new_inputs_are_not_named_like_ports_and_rules_say_who_feeds_what(lab: Lab) -> None:
    """New inputs used to be x, y: "dy = dout · x = 1 · 3 = 3 (y = x)" read as nonsense."""
    from tests.browser.test_graph_view import connect, set_value

    page = lab.open()
    page.click("#g-clear")
    for op in ("input", "input", "mul"):
        page.click(f'#palette [data-op="{op}"]')
    ids = page.locator("#graph-svg [data-node]").evaluate_all("els => els.map(e => e.dataset.node)")
    assert set(ids) == {"a", "c", "mul1"}
    connect(page, "a", "mul1", 0)
    connect(page, "c", "mul1", 1)
    set_value(page, "a", "3")
    set_value(page, "c", "4")
    run(page)
    for _ in range(4):  # a, c, mul1 forward; mul1 backward
        page.click("#g-step")
    rule = page.locator("#step-rule")
    expect(rule).to_contain_text("dx = dout · y = 1 · 4 = 4   (x = a, y = c)")
    expect(rule).to_contain_text("dy = dout · x = 1 · 3 = 3   (x = a, y = c)")


def test_the_address_is_the_state_back_and_a_second_link_restore_graphs(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    explanation = page.locator("#preset-explanation")
    apples_text = explanation.inner_text()
    load_preset(page, "relu_mask")
    expect(page.locator('#graph-svg [data-node="x"]')).to_have_count(1)
    page.go_back()  # the graph before the example, evaluated, with its explanation
    expect(page.locator('#graph-svg [data-node="apple"]')).to_have_count(1)
    expect(explanation).to_have_text(apples_text)
    expect(page.locator('#graph-svg .output-labels[data-from="price"] .edge-value')).to_have_text(
        "220"
    )
    page.go_forward()
    expect(page.locator('#graph-svg [data-node="x"]')).to_have_count(1)
    # A second shared link opened in the same tab is shown, evaluated, with its example's text.
    graph = {
        "nodes": [
            {"id": "x", "op": "input", "value": [0.3, 2.9, 4.0]},
            {"id": "t", "op": "input", "value": [0, 0, 1]},
            {"id": "loss", "op": "softmax_with_loss", "inputs": ["x", "t"]},
        ],
        "output": "loss",
    }
    page.goto(f"{lab.url}/#view=graph&g={link(graph)}&p=softmax_with_loss")
    expect(page.locator('#graph-svg [data-node="loss"]')).to_have_count(1)
    expect(page.locator("#preset-select")).to_have_value("softmax_with_loss")
    expect(page.locator('#graph-svg [data-node-grad="x"]')).to_have_attribute(
        "data-tip", re.compile(r"0\.0182113")
    )
    lab.reload()  # and a reopened link keeps it all
    expect(page.locator("#preset-select")).to_have_value("softmax_with_loss")
    expect(page.locator('#graph-svg [data-node-grad="x"]')).to_have_attribute(
        "data-tip", re.compile(r"0\.0182113")
    )


def test_step_is_disabled_at_the_last_step(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    run(page)
    step = page.locator("#g-step")
    for _ in range(10):  # 5 forward, 5 backward
        expect(step).to_be_enabled()
        page.click("#g-step")
    expect(page.locator("#step-progress")).to_contain_text("10")
    expect(step).to_be_disabled()
    page.click("#g-step-back")
    expect(step).to_be_enabled()


def test_small_tensors_show_their_numbers_and_the_relu_mask_reads_true_false(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "affine_batch")
    run(page)
    # The chapter's dB = [5, 7, 9]: written on the edge, not hidden in a heatmap.
    db = page.locator('.edge-labels[data-from="B"] .edge-grad')
    expect(db).to_have_class("label edge-grad numbers")
    expect(db).to_have_text("[5, 7, 9]")
    expect(page.locator("#heat-legend")).to_be_hidden()
    # Heatmaps asked for: every tensor is a chip (its shape and a mini heatmap), its numbers
    # a click away.
    page.select_option("#g-tensors", "heatmap")
    expect(db).to_have_class("label edge-grad heatmap chip")
    expect(page.locator("#heat-legend")).to_be_visible()
    db.click()
    expect(page.locator("#chip-pop")).to_contain_text("5  7  9")
    page.keyboard.press("Escape")
    expect(page.locator("#chip-pop")).to_be_hidden()
    page.select_option("#g-tensors", "auto")
    load_preset(page, "relu_mask")
    run(page)
    rows = page.locator('.edge-labels[data-from="x"] .edge-value text.row')
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_text("[[ 1, -0.5],")
    expect(rows.nth(1)).to_have_text(" [-2,    3]]")
    for _ in range(3):  # x, out forward; out backward
        page.click("#g-step")
    expect(page.locator("#step-rule")).to_contain_text(
        "mask = (x <= 0) = [[False, True], [True, False]]"
    )
    page.select_option("#lang-select", "zh")
    expect(page.locator("#g-tensors option").nth(0)).to_have_text("4×4 以内显示数字")


def test_a_ragged_value_and_a_bad_file_are_refused_at_once_in_the_learners_words(
    lab: Lab, tmp_path: Path
) -> None:
    page = lab.open()
    load_preset(page, "apples")
    run(page)
    page.locator('#graph-svg [data-node="apple"] .body').click()
    box = page.locator('#inspector-body textarea[data-focus-key="json"]')
    box.fill("[[1, 2], [3]]")
    box.dispatch_event("change")
    status = page.locator("#graph-status")
    expect(status).to_have_class("status error")
    expect(status).to_have_text(
        "Every row needs the same number of values: row 2 has 1, row 1 has 2."
    )
    expect(page.locator('#graph-svg [data-node="apple"] .node-value')).to_have_text("100")
    page.select_option("#lang-select", "zh")
    # the inspector is drawn again in Chinese: type into the new one, not the old one
    expect(page.locator("#inspector-body")).to_contain_text("JSON 形式（任意形状）")
    box = page.locator('#inspector-body textarea[data-focus-key="json"]')
    box.fill("[[1, 2], [3]]")
    box.dispatch_event("change")
    expect(status).to_have_text("每一行的数的个数必须相同：第 2 行有 1 个，第 1 行有 2 个。")
    page.select_option("#lang-select", "en")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "nodes": [
                    {"id": "a", "op": "input", "value": [[1, 2], [3]]},
                    {"id": "b", "op": "frobnicate", "inputs": ["a"]},
                ],
                "output": "b",
            }
        )
    )
    page.set_input_files("#g-load-file", str(bad))
    expect(status).to_have_class("status error")
    expect(status).to_contain_text("Node b uses the operation “frobnicate”")
    expect(status).to_contain_text("Node a: Every row needs the same number of values")
    expect(status).not_to_contain_text("Opened")
    expect(page.locator('#graph-svg [data-node="apple"]')).to_have_count(1)  # nothing replaced


def test_the_gradient_check_says_what_passing_means_and_can_show_a_failure(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    page.click("#tab-gradcheck")
    page.check('input[name="gc-target"][value="graph"]')
    page.click("#gc-run")
    summary = page.locator("#gc-summary")
    expect(summary.locator(".rule-words")).to_contain_text(
        "|backprop − numerical| ≤ atol + rtol · |numerical|"
    )
    tax = summary.locator('.side-by-side li[data-param="tax"]')
    expect(tax).to_contain_text("tax: backprop 200, numerical 199.99999")
    # A step far larger than the book's makes the numerical gradient itself wrong.
    page.click("#tab-graph")
    load_preset(page, "sigmoid_node")
    page.click("#tab-gradcheck")
    page.select_option("#gc-eps", "1")
    page.click("#gc-run")
    expect(summary.locator(".verdict")).to_have_attribute("data-passed", "false")
    expect(summary.locator('.side-by-side li[data-param="x"]')).to_contain_text(
        "x: backprop 0.196611933241482, numerical 0.19668"
    )
    page.select_option("#lang-select", "zh")
    expect(summary.locator(".rule-words")).to_contain_text("反向传播")


def test_no_gradient_in_the_inspector_before_the_backward_pass_and_dout_explained(
    lab: Lab,
) -> None:
    page = lab.open()
    load_preset(page, "apples")
    run(page)
    page.click("#g-step")  # the forward step of apple
    expect(page.locator("#inspector-body dd.grad")).to_have_text(
        "not yet: the backward pass comes after the forward one"
    )
    page.click("#g-step-reset")
    expect(page.locator("#inspector-body dd.grad")).to_have_text("2.2")
    title = page.locator("label:has(#g-dout)").get_attribute("title") or ""
    assert "gradient fed into the output" in title


def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"] - 0.5
        and b["x"] < a["x"] + a["width"] - 0.5
        and a["y"] < b["y"] + b["height"] - 0.5
        and b["y"] < a["y"] + a["height"] - 0.5
    )


def test_labels_of_a_reused_value_overlap_neither_each_other_nor_nodes(lab: Lab) -> None:
    """x · x + x: three gradients leave x; each label is readable, before and after Tidy."""
    graph = reused_x()
    page = lab.open(f"#g={link(graph)}")
    run(page)
    for tidy in (False, True):
        if tidy:
            page.click("#g-layout")
            run(page)
        labels = page.locator("#graph-svg .edge-labels .label")
        expect(labels).to_have_count(10)  # 4 edges and the output, each a value and a gradient
        boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
        nodes = page.locator("#graph-svg g.node .body")
        node_boxes = [nodes.nth(i).bounding_box() for i in range(nodes.count())]
        assert all(b is not None for b in boxes + node_boxes)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not boxes_overlap(a, b), (a, b)  # type: ignore[arg-type]
            for n in node_boxes:
                assert not boxes_overlap(a, n), (a, n)  # type: ignore[arg-type]


def test_every_palette_button_has_a_symbol(lab: Lab) -> None:
    page = lab.open()
    syms = page.locator("#palette .op-button .sym")
    expect(syms.first).to_be_visible()
    texts = syms.all_inner_texts()
    ops = page.request.get(lab.url + "/graphs/ops").json()["ops"]
    assert len(texts) == len(ops) >= 17 and all(t.strip() for t in texts), texts
    expect(page.locator('#palette [data-op="affine"] .sym')).to_have_text("xW+b")
    expect(page.locator('#palette [data-op="softmax_with_loss"] .sym')).to_have_text("SwL")
    page.select_option("#lang-select", "zh")
    expect(page.locator('#palette [data-op="mul"] .name')).to_have_text("乘法")
    expect(page.locator('#palette [data-op="cross_entropy"] .name')).to_have_text("交叉熵误差")


def test_a_long_example_title_is_shown_in_full(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "softmax_with_loss_primitives")
    title = page.locator("#preset-explanation .preset-title")
    expect(title).to_have_text("Softmax-with-Loss from primitive nodes")
    box = title.bounding_box()
    aside = page.locator("#view-graph .side.left").bounding_box()
    assert (
        box is not None
        and aside is not None
        and box["x"] + box["width"] <= aside["x"] + aside["width"]
    )


def test_a_hover_card_stays_on_the_screen(lab: Lab) -> None:
    """A wide value's card near the right edge of a narrow window is not cut off."""
    wide = {"nodes": [{"id": "W", "op": "input", "value": [[i * 1.2345 for i in range(40)]]}]}
    page = lab.open(f"#g={link({**wide, 'output': 'W'})}")
    page.set_viewport_size({"width": 360, "height": 700})
    run(page)
    node = page.locator('#graph-svg [data-node="W"] .body')
    box = node.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    tip = page.locator("#tooltip")
    expect(tip).to_be_visible()
    card = tip.bounding_box()
    assert card is not None
    assert card["x"] >= 0 and card["x"] + card["width"] <= 360
    assert card["y"] >= 0 and card["y"] + card["height"] <= 700


def test_the_step_panel_and_the_edges_write_numbers_alike(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "sigmoid_node")
    run(page)
    out = page.locator('#graph-svg .output-labels[data-from="y"] .edge-value')
    expect(out).to_have_text("0.73106")
    for _ in range(3):  # x, y forward; y backward
        page.click("#g-step")
    rule = page.locator("#step-rule")
    expect(rule).to_contain_text("= 1 · 0.73106 · (1 − 0.73106) = 0.19661")
    expect(rule).not_to_contain_text("0.731059")


def test_the_layout_packs_a_tall_graph_so_it_is_drawn_larger(lab: Lab) -> None:
    """Apples and oranges was laid out taller than the canvas and shrunk to 81 %."""
    page = lab.open()
    load_preset(page, "apples_oranges")
    # Laid out again once the answer's labels are measured: the zoom of the settled drawing.
    expect(page.locator("#graph-status")).to_have_class("status ok")
    expect(page.locator("#graph-svg .edge-labels").first).to_be_attached()
    zoom = float(page.locator("#graph-svg").get_attribute("data-zoom") or 0)
    assert zoom >= 0.9, zoom
    page.click("#g-layout")
    assert float(page.locator("#graph-svg").get_attribute("data-zoom") or 0) >= 0.9


def test_ctrl_wheel_zooms_around_the_pointer(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    svg = page.locator("#graph-svg")
    before = float(svg.get_attribute("data-zoom") or 0)
    box = page.locator("#graph-scroll").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 200, box["y"] + 150)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -240)
    page.keyboard.up("Control")
    expect(svg).not_to_have_attribute("data-zoom", f"{before:.3f}")
    assert float(svg.get_attribute("data-zoom") or 0) > before
    page.mouse.wheel(0, 200)  # a plain wheel scrolls, it does not zoom
    assert float(svg.get_attribute("data-zoom") or 0) > before


def test_an_error_bubble_never_covers_the_node_at_fault(lab: Lab) -> None:
    lab.allow(422, "/graphs/evaluate")
    graph = {
        "nodes": [
            {"id": "a", "op": "input", "value": [[1, 2], [3, 4]]},
            {"id": "c", "op": "input", "value": [1, 2, 3]},
            {"id": "add1", "op": "add", "inputs": ["a", "c"]},
        ],
        "output": "add1",
    }
    page = lab.open(f"#g={link(graph)}")
    bubble = page.locator('#graph-errors .node-error[data-node="add1"]')
    expect(bubble).to_contain_text("(2, 2)")
    b = bubble.bounding_box()
    for node in ("add1", "a", "c"):
        n = page.locator(f'#graph-svg [data-node="{node}"] .body').bounding_box()
        assert b is not None and n is not None
        assert not boxes_overlap(b, n), (node, b, n)  # type: ignore[arg-type]


def test_port_names_never_read_as_other_nodes_in_rules_and_hints(lab: Lab) -> None:
    """mul(w, x): port y is fed by node x, so "dy = dout · x (x = w, y = x)" read as nonsense;
    the rule and the exercise's hint are written in node names alone."""
    from tests.browser.conftest import link

    graph = {
        "nodes": [
            {"id": "w", "op": "input", "value": 2},
            {"id": "x", "op": "input", "value": 3},
            {"id": "m", "op": "mul", "inputs": ["w", "x"]},
        ],
        "output": "m",
    }
    page = lab.open(f"#view=graph&g={link(graph)}")
    run(page)
    for _ in range(4):  # w, x, m forward; m backward
        page.click("#g-step")
    rule = page.locator("#step-rule")
    expect(rule).to_contain_text("∂L/∂w = dout · x = 1 · 3 = 3")
    expect(rule).to_contain_text("∂L/∂x = dout · w = 1 · 2 = 2")
    expect(rule).not_to_contain_text("dy")
    page.click("#g-exercise")
    page.click("#ex-hint")
    expect(page.locator("#exercise-panel .ex-hint")).to_have_text(
        ["∂L/∂w = dout · x = 1 · 3 = ?", "∂L/∂x = dout · w = 1 · 2 = ?"]
    )

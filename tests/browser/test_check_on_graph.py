"""Check on the graph: numerical estimates beside backprop's on every edge, and the nudge slider."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import Lab
from tests.browser.test_graph_view import load_preset, run


def test_every_edge_of_the_apples_agrees_and_says_so(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    page.click("#g-check")
    expect(page.locator("#graph-status")).to_contain_text("All 5 gradients agree")
    edges = page.locator("#graph-svg g.edge")
    expect(edges).to_have_count(4)
    expect(page.locator("#graph-svg g.edge.check-pass")).to_have_count(4)
    tax = page.locator('[data-node-estimate="tax"]')
    expect(tax).to_have_text(re.compile(r"^≈ (200|199\.99)"))
    expect(page.locator('[data-node-estimate="apple"]')).to_contain_text("≈ 2.2")
    # apple_price has one use: its estimate sits on its edge, under backprop's 1.1.
    estimate = page.locator('.edge-labels[data-from="apple_price"] .edge-estimate')
    expect(estimate).to_contain_text("≈ 1.1")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#graph-status")).to_contain_text("全部 5 个梯度都与中心差分一致")
    lab.screenshot("check-on-graph")


def test_a_broken_layer_turns_exactly_its_edges_red(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    page.click('#graph-svg [data-node="price"]')
    page.select_option("#node-variant", "no_swap")
    page.click("#g-check")
    expect(page.locator("#graph-status")).to_contain_text("disagree with central differences")
    # price = apple_price · tax without the swap: both of its inputs get a wrong gradient,
    # and apple_price passes its wrong gradient on to apple and apple_num.
    for edge in ("tax>price>1", "apple_price>price>0", "apple>apple_price>0"):
        expect(page.locator(f'#graph-svg [data-edge="{edge}"]')).to_have_class(
            re.compile(r"\bcheck-fail\b")
        )
    lab.screenshot("broken-layer-check")
    page.click("#g-run")  # a new result forgets the old check
    expect(page.locator("#graph-svg g.edge.check-fail")).to_have_count(0)


def test_the_nudge_slider_shows_the_central_difference_beside_backprop(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    run(page)
    page.locator('#graph-svg [data-node="apple"] .body').click()
    expect(page.locator("#nudge-estimate")).to_contain_text("Move the slider")
    page.locator("#nudge-slider").fill("-2")
    estimate = page.locator("#nudge-estimate")
    expect(estimate).to_contain_text("(f(x + h) − f(x − h)) / 2h = 2.2")
    expect(estimate).to_contain_text("backprop ∂L/∂apple = 2.2")
    expect(page.locator("#nudge-h")).to_have_text("h = 1e-2")
    page.select_option("#lang-select", "zh")
    expect(estimate).to_contain_text("反向传播 ∂L/∂apple = 2.2")


def test_the_nudge_slider_takes_one_element_of_a_tensor(lab: Lab) -> None:
    """ReLU's mask: nudging x[1] (−0.5) changes nothing, so the difference is 0, as backprop."""
    page = lab.open()
    load_preset(page, "relu_mask")
    run(page)
    page.locator('#graph-svg [data-node="x"] .body').click()
    page.select_option("#nudge-index", "1")
    expect(page.locator("#nudge-estimate")).to_contain_text("/ 2h = 0")
    expect(page.locator("#nudge-estimate")).to_contain_text("∂L/∂x[0, 1] = 0")
    page.select_option("#nudge-index", "0")
    expect(page.locator("#nudge-estimate")).to_contain_text("∂L/∂x[0, 0] = 1")

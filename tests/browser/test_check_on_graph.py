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
    expect(tax).to_have_text(re.compile(r"^✓ ≈ (200|199\.99)"))
    expect(page.locator('[data-node-estimate="apple"]')).to_contain_text("≈ 2.2")
    # apple_price has one use: its estimate sits on its edge, under backprop's 1.1.
    estimate = page.locator('.edge-labels[data-from="apple_price"] .edge-estimate')
    expect(estimate).to_contain_text("≈ 1.1")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#graph-status")).to_contain_text("全部 5 个梯度都与数值微分的估计值一致")
    lab.screenshot("check-on-graph")


def test_a_broken_layer_turns_exactly_its_edges_red(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    page.click('#graph-svg [data-node="price"]')
    page.select_option("#node-variant", "no_swap")
    page.click("#g-check")
    expect(page.locator("#graph-status")).to_contain_text("disagree with the numerical estimates")
    # price = apple_price · tax without the swap: both of its inputs get a wrong gradient,
    # and apple_price passes its wrong gradient on to apple and apple_num.
    for edge in ("tax>price>1", "apple_price>price>0", "apple>apple_price>0"):
        expect(page.locator(f'#graph-svg [data-edge="{edge}"]')).to_have_class(
            re.compile(r"\bcheck-fail\b")
        )
    # Not told by colour alone: each estimate is marked ✗ where it disagrees.
    expect(page.locator('[data-node-estimate="tax"]')).to_have_text(re.compile(r"^✗ ≈ "))
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


def test_a_bug_this_graph_cannot_show_is_named_not_called_agreement(lab: Lab) -> None:
    """no_batch_divide on one row (N = 1) changes nothing: the page says so, in both languages."""
    page = lab.open()
    load_preset(page, "softmax_with_loss")
    page.click('#graph-svg [data-node="loss"]')
    page.select_option("#node-variant", "no_batch_divide")
    page.click("#g-check")
    status = page.locator("#graph-status")
    expect(status).to_contain_text("loss (no_batch_divide)")
    expect(status).to_contain_text("the batch has one row, N = 1")
    expect(status).not_to_contain_text("All 2 gradients agree with")
    expect(status).to_have_class(re.compile(r"\bwarn\b"))
    page.select_option("#lang-select", "zh")
    expect(status).to_contain_text("批量只有一行，N = 1")


def test_an_extrapolated_estimate_shows_the_plain_central_difference_beside_it(lab: Lab) -> None:
    """Sigmoid at x = 1, h = 1 on the gradient check page: Richardson's 0.196687… is named and
    the central difference (σ(2) − σ(0)) / 2 = 0.190398… is shown beside it; the check fails."""
    import math

    sigma = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    central = (sigma(2) - sigma(0)) / 2
    shown = repr(float(f"{central:.15g}"))  # as the page writes it: 15 significant digits
    page = lab.open()
    load_preset(page, "sigmoid_node")
    page.click("#tab-gradcheck")
    page.check('input[name="gc-target"][value="graph"]')
    page.select_option("#gc-eps", "1")
    page.click("#gc-run")
    expect(page.locator('#gc-table tr[data-param="x"] td.result')).to_have_attribute(
        "data-passed", "false"
    )
    line = page.locator('#gc-summary .side-by-side li[data-param="x"]')
    expect(line).to_have_attribute("data-formula", "richardson")
    expect(line).to_contain_text("numerical 0.196687346992738 by Richardson's extrapolation")
    expect(line).to_contain_text(
        f"the plain central difference (f(x + h) − f(x − h)) / 2h is {shown}"
    )
    expect(page.locator("#gc-summary .formulas")).to_contain_text("1 by Richardson's extrapolation")
    page.select_option("#lang-select", "zh")
    expect(line).to_contain_text("理查森外推")
    expect(line).to_contain_text("普通中心差分")

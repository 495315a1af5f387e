"""Chapter 6's ops in the graph editor: in the palette, and stepped through in both languages."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Lab, link
from tests.browser.test_graph_view import run

GRAPH = {
    "nodes": [
        {"id": "x", "op": "input", "value": [[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0]]},
        {"id": "gamma", "op": "input", "value": [1.5, 0.5]},
        {"id": "beta", "op": "input", "value": [0.1, -0.2]},
        {"id": "bn", "op": "batchnorm", "inputs": ["x", "gamma", "beta"]},
        {"id": "d", "op": "dropout", "inputs": ["bn"], "params": {"ratio": 0.5, "seed": 1}},
        {"id": "s", "op": "sum", "inputs": ["d"]},
    ],
    "output": "s",
}


def step_until(page: Page, text: str, most: int = 20) -> None:
    """Press Step until the step's rule says ``text``."""
    rule = page.locator("#step-rule")
    for _ in range(most):
        page.click("#g-step")
        if text in (rule.text_content() or ""):
            return
    raise AssertionError(f"no step said {text!r}; the last: {rule.text_content()!r}")


def test_batchnorm_and_dropout_are_in_the_palette_and_step_through_in_both_languages(
    lab: Lab,
) -> None:
    page = lab.open()
    for name, symbol in (("batchnorm", "BN"), ("dropout", "drop")):
        expect(page.locator(f'#palette [data-op="{name}"]')).to_contain_text(symbol)
    page = lab.open(f"#g={link(GRAPH)}")
    run(page)
    step_until(page, "mask = random(seed) > ratio")
    # Dropout's port x is fed by bn, not by the node x: the rule names the node it is about.
    expect(page.locator("#step-rule")).to_contain_text("∂L/∂bn = dout · mask")
    expect(page.locator("#step-rule")).not_to_contain_text("dx")
    step_until(page, "dgamma = Σₙ dout · x̂")
    rule = page.locator("#step-rule")
    expect(rule).to_contain_text("dx = gamma / σ · (dout − Σₙ dout / N − x̂ · Σₙ (dout · x̂) / N)")
    expect(rule).to_contain_text("x̂ = (x − μ) / σ")
    page.click('#graph-svg [data-node="bn"]')
    page.select_option("#lang-select", "zh")
    expect(rule).to_contain_text("dgamma = Σₙ dout · x̂")
    expect(page.locator("#inspector")).to_contain_text("书中的 Batch Normalization 层")
    page.select_option("#node-variant", "no_mean_terms")
    expect(page.locator(".variant .hint.bug")).to_contain_text("把批次的均值和方差当成了常数")

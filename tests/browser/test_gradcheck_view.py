"""The gradient-check view in a real browser."""

from __future__ import annotations

import base64
import json

from playwright.sync_api import expect

from tests.browser.conftest import Lab


def test_gradient_check_of_two_layer_net_passes_for_every_parameter(lab: Lab) -> None:
    page = lab.open("#view=gradcheck")
    expect(page.locator("#gc-hidden")).to_have_value("50")
    page.fill("#gc-hidden", "10")
    page.click("#gc-run")
    rows = page.locator("#gc-table tbody tr")
    expect(rows).to_have_count(4, timeout=60_000)
    names = [rows.nth(i).get_attribute("data-param") for i in range(4)]
    assert sorted(n or "" for n in names) == ["W1", "W2", "b1", "b2"]
    for i in range(4):
        expect(rows.nth(i).locator("td.result")).to_have_attribute("data-passed", "true")
        expect(rows.nth(i).locator(".badge")).to_have_text("passed")
    expect(page.locator("#gc-summary .verdict")).to_have_attribute("data-passed", "true")
    expect(page.locator("#gc-picture svg rect[data-param]")).to_have_count(4)
    lab.screenshot("gradcheck-view")


def test_gradient_check_of_the_graph_in_the_graph_view(lab: Lab) -> None:
    page = lab.open()
    page.select_option("#preset-select", "apples")
    page.click("#tab-gradcheck")
    page.check('input[name="gc-target"][value="graph"]')
    expect(page.locator("#gc-net-fields")).to_be_hidden()
    page.click("#gc-run")
    rows = page.locator("#gc-table tbody tr")
    expect(rows).to_have_count(3)
    for node in ("apple", "apple_num", "tax"):
        expect(page.locator(f'#gc-table tr[data-param="{node}"] td.result')).to_have_attribute(
            "data-passed", "true"
        )
    page.select_option("#lang-select", "zh")
    expect(page.locator("#gc-summary .verdict")).to_contain_text("所有参数都通过了")
    expect(rows).to_have_count(3)
    page.select_option("#lang-select", "en")
    expect(page.locator("#gc-summary .verdict")).to_contain_text("All parameters passed")


def test_an_element_that_cannot_be_checked_is_named_with_its_reason(lab: Lab) -> None:
    """exp at 709.7827 overflows within eps: the page says so, it reports no false failure."""
    graph = {
        "nodes": [
            {"id": "x", "op": "input", "value": [0.5, 709.7827]},
            {"id": "y", "op": "exp", "inputs": ["x"]},
        ],
        "output": "y",
    }
    encoded = base64.urlsafe_b64encode(json.dumps(graph).encode()).decode().rstrip("=")
    page = lab.open(f"#view=gradcheck&g={encoded}")
    page.check('input[name="gc-target"][value="graph"]')
    page.click("#gc-run")
    expect(page.locator('#gc-table tr[data-param="x"] td.result')).to_have_attribute(
        "data-passed", "true"
    )
    line = page.locator('#gc-summary .unchecked[data-param="x"]')
    expect(line).to_contain_text("x: 1 not checked")
    expect(line).to_contain_text("x[1]")
    expect(line).to_contain_text("node 'y' (exp) gives inf")
    page.select_option("#lang-select", "zh")
    expect(line).to_contain_text("1 个元素未确认")

"""The gradient-check view in a real browser."""

from __future__ import annotations

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

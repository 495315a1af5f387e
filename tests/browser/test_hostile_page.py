"""The page with hostile links: a tensor of 130,000 numbers must not overflow the stack."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Lab, link

BIG = 130_000


def test_a_link_with_an_input_of_130000_numbers_loads_and_runs(lab: Lab) -> None:
    # NOTE: Math.min(...flat) over so many numbers threw "Maximum call stack size exceeded"
    # while the page drew the node (its hover card shows min, mean and max).
    column = [[(i % 7) - 3] for i in range(BIG)]
    graph = {
        "nodes": [
            {"id": "x", "op": "input", "value": column},
            {"id": "y", "op": "relu", "inputs": ["x"]},
        ],
        "output": "y",
    }
    page = lab.open(f"#g={link(graph)}")
    head = f"shape ({BIG}, 1), {BIG} elements"
    expect(
        page.locator(f'#graph-svg [data-tip^="{head}"][data-tip*="min -3"]').first
    ).to_be_attached()
    page.click("#g-run")
    expect(page.locator("#graph-status")).to_have_class("status ok", timeout=60_000)
    expect(
        page.locator(f'#graph-svg [data-tip^="{head}"][data-tip*="min 0 "]').first
    ).to_be_attached()

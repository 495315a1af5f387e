"""The page's views and states, walked the same way by the language and accessibility tests.

``states`` drives one page through every view and state a learner reaches (the graph with a
run and the step-through, the tour, an exercise, a server error, training with a run, the
gradient check after a check, the experiments) and calls ``visit`` at each.
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import link

#: A graph whose shapes do not fit: the server refuses it (422 shape_mismatch).
MISMATCH = {
    "nodes": [
        {"id": "a", "op": "input", "value": [[1, 2, 3], [4, 5, 6]]},
        {"id": "b", "op": "input", "value": [1, 2]},
        {"id": "s", "op": "add", "inputs": ["a", "b"]},
    ],
    "output": "s",
}


def states(page: Page, url: str, visit: Callable[[str], None], *, train: bool = True) -> None:
    """Walk ``page`` (open at ``url``, ready) through every view and state; ``visit(name)`` each."""
    # The graph view: an example run, stepped through, a node selected and its tooltip shown.
    page.select_option("#preset-select", "two_layer_net")
    page.click("#g-run")
    expect(page.locator("#graph-status")).to_have_class("status ok")
    for _ in range(3):
        page.click("#g-step")
    page.locator("#graph-svg [data-node]").first.click()
    visit("graph")
    page.locator("#graph-svg [data-node]").nth(1).hover()
    visit("graph, tooltip")
    page.click("#g-check")
    expect(page.locator("#graph-status")).to_have_class("status ok", timeout=30_000)
    visit("graph, checked on the graph")
    # The tour: its first page, then the whole network's.
    page.click("#g-tour")
    expect(page.locator("#tour-panel")).to_be_visible()
    visit("tour, page 1")
    for _ in range(6):
        page.click("#tour-next")
    visit("tour, page 7")
    page.click("#g-tour")
    # An exercise on the apples: a hint, a check without answers.
    page.select_option("#preset-select", "apples")
    page.click("#g-exercise")
    expect(page.locator("#exercise-panel")).to_be_visible()
    page.click("#ex-hint")
    page.click("#ex-check")
    visit("exercise")
    # A graph the server refuses: its error on the page.
    page.goto(f"{url}/#view=graph&g={link(MISMATCH)}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#graph-status")).to_have_class("status error")
    visit("graph, server error")
    # Training, with a short run.
    page.click("#tab-train")
    if train:
        page.fill("#t-iters", "200")
        page.fill("#t-hidden", "10")
        page.click("#t-start")
        expect(page.locator("#s-status")).to_have_class("status-completed", timeout=90_000)
    visit("train")
    # The gradient check, after a check.
    page.click("#tab-gradcheck")
    page.fill("#gc-hidden", "5")
    page.click("#gc-run")
    expect(page.locator("#gc-summary .verdict")).to_have_attribute("data-passed", "true")
    visit("gradcheck")
    page.click("#tab-experiments")
    visit("experiments")

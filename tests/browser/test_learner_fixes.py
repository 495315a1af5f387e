"""Rough edges a learner hit (issue 11), each checked in a real browser."""

from __future__ import annotations

import base64
import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Lab
from tests.browser.test_graph_view import load_preset, run


def link(graph: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(graph).encode()).decode().rstrip("=")


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
    expect(page.locator("#inspector-body dd.grad")).to_have_text("none: class labels are data")

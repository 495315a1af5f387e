"""Predict, then reveal: the exercise mode of the graph view, as a learner uses it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser.conftest import Lab
from tests.browser.test_broken_layers_view import link
from tests.browser.test_graph_view import connect_via_panel, edge, load_preset
from tests.conftest import Server

PHONE: ViewportSize = {"width": 390, "height": 844}


def answer(page: Page, values: list[str], tap: bool = False) -> None:
    """Type one value per cell of the current question, then press Check."""
    cells = page.locator("#exercise-panel input.ex-cell")
    expect(cells).to_have_count(len(values))
    for i, v in enumerate(values):
        if tap:
            cells.nth(i).tap()
        cells.nth(i).fill(v)
    if tap:
        page.locator("#ex-check").tap()
    else:
        page.click("#ex-check")
    expect(page.locator("#exercise-panel")).to_have_attribute("data-state", "checked")


def next_question(page: Page, tap: bool = False) -> None:
    if tap:
        page.locator("#ex-next").tap()
    else:
        page.click("#ex-next")


def test_apples_exercise_hides_checks_hints_and_scores(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    page.click("#g-exercise")
    panel = page.locator("#exercise-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#step-panel")).to_be_hidden()
    # Forward values are shown, every gradient is hidden; a "?" marks the edges asked about.
    expect(edge(page, "apple_price", "price").locator(".edge-value")).to_have_text("200")
    expect(page.locator("#graph-svg .edge-grad:not(.edge-ask)")).to_have_count(1)  # dout only
    expect(page.locator("#graph-svg .edge-ask")).to_have_count(2)
    expect(page.locator("#graph-svg .node.current")).to_have_attribute("data-node", "price")
    expect(page.locator("#ex-phase")).to_have_text("Backward through price (mul)")
    expect(page.locator("#preset-explanation")).to_be_hidden()  # it would give the answers away
    # The inspector does not give them away either.
    page.click('#graph-svg [data-node="tax"] .body')
    expect(page.locator("#inspector-body .node-result")).to_have_count(0)
    # The hint: the rule with the numbers written in, the answer left as "?".
    page.click("#ex-hint")
    hints = panel.locator(".ex-hint")
    expect(hints).to_have_text(["dx = dout · y = 1 · 1.1 = ?", "dy = dout · x = 1 · 200 = ?"])
    # Checking with an empty box is refused.
    page.click("#ex-check")
    expect(page.locator("#ex-error")).to_have_text("Type a number in every box first.")
    expect(panel).to_have_attribute("data-state", "asking")
    # One right (1.10 for 1.1), one wrong (20 for 200).
    answer(page, ["1.10", "20"])
    parts = panel.locator(".ex-part")
    expect(parts.nth(0).locator(".ex-verdict")).to_have_attribute("data-verdict", "right")
    expect(parts.nth(1).locator(".ex-verdict")).to_have_attribute("data-verdict", "wrong")
    expect(parts.nth(1).locator(".ex-verdict")).to_have_text("✗ Not quite: the answer is 200")
    expect(edge(page, "tax", "price").locator(".edge-grad")).to_have_text("200")  # revealed
    expect(edge(page, "apple", "apple_price").locator(".edge-grad")).to_have_count(0)
    next_question(page)
    expect(page.locator("#ex-phase")).to_have_text("Backward through apple_price (mul)")
    expect(page.locator("#ex-progress")).to_have_text("Question 2 of 2 · 1 of 2 right so far")
    page.click("#ex-hint")
    cells = panel.locator("input.ex-cell")
    cells.nth(0).fill("2.2004")  # within the tolerance of 2.2 (1e-6 + 1e-3 · 2.2)
    cells.nth(1).fill("110")
    lab.screenshot("exercise")
    answer(page, ["2.2004", "110"])
    expect(page.locator('[data-node-grad="apple"]')).to_have_text("∂L/∂apple = 2.2")
    page.click("#ex-next")
    score = page.locator("#ex-score")
    expect(score).to_have_text("3 of 4 right")
    expect(panel.locator(".ex-line.wrong")).to_have_count(1)
    expect(panel.locator(".ex-line.wrong")).to_contain_text("dy (tax → price)")
    # Try again: everything hidden again, nothing typed.
    page.click("#ex-retry")
    expect(page.locator("#ex-phase")).to_have_text("Backward through price (mul)")
    expect(page.locator("#graph-svg .edge-grad:not(.edge-ask)")).to_have_count(1)
    expect(panel.locator("input.ex-cell").first).to_have_value("")
    # Reveal all: every gradient drawn, nothing answered counts as right.
    page.click("#ex-reveal-all")
    expect(score).to_have_text("0 of 4 right")
    expect(edge(page, "apple", "apple_price").locator(".edge-grad")).to_have_text("2.2")
    page.click("#ex-leave")
    expect(panel).to_be_hidden()
    expect(page.locator("#step-panel")).to_be_visible()
    assert "mode=exercise" not in page.url


def test_forward_switch_tensor_cells_and_the_exercise_link(lab: Lab) -> None:
    """relu_mask: forward values asked first, the 2×2 gradient cell by cell; a homework link."""
    page = lab.open()
    load_preset(page, "relu_mask")
    page.click("#g-exercise")
    page.check("#ex-ask-forward")
    expect(page.locator("#ex-phase")).to_have_text("Forward: the value of out (relu)")
    # The forward value is hidden too now, and asked for.
    expect(page.locator("#graph-svg .edge-value:not(.edge-ask)")).to_have_count(1)  # x → out
    expect(page.locator('#graph-svg .output-labels [data-ask="value"]')).to_have_count(1)
    assert parse_qs(urlsplit(page.url).fragment)["ask"] == ["forward"]
    answer(page, ["1", "0", "0", "3"])
    expect(page.locator("#exercise-panel .ex-verdict")).to_have_attribute("data-verdict", "right")
    next_question(page)
    expect(page.locator("#ex-phase")).to_have_text("Backward through out (relu)")
    cells = page.locator("#exercise-panel input.ex-cell")
    expect(cells.nth(3)).to_have_attribute("aria-label", "dx, row 2, column 2")
    expect(cells.first).to_have_attribute("inputmode", "decimal")
    page.click("#ex-hint")
    expect(page.locator("#exercise-panel .ex-known")).to_contain_text("dout = [[1, 2], [3, 4]]")
    answer(page, ["1", "2", "0", "4"])  # the mask forgotten in one cell
    marked = page.locator("#exercise-panel input.ex-cell")
    expect(marked.nth(0)).to_have_class("ex-cell right")
    expect(marked.nth(1)).to_have_class("ex-cell wrong")
    # Copy exercise link: a new page opened on it starts the same exercise at once.
    page.click("#ex-link-button")
    url = page.locator("#ex-link").input_value()
    fragment = parse_qs(urlsplit(url).fragment)
    assert fragment["mode"] == ["exercise"] and fragment["ask"] == ["forward"]
    other = page.context.new_page()
    other.goto(url)
    other.wait_for_selector("body[data-ready=true]")
    expect(other.locator("#exercise-panel")).to_be_visible()
    expect(other.locator("#ex-phase")).to_have_text("Forward: the value of out (relu)")
    expect(other.locator("#graph-svg .edge-grad")).to_have_count(0)
    other.close()


def test_homework_link_in_chinese_and_editing_ends_the_exercise(lab: Lab) -> None:
    graph = {
        "nodes": [
            {"id": "x", "op": "input", "value": 3},
            {"id": "y", "op": "input", "value": 2},
            {"id": "s", "op": "add", "inputs": ["x", "y"]},
        ],
        "output": "s",
        "dout": 5,
    }
    page = lab.open(f"#view=graph&g={link(graph)}&mode=exercise")
    expect(page.locator("#exercise-panel")).to_be_visible()
    page.select_option("#lang-select", "zh")
    expect(page.locator("#ex-title")).to_have_text("练习：先预测，再揭晓")
    expect(page.locator("#ex-phase")).to_have_text("反向传播经过 s（加法）")
    answer(page, ["5", "5"])
    expect(page.locator("#exercise-panel .ex-verdict").first).to_have_text("✓ 正确")
    page.click("#ex-next")
    expect(page.locator("#ex-score")).to_have_text("答对 2 个，共 2 个")
    page.select_option("#lang-select", "en")
    expect(page.locator("#ex-score")).to_have_text("2 of 2 right")
    # Editing the graph ends the exercise.
    page.click("#ex-retry")
    page.click('#graph-svg [data-node="x"] .body')
    page.fill("#node-value", "4")
    page.press("#node-value", "Enter")
    expect(page.locator("#exercise-panel")).to_be_hidden()
    expect(page.locator("#graph-status")).to_have_text("The graph changed, so the exercise ended.")


@pytest.fixture
def phone(browser: Browser, ui_server: Server) -> Iterator[Lab]:
    """A 390×844 touch screen (no mouse) on the page."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    lab = Lab(page, ui_server.url)
    page.on("console", lab.on_console)
    page.on("pageerror", lambda e: lab.problems.append(f"page error: {e}"))
    page.on("response", lab.on_response)
    page.on("requestfailed", lab.on_failed)
    yield lab
    context.close()
    assert not lab.problems, "\n".join(lab.problems)


def test_exercise_by_touch_on_a_phone(phone: Lab) -> None:
    page = phone.open("#view=graph")
    page.locator("#g-exercise").tap()
    panel = page.locator("#exercise-panel")
    expect(panel).to_be_visible()
    # The panel fits the screen and every control is big enough for a finger.
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    controls = (page.locator("#ex-check"), page.locator("#ex-hint"), panel.locator("input").first)
    for control in controls:
        b = control.bounding_box()
        assert b is not None and b["height"] >= 40, b
        assert b["x"] >= 0 and b["x"] + b["width"] <= PHONE["width"], b
    page.locator("#ex-hint").tap()
    expect(panel.locator(".ex-hint").first).to_have_text("dx = dout · y = 1 · 1.1 = ?")
    answer(page, ["1.1", "200"], tap=True)
    expect(panel.locator(".ex-verdict.right")).to_have_count(2)
    next_question(page, tap=True)
    answer(page, ["2.2", "1"], tap=True)
    next_question(page, tap=True)
    expect(page.locator("#ex-score")).to_have_text("3 of 4 right")
    page.locator("#ex-leave").tap()
    expect(panel).to_be_hidden()


def test_an_exercise_on_a_graph_drawn_by_hand_with_the_keyboard(lab: Lab) -> None:
    """a · c drawn from the palette; answers typed and checked with Enter alone."""
    page = lab.open()
    page.click("#g-clear")
    for op in ("input", "input", "mul"):
        page.click(f'#palette [data-op="{op}"]')
    connect_via_panel(page, "mul1", 0, "a")
    connect_via_panel(page, "mul1", 1, "c")
    page.locator('#graph-svg [data-node="a"] .body').click()
    page.fill("#node-value", "3")
    page.press("#node-value", "Enter")
    page.click("#g-exercise")
    expect(page.locator("#ex-phase")).to_have_text("Backward through mul1 (mul)")
    first = page.locator("#exercise-panel input.ex-cell").first
    expect(first).to_be_focused()
    page.keyboard.type("1")  # dx = dout · y = 1 · c = 1
    page.keyboard.press("Tab")
    page.keyboard.type("2")  # dy = dout · x = 1 · a = 3, so 2 is wrong
    page.keyboard.press("Enter")
    expect(page.locator("#exercise-panel .ex-verdict")).to_have_count(2)
    expect(page.locator("#exercise-panel .ex-verdict.wrong")).to_have_text(
        "✗ Not quite: the answer is 3"
    )
    expect(page.locator("#ex-next")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#ex-score")).to_have_text("1 of 2 right")


def test_labels_and_large_tensors_are_shown_not_asked(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "softmax_with_loss")
    page.click("#g-exercise")
    parts = page.locator("#exercise-panel .ex-part")
    expect(parts).to_have_count(2)
    expect(parts.nth(0).locator("input.ex-cell")).to_have_count(3)  # dx = y - t, 3 cells
    expect(parts.nth(1).locator("input")).to_have_count(0)
    expect(parts.nth(1).locator(".ex-why")).to_have_attribute("data-why", "labels")
    # Labels get no gradient: said, never shown as a gradient of [0, 0, 0].
    expect(parts.nth(1).locator(".ex-why")).to_have_text(
        "Labels get no gradient: nothing to predict here."
    )
    expect(parts.nth(1).locator(".ex-answer")).to_have_count(0)
    page.click("#ex-show")
    expect(parts.nth(0).locator(".ex-verdict")).to_have_attribute("data-verdict", "shown")
    page.click("#ex-next")
    expect(page.locator("#ex-score")).to_have_text("0 of 1 right")  # per gradient, not per cell
    # A 5-element gradient is too large to type: shown; the scalar beside it is asked.
    graph = {
        "nodes": [
            {"id": "x", "op": "input", "value": [1, 2, 3, 4, 5]},
            {"id": "y", "op": "input", "value": 2},
            {"id": "m", "op": "mul", "inputs": ["x", "y"]},
        ],
        "output": "m",
        "dout": [1, 1, 1, 1, 1],
    }
    lab.leave()
    lab.open(f"#view=graph&g={link(graph)}&mode=exercise")
    expect(page.locator("#exercise-panel .ex-why")).to_have_text(
        "Too large to type (5): shown, not asked."
    )
    answer(page, ["15"])
    expect(page.locator("#exercise-panel .ex-verdict")).to_have_attribute("data-verdict", "right")
    # Nothing small enough at all: no exercise, and the status line says why.
    graph["nodes"] = [*graph["nodes"][:1], {"id": "e", "op": "exp", "inputs": ["x"]}]
    graph["output"] = "e"
    lab.leave()
    lab.open(f"#view=graph&g={link(graph)}&mode=exercise")
    expect(page.locator("#graph-status")).to_contain_text("Nothing on this graph can be asked")
    expect(page.locator("#exercise-panel")).to_be_hidden()


def test_the_branch_rule_is_asked_with_its_edges_lit_and_its_reason(lab: Lab) -> None:
    """x · x + x at x = 3: after the edges leaving x are revealed, the learner adds them (7)."""
    from tests.browser.conftest import reused_x

    page = lab.open(f"#view=graph&g={link(reused_x())}&mode=exercise")
    panel = page.locator("#exercise-panel")
    expect(page.locator("#ex-phase")).to_have_text("Backward through s (add)")
    answer(page, ["1", "1"])
    next_question(page)
    answer(page, ["3", "3"])
    next_question(page)
    expect(page.locator("#ex-phase")).to_have_text("The branch rule: x is used 3 times")
    expect(page.locator("#ex-explain")).to_contain_text("the gradients, add up")
    lit = page.locator("#graph-svg g.edge.lit")
    expect(lit).to_have_count(3)
    assert sorted(lit.evaluate_all("els => els.map(e => e.dataset.edge)")) == [
        "x>m>0",
        "x>m>1",
        "x>s>1",
    ]
    expect(page.locator('[data-node-grad="x"]')).to_have_count(0)  # not given away
    page.click("#ex-hint")
    expect(panel.locator(".ex-hint")).to_have_text("∂L/∂x = 3 + 3 + 1 = ?")
    answer(page, ["7"])
    expect(panel.locator(".ex-verdict")).to_have_attribute("data-verdict", "right")
    expect(page.locator('[data-node-grad="x"]')).to_have_text("∂L/∂x = 7")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#ex-phase")).to_have_text("分支规则：x 被使用了 3 次")
    page.select_option("#lang-select", "en")
    next_question(page)
    expect(page.locator("#ex-score")).to_have_text("5 of 5 right")
    expect(page.locator("#graph-svg g.edge.lit")).to_have_count(0)


def test_the_tolerance_is_said_and_text_is_not_a_number(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    page.click("#g-exercise")
    tolerance = page.locator("#ex-tolerance")
    expect(tolerance).to_contain_text("within 1e-6 + 0.1 % of the true value")
    cells = page.locator("#exercise-panel input.ex-cell")
    cells.nth(0).fill("abc")
    cells.nth(1).fill("200")
    page.click("#ex-check")
    expect(page.locator("#ex-error")).to_have_text(
        "“abc” is not a number: type one such as 2.2, -0.5 or 1e-3."
    )
    expect(cells.nth(0)).to_have_attribute("aria-invalid", "true")
    expect(cells.nth(0)).to_be_focused()
    expect(page.locator("#exercise-panel")).to_have_attribute("data-state", "asking")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#ex-tolerance")).to_contain_text("1e-6 + 0.1 %")
    expect(page.locator("#ex-tolerance")).to_contain_text("即算答对")


def test_undo_and_back_keep_example_explanation_address_and_exercise_together(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    explanation = page.locator("#preset-explanation")
    apples_text = explanation.inner_text()
    load_preset(page, "relu_mask")
    relu_text = explanation.inner_text()
    assert relu_text != apples_text
    page.click("#g-exercise")
    expect(page.locator("#exercise-panel")).to_be_visible()
    expect(page).to_have_url(re.compile(r"^(?=.*mode=exercise)(?=.*p=relu_mask)"))
    # Undo: the graph before the example, with its name, its explanation and its address;
    # the exercise on the undone graph ends.
    page.click("#g-undo")
    expect(page.locator("#preset-select")).to_have_value("apples")
    expect(page.locator('#graph-svg [data-node="apple"]')).to_have_count(1)
    expect(explanation).to_have_text(apples_text)
    expect(page.locator("#exercise-panel")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"^(?=.*p=apples)(?!.*mode=exercise)"))
    page.click("#g-redo")
    expect(page.locator("#preset-select")).to_have_value("relu_mask")
    expect(explanation).to_have_text(relu_text)
    expect(page).to_have_url(re.compile(r"^(?=.*p=relu_mask)"))
    # Back from an exercise: the graph before, no exercise; Forward: the exercise again.
    page.click("#g-exercise")
    expect(page).to_have_url(re.compile(r"^(?=.*mode=exercise)"))
    page.go_back()
    expect(page.locator("#preset-select")).to_have_value("apples")
    expect(explanation).to_have_text(apples_text)
    expect(page.locator("#exercise-panel")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"^(?!.*mode=exercise)"))
    page.go_forward()
    expect(page.locator("#preset-select")).to_have_value("relu_mask")
    expect(page.locator("#exercise-panel")).to_be_visible()
    expect(page.locator("#ex-phase")).to_have_text("Backward through out (relu)")
    expect(page).to_have_url(re.compile(r"^(?=.*mode=exercise)(?=.*p=relu_mask)"))

"""A learner with a keyboard alone (WCAG 2.2: 2.1.1, 2.4.3, 2.5.7, 4.1.3): every action keeps
the focus somewhere they can go on from, never on ``<body>``; what is done by dragging (moving
a node, connecting two) has a keyboard way; each step of the step-through is told in a live
region."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Lab

#: Where the focus is, as a person would name it ("BODY" when it fell out of the page).
WHERE = """() => {
  const a = document.activeElement;
  if (!a || a === document.body || a === document.documentElement) return "BODY";
  return a.id || a.getAttribute("data-node") || a.getAttribute("data-op") || a.tagName;
}"""


def focus_after(page: Page, action: str) -> str:
    """Where the focus is once an action is done; fails naming the action if it fell away."""
    page.wait_for_timeout(50)  # let the page finish redrawing after the key
    where = str(page.evaluate(WHERE))
    assert where != "BODY", f"focus fell to <body> after: {action}"
    return where


def press(page: Page, selector: str, key: str = "Enter") -> str:
    """Focus an element, press a key on it, and say where the focus went."""
    page.focus(selector)
    page.keyboard.press(key)
    return focus_after(page, f"{key} on {selector}")


def test_focus_never_falls_to_the_body_in_the_graph_view(lab: Lab) -> None:
    page = lab.open()
    page.focus("#preset-select")
    page.select_option("#preset-select", "apples")
    focus_after(page, "choosing an example")
    nodes = page.locator("#graph-svg [data-node]")
    expect(nodes).to_have_count(5)
    press(page, "#g-run")
    expect(page.locator("#graph-status")).to_have_class("status ok")

    # Delete on a focused node: the focus goes to a node still there, not out of the page.
    where = press(page, '#graph-svg [data-node="tax"]', "Delete")
    expect(nodes).to_have_count(4)
    assert where in {"apple", "apple_num", "apple_price", "price"}, where
    page.keyboard.press("Control+z")
    expect(nodes).to_have_count(5)
    focus_after(page, "Ctrl+Z")

    # The inspector's Delete button: the same.
    press(page, '#graph-svg [data-node="apple_num"]', "Enter")  # Enter opens its editor
    focused = page.evaluate("() => document.activeElement.id")
    assert focused == "node-id", focused
    page.locator("#inspector-body button.danger").focus()
    page.keyboard.press("Enter")
    expect(nodes).to_have_count(4)
    focus_after(page, "the inspector's Delete")
    press(page, "#g-undo")
    expect(nodes).to_have_count(5)
    press(page, "#g-redo")
    expect(nodes).to_have_count(4)
    press(page, "#g-undo")

    # Every node removed one by one from the keyboard: at the end the focus is on the canvas.
    for node in ("price", "apple_price", "tax", "apple_num", "apple"):
        press(page, f'#graph-svg [data-node="{node}"]', "Delete")
    expect(nodes).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(nodes).to_have_count(1)

    for button in ("#g-layout", "#g-zoom-in", "#g-zoom-out", "#g-zoom-fit", "#g-clear"):
        press(page, button)
    expect(nodes).to_have_count(0)
    where = press(page, '#palette [data-op="input"]')
    assert where == "a", where  # the new node, ready for the arrow keys


def test_build_and_connect_a_graph_without_dragging(lab: Lab) -> None:
    page = lab.open()
    press(page, "#g-clear")
    for op in ("input", "input", "mul"):
        press(page, f'#palette [data-op="{op}"]')
    nodes = page.locator("#graph-svg [data-node]")
    expect(nodes).to_have_count(3)

    # Arrow keys move the focused node (Shift: further), as a drag would.
    mul = page.locator('#graph-svg [data-node="mul1"]')
    mul.focus()
    before = mul.bounding_box()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    after = mul.bounding_box()
    assert before is not None and after is not None
    assert after["x"] > before["x"] and after["y"] > before["y"] + 10
    assert focus_after(page, "moving a node") == "mul1"

    # Connecting without a drag: the inspector's input menus, chosen by keyboard.
    page.keyboard.press("Enter")
    ports = page.locator("#inspector-body select[data-focus-key^=port-]")
    expect(ports).to_have_count(2)
    ports.nth(0).focus()
    ports.nth(0).select_option("a")
    expect(page.locator('#graph-svg [data-edge="a>mul1>0"]')).to_have_count(1)
    # The menu keeps the focus through the redraw, so the next one is a Tab away.
    assert focus_after(page, "choosing an input") == "SELECT"
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.dataset.focusKey")
    assert focused == "port-1", focused
    ports.nth(1).select_option("c")
    expect(page.locator('#graph-svg [data-edge="c>mul1>1"]')).to_have_count(1)

    # A value typed for an input, then Ctrl+Enter runs it from wherever the focus is.
    press(page, '#graph-svg [data-node="a"]', "Enter")
    page.fill("#node-value", "3")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+Enter")
    out = page.locator('#graph-svg .output-labels[data-from="mul1"] .edge-value')
    expect(out).to_have_text("3")  # a · c = 3 · 1
    expect(page.locator('#graph-svg [data-node-grad="a"]')).to_have_text("∂L/∂a = 1")
    expect(page.locator('#graph-svg [data-node-grad="c"]')).to_have_text("∂L/∂c = 3")
    focus_after(page, "Ctrl+Enter")


def test_each_step_is_told_in_a_live_region(lab: Lab) -> None:
    page = lab.open()
    page.select_option("#preset-select", "apples")
    press(page, "#g-run")
    panel = page.locator("#step-panel")
    expect(panel).to_have_attribute("aria-live", "polite")
    told: list[str] = []
    for k in range(10):
        where = press(page, "#g-step")
        # Enter again takes the next step; the last one disables Step and moves on to ◀ Step.
        assert where == ("g-step" if k < 9 else "g-step-back"), where
        told.append(page.locator("#step-rule").inner_text())
        # What a screen reader hears is inside the live region: the rule and where we are.
        assert panel.locator("#step-rule").count() == 1
        expect(panel.locator("#step-progress")).to_have_text(f"Step {len(told)} of 10")
    assert len(set(told)) == 10, told  # every step says something new
    assert "price = apple_price · tax = 200 · 1.1 = 220" in told[4]
    assert "dx = dout · y = 1.1 · 2 = 2.2" in "\n".join(told[5:])
    expect(page.locator("#g-step")).to_be_disabled()
    # Show all ends the stepping and disables itself: the focus stays in the toolbar.
    where = press(page, "#g-step-reset")
    expect(page.locator("#g-step-reset")).to_be_disabled()
    assert where == "g-play", where


def test_a_busy_button_keeps_the_focus_and_a_stopped_run_hands_it_on(lab: Lab) -> None:
    page = lab.open("#view=gradcheck")
    assert press(page, "#gc-run") == "gc-run"
    expect(page.locator("#gc-table tbody tr")).not_to_have_count(0)
    expect(page.locator("#gc-run")).not_to_have_attribute("aria-disabled", "true")
    assert focus_after(page, "a gradient check") == "gc-run"  # Enter again checks again

    press(page, "#tab-train")
    page.fill("#t-iters", "20000")
    expect(page.locator("#t-start")).to_be_enabled()  # the view loads when first opened
    assert press(page, "#t-start") == "t-start"
    page.wait_for_function(
        "document.querySelector('#view-train').dataset.runStatus === 'running'", timeout=60_000
    )
    # Stop disables itself once the run stops: the focus goes to Start beside it.
    where = press(page, "#t-stop")
    page.wait_for_function(
        "document.querySelector('#view-train').dataset.runStatus === 'cancelled'", timeout=60_000
    )
    expect(page.locator("#t-stop")).to_be_disabled()
    assert focus_after(page, "stopping a run") == "t-start", where

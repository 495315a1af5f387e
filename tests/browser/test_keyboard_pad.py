"""The digit pad by keyboard: arrows draw from the pen, Shift+arrows move it, and the digit
drawn is read as with a finger (WCAG 2.1.1 and 2.5.7: no drawing needs a pointer)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Lab

#: How much of the pad is inked (white) now.
INK = """() => {
  const c = document.getElementById("pad");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n++;
  return n;
}"""


def test_a_digit_drawn_with_the_arrow_keys_is_read(lab: Lab) -> None:
    page = lab.open()
    page.click("#tab-train")
    page.fill("#t-iters", "200")
    page.fill("#t-hidden", "10")
    page.click("#t-start")
    expect(page.locator("#s-status")).to_have_class("status-completed", timeout=90_000)
    page.locator("#pad").focus()
    assert page.evaluate(INK) == 0
    page.keyboard.press("Shift+ArrowRight")  # moves the pen, no ink
    assert page.evaluate(INK) == 0
    for _ in range(8):
        page.keyboard.press("ArrowDown")  # a "1": a vertical stroke
    assert page.evaluate(INK) > 2000
    expect(page.locator("#pad-result")).not_to_be_empty()
    expect(page.locator("#pad")).to_be_focused()

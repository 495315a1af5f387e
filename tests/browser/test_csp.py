"""The page under its real Content-Security-Policy: every view works and nothing is refused.

The other browser tests run with Playwright's bypass_csp (its wait_for_function evaluates
strings, which the policy rightly forbids); this one keeps the policy on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import VIEWPORT, Lab
from tests.conftest import Server

#: Filled by the page on every refused load or script (the listener is not a page script).
LISTEN = """window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""
#: An image from elsewhere: the policy must refuse it (proof that it is in force).
PROBE = "http://example.invalid/probe.png"


@pytest.fixture
def strict_lab(browser: Browser, ui_server: Server) -> Iterator[Lab]:
    """A page with the CSP enforced, failing on console errors as every browser test does."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    context.add_init_script(LISTEN)
    page = context.new_page()
    lab = Lab(page, ui_server.url)
    page.on("console", lambda m: None if PROBE in m.text else lab.on_console(m))
    page.on("pageerror", lambda e: lab.problems.append(f"page error: {e}"))
    page.on("response", lab.on_response)
    page.on("requestfailed", lab.on_failed)
    yield lab
    violations = page.evaluate("window.__csp")
    context.close()
    assert not violations, violations
    assert not lab.problems, "\n".join(lab.problems)


def test_every_view_works_under_the_policy(strict_lab: Lab) -> None:
    page = strict_lab.open()
    assert (
        "frame-ancestors 'none'"
        in (page.context.request.get(strict_lab.url + "/").headers)["content-security-policy"]
    )
    # The graph view: a preset, evaluated, stepped through (heatmaps are data: images).
    page.select_option("#preset-select", "softmax_with_loss")
    expect(page.locator("#graph-svg [data-node]").first).to_be_visible()
    page.click("#g-run")
    expect(page.locator("#graph-status")).to_have_class("status ok")
    for _ in range(3):
        page.click("#g-step")
    # The training view: a short run, its charts and its first-layer weights.
    page.click("#tab-train")
    page.fill("#t-iters", "200")
    page.fill("#t-hidden", "10")
    page.click("#t-start")
    expect(page.locator("#s-status")).to_have_text("completed", timeout=90_000)
    expect(page.locator("#loss-chart canvas").first).to_be_visible()
    # The gradient-check view on a small network.
    page.click("#tab-gradcheck")
    page.fill("#gc-hidden", "5")
    page.click("#gc-run")
    expect(page.locator("#gc-summary .verdict")).to_have_attribute("data-passed", "true")

"""The gradient flow of a deeper run in the training view: graph, histograms, update:data chart.

At 1280 px with a mouse in English and at 390 px by touch in Chinese: a small deeper run is
started from the form, and the page's numbers are those the server streamed.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import lab_on
from tests.browser.test_train_view import wait_status
from tests.conftest import Digits, Server

SIZES = [30, 20]
BATCH = 50


@pytest.fixture(scope="module")
def deep_server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A server of its own: the page's form follows the newest run, and these runs are deeper
    than the TwoLayerNet the other training tests expect to find there."""
    server = Server(tmp_path_factory.mktemp("layers-ui"), digits.env).start()
    yield server
    server.stop()


def press(page: Page, selector: str, touch: bool) -> None:
    """A tap on a touch screen, a click with a mouse."""
    if touch:
        page.locator(selector).tap()
    else:
        page.locator(selector).click()


@pytest.mark.parametrize(
    ("width", "height", "touch", "lang"), [(1280, 800, False, "en"), (390, 844, True, "zh")]
)
def test_a_deeper_run_shows_its_gradient_flow(
    browser: Browser, deep_server: Server, width: int, height: int, touch: bool, lang: str
) -> None:
    viewport = {"width": width, "height": height}
    with lab_on(browser, deep_server.url, viewport, has_touch=touch) as lab:  # type: ignore[arg-type]
        page = lab.open("#view=train")
        page.select_option("#lang-select", lang)
        # the form follows the open run (the newest): a deeper one has opened the section already
        if not page.locator("#t-deep").evaluate("d => d.open"):
            press(page, "#t-deep summary", touch)
        expect(page.locator("#t-layers")).to_be_visible()
        page.fill("#t-layers", ", ".join(str(n) for n in SIZES))
        expect(page.locator("#t-hidden")).to_be_disabled()  # the listed layers replace it
        page.select_option("#t-activation", "sigmoid")
        page.select_option("#t-init", "xavier")
        page.fill("#t-iters", "240")
        page.fill("#t-batch", str(BATCH))
        before = page.locator("#view-train").get_attribute("data-run-id") or ""
        press(page, "#t-start", touch)
        page.wait_for_function(
            f"(document.querySelector('#view-train').dataset.runId || '{before}') !== '{before}'"
        )
        run_id = page.locator("#view-train").get_attribute("data-run-id")
        panel = page.locator("#layers-panel")
        expect(panel).to_be_visible(timeout=60_000)
        wait_status(page, "completed")
        run = httpx.get(f"{deep_server.url}/train/{run_id}").json()
        assert "config" in run, (run_id, run)
        assert run["config"]["layers"] == SIZES and run["config"]["activation"] == "sigmoid"
        assert run["config"]["init"] == "xavier"
        last = run["history"]["layers_last"]
        assert last is not None and last["iteration"] == 240
        title = "梯度的流动" if lang == "zh" else "Gradient flow"
        expect(panel.locator("h2")).to_have_text(title)
        expect(page.locator("#layers-iteration")).to_contain_text("240")

        # (a) the graph: one edge per Affine, its width and number from the streamed gradient
        edges = page.locator("#layers-graph line.layers-edge")
        expect(edges).to_have_count(len(SIZES) + 1)
        for i, layer in enumerate(last["layers"]):
            edge = edges.nth(i)
            assert float(edge.get_attribute("data-grad") or "nan") == layer["grad_mean_abs"]
            name = layer["name"]
            label = page.locator(f'#layers-graph text.layers-edge-text[data-layer="{name}"]')
            expect(label).to_contain_text(f"∂L/∂{layer['param']}")
        widths = [float(edges.nth(i).get_attribute("stroke-width") or 0) for i in range(3)]
        grads = [x["grad_mean_abs"] for x in last["layers"]]
        # the largest gradient draws the widest edge, the smallest the thinnest
        assert widths.index(max(widths)) == grads.index(max(grads))
        assert widths.index(min(widths)) == grads.index(min(grads))
        expect(page.locator("#layers-graph svg")).to_contain_text("Sigmoid")
        expect(page.locator("#layers-graph svg")).to_contain_text("Softmax-with-Loss")

        # (b) the histogram strip: activations (batch x units), then gradients (W's size)
        boxes = page.locator("#layers-strip .layers-hist-box")
        expect(boxes).to_have_count(3)
        units = [*SIZES, 10]
        for i, n in enumerate(units):
            assert boxes.nth(i).get_attribute("data-total") == str(BATCH * n)
            assert sum(last["layers"][i]["activation_hist"]["counts"]) == BATCH * n
        press(page, "#layers-grad-toggle", touch)
        expect(page.locator("#layers-strip")).to_have_attribute("data-kind", "grad_hist")
        grads_title = {"zh": "各层的权重梯度（dL/dW）", "en": "Weight gradients per layer (dL/dW)"}
        expect(page.locator("#layers-hist-title")).to_have_text(grads_title[lang])
        shapes = [784 * 30, 30 * 20, 20 * 10]
        for i, n in enumerate(shapes):
            assert boxes.nth(i).get_attribute("data-total") == str(n)

        # (c) the update:data ratio over time: one point per layers event
        ratio = page.locator("#layers-ratio")
        expect(ratio).to_have_attribute("data-points", str(len(run["history"]["layers"])))
        expect(ratio.locator("canvas")).to_have_count(1)
        # every 100 iterations and at every epoch (the last at 240; with the offline subset's
        # smaller epochs, more of them)
        epochs = {e["iteration"] for e in run["history"]["epochs"]}
        assert [p["iteration"] for p in run["history"]["layers"]] == sorted({100, 200} | epochs)
        if width < 400:
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, scroll
        panel.evaluate("e => e.scrollIntoView({block: 'start'})")
        lab.screenshot("train-layers" if width > 400 else "train-layers-phone")
        # the other language: the panel's own words follow
        other = "en" if lang == "zh" else "zh"
        page.select_option("#lang-select", other)
        expect(panel.locator("h2")).to_have_text("Gradient flow" if other == "en" else "梯度的流动")
        meanabs = "mean |g|" if other == "en" else "|g| 平均"
        expect(page.locator("#layers-graph text.layers-edge-text").first).to_contain_text(meanabs)

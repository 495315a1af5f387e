"""Runs in the training view: readable names, a header that never cuts its text, a form that
follows the open run, accuracy overlays, cancelled runs inspected, short runs, the digit pad."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Lab
from tests.browser.test_train_view import BATCH, draw_seven, start, wait_status

#: Text of the run header that must be shown whole.
HEADER = "#run-title, #run-config, .stats dt, .stats dd, .run-head .exports > *"


def cut_header_text(page: Page) -> list[str]:
    """Elements of the run header whose text is cut (wider or taller than their box)."""
    return list(
        page.evaluate(
            """(sel) => [...document.querySelectorAll(sel)]
                .filter((el) => el.offsetParent !== null)
                .filter((el) => el.scrollWidth > el.clientWidth + 1
                    || el.scrollHeight > el.clientHeight + 1)
                .map((el) => `${el.id || el.tagName}: ${el.textContent}`
                    + ` (${el.scrollWidth}x${el.scrollHeight}`
                    + ` > ${el.clientWidth}x${el.clientHeight})`)""",
            HEADER,
        )
    )


def fill_defaults(page: Page) -> None:
    """The book's settings in the form (it shows the open run's, perhaps another test's)."""
    for field, value in (("#t-hidden", "50"), ("#t-lr", "0.1"), ("#t-seed", "0")):
        page.fill(field, value)
    page.select_option("#t-optimizer", "sgd")


def run_id(page: Page) -> str:
    """The open run's id."""
    return page.locator("#view-train").get_attribute("data-run-id") or ""


def run_link(page: Page, rid: str) -> str:
    """Selector of a run's link in the runs list."""
    return f'#runs-table tr[data-run="{rid}"] button.link'


def test_a_cancelled_run_is_inspected_and_the_header_wraps_at_every_width(lab: Lab) -> None:
    page = lab.open("#view=train")
    fill_defaults(page)
    start(page, 100_000)
    # Far enough that the iteration reads "1234 / 100000": the header shows it whole.
    expect(page.locator("#s-iter")).to_have_text(re.compile(r"^\d{4,} / 100000$"), timeout=60_000)
    for width, height in ((1920, 1080), (1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        assert cut_header_text(page) == [], width
        expect(page.locator("#run-config")).to_contain_text("seed 0")
        expect(page.locator("#run-config")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 800})
    # Every text the settings line shows from the Stop on, to see that none was wrong.
    page.evaluate(
        """() => { const line = document.getElementById('run-config'); window.seen = [];
            new MutationObserver(() => window.seen.push(line.textContent))
                .observe(line, {childList: true, characterData: true, subtree: true}); }"""
    )
    page.click("#t-stop")
    wait_status(page, "cancelled")
    rid = run_id(page)
    assert httpx.get(f"{lab.url}/train/{rid}").json()["has_weights"] is True
    # Said at once, without reopening the run: it trained, and what it reached is kept.
    expect(page.locator("#run-config")).to_contain_text("the weights it reached are kept")
    expect(page.locator("#run-config")).not_to_contain_text("before it trained")
    seen = page.evaluate("window.seen")
    assert seen and not [text for text in seen if "before it trained" in text], seen

    # The run is named by its settings, never by its hex id, in the header and the list.
    expect(page.locator("#run-title")).to_have_text("SGD lr 0.1 · 50 hidden · 100,000 it.")
    expect(page.locator(run_link(page, rid))).to_have_text("SGD lr 0.1 · 50 hidden · 100,000 it.")
    assert rid[:6] not in (page.locator("#runs-table").text_content() or "")
    assert rid[:6] not in (page.locator("#run-title").text_content() or "")

    # Renamed in the page: a long name wraps, it is never cut.
    long_name = "My cancelled run, stopped early on purpose to look at what it learned so far"
    page.click("#run-rename")
    page.fill("#run-name-input", long_name)
    page.press("#run-name-input", "Enter")
    expect(page.locator("#run-title")).to_have_text(long_name)
    expect(page.locator(run_link(page, rid))).to_have_text(long_name)
    assert httpx.get(f"{lab.url}/train/{rid}").json()["name"] == long_name
    page.set_viewport_size({"width": 390, "height": 844})
    assert cut_header_text(page) == []
    page.locator(".run-head").scroll_into_view_if_needed()
    lab.screenshot("train-header-phone")
    # A refused name says why, in place.
    lab.allow(422, f"/train/{rid}")
    page.click("#run-rename")
    page.fill("#run-name-input", "   ")
    page.press("#run-name-input", "Enter")
    expect(page.locator("#run-rename-error")).to_contain_text("empty")
    page.click("#run-rename-cancel")
    expect(page.locator("#run-title")).to_have_text(long_name)
    page.set_viewport_size({"width": 1280, "height": 800})

    # Cancelled with weights: it can be inspected like a completed run.
    expect(page.locator("#insight-note")).to_be_hidden()
    draw_seven(page)
    expect(page.locator("#prob-bars li")).to_have_count(10)
    expect(page.locator("#pad-result")).to_contain_text("The network says")
    page.click('[data-insight="weights"]')
    expect(page.locator("#weights-grid .tile")).to_have_count(50)
    page.click('[data-insight="confusion"]')
    expect(page.locator("#confusion table.cm tbody tr")).to_have_count(10)


def test_the_form_follows_the_open_run_trains_again_and_overlays_accuracy(lab: Lab) -> None:
    page = lab.open("#view=train")
    fill_defaults(page)
    start(page, 300)
    wait_status(page, "completed")
    first = run_id(page)
    page.fill("#t-lr", "0.05")
    page.fill("#t-seed", "3")
    start(page, 200)
    wait_status(page, "completed")
    second = run_id(page)

    # Opening a run puts its settings in the form.
    page.click(run_link(page, first))
    page.wait_for_function(f"document.querySelector('#view-train').dataset.runId === '{first}'")
    expect(page.locator("#t-lr")).to_have_value("0.1")
    expect(page.locator("#t-iters")).to_have_value("300")
    expect(page.locator("#t-seed")).to_have_value("0")
    page.click(run_link(page, second))
    page.wait_for_function(f"document.querySelector('#view-train').dataset.runId === '{second}'")
    expect(page.locator("#t-lr")).to_have_value("0.05")
    expect(page.locator("#t-iters")).to_have_value("200")
    expect(page.locator("#t-seed")).to_have_value("3")
    expect(page.locator("#t-batch")).to_have_value(str(BATCH))

    # Comparing: the other run's loss and its test accuracy are drawn, named by its name.
    name = "SGD lr 0.1 · 50 hidden · 300 it."
    page.check(f'#runs-table tr[data-run="{first}"] input[type=checkbox]')
    expect(page.locator("#acc-chart")).to_have_attribute("data-series", "3")
    expect(page.locator("#acc-chart .u-legend")).to_contain_text(f"{name} test")
    expect(page.locator("#loss-chart .u-legend")).to_contain_text(name)
    lab.screenshot("train-compare")
    assert first[:6] not in (page.locator("#loss-chart .u-legend").text_content() or "")
    page.uncheck(f'#runs-table tr[data-run="{first}"] input[type=checkbox]')
    expect(page.locator("#acc-chart")).to_have_attribute("data-series", "2")

    # In Chinese, a run named by its settings is named in Chinese.
    page.select_option("#lang-select", "zh")
    expect(page.locator(run_link(page, second))).to_have_text(
        "SGD 学习率 0.05 · 隐藏 50 · 200 次迭代"
    )
    expect(page.locator("#run-title")).to_have_text("SGD 学习率 0.05 · 隐藏 50 · 200 次迭代")
    page.select_option("#lang-select", "en")

    # "Train again with these": a new run with the open run's settings.
    page.click("#t-again")
    page.wait_for_function(
        f"!['', '{second}'].includes(document.querySelector('#view-train').dataset.runId)"
    )
    again = run_id(page)
    config = httpx.get(f"{lab.url}/train/{again}").json()["config"]
    old = httpx.get(f"{lab.url}/train/{second}").json()["config"]
    assert config == old
    wait_status(page, "completed")


def test_the_form_reports_every_invalid_field_and_a_short_run_has_a_sensible_chart(
    lab: Lab,
) -> None:
    page = lab.open("#view=train")
    page.fill("#t-hidden", "0")
    page.fill("#t-lr", "-1")
    page.fill("#t-batch", "1.5")
    page.fill("#t-iters", "")
    page.click("#t-start")
    errors = page.locator("#t-form-error li")
    expect(errors).to_have_count(4)
    expect(errors.nth(0)).to_contain_text("hidden size")
    expect(errors.nth(1)).to_contain_text("learning rate")
    expect(errors.nth(2)).to_contain_text("batch size")
    expect(errors.nth(3)).to_contain_text("iterations")
    for field in ("#t-hidden", "#t-lr", "#t-batch", "#t-iters"):
        expect(page.locator(field)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#t-seed")).to_have_attribute("aria-invalid", "false")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#t-start")).to_have_text("开始")  # the Chinese strings are in
    page.click("#t-start")
    expect(errors).to_have_count(4)
    expect(errors.nth(0)).to_contain_text("隐藏层大小")
    expect(errors.nth(3)).to_contain_text("迭代次数")
    expect(page.locator("#t-again")).to_have_text("用这些设置再训练一次")
    page.select_option("#lang-select", "en")

    # Fewer iterations than one epoch (80 batches of 100 even in the subset): one evaluation,
    # at the end, drawn as a point on an axis from 0 to 1, and said in words.
    page.fill("#t-hidden", "50")
    page.fill("#t-lr", "0.1")
    start(page, 50)
    expect(page.locator("#t-form-error li")).to_have_count(0)
    wait_status(page, "completed")
    chart = page.locator("#acc-chart")
    expect(chart).to_have_attribute("data-points", "1")
    # Whole epochs from 0 (uPlot may add the tick after 1 for a point past mid-epoch, as the
    # offline subset's 0.62 epochs are).
    expect(chart).to_have_attribute("data-x-ticks", re.compile(r"^0 1( 2)?$"))
    note = page.locator("#acc-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("shorter than one epoch")
    expect(note).to_contain_text("test")
    lab.screenshot("train-short-run")
    page.select_option("#lang-select", "zh")
    expect(note).to_contain_text("不足一个 epoch")
    lab.screenshot("train-short-run-zh")


def ink_box(page: Page) -> dict[str, int]:
    """The bounding box of the ink in the 28x28 image the pad made."""
    return dict(
        page.evaluate(
            """() => {
                const c = document.querySelector('#pad-small').getContext('2d');
                const d = c.getImageData(0, 0, 28, 28).data;
                let x0 = 28, y0 = 28, x1 = -1, y1 = -1;
                for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
                    if (d[(y * 28 + x) * 4] > 25) {
                        x0 = Math.min(x0, x); x1 = Math.max(x1, x);
                        y0 = Math.min(y0, y); y1 = Math.max(y1, y);
                    }
                }
                return {width: x1 - x0 + 1, height: y1 - y0 + 1};
            }"""
        )
    )


def test_a_short_dash_on_the_pad_stays_a_dash(lab: Lab) -> None:
    page = lab.open("#view=train")
    box = page.locator("#pad").bounding_box()
    assert box is not None
    y = box["y"] + 0.5 * box["height"]
    page.mouse.move(box["x"] + 0.45 * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.55 * box["width"], y, steps=4)
    page.mouse.up()
    ink = ink_box(page)
    # A thin line, wider than tall, not blown up to fill the 20x20 box (MNIST's "8"-like blob).
    assert ink["width"] > ink["height"], ink
    assert ink["height"] <= 4 and ink["width"] <= 12, ink
    # A whole digit still fills MNIST's 20x20 box.
    page.click("#pad-clear")
    draw_seven(page)
    seven = ink_box(page)
    assert 17 <= seven["height"] <= 21, seven

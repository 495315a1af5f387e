"""Chapter 6 on MNIST: each page starts its set of runs with one click (paced under the
per-client cap), draws what they stream, and asks its question before it shows the answer.

Runs are short here (the pages' own iterations and epochs fields); at 1280×800 and by touch
at 390×844, in English and Chinese.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Lab, lab_on
from tests.conftest import Digits, Server

PHONE = {"width": 390, "height": 844}
#: A short run finishes well within this (ms), even with the machine busy.
RUN_TIMEOUT = 120_000


@pytest.fixture(scope="module")
def ch6_server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A server of its own: the training form follows the newest run, and these runs are
    deeper than the TwoLayerNet the other training tests expect to find there."""
    server = Server(tmp_path_factory.mktemp("ch6-ui"), digits.env).start()
    yield server
    server.stop()


@pytest.fixture
def lab(browser: Browser, ch6_server: Server) -> Iterator[Lab]:
    """A fresh 1280x800 page on this module's server."""
    with lab_on(browser, ch6_server.url) as lab:
        yield lab


@pytest.fixture
def phone(browser: Browser, ch6_server: Server) -> Iterator[Lab]:
    """A 390×844 touch screen on the page."""
    with lab_on(
        browser, ch6_server.url, viewport={"width": 390, "height": 844}, has_touch=True
    ) as lab:
        yield lab


def press(locator: Locator, touch: bool) -> None:
    """Tap it on a touch screen, click it otherwise."""
    if touch:
        locator.tap()
    else:
        locator.click()


def origin(page: Page) -> str:
    """The page's scheme, host and port."""
    return "/".join(page.url.split("/")[:3])


def run_of(page: Page, rid: str) -> dict[str, Any]:
    """GET /train/{id} through the page's own origin."""
    answer = page.request.get(f"{origin(page)}/train/{rid}")
    assert answer.ok, answer.text()
    return dict(answer.json())


def wait_all(page: Page, n: int, status: str = "completed") -> list[str]:
    """Wait until the page's n runs have `status`; their run ids, in order."""
    rows = page.locator("#ch6-runs li")
    expect(rows).to_have_count(n)
    page.wait_for_function(
        "[...document.querySelectorAll('#ch6-runs li')]"
        ".every((li) => !['waiting', 'queued', 'running'].includes(li.dataset.status))",
        timeout=RUN_TIMEOUT,
    )
    states = [
        (rows.nth(i).get_attribute("data-status"), rows.nth(i).inner_text()) for i in range(n)
    ]
    assert all(s == status for s, _ in states), states
    return [rows.nth(i).get_attribute("data-id") or "" for i in range(n)]


def assert_chart_carries(page: Page, keys: list[str], ids: list[str]) -> list[dict[str, Any]]:
    """The loss chart holds every streamed loss of each run: as many points, the same last."""
    chart = page.locator("#ch6-chart")
    points = json.loads(chart.get_attribute("data-points") or "{}")
    last = json.loads(chart.get_attribute("data-last") or "{}")
    runs = []
    for key, rid in zip(keys, ids, strict=True):
        run = run_of(page, rid)
        loss = run["history"]["loss"]
        assert points[key] == len(loss) == run["config"]["iterations"], (key, points, len(loss))
        assert last[key] == pytest.approx(loss[-1], rel=1e-12), (key, last[key], loss[-1])
        runs.append(run)
    assert chart.locator("canvas").count() >= 1
    return runs


@pytest.fixture
def capped(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory, digits: Digits
) -> Iterator[Lab]:
    """A page on a server of its own where one client may have 2 runs queued or training."""
    env = {**digits.env, "BACKPROP_LAB_MAX_ACTIVE_RUNS_PER_CLIENT": "2"}
    server = Server(tmp_path_factory.mktemp("ch6-capped"), env, workers=1).start()
    try:
        with lab_on(browser, server.url) as lab:
            yield lab
    finally:
        server.stop()


def test_weight_inits_paced_under_the_cap_and_drawn_together(capped: Lab) -> None:
    page = capped.open("#view=experiments&exp=init")
    expect(page.locator("#exp-tab-init")).to_have_attribute("aria-selected", "true")
    # The question first: its answer stays hidden until it is answered.
    reveal = page.locator("#ch6-quiz .ch6-reveal")
    expect(reveal).to_be_hidden()
    page.click('#ch6-quiz [data-quiz="check"]')
    expect(page.locator("#ch6-quiz .error-text")).to_have_text("Pick an answer first, or skip.")
    expect(reveal).to_be_hidden()
    page.check('#ch6-quiz input[value="he"]')
    page.click('#ch6-quiz [data-quiz="check"]')
    expect(reveal).to_be_visible()
    expect(reveal).to_have_attribute("data-verdict", "wrong")
    expect(reveal.locator(".ch6-verdict")).to_have_text("✗ Not quite. The answer: std = 0.01.")
    expect(reveal.locator(".ch6-why")).to_contain_text("ln 10")
    # A bad length is refused on the page, naming the field.
    page.fill("#ch6-count", "0")
    page.click("#ch6-start")
    expect(page.locator("#ch6-error")).to_have_text(
        "Iterations per run: a whole number from 1 to 100000."
    )
    page.fill("#ch6-count", "40")
    page.click("#ch6-start")
    # Three runs, at most two (the per-client cap) sent at once: the third waits on the page.
    expect(page.locator("#ch6-runs li")).to_have_count(3)
    ids = wait_all(page, 3)
    keys = ["std", "xavier", "he"]
    runs = assert_chart_carries(page, keys, ids)
    assert [r["config"]["init"] for r in runs] == keys
    assert {r["config"]["learning_rate"] for r in runs} == {0.01}
    assert {r["config"]["batch_size"] for r in runs} == {128}
    assert {tuple(r["config"]["layers"]) for r in runs} == {(100, 100, 100, 100)}
    # The third was sent only after one of the first two had ended.
    assert runs[2]["created_at"] >= min(runs[0]["finished_at"], runs[1]["finished_at"])
    # Each run is a normal run of the run list, opened in the training view from here.
    listed = {r["id"] for r in page.request.get(f"{origin(page)}/runs").json()["runs"]}
    assert set(ids) <= listed
    # Lines told apart without colour: one dash pattern and marker per run, in the legend too.
    expect(page.locator("#ch6-legend .ch6-key")).to_have_count(3)
    keys = page.locator("#ch6-legend .ch6-key")
    marks = [keys.nth(i).locator("text").text_content() for i in range(3)]
    dashes = [keys.nth(i).locator("line").get_attribute("stroke-dasharray") for i in range(3)]
    assert len(set(marks)) == 3 and len(set(dashes)) == 3, (marks, dashes)
    expect(keys.nth(1)).to_contain_text("Xavier")
    capped.screenshot("ch6-init-40-iterations")
    page.locator('#ch6-runs li[data-run="he"] button').click()
    expect(page.locator("#tab-train")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#view-train")).to_have_attribute("data-run-id", ids[2])


def test_optimizers_by_touch_in_chinese(phone: Lab) -> None:
    page = phone.open("#view=graph")
    page.select_option("#lang-select", "zh")
    page.locator("#tab-experiments").tap()
    page.locator("#exp-tab-optim").tap()
    expect(page.locator("#ch6-page h2")).to_have_text("MNIST 上的 SGD、Momentum、AdaGrad 和 Adam")
    assert "exp=optim" in page.url
    reveal = page.locator("#ch6-quiz .ch6-reveal")
    expect(reveal).to_be_hidden()
    page.locator('#ch6-quiz [data-quiz="skip"]').tap()
    expect(reveal).to_have_attribute("data-verdict", "skipped")
    expect(reveal.locator(".ch6-verdict")).to_have_text("→ 已跳过。 答案：SGD。")
    expect(page.locator('#ch6-quiz [data-quiz="check"]')).to_be_disabled()
    # Every control fits the screen and is big enough for a finger.
    for control in (
        "#ch6-count",
        "#ch6-start",
        '#ch6-quiz [data-quiz="again"]',
        "#exp-tab-vanishing",
    ):
        box = page.locator(control).bounding_box()
        assert (
            box is not None and box["height"] >= 40 and box["x"] + box["width"] <= PHONE["width"]
        ), (control, box)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    page.locator("#ch6-count").fill("25")
    page.locator("#ch6-start").tap()
    ids = wait_all(page, 4)
    keys = ["sgd", "momentum", "adagrad", "adam"]
    runs = assert_chart_carries(page, keys, ids)
    assert [(r["config"]["optimizer"], r["config"]["learning_rate"]) for r in runs] == [
        ("sgd", 0.01),
        ("momentum", 0.01),
        ("adagrad", 0.01),
        ("adam", 0.001),
    ]
    expect(page.locator('#ch6-runs li[data-run="adam"] .ch6-state')).to_contain_text(
        "完成：测试识别精度"
    )
    phone.screenshot("ch6-optim-phone-zh")


def test_overfitting_gap_labelled_by_touch(phone: Lab) -> None:
    page = phone.open("#view=experiments&exp=overfit")
    expect(page.locator("#ch6-page h2")).to_have_text("Overfitting on 300 images")
    page.locator('#ch6-quiz input[value="train"]').tap()
    page.locator('#ch6-quiz [data-quiz="check"]').tap()
    reveal = page.locator("#ch6-quiz .ch6-reveal")
    expect(reveal).to_have_attribute("data-verdict", "right")
    expect(reveal.locator(".ch6-verdict")).to_have_text(
        "✓ Right. The answer: the training accuracy."
    )
    page.locator("#ch6-weight_decay").tap()
    expect(page.locator("#ch6-weight_decay")).to_be_checked()
    page.locator("#ch6-count").fill("5")
    page.locator("#ch6-start").tap()
    (rid,) = wait_all(page, 1)
    run = run_of(page, rid)
    config = run["config"]
    assert (config["train_size"], config["batch_size"], config["iterations"]) == (300, 100, 15)
    assert (config["weight_decay"], config["dropout"]) == (0.1, 0.0)
    assert tuple(config["layers"]) == (100,) * 6
    epochs = run["history"]["epochs"]
    assert len(epochs) == 5
    chart = page.locator("#ch6-chart")
    expect(chart).to_have_attribute("data-points", "5")
    last = epochs[-1]
    gap = last["train_acc"] - last["test_acc"]
    expect(chart).to_have_attribute("data-gap-label", f"gap {gap:.2f}")
    text = page.locator("#ch6-gap")
    assert float(text.get_attribute("data-gap") or "nan") == pytest.approx(gap, abs=1e-12)
    expect(text).to_have_text(
        f"Epoch {last['epoch']:g}: train {last['train_acc']:.3f}, test {last['test_acc']:.3f}, "
        f"a gap of {gap:.3f}."
    )
    phone.screenshot("ch6-overfit-phone")


def test_the_tour_opens_the_vanishing_pair_and_each_shows_its_layers(lab: Lab) -> None:
    page = lab.open("#view=graph&tour=8")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#tour-title")).to_have_text("8. 梯度消失")
    page.click("#tour-runs")
    expect(page.locator("#tab-experiments")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#exp-tab-vanishing")).to_have_attribute("aria-selected", "true")
    rows = page.locator("#ch6-runs li")
    expect(rows).to_have_count(2)
    # The tour started the pair at the page's default length; stop it and train a short pair.
    page.wait_for_function(
        "[...document.querySelectorAll('#ch6-runs li')].every((li) => li.dataset.id)"
    )
    started = [rows.nth(i).get_attribute("data-id") for i in range(2)]
    page.click("#ch6-stop")
    page.wait_for_function(
        "document.querySelectorAll('#ch6-runs li[data-status=\"cancelled\"]').length === 2",
        timeout=RUN_TIMEOUT,
    )
    assert all(run_of(page, str(rid))["config"]["iterations"] == 500 for rid in started)
    expect(page.locator("#ch6-quiz .ch6-reveal")).to_be_hidden()
    page.check('#ch6-quiz input[value="first"]')
    page.click('#ch6-quiz [data-quiz="check"]')
    expect(page.locator("#ch6-quiz .ch6-reveal")).to_have_attribute("data-verdict", "right")
    expect(page.locator("#ch6-quiz .ch6-verdict")).to_have_text(
        "✓ 答对了。 答案：第一层（W1，靠近输入）。"
    )
    page.fill("#ch6-count", "60")
    page.click("#ch6-start")
    ids = wait_all(page, 2)
    ratios = {}
    for key, rid in zip(["sigmoid", "relu"], ids, strict=True):
        run = run_of(page, rid)
        assert run["config"]["activation"] == key
        last = run["history"]["layers"][-1]
        column = page.locator(f'.ch6-column[data-run="{key}"]')
        bars = column.locator(".ch6-bars li")
        expect(bars).to_have_count(len(last["layers"]))
        shown = [
            float(bars.nth(i).get_attribute("data-grad") or "nan") for i in range(bars.count())
        ]
        assert shown == pytest.approx(
            [layer["grad_mean_abs"] for layer in last["layers"]], rel=1e-12
        )
        ratio = float(column.locator(".ch6-ratio").get_attribute("data-ratio") or "nan")
        assert ratio == pytest.approx(shown[-1] / shown[0], rel=1e-12)
        ratios[key] = ratio
    # The planted vanishing gradient: the sigmoid net's first layer far below its last, He/ReLU's
    # within one order of magnitude.
    assert ratios["sigmoid"] >= 10 and ratios["relu"] < 10, ratios
    lab.screenshot("ch6-vanishing-zh")
    # Each run's whole gradient flow is the training view's panel, one click away.
    page.locator('.ch6-column[data-run="sigmoid"] .ch6-flow').click()
    expect(page.locator("#view-train")).to_have_attribute("data-run-id", ids[0])
    expect(page.locator("#layers-panel")).to_be_visible()
    expect(page.locator("#layers-graph .layers-edge")).to_have_count(6)


def test_every_page_fits_360_px_and_its_question_answers_by_keyboard(
    browser: Browser, ch6_server: Server
) -> None:
    with lab_on(
        browser, ch6_server.url, viewport={"width": 360, "height": 740}, has_touch=True
    ) as lab:
        page = lab.open("#view=experiments&exp=vanishing")
        for key in ("init", "optim", "overfit", "vanishing"):
            page.locator(f"#exp-tab-{key}").tap()
            expect(page.locator("#ch6-page")).to_have_attribute("data-page", key)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, (key, width)
            for control in ("#ch6-start", "#ch6-count", '#ch6-quiz [data-quiz="skip"]'):
                box = page.locator(control).bounding_box()
                assert box is not None and box["height"] >= 40 and box["x"] + box["width"] <= 360
        # The keyboard alone: arrows pick an answer, Tab reaches Check, Enter reveals.
        page.locator('#ch6-quiz input[value="first"]').focus()
        page.keyboard.press("ArrowDown")
        expect(page.locator('#ch6-quiz input[value="middle"]')).to_be_checked()
        page.keyboard.press("Tab")
        expect(page.locator('#ch6-quiz [data-quiz="check"]')).to_be_focused()
        page.keyboard.press("Enter")
        reveal = page.locator("#ch6-quiz .ch6-reveal")
        expect(reveal).to_have_attribute("data-verdict", "wrong")
        expect(reveal).to_be_focused()
        expect(reveal.locator(".ch6-verdict")).to_have_text(
            "✗ Not quite. The answer: the first (W1, next to the input)."
        )

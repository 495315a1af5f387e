"""The chapter-6 experiments in a real browser, by touch, at desktop and phone sizes, in both
languages: the question hides the result until answered, the race draws four paths and steps
through the numbers the API returned, the histograms draw the API's counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.book import BOOK_RACE
from tests.browser.conftest import Lab, lab_on
from tests.conftest import Server

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
WORDS = {
    "en": {"step": "Step {k} of 30", "right": "Right", "wrong": "Not quite", "skipped": "Skipped"},
    "zh": {"step": "第 {k} 步，共 30 步", "right": "正确", "wrong": "不对", "skipped": "已跳过"},
}


@dataclass
class Touch:
    """A page on a touch screen of one size, in one language."""

    lab: Lab
    size: str
    lang: str


CASES = [(s, lang) for s in SIZES for lang in ("en", "zh")]


@pytest.fixture(params=CASES, ids=lambda p: "-".join(p))
def touch(request: pytest.FixtureRequest, browser: Browser, ui_server: Server) -> Iterator[Touch]:
    """A touch screen page (desktop or phone size) in English or Chinese."""
    size, lang = request.param
    width, height = SIZES[size]
    with lab_on(browser, ui_server.url, {"width": width, "height": height}, has_touch=True) as lab:
        lab.page.add_init_script(f"localStorage.setItem('backprop-lab.lang', '{lang}')")
        yield Touch(lab, size, lang)


def js_number(x: float) -> str:
    """How the page's fmt(x) writes a number (5 significant digits, or an exponent)."""
    if x == 0:
        return "0"
    if abs(x) >= 1e6 or abs(x) < 1e-4:
        mantissa, exponent = f"{x:.2e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    v = float(f"{x:.5g}")
    return str(int(v)) if v.is_integer() else repr(v)


def post(server: Server, path: str, body: dict[str, Any]) -> Any:
    r = httpx.post(server.url + path, json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def no_sideways_scroll(page: Page, width: int) -> None:
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= width


def test_the_race_hides_its_verdict_then_steps_through_the_apis_numbers(
    touch: Touch, ui_server: Server
) -> None:
    lab = touch.lab
    words = WORDS[touch.lang]
    page = lab.open("#view=experiments&exp=race")
    expect(page.locator("#exp-race")).to_be_visible()
    expect(page.locator("#race-question")).to_be_visible()
    expect(page.locator("#race-result")).to_be_hidden()
    expect(page.locator("#race-question .exp-verdict")).to_have_text("")
    want = post(ui_server, "/experiments/optimizer-race", BOOK_RACE)
    assert want["arrival"]["first"] == ["adagrad"]

    page.locator('#race-question [data-choice="sgd"]').tap()
    expect(page.locator("#race-result")).to_be_visible()
    verdict = page.locator("#race-question .exp-verdict")
    expect(verdict).to_contain_text(words["wrong"])
    expect(verdict).to_contain_text("AdaGrad")
    expect(page.locator('#race-question [data-choice="adagrad"]')).to_contain_text("✓")
    expect(page.locator('#race-question [data-choice="sgd"]')).to_contain_text("✗")

    paths = page.locator("#race-plot .exp-path")
    expect(paths).to_have_count(4)
    assert [paths.nth(i).get_attribute("data-optimizer") for i in range(4)] == list(want["paths"])
    for i in range(4):  # every point up to the current step carries a marker
        expect(paths.nth(i).locator(".point, .current")).to_have_count(31)
    expect(page.locator("#race-legend li")).to_have_count(4)
    expect(page.locator("#race-step-label")).to_have_text(words["step"].format(k=30))

    page.locator("#race-prev").tap()
    page.locator("#race-prev").tap()
    expect(page.locator("#race-step-label")).to_have_text(words["step"].format(k=28))
    expect(page.locator("#race-live")).to_contain_text(words["step"].format(k=28))
    for name, path in want["paths"].items():
        card = page.locator(f'#race-rules .exp-rule[data-optimizer="{name}"]')
        x, y = path[28]
        assert float(card.get_attribute("data-x") or "nan") == x
        assert float(card.get_attribute("data-y") or "nan") == y
        text = card.locator(".exp-rule-lines")
        expect(text).to_contain_text(f"= {js_number(x)}\n")
        expect(text).to_contain_text(f"= {js_number(y)}")
        gx, gy = want["trace"][name][27]["grad"]
        expect(text).to_contain_text(f"∂f/∂x = x/10 = {js_number(gx)}")
        expect(text).to_contain_text(f"∂f/∂y = 2y = {js_number(gy)}")
    momentum = want["trace"]["momentum"][27]["state"]["v"]
    expect(page.locator('.exp-rule[data-optimizer="momentum"] .exp-rule-lines')).to_contain_text(
        "vx = 0.9·vx − lr·∂f/∂x = 0.9·"
    )
    expect(page.locator('.exp-rule[data-optimizer="momentum"] .exp-rule-lines')).to_contain_text(
        f"= {js_number(momentum[0])}\n"
    )
    for i in range(4):
        expect(paths.nth(i).locator(".point, .current")).to_have_count(29)

    # keyboard: the arrows step (outside text fields), Home goes to the start
    page.locator("#race-next").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#race-step-label")).to_have_text(words["step"].format(k=29))
    page.keyboard.press("Home")
    expect(page.locator("#race-step-label")).to_have_text(words["step"].format(k=0))
    expect(page.locator("#race-slider")).to_have_value("0")
    page.locator("#race-next").tap()
    first = page.locator('.exp-rule[data-optimizer="sgd"] .exp-rule-lines')
    expect(first).to_contain_text("x ← x − lr·∂f/∂x = -7 − 0.95·(-0.7) = -6.335")

    if touch.size == "phone":
        no_sideways_scroll(page, SIZES["phone"][0])
    page.evaluate("document.querySelector('#race-slider').scrollIntoView({block: 'center'})")
    page.locator("#race-slider").focus()
    page.keyboard.press("End")
    expect(page.locator("#race-step-label")).to_have_text(words["step"].format(k=30))
    if touch.lang == "en":
        page.keyboard.press("Home")
        for _ in range(6):
            page.keyboard.press("ArrowRight")
        expect(page.locator("#race-step-label")).to_have_text(words["step"].format(k=6))
        page.evaluate("window.scrollTo(0, 0)")
        page.evaluate("document.querySelector('#view-experiments').scrollTo(0, 0)")
        lab.screenshot("experiments-race" if touch.size == "desktop" else "experiments-race-phone")


def test_skipping_reveals_and_new_learning_rates_race_again(lab: Lab, ui_server: Server) -> None:
    page = lab.open("#view=experiments&exp=race")
    page.click("#race-question .exp-skip")
    expect(page.locator("#race-question .exp-verdict")).to_contain_text("Skipped")
    expect(page.locator("#race-plot .exp-path")).to_have_count(4)
    page.fill("#race-lr-sgd", "0.3")
    page.fill("#race-y", "-3")
    page.fill("#race-steps", "12")
    page.click("#race-run")
    expect(page.locator("#race-step-label")).to_have_text("Step 12 of 12")
    body = {**BOOK_RACE, "start": [-7, -3], "steps": 12}
    body["optimizers"] = {**BOOK_RACE["optimizers"], "sgd": {"lr": 0.3}}
    want = post(ui_server, "/experiments/optimizer-race", body)
    x, y = want["paths"]["sgd"][12]
    card = page.locator('.exp-rule[data-optimizer="sgd"]')
    assert float(card.get_attribute("data-x") or "nan") == x
    assert float(card.get_attribute("data-y") or "nan") == y
    expect(page.locator("#race-legend li").first).to_contain_text("lr 0.3")
    page.fill("#race-x", "")
    page.click("#race-run")
    expect(page.locator("#race-error")).to_contain_text("Start x")
    expect(page.locator("#race-x")).to_have_attribute("aria-invalid", "true")
    page.fill("#race-x", "-7")
    page.fill("#race-steps", "5000")
    lab.allow(413, "/experiments/optimizer-race")
    page.click("#race-run")
    expect(page.locator("#race-error")).to_contain_text("limit of 1000")
    page.click("#race-book")
    expect(page.locator("#race-step-label")).to_have_text("Step 30 of 30")


def test_the_histograms_draw_the_apis_counts(touch: Touch, ui_server: Server) -> None:
    lab = touch.lab
    words = WORDS[touch.lang]
    page = lab.open("#view=experiments&exp=activations")
    expect(page.locator("#exp-activations")).to_be_visible()
    expect(page.locator("#exp-race")).to_be_hidden()
    expect(page.locator("#act-result")).to_be_hidden()
    page.locator('#act-question [data-choice="xavier"]').tap()
    expect(page.locator("#act-question .exp-verdict")).to_contain_text(words["right"])
    hists = page.locator("#act-hists .exp-hist")
    expect(hists).to_have_count(5)
    # the histograms of the learner's pick are shown first
    expect(page.locator("#act-hists")).to_have_attribute("data-shown", "sigmoid xavier")
    expect(page.locator("#act-init")).to_have_value("xavier")
    page.select_option("#act-init", "std1")
    expect(page.locator("#act-hists")).to_have_attribute("data-shown", "sigmoid std1")
    book = {"layers": 5, "nodes": 100, "samples": 1000, "bins": 30, "seed": 0}
    want = post(ui_server, "/experiments/activations", {**book, "activation": "sigmoid"})
    for i, layer in enumerate(want["layers"]):
        bars = hists.nth(i).locator(".bar")
        expect(bars).to_have_count(30)
        counts = bars.evaluate_all("bs => bs.map(b => +b.dataset.count)")
        assert counts == layer["counts"]
    if touch.size == "phone":
        no_sideways_scroll(page, SIZES["phone"][0])
    page.select_option("#act-activation", "relu")
    page.select_option("#act-init", "he")
    want = post(ui_server, "/experiments/activations", {**book, "activation": "relu", "init": "he"})
    expect(page.locator("#act-hists")).to_have_attribute("data-shown", "relu he")
    for i, layer in enumerate(want["layers"]):
        counts = hists.nth(i).locator(".bar").evaluate_all("bs => bs.map(b => +b.dataset.count)")
        assert counts == layer["counts"]
    if touch.lang == "en" and touch.size == "desktop":
        page.select_option("#act-activation", "sigmoid")
        page.select_option("#act-init", "std1")
        expect(page.locator("#act-hists")).to_have_attribute("data-shown", "sigmoid std1")
        page.evaluate("document.querySelector('#act-hists').scrollIntoView({block: 'end'})")
        lab.screenshot("experiments-activations")


def test_the_page_is_in_the_address(lab: Lab) -> None:
    page = lab.open("#view=experiments&exp=activations")
    expect(page.locator("#exp-tab-activations")).to_have_attribute("aria-selected", "true")
    page.click("#exp-tab-race")
    expect(page.locator("#exp-race")).to_be_visible()
    assert "exp=race" in page.url and "view=experiments" in page.url
    page.keyboard.press("ArrowRight")
    expect(page.locator("#exp-activations")).to_be_visible()
    assert "exp=activations" in page.url
    page.click("#tab-graph")
    expect(page.locator("#view-experiments")).to_be_hidden()
    page.evaluate("location.hash = '#view=experiments&exp=race'")
    expect(page.locator("#view-experiments")).to_be_visible()
    expect(page.locator("#exp-race")).to_be_visible()
    expect(page.locator("#exp-tab-race")).to_have_attribute("aria-selected", "true")


@pytest.mark.parametrize("page_name", ["race", "activations"])
def test_both_pages_fit_a_360_px_phone_and_every_control_takes_a_finger(
    browser: Browser, ui_server: Server, page_name: str
) -> None:
    with lab_on(browser, ui_server.url, {"width": 360, "height": 740}, has_touch=True) as lab:
        page = lab.open(f"#view=experiments&exp={page_name}")
        prefix = "race" if page_name == "race" else "act"
        page.locator(f"#{prefix}-question .exp-skip").tap()
        expect(page.locator(f"#{prefix}-result")).to_be_visible()
        expect(page.locator(f"#{prefix}-question .exp-verdict")).to_contain_text("Skipped")
        if page_name == "race":
            expect(page.locator("#race-plot .exp-path")).to_have_count(4)
            page.locator("#race-prev").tap()
            expect(page.locator("#race-step-label")).to_have_text("Step 29 of 30")
        else:
            expect(page.locator("#act-hists .exp-hist")).to_have_count(5)
        no_sideways_scroll(page, 360)
        controls = page.locator(
            f"#exp-{page_name} button:visible, #exp-{page_name} select:visible, "
            f"#exp-{page_name} input:visible, #tab-experiments, .exp-tabs [role=tab]"
        )
        for i in range(controls.count()):
            box = controls.nth(i).bounding_box()
            assert box is not None
            assert box["height"] >= 40, controls.nth(i).evaluate("e => e.outerHTML.slice(0, 80)")
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360.5


def test_switching_language_rewrites_the_verdict_and_the_step(lab: Lab) -> None:
    page = lab.open("#view=experiments&exp=race")
    page.click('#race-question [data-choice="adagrad"]')
    expect(page.locator("#race-question .exp-verdict")).to_contain_text("Right")
    page.click("#race-prev")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#race-question .exp-verdict")).to_contain_text("正确")
    expect(page.locator("#race-step-label")).to_have_text("第 29 步，共 30 步")
    expect(page.locator("#race-plot .exp-path")).to_have_count(4)
    page.click("#exp-tab-activations")
    page.click("#act-question .exp-skip")
    expect(page.locator("#act-question .exp-verdict")).to_contain_text("已跳过")
    expect(page.locator("#act-hists figcaption").first).to_have_text("第 1 层")
    page.select_option("#lang-select", "en")
    expect(page.locator("#act-hists figcaption").first).to_have_text("Layer 1")
    expect(page.locator("#act-question .exp-verdict")).to_contain_text("Skipped")

"""The guided tour of the chapter: eight pages, each with its figure and its exercise."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from tests.browser.conftest import Lab
from tests.browser.test_csp import strict_lab  # noqa: F401  (the fixture: the CSP enforced)
from tests.browser.test_exercise import PHONE, answer, phone  # noqa: F401  (the phone fixture)
from tests.browser.test_graph_view import edge

# Each page's figure: the example it puts on the canvas, and a node of it.
FIGURES = [
    ("apples", "apple_price"),
    ("chain_rule", "t"),
    ("apples", "apple_price"),
    ("apples_oranges", "all_price"),
    ("relu_mask", "out"),
    ("affine_batch", "Y"),
    ("two_layer_net", "Affine2"),
    ("sigmoid_primitives", "exp_neg_x"),
]


def tour_page(page: Page) -> int:
    """The page number the address holds."""
    return int(parse_qs(urlsplit(page.url).fragment)["tour"][0])


def test_eight_pages_with_their_figures_next_and_back(lab: Lab) -> None:
    page = lab.open()
    page.click("#g-tour")
    panel = page.locator("#tour-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#g-tour")).to_have_attribute("aria-expanded", "true")
    titles: list[str] = []
    for i, (preset, node) in enumerate(FIGURES, start=1):
        expect(page.locator("#tour-page")).to_have_text(f"Page {i} of {len(FIGURES)}")
        expect(page.locator("#preset-select")).to_have_value(preset)
        expect(page.locator(f'#graph-svg [data-node="{node}"]')).to_have_count(1)
        assert tour_page(page) == i
        titles.append(page.locator("#tour-title").inner_text())
        expect(panel.locator(".tour-body p")).not_to_have_count(0)
        expect(page.locator("#tour-exercise")).to_be_visible()
        if i == 2:
            lab.screenshot("tour")
        if i == 7:
            # The whole network's page points to the gradient check and to training.
            expect(panel.locator('.tour-view[data-view="gradcheck"]')).to_have_text(
                "Open the gradient check"
            )
        if i < len(FIGURES):
            page.click("#tour-next")
    assert titles[0] == "1. Computational graphs" and titles[6] == "7. The whole network"
    assert titles[7] == "8. A vanishing gradient"
    assert len(set(titles)) == len(FIGURES)
    expect(page.locator("#tour-next")).to_be_disabled()
    # The last page opens the chapter-6 view's two vanishing-gradient runs.
    expect(page.locator("#tour-runs")).to_have_text("Run the two networks")
    page.click("#tour-back")
    page.click("#tour-back")
    expect(page.locator("#tour-page")).to_have_text("Page 6 of 8")
    # Page 6 mentions a second example; it loads on request, and the figure comes back.
    page.click("#tour-also")
    expect(page.locator("#preset-select")).to_have_value("softmax_with_loss")
    page.click("#tour-reload")
    expect(page.locator("#preset-select")).to_have_value("affine_batch")
    page.click("#tour-close")
    expect(panel).to_be_hidden()
    assert "tour=" not in page.url


def test_a_link_opens_page_three_and_its_exercise_in_both_languages(lab: Lab) -> None:
    page = lab.open("#view=graph&tour=3")
    expect(page.locator("#tour-page")).to_have_text("Page 3 of 8")
    expect(page.locator("#tour-title")).to_have_text("3. Backward through + and ×")
    expect(page.locator("#preset-select")).to_have_value("apples")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#tour-title")).to_have_text("3. 加法节点和乘法节点的反向传播")
    expect(page.locator("#tour-page")).to_have_text("第 3 页，共 8 页")
    expect(page.locator("#g-tour")).to_have_text("本章导览")
    body = page.locator("#tour-panel .tour-body").inner_text()
    assert "乘法节点" in body and "dout · y" in body
    # The page's exercise: the apples backward, in Chinese.
    page.click("#tour-exercise")
    expect(page.locator("#ex-phase")).to_have_text("反向传播经过 price（乘法）")
    expect(page.locator("#tour-panel .tour-body")).to_be_hidden()  # the text steps aside
    answer(page, ["1.1", "200"])
    expect(page.locator("#exercise-panel .ex-verdict.right")).to_have_count(2)
    assert tour_page(page) == 3 and "mode=exercise" in page.url
    page.select_option("#lang-select", "en")
    expect(page.locator("#tour-next")).to_have_text("Next ▶")
    # A link to page 1 in exercise mode asks the forward values too, as that page's exercise.
    other = page.context.new_page()
    other.goto(page.url.split("#")[0] + "#view=graph&tour=1&mode=exercise")
    other.wait_for_selector("body[data-ready=true]")
    expect(other.locator("#ex-phase")).to_have_text("Forward: the value of apple_price (mul)")
    expect(other.locator("#ex-ask-forward")).to_be_checked()
    other.close()


def test_the_chain_rule_page_by_touch_on_a_phone(phone: Lab) -> None:  # noqa: F811
    page = phone.open("#view=graph")
    page.locator("#g-tour").tap()
    page.locator("#tour-next").tap()
    expect(page.locator("#tour-title")).to_have_text("2. The chain rule")
    panel = page.locator("#tour-panel")
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    for control in ("#tour-back", "#tour-next", "#tour-exercise"):
        b = page.locator(control).bounding_box()
        assert b is not None and b["height"] >= 40 and b["x"] + b["width"] <= PHONE["width"], b
    page.locator("#tour-exercise").tap()
    expect(page.locator("#ex-phase")).to_have_text("Backward through z (mul)")
    answer(page, ["4", "5"], tap=True)  # dz/dt = w = 4, dz/dw = t = 5
    page.locator("#ex-next").tap()
    expect(page.locator("#ex-phase")).to_have_text("Backward through t (add)")
    answer(page, ["4", "4"], tap=True)
    expect(edge(page, "x", "t").locator(".edge-grad")).to_have_text("4")
    page.locator("#ex-next").tap()
    expect(page.locator("#ex-score")).to_have_text("4 of 4 right")
    # The same page and score in Chinese, switched on the phone.
    page.select_option("#lang-select", "zh")
    expect(page.locator("#tour-title")).to_have_text("2. 链式法则")
    expect(page.locator("#ex-score")).to_have_text("答对 4 个，共 4 个")
    b = page.locator("#ex-retry").bounding_box()
    assert b is not None and b["height"] >= 40


def test_the_relu_page_and_its_exercise_under_the_real_policy(strict_lab: Lab) -> None:  # noqa: F811
    """Nothing the tour or the exercise does is refused by the Content-Security-Policy."""
    page = strict_lab.open("#view=graph&tour=5")
    expect(page.locator("#tour-title")).to_have_text("5. ReLU and Sigmoid layers")
    page.click("#tour-exercise")
    expect(page.locator("#exercise-panel .ex-grid")).to_have_count(1)
    answer(page, ["1", "0", "0", "4"])  # dout · (x > 0) with dout = [[1, 2], [3, 4]]
    expect(page.locator("#exercise-panel .ex-verdict")).to_have_attribute("data-verdict", "right")
    # The 2×2 answer is laid out as 2 columns (a custom property set through the CSSOM).
    cells = page.locator("#exercise-panel input.ex-cell")
    first, second, third = (cells.nth(i).bounding_box() for i in range(3))
    assert first and second and third
    assert second["y"] == first["y"] and third["y"] > first["y"]


def test_a_page_hides_its_answers_until_its_exercise_is_done_or_skipped(lab: Lab) -> None:
    page = lab.open("#view=graph&tour=2")
    expect(page.locator("#tour-title")).to_have_text("2. The chain rule")
    expect(page.locator("#graph-svg .edge-value").first).to_be_visible()  # values show
    expect(page.locator("#graph-svg .edge-grad")).to_have_count(0)  # gradients do not
    expect(page.locator("#graph-svg [data-node-grad]")).to_have_count(0)
    expect(page.locator("#preset-explanation")).to_be_hidden()
    expect(page.locator("#tour-hidden")).to_contain_text("stay hidden")
    for control in ("#g-step", "#g-play", "#g-check"):
        expect(page.locator(control)).to_be_disabled()
    page.locator('#graph-svg [data-node="x"] .body').click()
    expect(page.locator("#inspector-body .node-result")).to_have_count(0)
    page.select_option("#lang-select", "zh")
    expect(page.locator("#tour-skip")).to_have_text("跳过：显示答案")
    page.select_option("#lang-select", "en")
    # Done: the exercise's last answer reveals the page for good.
    page.click("#tour-exercise")
    page.click("#ex-reveal-all")
    page.click("#ex-leave")
    expect(page.locator("#graph-svg .edge-grad").first).to_be_visible()
    expect(page.locator("#tour-skip")).to_have_count(0)
    expect(page.locator("#g-step")).to_be_enabled()
    # The next page hides its own answers; skipping shows them.
    page.click("#tour-next")
    expect(page.locator("#tour-title")).to_have_text("3. Backward through + and ×")
    expect(page.locator("#graph-svg .edge-grad")).to_have_count(0)
    page.click("#tour-skip")
    expect(page.locator("#graph-svg .edge-grad").first).to_be_visible()
    expect(page.locator("#preset-explanation")).to_be_visible()
    expect(page.locator("#g-check")).to_be_enabled()
    # Back on page 2: already done, still shown.
    page.click("#tour-back")
    expect(page.locator("#graph-svg .edge-grad").first).to_be_visible()

"""Broken layers, overwritten gradients and the Python export in the graph view, as a learner."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import Lab, link, reused_x
from tests.browser.test_graph_view import load_preset, run


def test_a_broken_mul_gives_wrong_gradients_and_the_check_names_the_bug(lab: Lab) -> None:
    page = lab.open()
    load_preset(page, "apples")
    run(page)
    expect(page.locator('[data-node-grad="tax"]')).to_have_text("∂L/∂tax = 200")
    page.click('#graph-svg [data-node="price"]')
    page.select_option("#node-variant", "no_swap")
    expect(page.locator(".variant .hint.bug")).to_contain_text("forgets to swap the inputs")
    expect(page.locator('#graph-svg [data-node="price"]')).to_have_class(
        "node op-mul selected is-output broken"
    )
    run(page)
    expect(page.locator('[data-node-grad="tax"]')).to_have_text("∂L/∂tax = 1.1")
    page.click("#tab-gradcheck")
    page.check('input[name="gc-target"][value="graph"]')
    page.click("#gc-run")
    expect(page.locator("#gc-summary .verdict")).to_have_attribute("data-passed", "false")
    expect(page.locator('#gc-table tr[data-param="tax"] td.result')).to_have_attribute(
        "data-passed", "false"
    )
    bug = page.locator('#gc-summary .bug[data-node="price"]')
    expect(bug).to_contain_text("Node price is a broken mul (no_swap)")
    page.select_option("#lang-select", "zh")
    expect(bug).to_contain_text("节点 price 是有错误的乘法（no_swap）")  # the op named in Chinese
    expect(bug).to_contain_text("忘了交换输入")
    lab.screenshot("broken-layer-gradcheck")


def test_overwritten_gradients_from_a_link_and_back_to_sums(lab: Lab) -> None:
    """x·x + x at x = 3: 7 when gradients add up, 3 when each use overwrites the last."""
    graph = reused_x("overwrite")
    page = lab.open(f"#g={link(graph)}")
    expect(page.locator("#g-accumulate")).to_have_value("overwrite")
    run(page)
    expect(page.locator('[data-node-grad="x"]')).to_have_text("∂L/∂x = 3")
    page.select_option("#g-accumulate", "sum")
    run(page)
    expect(page.locator('[data-node-grad="x"]')).to_have_text("∂L/∂x = 7")


def test_export_as_python_downloads_the_graph_as_a_script(lab: Lab, tmp_path: Path) -> None:
    page = lab.open()
    load_preset(page, "apples")
    with page.expect_download() as info:
        page.click("#g-export")
    download = info.value
    assert download.suggested_filename == "apples.py"
    path = tmp_path / "apples.py"
    download.save_as(path)
    script = path.read_text()
    assert "class MulLayer:" in script and 'value["tax"] = np.array(1.1)' in script
    expect(page.locator(".toast")).to_contain_text("Python script")


def test_the_code_panel_lights_the_lines_that_run(lab: Lab) -> None:
    """Stepping the apples: MulLayer.forward going forward, MulLayer.backward going back."""
    page = lab.open()
    load_preset(page, "apples")
    panel = page.locator("#step-code")
    engine = page.locator("#step-code-lines")  # the engine's class (the book's is above it)
    for _ in range(4):  # apple, apple_num, tax, apple_price
        page.click("#g-step")
    expect(page.locator("#step-phase")).to_contain_text("apple_price")
    expect(panel).to_be_visible()
    expect(page.locator("#step-code-title")).to_have_text("The code that runs: MulLayer.forward()")
    expect(engine.locator(".line.running.forward")).to_contain_text(["def forward(self, x, y):"])
    expect(engine.locator(".line.running").last).to_contain_text("return x * y")
    expect(page.locator("#step-code-numbers")).to_have_text("inputs: apple = 100, apple_num = 2")
    for _ in range(2):  # price forward, then price backward
        page.click("#g-step")
    expect(page.locator("#step-code-title")).to_have_text("The code that runs: MulLayer.backward()")
    expect(engine.locator(".line.running.backward").nth(1)).to_contain_text("dout * self.y")
    expect(page.locator("#step-code-numbers")).to_have_text("dout = 1")
    page.select_option("#lang-select", "zh")
    expect(page.locator("#step-code-title")).to_have_text("正在运行的代码：MulLayer.backward()")
    page.select_option("#lang-select", "en")
    page.click('#graph-svg [data-node="price"]')
    page.select_option("#node-variant", "no_swap")  # a broken layer shows its own backward
    page.click("#g-step")
    expect(panel).to_be_hidden()  # the first step is the input apple: no code runs
    for _ in range(5):
        page.click("#g-step")
    expect(page.locator("#step-code-title")).to_have_text(
        "The code that runs: MulLayerNoSwap.backward()"
    )
    expect(engine.locator(".line.running.backward").nth(1)).to_contain_text("dout * self.x")
    expect(engine.locator(".line").first).to_contain_text("class MulLayer:")


def test_stepping_an_overwritten_gradient_says_which_one_was_kept(lab: Lab) -> None:
    graph = reused_x("overwrite")
    page = lab.open(f"#g={link(graph)}")
    run(page)
    for _ in range(6):  # x, m, s forward; s, m, x backward
        page.click("#g-step")
    expect(page.locator("#step-rule")).to_contain_text(
        "∂L/∂x = 3   (overwritten: only the last of 1, 3, 3 is kept, not their sum)"
    )

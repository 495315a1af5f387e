"""中文 complete: no English word reaches the page in Chinese, on any view or state.

Every text node shown and every aria-label, title and placeholder is read; words of Latin
letters are allowed only when they are names or code: the allow-list below (layers, the
dataset, libraries, symbols of the formulas), the ids of the graph's nodes and their ports,
the names learners gave their runs, and what is marked as code (``<code>``, ``<pre>``,
``translate="no"``).
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Lab
from tests.browser.walk import states

#: Names and code that stay as they are in Chinese: the app's name; the chapter's layers,
#: networks, optimizers and functions; symbols of the formulas and keys; the terms the Chinese
#: edition of the book keeps in Latin letters; names of variables in the layers' code.
_ALLOWED_WORDS = """
    Backprop Lab ReLU Affine Sigmoid Softmax SoftmaxWithLoss Softmax-with-Loss Loss
    TwoLayerNet MultiLayerNet BatchNorm Batch Normalization Dropout Tanh AddLayer MulLayer
    MNIST NumPy Python npm SGD Momentum AdaGrad Adam RMSprop Xavier He
    softmax sigmoid tanh std exp log sum dot max min mean
    dout dx dy dW db dt dL eps atol rtol HTTP ID KB MB JSON CSV
    Ctrl Tab Enter Esc Delete Shift
    one-hot mini-batch epoch gamma beta mask seed
"""
ALLOWED = frozenset(_ALLOWED_WORDS.split())

WORDS = """(allowed) => {
  const ok = new Set(allowed);
  for (const el of document.querySelectorAll("[data-node], [data-port-name]")) {
    for (const w of (el.getAttribute("data-node") || "").match(/[A-Za-z]+/g) || []) ok.add(w);
  }
  // what learners typed (a run's name) is theirs, not the page's
  for (const el of document.querySelectorAll("[data-user-text]")) {
    for (const w of (el.getAttribute("data-user-text") || "").match(/[A-Za-z]+/g) || []) ok.add(w);
  }
  const code = (el) => !el || el.closest("pre, code, script, style, [translate=no], #lang-select");
  const shown = (el) =>
    el && (!(el instanceof HTMLElement) || el.checkVisibility()) && !el.closest("[hidden]");
  const found = [];
  const check = (text, el, what) => {
    for (const token of text.match(/[A-Za-z0-9_.$/-]*[A-Za-z][A-Za-z0-9_.$/-]*/g) || []) {
      // file names, code, numbers and ids (np.dot, $MNIST_DIR, 1e-4, a hex id) are not words
      if (/[0-9_.$/]/.test(token) || ok.has(token)) continue;
      const w = token.split("-").find((part) => part.length > 1 && !ok.has(part));
      const where = `<${el.tagName.toLowerCase()} id=${el.id || el.closest("[id]")?.id}>`;
      if (w) found.push(`${w}: ${what} "${text.trim().slice(0, 90)}" in ${where}`);
    }
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!code(el) && shown(el)) check(n.textContent || "", el, "text");
  }
  for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], [alt]")) {
    if (code(el) || !shown(el)) continue;
    for (const a of ["aria-label", "title", "placeholder", "alt"]) {
      const v = el.getAttribute(a);
      if (v) check(v, el, a);
    }
  }
  return [...new Set(found)];
}"""


def test_no_english_word_reaches_the_page_in_chinese(lab: Lab) -> None:
    page = lab.open()
    page.select_option("#lang-select", "zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    lab.allow(422, "/graphs/evaluate")
    found: dict[str, list[str]] = {}

    def visit(name: str) -> None:
        if name == "graph, server error":
            # The server's refusal, said from its code and details.
            status = page.locator("#graph-status")
            expect(status).to_contain_text("节点 's'（加法）的输入形状 x (2, 3)、y (2,) 不相容")
            bubble = page.locator("#graph-errors")  # the same refusal under the node
            expect(bubble).to_contain_text("节点 's'（加法）")
            page.select_option("#lang-select", "en")
            expect(status).to_contain_text("x of shape (2, 3) and y of shape (2,) do not broadcast")
            expect(bubble).to_contain_text("x of shape (2, 3) and y of shape (2,) do not broadcast")
            page.select_option("#lang-select", "zh")
            expect(status).to_contain_text("节点 's'（加法）")
            expect(bubble).to_contain_text("节点 's'（加法）")
        words = page.evaluate(WORDS, sorted(ALLOWED))
        if words:
            found[name] = words

    states(page, lab.url, visit)
    assert not found, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in found.items())

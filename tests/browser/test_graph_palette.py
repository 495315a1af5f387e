"""The palette is built from GET /graphs/ops: an op added to the engine's table appears in it."""

from __future__ import annotations

from playwright.sync_api import expect

from engine.graph.ops import OPS
from tests.browser.conftest import Lab


def test_palette_offers_every_op_of_the_table_tanh_included(lab: Lab) -> None:
    page = lab.open()
    for name in OPS:
        expect(page.locator(f'#palette [data-op="{name}"]')).to_have_count(1)
    page.click("#g-clear")
    page.click('#palette [data-op="tanh"]')
    expect(page.locator('#graph-svg [data-node^="tanh"]')).to_have_count(1)

"""Whose runs are whose on the page: the "yours" mark, Delete by keyboard, only mine, a 429 said
in Chinese, on a 390 px phone by touch."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, expect

from tests.browser.conftest import lab_on
from tests.browser.test_train_runs import run_link
from tests.browser.test_train_view import wait_event
from tests.conftest import OPERATOR, Digits, Server

ID = re.compile(r"^[0-9a-f]{16}$")
OTHER = {"Authorization": "Bearer " + "someone-else-" * 4}


@pytest.fixture(scope="module")
def one_each(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """One worker; one active run per client."""
    env = {
        **digits.env,
        "BACKPROP_LAB_WORKERS": "1",
        "BACKPROP_LAB_MAX_ACTIVE_RUNS_PER_CLIENT": "1",
    }
    server = Server(tmp_path_factory.mktemp("owners-ui"), env).start()
    yield server
    server.stop()


def test_mine_and_not_mine_delete_by_keyboard_and_a_429_in_chinese_on_a_phone(
    browser: Browser, one_each: Server
) -> None:
    r = httpx.post(f"{one_each.url}/train", json={"iterations": 20}, headers=OTHER)
    theirs = r.json()["id"]
    wait_event(one_each.url, theirs, "done")
    mine = ""
    try:
        with lab_on(browser, one_each.url, {"width": 390, "height": 844}, has_touch=True) as lab:
            lab.allow(429, "/train")
            page = lab.open("#view=train")
            page.select_option("#lang-select", "zh")
            page.fill("#t-iters", "100000")
            page.tap("#t-start")
            # NOTE: the page opened the newest run (theirs) when it loaded; now it opens mine.
            expect(page.locator("#view-train")).not_to_have_attribute("data-run-id", theirs)
            expect(page.locator("#view-train")).to_have_attribute("data-run-id", ID)
            mine = page.locator("#view-train").get_attribute("data-run-id") or ""
            row = page.locator(f'#runs-table tr[data-run="{mine}"]')
            other = page.locator(f'#runs-table tr[data-run="{theirs}"]')
            # Mine: a star and a word, and Delete; theirs: neither.
            expect(row.locator(".mine-mark")).to_have_text("★ 我的")
            expect(row.locator("button.run-delete")).to_be_visible()
            expect(other.locator(".mine-mark")).to_have_count(0)
            expect(other.locator("button.run-delete")).to_have_count(0)
            # A second run while mine trains: the 429, said in the page's language.
            page.tap("#t-start")
            error = page.locator("#t-form-error")
            expect(error).to_contain_text("你已有 1 个运行在排队或训练")
            expect(error).to_contain_text("秒后重试")
            page.locator("#runs-table").scroll_into_view_if_needed()
            lab.screenshot("runs-mine-phone-zh")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            # Their run opened: no Rename, no Stop.
            page.tap(run_link(page, theirs))
            expect(page.locator("#view-train")).to_have_attribute("data-run-id", theirs)
            expect(page.locator("#run-rename")).to_be_hidden()
            expect(page.locator("#t-stop")).to_be_hidden()
            # Only mine.
            page.locator("#runs-mine-only").tap()
            expect(other).to_have_count(0)
            expect(row).to_have_count(1)
            # Delete mine with the keyboard: focus, Enter, confirm.
            questions: list[str] = []

            def answer(dialog: Dialog) -> None:
                questions.append(dialog.message)
                dialog.accept()

            page.on("dialog", answer)
            row.locator("button.run-delete").focus()
            page.keyboard.press("Enter")
            expect(row).to_have_count(0)
            assert questions and "无法撤销" in questions[0]
            expect(page.locator("#toast")).to_contain_text("已删除")
        assert httpx.get(f"{one_each.url}/train/{mine}").status_code == 404
    finally:
        if mine:
            httpx.delete(f"{one_each.url}/runs/{mine}", headers=OPERATOR)

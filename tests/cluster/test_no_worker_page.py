"""The page says so when a queued run's lab has no live worker (PostgreSQL, Redis, Chromium)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.browser.conftest import lab_on
from tests.cluster.conftest import Cluster
from tests.cluster.test_cluster import get, start, wait_for


def test_a_queued_run_without_a_live_worker_says_so_in_both_languages(
    cluster: Cluster,
    browser: Browser,
) -> None:
    a = cluster.server(BACKPROP_LAB_HEARTBEAT_TIMEOUT="2")
    run_id = start(a, iterations=100)
    wait_for(lambda: get(a, run_id)["no_worker"], "the run says no worker", 20)
    with lab_on(browser, a.url) as lab:
        page = lab.open("#view=train")
        note = page.locator("#run-note")
        expect(note).to_contain_text("Queued — next to start")
        expect(note).to_contain_text("no worker is taking runs")  # words, not colour alone
        page.select_option("#lang-select", "zh")
        expect(note).to_contain_text("目前没有训练进程在接收任务")
        page.select_option("#lang-select", "en")
        cluster.worker()
        expect(page.locator("#s-status")).to_have_text(
            re.compile("running|completed"), timeout=60_000
        )
        expect(note).not_to_contain_text("no worker")

"""The page's dataset menus: only what the server accepts, its default, and what to do instead."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import Route, expect

from tests.browser.conftest import Lab
from tests.conftest import OPERATOR, Digits, Server


def test_the_menus_offer_only_what_the_server_accepts(
    lab: Lab, ui_server: Server, digits: Digits
) -> None:
    page = lab.open("#view=train")
    body = httpx.get(f"{ui_server.url}/datasets").json()
    assert body["default"] == digits.name
    for tab, select in (("train", "#t-dataset"), ("gradcheck", "#gc-dataset")):
        page.click(f"#tab-{tab}")  # the gradient check's view loads when first opened
        expect(page.locator(select)).to_have_value(body["default"])
        for d in body["datasets"]:
            option = page.locator(f'{select} option[value="{d["name"]}"]')
            expect(option).to_have_count(1)
            assert option.is_disabled() is not d["usable"], d
    info = page.locator("#t-dataset-info")
    expect(info).to_contain_text("2000 test" if not digits.full else "10000 test")
    if not digits.full:
        expect(info).to_contain_text("a subset of MNIST, not the full set")


def test_a_download_shows_progress_and_a_failure_names_a_menu_choice(
    lab: Lab, ui_server: Server
) -> None:
    """Events as a worker sends them when it fetches a dataset, then fails for want of it."""
    connections: list[str] = []

    def fake_events(route: Route) -> None:
        if not connections:
            data = {
                "dataset": "mnist",
                "file": "train-images-idx3-ubyte.gz",
                "bytes": 45,
                "total": 100,
            }
            body = f"retry: 2000\n\nid: 1\nevent: download\ndata: {json.dumps(data)}\n\n"
        else:
            data = {
                "status": "failed",
                "message": "could not download MNIST train-images-idx3-ubyte.gz",
                "iterations": 0,
                "dataset": "mnist",
                "alternative": "mnist-10k",
            }
            body = f"id: 2\nevent: done\ndata: {json.dumps(data)}\n\n"
        connections.append(route.request.url)
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    page = lab.open("#view=train")
    page.route("**/train/*/events", fake_events)
    page.fill("#t-iters", "100000")
    page.click("#t-start")
    try:
        expect(page.locator("#s-iter")).to_have_text("downloading mnist: 45%")
        expect(page.locator("#run-config")).to_contain_text(
            "Choose “MNIST 10k subset (offline)” in the Dataset menu and start again.",
            timeout=10_000,
        )
        assert "--dataset" not in (page.locator("#run-config").text_content() or "")
    finally:
        run_id = page.locator("#view-train").get_attribute("data-run-id")
        httpx.delete(f"{ui_server.url}/train/{run_id}", headers=OPERATOR)

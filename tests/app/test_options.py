"""The API's, the page's and the CLI's optimizer choices are the engine's table, read from it."""

from __future__ import annotations

import re

import httpx

from engine.optimizers import OPTIMIZERS

SELECT = re.compile(r'<select id="t-optimizer"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option value="([^"]+)">([^<]+)</option>')


def test_the_page_offers_every_optimizer_with_its_title(app_client: httpx.Client) -> None:
    page = app_client.get("/").text
    found = SELECT.search(page)
    assert found is not None, "the page has the optimizer menu"
    assert OPTION.findall(found.group(1)) == [(n, c.title) for n, c in OPTIMIZERS.items()]


def test_the_api_schema_lists_the_engine_table(app_client: httpx.Client) -> None:
    spec = app_client.get("/openapi.json").json()
    prop = spec["components"]["schemas"]["TrainRequest"]["properties"]["optimizer"]
    assert prop["enum"] == list(OPTIMIZERS)
    assert prop["default"] == next(iter(OPTIMIZERS))


def test_an_unknown_optimizer_is_refused_naming_the_choices(app_client: httpx.Client) -> None:
    r = app_client.post("/train", json={"optimizer": "lbfgs"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["details"]["field"] == "optimizer"
    assert all(f"'{name}'" in err["message"] for name in OPTIMIZERS)

"""The API's, the page's and the CLI's optimizer choices are the engine's table, read from it."""

from __future__ import annotations

import re

import httpx

from engine.optimizers import OPTIMIZERS
from tests.conftest import Server

SELECT = re.compile(r'<select id="t-optimizer"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option value="([^"]+)">([^<]+)</option>')


def test_the_page_offers_every_optimizer_with_its_title(live_server: Server) -> None:
    page = httpx.get(live_server.url + "/").text
    found = SELECT.search(page)
    assert found is not None, "the page has the optimizer menu"
    assert OPTION.findall(found.group(1)) == [(n, c.title) for n, c in OPTIMIZERS.items()]


def test_the_api_schema_lists_the_engine_table(live_server: Server) -> None:
    spec = httpx.get(live_server.url + "/openapi.json").json()
    prop = spec["components"]["schemas"]["TrainRequest"]["properties"]["optimizer"]
    assert prop["enum"] == list(OPTIMIZERS)
    assert prop["default"] == next(iter(OPTIMIZERS))


def test_an_unknown_optimizer_is_refused_naming_the_choices(live_server: Server) -> None:
    r = httpx.post(live_server.url + "/train", json={"optimizer": "lbfgs"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["details"]["field"] == "optimizer"
    assert all(f"'{name}'" in err["message"] for name in OPTIMIZERS)

"""The API's, the page's and the CLI's optimizer choices are the engine's table, read from it."""

from __future__ import annotations

import re

import httpx

from engine.optimizers import OPTIMIZERS
from engine.trainer import TrainConfig

SELECT = re.compile(r'<select id="t-optimizer"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option value="([^"]+)"(?: selected)?>([^<]+)</option>')


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


#: Each form field's name, and its option's name in the CLI's namespace.
FORM_FIELDS = {
    "hidden_size": "hidden_size",
    "learning_rate": "lr",
    "batch_size": "batch_size",
    "iterations": "iterations",
    "seed": "seed",
}


def test_the_form_the_api_and_the_cli_start_from_the_engine_defaults(
    app_client: httpx.Client,
) -> None:
    """One home for a run's defaults: TrainConfig fills the page's form, the API's and the CLI's."""
    from engine.cli import build_parser

    defaults = TrainConfig()
    page = app_client.get("/").text
    spec = app_client.get("/openapi.json").json()["components"]["schemas"]["TrainRequest"]
    cli = build_parser().parse_args(["train"])
    for name, option in FORM_FIELDS.items():
        expected = getattr(defaults, name)
        field = re.search(rf'<input id="[^"]+" name="{name}"[^>]*value="([^"]*)"', page)
        assert field is not None, name
        assert float(field.group(1)) == expected, name
        assert spec["properties"][name]["default"] == expected, name
        assert getattr(cli, option) == expected, name
    chosen = re.search(r'<option value="([^"]+)" selected>', SELECT.search(page).group(1))  # type: ignore[union-attr]
    assert chosen is not None and chosen.group(1) == defaults.optimizer
    assert (cli.optimizer, cli.step, cli.dtype) == (
        defaults.optimizer,
        defaults.step,
        defaults.dtype,
    )

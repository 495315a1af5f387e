"""One NaN policy: in every JSON the service writes, a non-finite number is null (strict JSON)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.errors import dump_json, public_details
from app.training.records import NewEvent, to_json
from app.training.store import RunStore

JSON = {"content-type": "application/json"}


def strict(text: str | bytes) -> Any:
    """Parse JSON that must be strict: NaN, Infinity and -Infinity are refused."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in what should be strict JSON: {text[:200]!r}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def client(app_client: httpx.Client) -> httpx.Client:
    return app_client


# --------------------------------------------------------------------------- the writers


def test_error_bodies_write_non_finite_numbers_as_null() -> None:
    body = strict(dump_json({"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf}}))
    assert body == {"a": None, "b": [None, 1.5], "c": {"d": None}}


def test_error_details_of_engine_previews_are_null_not_strings() -> None:
    """The engine keeps a non-finite preview a number; the one policy makes it null."""
    from engine.graph import GraphError, evaluate, parse_graph

    graph = parse_graph(
        {
            "nodes": [
                {"id": "x", "op": "input", "value": [1.0, 0.0]},
                {"id": "l", "op": "log", "inputs": ["x"]},
            ],
            "output": "l",
        }
    )
    with pytest.raises(GraphError) as caught:
        evaluate(graph)
    details = caught.value.details
    assert details["result"]["first"][1] == -math.inf  # a float, not the string "-inf"
    public = public_details(details)
    assert public["result"] == {"shape": [2], "first": [0.0, None]}
    assert public["operands"] == {"x": {"shape": [2], "first": [1.0, 0.0]}}


def test_the_event_log_writes_non_finite_numbers_as_null(tmp_path: Path) -> None:
    assert strict(to_json({"loss": math.nan, "losses": [1.0, math.inf]})) == {
        "loss": None,
        "losses": [1.0, None],
    }
    store = RunStore(tmp_path / "runs.sqlite3")
    try:
        store.create_run("r", {})
        store.append([NewEvent("r", "done", {"status": "failed", "message": "x", "a": -math.inf})])
        [event] = store.events_after("r")
        assert strict(event.data)["a"] is None
    finally:
        store.close()


# --------------------------------------------------------------------------- through HTTP


def test_a_graph_error_reports_non_finite_values_as_null(client: httpx.Client) -> None:
    body = {
        "nodes": [
            {"id": "a", "op": "input", "value": [1.0, 0.0]},
            {"id": "l", "op": "log", "inputs": ["a"]},
        ],
        "output": "l",
    }
    r = client.post("/graphs/evaluate", json=body)
    assert r.status_code == 422
    err = strict(r.text)["error"]
    assert err["code"] == "non_finite_result"
    assert err["details"]["result"] == {"shape": [2], "first": [0.0, None]}
    # a gradient check of the same graph fails the same way, with the same details
    r = client.post("/gradcheck", json={"graph": body})
    assert r.status_code == 422
    assert strict(r.text)["error"]["details"] == err["details"]


@pytest.mark.parametrize(
    ("path", "content", "field"),
    [
        ("/train", b'{"learning_rate": NaN}', "learning_rate"),
        ("/train", b'{"weight_init_std": Infinity}', "weight_init_std"),
        ("/gradcheck", b'{"eps": -Infinity}', "eps"),
    ],
)
def test_a_non_finite_number_sent_is_echoed_as_null(
    client: httpx.Client, path: str, content: bytes, field: str
) -> None:
    """It was left out of the details (a third policy); now it is null like everywhere else."""
    r = client.post(path, content=content, headers=JSON)
    assert r.status_code == 422
    err = strict(r.text)["error"]
    assert err["details"]["field"] == field
    assert "value" in err["details"] and err["details"]["value"] is None


def test_a_non_finite_graph_input_is_a_strict_json_error(client: httpx.Client) -> None:
    content = b'{"nodes": [{"id": "a", "op": "input", "value": [1, NaN]}], "output": "a"}'
    r = client.post("/graphs/evaluate", content=content, headers=JSON)
    assert r.status_code == 422
    assert strict(r.text)["error"]["code"] == "non_finite_value"

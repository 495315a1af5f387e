"""POST /experiments/optimizer-race and /experiments/activations through the in-process app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from engine.experiments import ACTIVATION_LIMITS, RACE_LIMITS, activation_histograms, race
from tests.book import BOOK_RACE


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # NOTE: not entered as a context manager, so the lifespan (training workers) never starts;
    # these routes need none of it.
    yield TestClient(create_app())


def post(client: TestClient, path: str, body: Any) -> Any:
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def assert_error(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    err: dict[str, Any] = body["error"]
    assert set(err) == {"code", "message", "details"}
    assert err["message"].endswith(".")
    if code is not None:
        assert err["code"] == code
    return err


def test_the_race_defaults_are_the_books(client: TestClient) -> None:
    r = client.post("/experiments/optimizer-race", json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lrs"] == {"sgd": 0.95, "momentum": 0.1, "adagrad": 1.5, "adam": 0.3}
    assert body["start"] == [-7.0, 2.0] and body["steps"] == 30
    paths, _ = race(body["lrs"], (-7.0, 2.0), 30)
    for name, path in body["paths"].items():
        assert len(path) == 31
        np.testing.assert_array_equal(np.array(path), np.array(paths[name]))
        assert len(body["trace"][name]) == 30
    assert body["trace"]["sgd"][0]["grad"] == [-0.7, 4.0]
    assert set(body["trace"]["adam"][0]["state"]) == {"m", "v", "t", "lr_t"}
    assert body["arrival"]["first"] == ["adagrad"]
    c = body["contours"]
    assert len(c["segments"]) == len(c["levels"]) and all(len(s) == 4 for s in c["segments"][0])


def test_the_same_race_posted_in_full_gives_the_same_answer(client: TestClient) -> None:
    full = {"function": "x2/20+y2", **BOOK_RACE}
    assert (
        client.post("/experiments/optimizer-race", json=full).json()
        == client.post("/experiments/optimizer-race", json={}).json()
    )


def test_a_race_of_chosen_optimizers_keeps_their_order(client: TestClient) -> None:
    body = {
        "start": [3, -1.5],
        "steps": 5,
        "optimizers": {"adam": {"lr": 0.5}, "nesterov": {"lr": 0.2}},
    }
    r = client.post("/experiments/optimizer-race", json=body)
    assert r.status_code == 200, r.text
    assert list(r.json()["paths"]) == ["adam", "nesterov"]
    assert r.json()["paths"]["adam"][0] == [3.0, -1.5]


def test_a_diverging_path_is_written_with_nulls(client: TestClient) -> None:
    r = client.post(
        "/experiments/optimizer-race", json={"steps": 400, "optimizers": {"sgd": {"lr": 900}}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["paths"]["sgd"][-1] == [None, None]
    assert r.json()["arrival"]["steps"]["sgd"] is None


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"optimizers": {"lbfgs": {"lr": 1}}}, 422, "unknown_optimizer", "optimizers.lbfgs"),
        ({"function": "rosenbrock"}, 422, "unknown_function", "function"),
        ({"steps": RACE_LIMITS["steps"] + 1}, 413, "limit_exceeded", "steps"),
        ({"steps": 0}, 422, "invalid_field", "steps"),
        ({"steps": 2.5}, 422, "invalid_field", "steps"),
        ({"steps": "30"}, 422, "invalid_field", "steps"),
        ({"steps": True}, 422, "invalid_field", "steps"),
        ({"start": [1]}, 422, "invalid_field", "start"),
        ({"start": [1, "x"]}, 422, "invalid_field", "start.1"),
        ({"start": [1e9, 0]}, 422, "invalid_field", "start"),
        ({"optimizers": {}}, 422, "invalid_field", "optimizers"),
        ({"optimizers": {"sgd": {"lr": -1}}}, 422, "invalid_field", "optimizers.sgd.lr"),
        (
            {"optimizers": {"sgd": {"lr": 0.1, "beta": 2}}},
            422,
            "invalid_field",
            "optimizers.sgd.beta",
        ),
        ({"optimizers": {"sgd": 0.1}}, 422, "invalid_field", "optimizers.sgd"),
        ({"colour": "red"}, 422, "invalid_field", "colour"),
    ],
)
def test_bad_races_are_refused_in_the_one_shape(
    client: TestClient, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    err = assert_error(post(client, "/experiments/optimizer-race", body), status, code)
    assert err["details"]["field"] == field
    if status == 413:
        assert err["details"]["limit"] == RACE_LIMITS["steps"]
    if code.startswith("unknown"):
        assert f"'{err['details']['value']}'" in err["message"]


@pytest.mark.parametrize("path", ["/experiments/optimizer-race", "/experiments/activations"])
@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client: TestClient, path: str, raw: str) -> None:
    body = f'{{"start": [{raw}, 1]}}' if "race" in path else f'{{"weight_init_std": {raw}}}'
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    err = assert_error(r, 422)
    assert err["details"]["field"] in ("start.0", "weight_init_std")


def test_the_activation_defaults_are_the_books(client: TestClient) -> None:
    r = client.post("/experiments/activations", json={})
    assert r.status_code == 200, r.text
    body = r.json()
    want = activation_histograms()  # the book's settings, seed 0
    assert len(body["layers"]) == 5 and body["range"] == [0.0, 1.0] and body["scale"] == 1.0
    for got, layer in zip(body["layers"], want, strict=True):
        assert got["counts"] == layer.counts and len(got["counts"]) == 30
        assert got["edges"] == layer.edges and len(got["edges"]) == 31
        assert got["mean"] == layer.mean and got["std"] == layer.std
        assert sum(got["counts"]) + got["outside"] == 1000 * 100


def test_a_chosen_init_range_and_seed_are_used(client: TestClient) -> None:
    body = {
        "layers": 3,
        "nodes": 50,
        "samples": 200,
        "activation": "relu",
        "init": "he",
        "bins": 10,
        "seed": 3,
        "range": [0, 2],
    }
    r = client.post("/experiments/activations", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    want = activation_histograms(3, 50, 200, "relu", "he", 1.0, 10, 3, (0.0, 2.0))
    assert [layer["counts"] for layer in got["layers"]] == [w.counts for w in want]
    assert got["scale"] == pytest.approx(np.sqrt(2 / 50))
    assert got["layers"][0]["edges"][-1] == 2.0


@pytest.mark.parametrize("field", sorted(ACTIVATION_LIMITS))
def test_each_size_over_its_limit_is_a_413(client: TestClient, field: str) -> None:
    limit = ACTIVATION_LIMITS[field]
    err = assert_error(
        client.post("/experiments/activations", json={field: limit + 1}), 413, "limit_exceeded"
    )
    assert err["details"] == {"field": field, "limit": limit, "value": limit + 1}
    assert str(limit) in err["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"activation": "elu"}, "activation"),
        ({"init": "lecun"}, "init"),
        ({"layers": 0}, "layers"),
        ({"layers": "5"}, "layers"),
        ({"nodes": 1.5}, "nodes"),
        ({"bins": None}, "bins"),
        ({"seed": -1}, "seed"),
        ({"weight_init_std": 0}, "weight_init_std"),
        ({"range": [1, 0]}, "range"),
        ({"range": [0]}, "range"),
        ({"samples": [1000]}, "samples"),
    ],
)
def test_bad_activation_requests_are_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    err = assert_error(post(client, "/experiments/activations", body), 422)
    assert err["details"]["field"] == field
    if "value" in err["details"] and isinstance(body[field], str):
        assert err["details"]["value"] == body[field]


def test_not_json_is_a_400(client: TestClient) -> None:
    r = client.post(
        "/experiments/activations",
        content="{layers: 5",
        headers={"content-type": "application/json"},
    )
    assert_error(r, 400, "malformed_json")

"""POST /gradcheck: the book's check on real MNIST images, posted graphs, and bad bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine.graph.presets import PRESETS
from tests.conftest import Digits, in_process


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[httpx.Client]:
    """The app in-process, with the real MNIST and a small budget for full graph checks."""
    env = {
        **digits.env,
        "BACKPROP_LAB_WORKERS": "1",
        "BACKPROP_LAB_MAX_GRADCHECK_WORK": "20000000",  # every preset fits (13.5 M at most)
    }
    with in_process(tmp_path_factory.mktemp("gradcheck-data"), env) as client:
        yield client


def check(server: httpx.Client, body: Any) -> httpx.Response:
    return server.post("/gradcheck", json=body)


def test_book_check_full_on_three_mnist_images(server: httpx.Client, digits: Digits) -> None:
    r = check(
        server,
        {
            "model": {"input_size": 784, "hidden_size": 50, "output_size": 10},
            "dataset": digits.name,
            "batch_size": 3,
            "seed": 0,
            "mode": "full",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["passed"] is True
    assert body["mode"] == "full"
    assert body["eps"] == 1e-4 and body["atol"] == 1e-7 and body["rtol"] == 1e-5
    assert set(body["params"]) == {"W1", "b1", "W2", "b2"}
    for p in body["params"].values():
        assert p["mean_abs_diff"] < 1e-8
        assert p["max_abs_diff"] <= 1e-7
        assert p["max_rel_error"] >= 0
        assert p["passed"] is True
    assert body["params"]["W1"]["size"] == 784 * 50
    assert body["elapsed_ms"] > 0
    first = [5, 0, 4] if digits.full else digits.load().t_train[:3].tolist()
    assert body["images"]["labels"] == first  # the first three training digits


def test_fast_mode_and_defaults(server: httpx.Client) -> None:
    r = check(server, {"mode": "fast", "directions": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["passed"] is True and body["mode"] == "fast"
    assert body["params"]["W1"]["checked"] == 3


@pytest.mark.parametrize("preset", [p.id for p in PRESETS])
def test_every_preset_graph_passes(server: httpx.Client, preset: str) -> None:
    graph = next(p for p in PRESETS if p.id == preset).public()["graph"]
    for mode in ("full", "fast"):
        r = check(server, {"graph": graph, "mode": mode})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["passed"] is True, body
        inputs = {n["id"] for n in graph["nodes"] if n["op"] == "input"}
        assert set(body["params"]) <= inputs
        assert body["params"]


def test_relu_kink_is_reported_not_failed(server: httpx.Client) -> None:
    graph = {
        "nodes": [
            {"id": "x", "op": "input", "value": [0.0, 1.0, -2.0]},
            {"id": "r", "op": "relu", "inputs": ["x"]},
            {"id": "s", "op": "sum", "inputs": ["r"]},
        ],
        "output": "s",
    }
    body = check(server, {"graph": graph}).json()
    assert body["passed"] is True
    assert body["params"]["x"]["kinks"] == 1
    assert body["kinks"] == 1
    assert any("kink" in n for n in body["notes"])


def test_tolerances_are_applied(server: httpx.Client) -> None:
    """exp's central difference is off by about eps**2 * e**x / 6: within 1e-7, not within 1e-12."""
    graph = {
        "nodes": [
            {"id": "x", "op": "input", "value": [[0.5, -1.0], [2.0, 0.1]]},
            {"id": "e", "op": "exp", "inputs": ["x"]},
            {"id": "s", "op": "sum", "inputs": ["e"]},
        ],
        "output": "s",
    }
    loose = check(server, {"graph": graph}).json()
    assert loose["passed"] is True
    assert 1e-9 < loose["params"]["x"]["max_abs_diff"] < 1e-7
    tight = check(server, {"graph": graph, "atol": 0, "rtol": 1e-12}).json()
    assert tight["passed"] is False
    assert tight["params"]["x"]["passed"] is False
    assert (tight["atol"], tight["rtol"]) == (0, 1e-12)


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"mode": "slow"}, 422, "invalid_field", "'mode'"),
        ({"batch_size": 0}, 422, "invalid_field", "'batch_size'"),
        ({"batch_size": 101}, 413, "limit_exceeded", "limit of 100"),
        ({"model": {"hidden_size": 5000}}, 413, "limit_exceeded", "model.hidden_size"),
        ({"model": {"hidden_size": 1000}}, 413, "limit_exceeded", "Use mode 'fast'"),
        ({"model": {"input_size": 100}}, 422, "invalid_field", "'model.input_size'"),
        ({"dataset": "imagenet"}, 422, "invalid_field", "'dataset'"),
        ({"eps": -1}, 422, "invalid_field", "'eps'"),
        (
            {
                "graph": {"nodes": [{"id": "a", "op": "input", "value": 1}], "output": "a"},
                "model": {},
            },
            422,
            "ambiguous_check",
            "not both",
        ),
        ({"graph": {"nodes": [], "output": "a"}}, 422, "invalid_field", "empty"),
        ({"graph": {"nodes": [{"id": "a", "op": "nope"}], "output": "a"}}, 422, None, "nope"),
        ({"graph": "apple"}, 422, "invalid_field", "'graph'"),
        (
            {
                "graph": {
                    "nodes": [
                        {"id": "x", "op": "input", "value": [[0.0] * 100] * 100},
                        {"id": "s", "op": "sum", "inputs": ["x"]},
                    ],
                    "output": "s",
                }
            },
            413,
            "limit_exceeded",
            "mode 'fast'",
        ),
        ([1, 2, 3], 422, "invalid_field", "request body"),
    ],
)
def test_bad_bodies(
    server: httpx.Client, body: Any, status: int, code: str | None, words: str
) -> None:
    r = check(server, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    if code is not None:
        assert err["code"] == code
    assert words in err["message"]


def test_nan_and_malformed_json(server: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    r = server.post("/gradcheck", content=b'{"eps": NaN}', headers=headers)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "eps"
    r = server.post("/gradcheck", content=b'{"mode": "full"', headers=headers)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"
    nan_graph = b'{"graph": {"nodes": [{"id": "a", "op": "input", "value": NaN}], "output": "a"}}'
    r = server.post("/gradcheck", content=nan_graph, headers=headers)
    assert r.status_code == 422
    assert "a" in r.json()["error"]["message"]


def test_an_overflowing_check_answers_null_where_its_schema_says_so(server: httpx.Client) -> None:
    """A difference that overflows to inf is null in JSON; the schema used to say number."""
    # L = a * 1.7e308: L(0 + 1) - L(0 - 1) overflows to inf, though both are finite.
    graph = {"nodes": [{"id": "a", "op": "input", "value": [0.0]}], "output": "a"}
    graph["dout"] = [1.7e308]
    r = check(server, {"graph": graph, "mode": "full", "eps": 1})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["passed"] is False
    assert report["params"]["a"]["mean_abs_diff"] is None
    schema = server.get("/openapi.json").json()
    prop = schema["components"]["schemas"]["ParamCheck"]["properties"]["mean_abs_diff"]
    assert {"type": "null"} in prop["anyOf"]


def exp_graph(values: list[float]) -> dict[str, Any]:
    """y = exp(x), the output; exp overflows just above x = 709.78."""
    return {
        "nodes": [
            {"id": "x", "op": "input", "value": values},
            {"id": "y", "op": "exp", "inputs": ["x"]},
        ],
        "output": "y",
    }


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_an_undefined_nudge_is_not_checked_and_says_why(server: httpx.Client, mode: str) -> None:
    """exp at 709.7827: exp(x + eps) is inf, so there is no numerical gradient, not one of 0."""
    r = check(server, {"graph": exp_graph([709.7827]), "mode": mode, "directions": 2})
    assert r.status_code == 200, r.text
    report = r.json()
    x = report["params"]["x"]
    assert (x["checked"], x["undefined"]) == (0, x["size"] if mode == "full" else 2)
    assert x["passed"] is False and report["passed"] is False
    assert report["undefined"] == x["undefined"]
    assert "node 'y' (exp) gives inf" in x["unchecked"][0]["reason"]
    assert all(w["numerical"] != 0.0 for w in x["worst"])
    assert any("could not be checked" in n for n in report["notes"])


def test_elements_that_can_be_checked_still_are(server: httpx.Client) -> None:
    """Beside an element that overflows, the others are checked and judged."""
    r = check(server, {"graph": exp_graph([0.5, 709.7827, -1.0]), "mode": "full"})
    assert r.status_code == 200, r.text
    x = r.json()["params"]["x"]
    assert (x["size"], x["checked"], x["undefined"]) == (3, 2, 1)
    assert x["unchecked"] == [{"index": [1], "reason": x["unchecked"][0]["reason"]}]
    assert x["passed"] is True


@pytest.mark.parametrize("preset", [p.id for p in PRESETS])
def test_scope_all_checks_every_node_of_every_preset(server: httpx.Client, preset: str) -> None:
    """Each node's value is nudged and what lies downstream recomputed: one entry per node."""
    graph = next(p for p in PRESETS if p.id == preset).public()["graph"]
    r = check(server, {"graph": graph, "mode": "full", "scope": "all"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["passed"] is True, body
    assert body["scope"] == "all"
    labels = {
        n["inputs"][1] for n in graph["nodes"] if n["op"] in ("softmax_with_loss", "cross_entropy")
    } | {n["id"] for n in graph["nodes"] if n.get("label")}  # marked: class labels
    assert set(body["params"]) == {n["id"] for n in graph["nodes"]} - labels


def test_scope_all_gives_intermediate_edges_their_numerical_gradient(server: httpx.Client) -> None:
    """In the book's apples, dL/d(apple_price) = tax = 1.1, checked by nudging apple_price."""
    graph = next(p for p in PRESETS if p.id == "apples").public()["graph"]
    body = check(server, {"graph": graph, "scope": "all"}).json()
    worst = body["params"]["apple_price"]["worst"][0]
    assert worst["backprop"] == pytest.approx(1.1, abs=1e-12)
    assert worst["numerical"] == pytest.approx(1.1, rel=1e-9)
    inputs_only = check(server, {"graph": graph}).json()
    assert "apple_price" not in inputs_only["params"] and inputs_only["scope"] == "inputs"

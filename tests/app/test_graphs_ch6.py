"""Chapter 6's graph ops over the API: listed, evaluated, explained, exported, refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from engine.layers_ch6 import BatchNormalization, Dropout
from tests.app.test_export_python import assert_same, export, run
from tests.app.test_graphs_api import assert_error_shape, evaluate, inp, op


@pytest.fixture(scope="module")
def client(app_client: httpx.Client) -> httpx.Client:
    return app_client


X = [[1.0, -2.0, 0.5], [3.0, 0.0, 1.5], [-1.0, 4.0, 2.0], [0.5, 1.0, -3.0]]


def bn_dropout_graph(**variants: str) -> dict[str, Any]:
    """x -> batchnorm(x, gamma, beta) -> dropout -> mul w -> sum."""
    return {
        "nodes": [
            inp("x", X),
            inp("gamma", [1.5, 0.5, 2.0]),
            inp("beta", [0.1, -0.2, 0.3]),
            op("bn", "batchnorm", "x", "gamma", "beta", **variants.get("bn", {})),
            op("d", "dropout", "bn", params={"ratio": 0.4, "seed": 3}, **variants.get("d", {})),
            inp("w", [[1.0, 2.0, -1.0], [0.5, -0.5, 1.0], [2.0, 1.0, 0.0], [-1.0, 0.5, 3.0]]),
            op("m", "mul", "d", "w"),
            op("s", "sum", "m"),
        ],
        "output": "s",
    }


def test_ops_lists_batchnorm_and_dropout(client: httpx.Client) -> None:
    ops = {o["name"]: o for o in client.get("/graphs/ops").json()["ops"]}
    assert ops["batchnorm"]["inputs"] == ["x", "gamma", "beta"]
    assert set(ops["batchnorm"]["backward"]) == {"dx", "dgamma", "dbeta"}
    assert [v["name"] for v in ops["batchnorm"]["variants"]] == ["no_mean_terms"]
    assert ops["dropout"]["inputs"] == ["x"]
    params = {p["name"]: p for p in ops["dropout"]["params"]}
    assert params["ratio"]["default"] == 0.5 and params["ratio"]["maximum"] == 0.99
    assert params["seed"]["type"] == "int"
    assert [v["name"] for v in ops["dropout"]["variants"]] == ["no_dropout_mask"]
    code = client.get("/graphs/ops/batchnorm/code").json()
    assert (
        "class BatchNormalization" in code["code"] and "1e-06" in code["code"]
    )  # the book's 10e-7, unparsed


def test_evaluate_runs_the_books_layers_with_the_seeds_mask(client: httpx.Client) -> None:
    graph = bn_dropout_graph()
    body = evaluate(client, graph)
    x = np.array(X)
    bn = BatchNormalization(np.array([1.5, 0.5, 2.0]), np.array([0.1, -0.2, 0.3]))
    drop = Dropout(0.4, rng=3)
    out = drop.forward(bn.forward(x))
    np.testing.assert_allclose(body["nodes"]["bn"]["value"], bn.forward(x), rtol=1e-13)
    np.testing.assert_allclose(body["nodes"]["d"]["value"], out, rtol=1e-13)
    w = np.array(graph["nodes"][5]["value"])
    dx = bn.backward(drop.backward(w))
    np.testing.assert_allclose(body["nodes"]["x"]["grad"], dx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(body["nodes"]["gamma"]["grad"], bn.dgamma, rtol=1e-12)
    # the step-through's text: the rule per input, and the terms it names
    local = body["nodes"]["bn"]["local"]
    assert [p["input"] for p in local["ports"]] == ["x", "gamma", "beta"]
    assert local["ports"][2]["text"] == "dbeta = Σₙ dout"
    names = [t["name"] for t in local["terms"]]
    assert names[0] == "N" and any(n.startswith("x̂") for n in names)
    mask = {t["name"]: t["value"] for t in body["nodes"]["d"]["local"]["terms"]}
    np.testing.assert_array_equal(mask["mask = random(seed) > ratio"], drop.mask)


def test_broken_variants_send_back_other_gradients(client: httpx.Client) -> None:
    right = evaluate(client, bn_dropout_graph())["nodes"]["x"]["grad"]
    for variants in ({"bn": {"variant": "no_mean_terms"}}, {"d": {"variant": "no_dropout_mask"}}):
        wrong = evaluate(client, bn_dropout_graph(**variants))["nodes"]["x"]["grad"]
        assert not np.allclose(right, wrong), variants


@pytest.mark.parametrize("variants", [{}, {"bn": {"variant": "no_mean_terms"}}])
def test_the_exported_script_prints_what_evaluate_answers(
    client: httpx.Client, tmp_path: Path, variants: dict[str, Any]
) -> None:
    graph = bn_dropout_graph(**variants)
    script = export(client, graph)
    assert "class BatchNormalization:" in script and "class Dropout:" in script
    printed = json.loads(run(script, tmp_path, "--json"))
    assert_same(printed, client.post("/graphs/evaluate", json=graph).json())


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (op("d", "dropout", "x", params={"ratio": 1.5}), "'ratio' must be a number from 0 to 0.99"),
        (op("d", "dropout", "x", params={"seed": -1}), "'seed' must be a whole number"),
        (op("d", "dropout", "x", params={"seed": 1.5}), "'seed' must be a whole number"),
        (op("b", "batchnorm", "v", "g", "g"), "2-D batch"),
        (op("b", "batchnorm", "x", "v", "g"), "gamma of shape (2,) does not fit"),
    ],
)
def test_bad_params_and_shapes_are_4xx_in_the_one_error_shape(
    client: httpx.Client, node: dict[str, Any], message: str
) -> None:
    nodes = [inp("x", X), inp("v", [1.0, 2.0]), inp("g", 1.0), node]
    r = client.post("/graphs/evaluate", json={"nodes": nodes, "output": node["id"]})
    assert 400 <= r.status_code < 500, r.text
    assert message in assert_error_shape(r)["message"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_scalar_dropout_step_writes_its_mask_as_a_number(client: httpx.Client, seed: int) -> None:
    nodes = [inp("x", 2.0), op("d", "dropout", "x", params={"ratio": 0.5, "seed": seed})]
    body = evaluate(client, {"nodes": nodes, "output": "d", "dout": 1.5})
    kept = bool(np.random.default_rng(seed).random(()) > 0.5)
    assert body["nodes"]["d"]["value"] == (2.0 if kept else 0.0)
    text = body["nodes"]["d"]["local"]["ports"][0]["text"]
    assert text == (
        "dx = dout · mask = 1.5 · 1 = 1.5" if kept else "dx = dout · mask = 1.5 · 0 = 0"
    )

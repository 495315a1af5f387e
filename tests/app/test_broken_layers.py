"""Broken layers over HTTP: api.md's variants and ``accumulate``, and the check catching them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engine.graph.presets import PRESETS_BY_ID


@pytest.fixture(scope="module")
def client(app_client: httpx.Client) -> httpx.Client:
    return app_client


def inp(node_id: str, value: Any) -> dict[str, Any]:
    return {"id": node_id, "op": "input", "value": value}


def op(node_id: str, name: str, *inputs: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "op": name, "inputs": list(inputs), **extra}


def apples(variant: str | None = None) -> dict[str, Any]:
    """The book's apples, with the last mul broken if ``variant`` is given."""
    graph = PRESETS_BY_ID["apples"].public()["graph"]
    if variant:
        last = next(n for n in graph["nodes"] if n["id"] == graph["output"])
        last["variant"] = variant
    return graph


def test_ops_list_each_ops_variants_with_the_bug(client: httpx.Client) -> None:
    ops = {o["name"]: o for o in client.get("/graphs/ops").json()["ops"]}
    mul = {v["name"]: v for v in ops["mul"]["variants"]}
    assert "swap" in mul["no_swap"]["doc"]
    assert mul["no_swap"]["backward"] == {"dx": "dout · x", "dy": "dout · y"}
    assert [v["name"] for v in ops["relu"]["variants"]] == ["no_mask"]
    assert ops["add"]["variants"] == []


def test_a_variant_keeps_the_forward_and_breaks_the_backward(client: httpx.Client) -> None:
    """price = apple_price * tax = 220 either way; no_swap gives tax its own value back."""
    right = client.post("/graphs/evaluate", json=apples()).json()
    r = client.post("/graphs/evaluate", json=apples("no_swap"))
    assert r.status_code == 200, r.text
    wrong = r.json()
    assert wrong["output"]["value"] == right["output"]["value"] == 220
    assert right["nodes"]["tax"]["grad"] == 200 and wrong["nodes"]["tax"]["grad"] == 1.1
    assert wrong["nodes"]["apple_price"]["grad"] == 200  # dout · x, not dout · tax
    assert wrong["nodes"]["price"]["variant"]["name"] == "no_swap"
    assert "variant" not in right["nodes"]["price"]
    local = wrong["nodes"]["price"]["local"]["ports"]
    assert [p["rule"] for p in local] == ["dout · x", "dout · y"]


def test_accumulate_overwrite_keeps_the_last_gradient(client: httpx.Client) -> None:
    """x·x + x at x = 3: dL/dx is 2x + 1 = 7 summed, 3 when each use overwrites the last."""
    nodes = [inp("x", 3), op("m", "mul", "x", "x"), op("s", "add", "m", "x")]
    summed = client.post("/graphs/evaluate", json={"nodes": nodes, "output": "s"}).json()
    assert summed["nodes"]["x"]["grad"] == 7 and summed["accumulate"] == "sum"
    body = {"nodes": nodes, "output": "s", "accumulate": "overwrite"}
    over = client.post("/graphs/evaluate", json=body).json()
    assert over["nodes"]["x"]["grad"] == 3 and over["accumulate"] == "overwrite"
    assert [e["grad"] for e in over["edges"] if e["from"] == "x"] == [3, 3, 1]


@pytest.mark.parametrize(
    ("patch", "code", "words"),
    [
        ({"variant": "no_such"}, "unknown_variant", "its variants are no_swap"),
        ({"variant": 3}, "unknown_variant", "its variants are no_swap"),
        ({"variant": ""}, "unknown_variant", "''"),
    ],
)
def test_an_unknown_variant_is_a_422_naming_the_node_and_the_variants(
    client: httpx.Client, patch: dict[str, Any], code: str, words: str
) -> None:
    graph = apples()
    graph["nodes"][-1].update(patch)
    r = client.post("/graphs/evaluate", json=graph)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code and words in error["message"]
    assert error["details"]["node"] == graph["nodes"][-1]["id"]
    assert error["details"]["known"] == ["no_swap"]


def test_variants_on_ops_without_any_and_bad_accumulate_are_422(client: httpx.Client) -> None:
    nodes = [inp("a", 1), inp("b", 2), op("s", "add", "a", "b", variant="no_swap")]
    error = client.post("/graphs/evaluate", json={"nodes": nodes, "output": "s"}).json()["error"]
    assert error["code"] == "unknown_variant" and "add has no variants" in error["message"]
    nodes[-1].pop("variant")
    for bad in ("add", 1, None):
        r = client.post("/graphs/evaluate", json={"nodes": nodes, "output": "s", "accumulate": bad})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"]["field"] == "accumulate"


def check(client: httpx.Client, graph: dict[str, Any], **extra: Any) -> dict[str, Any]:
    r = client.post("/gradcheck", json={"graph": graph, "mode": "full", **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_check_fails_exactly_where_relus_forgotten_mask_reaches(client: httpx.Client) -> None:
    """Relu without its mask: wrong where x <= 0, right where x > 0."""
    nodes = [inp("x", [-1.0, 2.0, -3.0, 0.5]), op("r", "relu", "x", variant="no_mask")]
    nodes.append(op("s", "sum", "r"))
    report = check(client, {"nodes": nodes, "output": "s"})
    x = report["params"]["x"]
    assert report["passed"] is False and x["passed"] is False
    assert sorted(w["index"][0] for w in x["worst"] if w["abs_diff"] > 1e-6) == [0, 2]
    assert any("broken relu (no_mask)" in n and "mask" in n for n in report["notes"])
    nodes[1].pop("variant")
    assert check(client, {"nodes": nodes, "output": "s"})["passed"] is True


def test_the_check_fails_on_b_alone_when_affine_averages_db(client: httpx.Client) -> None:
    """db averaged over a batch of 2: x and W still check, b does not."""
    nodes = [
        inp("x", [[1.0, 2.0], [3.0, -1.0]]),
        inp("W", [[0.5, -0.2], [0.1, 0.3]]),
        inp("b", [0.1, -0.1]),
        op("a", "affine", "x", "W", "b", variant="db_mean"),
        op("s", "sum", "a"),
    ]
    report = check(client, {"nodes": nodes, "output": "s"})
    assert {k: p["passed"] for k, p in report["params"].items()} == {
        "x": True,
        "W": True,
        "b": False,
    }


@pytest.mark.parametrize(
    ("nodes", "variant", "failing"),
    [
        (
            [inp("x", [0.3, -0.4]), op("y", "sigmoid", "x"), op("s", "sum", "y")],
            "no_one_minus",
            {"x"},
        ),
        (
            [
                inp("x", [[1.0, 2.0, 0.5], [0.1, 0.2, 0.3]]),
                inp("t", [2, 0]),
                op("L", "softmax_with_loss", "x", "t"),
            ],
            "no_batch_divide",
            {"x"},
        ),
    ],
)
def test_every_broken_layer_fails_its_check_and_the_right_one_passes(
    client: httpx.Client, nodes: list[dict[str, Any]], variant: str, failing: set[str]
) -> None:
    broken = [dict(n) for n in nodes]
    layer = next(n for n in broken if n["op"] not in ("input", "sum"))
    layer["variant"] = variant
    output = nodes[-1]["id"]
    report = check(client, {"nodes": broken, "output": output})
    assert {k for k, p in report["params"].items() if not p["passed"]} == failing
    assert any(f"({variant})" in n for n in report["notes"])
    assert check(client, {"nodes": nodes, "output": output})["passed"] is True


def test_the_check_catches_the_overwritten_gradient(client: httpx.Client) -> None:
    nodes = [inp("x", 3.0), op("m", "mul", "x", "x"), op("s", "add", "m", "x")]
    report = check(client, {"nodes": nodes, "output": "s", "accumulate": "overwrite"})
    assert report["passed"] is False
    worst = report["params"]["x"]["worst"][0]
    assert (worst["backprop"], round(worst["numerical"], 6)) == (3.0, 7.0)
    assert any("overwrites gradients" in n for n in report["notes"])
    assert check(client, {"nodes": nodes, "output": "s"})["passed"] is True


@pytest.mark.parametrize(
    ("op", "variant", "cls", "forward_has", "backward_has"),
    [
        ("mul", None, "MulLayer", "return x * y", "dout * self.y"),
        ("mul", "no_swap", "MulLayerNoSwap", "return x * y", "dx = unbroadcast(dout * self.x"),
        ("relu", None, "Relu", "self.mask = x <= 0", "np.where(self.mask, 0, dout)"),
        ("affine", "db_mean", "AffineMeanDb", "out = x @ self.W", "rows.mean(axis=0)"),
        ("exp", None, "ExpStep", "np.exp", "dout * self.out"),
    ],
)
def test_the_code_panel_shows_the_engines_source_and_the_lines_that_run(
    client: httpx.Client,
    op: str,
    variant: str | None,
    cls: str,
    forward_has: str,
    backward_has: str,
) -> None:
    r = client.get(f"/graphs/ops/{op}/code", params={"variant": variant} if variant else {})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["class"] == cls and body["op"] == op and body["variant"] == variant
    lines = body["code"].splitlines()
    first, last = body["forward"]
    assert lines[first - 1].lstrip().startswith("def forward(")
    assert forward_has in "\n".join(lines[first - 1 : last])
    first, last = body["backward"]
    assert lines[first - 1].lstrip().startswith("def backward(")
    assert backward_has in "\n".join(lines[first - 1 : last])


def test_the_code_panel_refuses_what_runs_no_code(client: httpx.Client) -> None:
    assert client.get("/graphs/ops/nope/code").json()["error"]["code"] == "unknown_op"
    r = client.get("/graphs/ops/mul/code", params={"variant": "nope"})
    assert r.status_code == 422 and r.json()["error"]["details"]["known"] == ["no_swap"]
    # NOTE: the engine's one message for it, as a graph's node gets it.
    said = "has unknown variant 'nope'; its variants are no_swap."
    assert r.json()["error"]["message"] == f"Op mul {said}"
    nodes = [inp("x", 1), op("m", "mul", "x", "x", variant="nope")]
    error = client.post("/graphs/evaluate", json={"nodes": nodes, "output": "m"}).json()["error"]
    assert error["message"] == f"Node 'm' (mul) {said}"
    r = client.get("/graphs/ops/input/code")
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_code"

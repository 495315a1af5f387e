"""Random graphs, valid and invalid, posted to the app in-process: never a 5xx, and right gradients.

Valid graphs are built from the op table with shapes that always fit; their gradients
must match central differences of the output (computed in-process with
``engine.graph.evaluate(overrides=...)``). Invalid ones are valid graphs with one thing
broken, or arbitrary JSON; they must get a 4xx in the one error shape.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.graph import GraphError, evaluate, parse_graph
from engine.graph.ops import OPS

GOLDEN = 0.6180339887498949
UNARY = [name for name, o in OPS.items() if o.arity == 1]  # every one-input op, tanh too
BINARY = ["add", "mul"]
FRESH = ["dot", "affine", "softmax_with_loss"]


@pytest.fixture(scope="module")
def client(app_client: httpx.Client) -> httpx.Client:
    return app_client


def post(client: httpx.Client, body: Any) -> httpx.Response:
    return client.post(
        "/graphs/evaluate",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )


@st.composite
def valid_graphs(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid graph: shapes (), (n,) and (m, n) only, so any two broadcast."""
    n, m = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shapes: list[tuple[int, ...]] = [(), (n,), (m, n)]
    counter = iter(range(10_000))

    def generic(shape: tuple[int, ...], signed: bool) -> Any:
        # NOTE: irrational steps keep values off the kinks (relu at 0) and off
        # the values hypothesis likes (0, 1) that would put a kink at 0 downstream.
        k = draw(st.integers(1, 10_000))
        vals = [
            0.3 + 2.0 * (((k + i) * GOLDEN) % 1.0) for i in range(int(np.prod(shape, dtype=int)))
        ]
        if signed:
            vals = [v if (k + i) % 3 else -v for i, v in enumerate(vals)]
        return np.array(vals).reshape(shape).tolist()

    nodes: list[dict[str, Any]] = []
    shape_of: dict[str, tuple[int, ...]] = {}  # nodes later ops may take as operands

    def add(node: dict[str, Any], shape: tuple[int, ...], operand: bool = True) -> str:
        nodes.append(node)
        if operand:
            shape_of[node["id"]] = shape
        return str(node["id"])

    def fresh_input(shape: tuple[int, ...], signed: bool = True, operand: bool = True) -> str:
        node = {"id": f"in{next(counter)}", "op": "input", "value": generic(shape, signed)}
        return add(node, shape, operand)

    for _ in range(draw(st.integers(1, 3))):
        fresh_input(draw(st.sampled_from(shapes)), signed=draw(st.booleans()))
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(UNARY + BINARY + FRESH))
        ids = list(shape_of)
        node_id = f"op{next(counter)}"
        if name in BINARY:
            a, b = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
            shape = tuple(np.broadcast_shapes(shape_of[a], shape_of[b]))
            add({"id": node_id, "op": name, "inputs": [a, b]}, shape)
            continue
        tensors = [i for i in ids if shape_of[i]]
        if name in ("softmax", *FRESH) and not tensors:
            name = "exp"
        if name == "sum":
            x = draw(st.sampled_from(ids))
            axis = draw(st.sampled_from([None, 0])) if len(shape_of[x]) == 2 else None
            shape = (shape_of[x][1],) if axis == 0 else ()
            add({"id": node_id, "op": "sum", "inputs": [x], "params": {"axis": axis}}, shape)
        elif name == "softmax":
            x = draw(st.sampled_from(tensors))
            add({"id": node_id, "op": name, "inputs": [x]}, shape_of[x])
        elif name == "dot":
            x = draw(st.sampled_from(tensors))
            w = fresh_input((n, n), operand=False)
            add({"id": node_id, "op": "dot", "inputs": [x, w]}, shape_of[x])
        elif name == "affine":
            x = draw(st.sampled_from(tensors))
            w, b = fresh_input((n, n), operand=False), fresh_input((n,), operand=False)
            add({"id": node_id, "op": "affine", "inputs": [x, w, b]}, shape_of[x])
        elif name == "softmax_with_loss":
            x = draw(st.sampled_from(tensors))
            rows = 1 if len(shape_of[x]) == 1 else shape_of[x][0]
            labels = [draw(st.integers(0, n - 1)) for _ in range(rows)]
            t_value: Any = np.eye(n)[labels].reshape(shape_of[x]).tolist()
            t_node = {"id": f"t{next(counter)}", "op": "input", "value": t_value}
            t = add(t_node, shape_of[x], operand=False)
            add({"id": node_id, "op": name, "inputs": [x, t]}, ())
        else:
            x = draw(st.sampled_from(ids))
            add({"id": node_id, "op": name, "inputs": [x]}, shape_of[x])
    body: dict[str, Any] = {"nodes": nodes, "output": nodes[-1]["id"]}
    if draw(st.booleans()):
        body["dout"] = draw(st.sampled_from([0.5, 2.0, -1.5]))
    if draw(st.booleans()):
        body["nodes"] = draw(st.permutations(nodes))
    return body


def numerical_grads(body: dict[str, Any]) -> dict[str, np.ndarray]:
    """Central differences of Σ(output · dout) w.r.t. every non-label input node."""
    graph = parse_graph(body)
    eps = 1e-6
    grads = {}
    for n in graph.input_ids:
        if n in graph.label_nodes:
            continue
        base = np.array(graph.nodes[n].params["value"])
        grad = np.zeros_like(base)
        for k in np.ndindex(base.shape):
            total = []
            for step in (eps, -eps):
                moved = base.copy()
                moved[k] += step
                out = evaluate(graph, overrides={n: moved}).output
                total.append(float(np.sum(out * graph.dout)))
            grad[k] = (total[0] - total[1]) / (2 * eps)
        grads[n] = grad
    return grads


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=valid_graphs())
def test_valid_graphs_match_central_differences(client: httpx.Client, body: dict[str, Any]) -> None:
    """A valid graph answers 200 with gradients equal to central differences (or 422 on NaN)."""
    r = post(client, body)
    event(f"status {r.status_code}")
    assert r.status_code < 500, r.text
    if r.status_code != 200:
        assert r.json()["error"]["code"] == "non_finite_result", r.text
        return
    answer = r.json()
    try:
        expected = numerical_grads(body)
    except GraphError:
        return  # a nudge pushed a value over the edge (e.g. exp overflow): nothing to compare
    for n, grad in expected.items():
        got = np.array(answer["nodes"][n]["grad"], dtype=float)
        scale = max(1.0, float(np.abs(grad).max()))
        np.testing.assert_allclose(got, grad, atol=2e-5 * scale, err_msg=f"node {n}")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)
DEEP: Any = 1.0
for _ in range(40):
    DEEP = [DEEP]
BAD_VALUES = st.sampled_from(
    [
        "abc",
        True,
        None,
        float("nan"),
        float("inf"),
        [],
        [[1, 2], [3]],
        {"a": 1},
        [1, "2"],
        DEEP,
        10**400,
    ]
)


@st.composite
def invalid_graphs(draw: st.DrawFn) -> tuple[Any, str | None]:
    """A valid graph with one thing broken (and the code expected), or arbitrary JSON."""
    body = copy.deepcopy(draw(valid_graphs()))
    nodes = body["nodes"]
    ops = [nd for nd in nodes if nd["op"] != "input"]
    inputs = [nd for nd in nodes if nd["op"] == "input"]
    kind = draw(
        st.sampled_from(
            [
                "unknown_op",
                "arity",
                "missing_node",
                "duplicate_id",
                "cycle",
                "value",
                "output",
                "dout",
                "field",
                "json",
            ]
        )
    )
    if kind == "unknown_op":
        draw(st.sampled_from(nodes))["op"] = draw(st.sampled_from(["nope", "Add", "", "cosh"]))
        return body, "unknown_op"
    if kind == "arity":
        target = draw(st.sampled_from(nodes))
        target["inputs"] = [*target.get("inputs", []), nodes[0]["id"]]
        return body, "wrong_arity"
    if kind == "missing_node" and ops:
        draw(st.sampled_from(ops))["inputs"][0] = "ghost"
        return body, "missing_node"
    if kind == "duplicate_id" and len(nodes) > 1:
        nodes[-1]["id"] = nodes[0]["id"]
        return body, "duplicate_id"
    if kind == "cycle" and ops:
        target = draw(st.sampled_from(ops))
        target["inputs"][0] = target["id"]
        return body, "graph_cycle"
    if kind == "value":
        draw(st.sampled_from(inputs))["value"] = draw(BAD_VALUES)
        return body, None
    if kind == "output":
        if draw(st.booleans()):
            del body["output"]
        else:
            body["output"] = draw(st.sampled_from(["ghost", 3, None, ["a"]]))
        return body, "missing_output"
    if kind == "dout":
        body["dout"] = [[1.0] * 7] * 5
        return body, "dout_shape"
    if kind == "field":
        node = draw(st.sampled_from(nodes))
        node[draw(st.sampled_from(["id", "op", "inputs", "params"]))] = draw(JSON)
        return body, None
    return draw(JSON), None


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=invalid_graphs())
def test_invalid_graphs_get_a_clean_4xx(client: httpx.Client, case: tuple[Any, str | None]) -> None:
    """Never a 5xx; a refused graph gets the one error shape (and the expected code)."""
    body, code = case
    r = post(client, body)
    event(f"status {r.status_code} expecting {code}")
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        assert code is None, f"expected {code}, got 200"
        return
    assert 400 <= r.status_code < 500
    err = r.json()["error"]
    assert err["code"] and err["message"]
    if code is not None:
        assert err["code"] == code, err

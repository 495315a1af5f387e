"""The graph evaluator: ordering, accumulation over fan-out, validation, limits, overrides."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from engine.graph import (
    GraphError,
    GraphTooLarge,
    Limits,
    check_evaluation_size,
    evaluate,
    explain,
    parse_graph,
)


def inp(node_id: str, value: Any) -> dict[str, Any]:
    return {"id": node_id, "op": "input", "value": value}


def op(node_id: str, name: str, *inputs: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "op": name, "inputs": list(inputs), **extra}


def fan_out(x: float) -> dict[str, Any]:
    """y = x * x + x: x is used three times."""
    return {
        "nodes": [inp("x", x), op("sq", "mul", "x", "x"), op("y", "add", "sq", "x")],
        "output": "y",
    }


def error_of(body: Any, limits: Limits | None = None) -> GraphError:
    with pytest.raises(GraphError) as info:
        evaluate(parse_graph(body, limits=limits or Limits()))
    return info.value


@pytest.mark.parametrize("x", [-2.5, 0.0, 3.0, 7.25])
def test_fan_out_accumulates_every_use(x: float) -> None:
    """dy/dx of x*x + x is 2x + 1: the three uses of x are summed."""
    ev = evaluate(parse_graph(fan_out(x)))
    assert float(ev.output) == x * x + x
    assert float(ev.grads["x"]) == 2 * x + 1
    by_port = {(e.target, e.port): float(ev.edge_grad(e)) for e in ev.graph.edges}
    assert by_port == {("sq", 0): x, ("sq", 1): x, ("y", 0): 1.0, ("y", 1): 1.0}


def test_evaluating_twice_gives_the_same_answer() -> None:
    """No state leaks between evaluations; the graph's input values are never written to."""
    graph = parse_graph(fan_out(3.0))
    first, second = evaluate(graph), evaluate(graph)
    for n in graph.nodes:
        np.testing.assert_array_equal(first.grads[n], second.grads[n])
        np.testing.assert_array_equal(first.values[n], second.values[n])
    assert float(graph.nodes["x"].params["value"]) == 3.0


def test_order_is_topological_whatever_the_listing() -> None:
    """Nodes may be listed before their inputs; backward is forward reversed."""
    body = {
        "nodes": [
            op("price", "mul", "apple_price", "tax"),
            op("apple_price", "mul", "apple", "apple_num"),
            inp("tax", 1.1),
            inp("apple", 100),
            inp("apple_num", 2),
        ],
        "output": "price",
    }
    graph = parse_graph(body)
    assert graph.forward_order == ("tax", "apple", "apple_num", "apple_price", "price")
    assert graph.backward_order == tuple(reversed(graph.forward_order))
    assert float(evaluate(graph).grads["apple"]) == pytest.approx(2.2)


def test_nodes_the_output_does_not_depend_on_get_zero_gradient() -> None:
    """A side branch is computed forward but is not part of the backward pass."""
    body = fan_out(2.0)
    body["nodes"].append(op("side", "exp", "x"))
    ev = evaluate(parse_graph(body))
    assert "side" not in ev.graph.backward_order
    assert float(ev.values["side"]) == pytest.approx(np.exp(2.0))
    assert float(ev.grads["side"]) == 0.0
    assert float(ev.grads["x"]) == 5.0


def test_broadcast_bias_gradient_is_summed_to_its_shape() -> None:
    """The chapter's bias example through an add node: dB = [5, 7, 9]."""
    body = {
        "nodes": [
            inp("XW", [[0, 0, 0], [10, 10, 10]]),
            inp("B", [1, 2, 3]),
            op("Y", "add", "XW", "B"),
        ],
        "output": "Y",
        "dout": [[1, 2, 3], [4, 5, 6]],
    }
    ev = evaluate(parse_graph(body))
    np.testing.assert_array_equal(ev.grads["B"], [5.0, 7.0, 9.0])
    np.testing.assert_array_equal(ev.output, [[1, 2, 3], [11, 12, 13]])


def test_scalar_dout_is_broadcast_and_default_is_ones() -> None:
    """dout may be a number for a tensor output; by default it is ones of the output's shape."""
    body: dict[str, Any] = {
        "nodes": [inp("x", [1.0, 2.0]), op("y", "mul", "x", "x")],
        "output": "y",
    }
    np.testing.assert_array_equal(evaluate(parse_graph(body)).grads["x"], [2.0, 4.0])
    body["dout"] = 3
    np.testing.assert_array_equal(evaluate(parse_graph(body)).grads["x"], [6.0, 12.0])


def test_overrides_replace_input_values_for_numerical_gradients() -> None:
    """evaluate(overrides=...) is what a gradient check needs: central differences agree."""
    body = {
        "nodes": [
            inp("x", [0.5, -1.0, 2.0]),
            inp("w", [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]),
            op("h", "dot", "x", "w"),
            op("s", "sigmoid", "h"),
            op("l", "sum", "s"),
        ],
        "output": "l",
    }
    graph = parse_graph(body)
    ev = evaluate(graph)
    eps = 1e-6
    for n in graph.input_ids:
        base = np.array(graph.nodes[n].params["value"])
        numeric = np.zeros_like(base)
        for k in np.ndindex(base.shape):
            plus, minus = base.copy(), base.copy()
            plus[k] += eps
            minus[k] -= eps
            f_plus = float(evaluate(graph, overrides={n: plus}).output)
            f_minus = float(evaluate(graph, overrides={n: minus}).output)
            numeric[k] = (f_plus - f_minus) / (2 * eps)
        np.testing.assert_allclose(ev.grads[n], numeric, rtol=1e-6, atol=1e-9)
    assert float(evaluate(graph).output) == float(ev.output), "overrides leave the graph as it was"


def test_overrides_are_checked() -> None:
    """An override must name an input node and keep its shape."""
    graph = parse_graph(fan_out(1.0))
    with pytest.raises(GraphError) as info:
        evaluate(graph, overrides={"sq": np.array(1.0)})
    assert info.value.code == "missing_node"
    with pytest.raises(GraphError) as info:
        evaluate(graph, overrides={"x": np.ones(2)})
    assert info.value.code == "shape_mismatch"


@pytest.mark.parametrize(
    ("body", "code", "culprit"),
    [
        ({"nodes": [inp("a", 1), op("b", "pow", "a")], "output": "b"}, "unknown_op", "'pow'"),
        ({"nodes": [inp("a", 1), op("b", "mul", "a")], "output": "b"}, "wrong_arity", "'b'"),
        ({"nodes": [inp("a", 1), op("b", "exp", "c")], "output": "b"}, "missing_node", "'c'"),
        ({"nodes": [inp("a", 1), inp("a", 2)], "output": "a"}, "duplicate_id", "'a'"),
        ({"nodes": [inp("a", 1)], "output": "z"}, "missing_output", "'z'"),
        ({"nodes": [inp("a", 1)]}, "missing_output", "output"),
        ({"nodes": [inp("a", "1")], "output": "a"}, "non_numeric_value", "'a'"),
        ({"nodes": [inp("a", True)], "output": "a"}, "non_numeric_value", "boolean"),
        ({"nodes": [inp("a", [1, None])], "output": "a"}, "non_numeric_value", "[1]"),
        ({"nodes": [inp("a", [[1, 2], [3]])], "output": "a"}, "ragged_tensor", "[1]"),
        ({"nodes": [inp("a", [[1, 2], 3])], "output": "a"}, "ragged_tensor", "[1]"),
        ({"nodes": [inp("a", [[1, 2], [3, [4]]])], "output": "a"}, "ragged_tensor", "[1][1]"),
        ({"nodes": [inp("a", [])], "output": "a"}, "empty_tensor", "'a'"),
        ({"nodes": [inp("a", float("nan"))], "output": "a"}, "non_finite_value", "'a'"),
        ({"nodes": [inp("a", [1.0, float("inf")])], "output": "a"}, "non_finite_value", "[1]"),
        ({"nodes": [inp("a", 10**400)], "output": "a"}, "non_finite_value", "'a'"),
        ({"nodes": [{"id": "a", "op": "input"}], "output": "a"}, "missing_value", "'a'"),
        (
            {"nodes": [inp("a", 1), op("b", "exp", "a", value=2)], "output": "b"},
            "unexpected_value",
            "'b'",
        ),
        (
            {"nodes": [inp("a", [1, 2]), op("b", "sum", "a", params={"dim": 0})], "output": "b"},
            "unknown_param",
            "'dim'",
        ),
        (
            {
                "nodes": [inp("a", [1.0, 2]), inp("c", [1.0, 2, 3]), op("s", "add", "a", "c")],
                "output": "s",
            },
            "shape_mismatch",
            "(2,)",
        ),
        ({"nodes": [inp("a", 1)], "output": "a", "dout": [1, 2]}, "dout_shape", "(2,)"),
        (
            {"nodes": [inp("a", -1.0), op("l", "log", "a")], "output": "l"},
            "non_finite_result",
            "'l'",
        ),
        (
            {
                "nodes": [
                    inp("x", [1.0, 2]),
                    inp("t", [0.5, 0.5]),
                    op("l", "softmax_with_loss", "x", "t"),
                ],
                "output": "l",
            },
            "bad_labels",
            "'t'",
        ),
        ([1, 2], "invalid_body", "list"),
        ({"nodes": []}, "invalid_field", "nodes"),
        ({"nodes": [{"id": 3, "op": "input"}], "output": 3}, "invalid_field", "nodes.0.id"),
        (
            {"nodes": [{"id": "a", "op": "exp", "inputs": "b"}], "output": "a"},
            "invalid_field",
            "inputs",
        ),
    ],
)
def test_validation_errors_name_the_culprit(body: Any, code: str, culprit: str) -> None:
    """Each error has its code and a message naming the node, input or field at fault."""
    err = error_of(body)
    assert err.code == code, err.message
    assert culprit in err.message
    assert not isinstance(err, GraphTooLarge)


def test_shape_mismatch_says_both_shapes_the_op_and_the_node() -> None:
    """`shape_mismatch` names node, op and both shapes."""
    body = {
        "nodes": [inp("X", [[1.0, 2.0, 3.0]]), inp("W", [[1.0], [2.0]]), op("h", "dot", "X", "W")],
        "output": "h",
    }
    err = error_of(body)
    assert err.code == "shape_mismatch"
    assert "'h' (dot)" in err.message and "(1, 3)" in err.message and "(2, 1)" in err.message
    assert err.details["shapes"] == {"x": [1, 3], "W": [2, 1]}


@pytest.mark.parametrize(
    ("inputs", "cycle"),
    [
        ({"a": ["b"], "b": ["a"]}, "a -> b -> a"),
        ({"a": ["a"]}, "a -> a"),
        ({"a": ["c"], "b": ["a"], "c": ["b"]}, "a -> b -> c -> a"),
    ],
)
def test_cycles_are_named(inputs: dict[str, list[str]], cycle: str) -> None:
    """A cycle is reported with the nodes that form it, in the direction data flows."""
    nodes = [inp("x", 1.0)]
    nodes += [op(n, "add", srcs[0], "x") for n, srcs in inputs.items()]
    nodes.append(op("out", "exp", next(iter(inputs))))
    err = error_of({"nodes": nodes, "output": "out"})
    assert err.code == "graph_cycle"
    assert cycle in err.message, err.message


def test_non_finite_result_reports_node_phase_and_values() -> None:
    """exp overflowing in the forward pass names the node and the operand's value."""
    body = {"nodes": [inp("a", 1000.0), op("e", "exp", "a")], "output": "e"}
    err = error_of(body)
    assert err.code == "non_finite_result"
    assert err.details["node"] == "e" and err.details["phase"] == "forward"
    assert err.details["operands"] == {"x": 1000.0}
    assert "1000" in err.message


def test_non_finite_gradient_reports_the_backward_pass() -> None:
    """A finite forward can still send back an infinite gradient: that is reported too."""
    body = {
        "nodes": [inp("a", 1e-300), op("r", "reciprocal", "a")],
        "output": "r",
        "dout": 1e10,
    }
    err = error_of(body)
    assert err.code == "non_finite_result"
    assert err.details["phase"] == "backward"
    assert err.details["node"] == "r"


@pytest.mark.parametrize(
    ("body", "limits", "name"),
    [
        (
            {"nodes": [inp(f"n{i}", 1) for i in range(6)], "output": "n0"},
            Limits(max_graph_nodes=5),
            "max_graph_nodes",
        ),
        (
            {"nodes": [inp("a", [1] * 11)], "output": "a"},
            Limits(max_tensor_elements=10),
            "max_tensor_elements",
        ),
        (
            {
                "nodes": [inp("a", [[1]] * 10), inp("b", [[1] * 10]), op("c", "add", "a", "b")],
                "output": "c",
            },
            Limits(max_tensor_elements=50),
            "max_tensor_elements",
        ),
        (
            {"nodes": [inp("a", [1] * 8), inp("b", [1] * 8)], "output": "a"},
            Limits(max_total_elements=20),
            "max_total_elements",
        ),
        (
            {"nodes": [inp("a", [[[[1]]]])], "output": "a"},
            Limits(max_tensor_dims=3),
            "max_tensor_dims",
        ),
    ],
)
def test_limits_are_stated_when_hit(body: Any, limits: Limits, name: str) -> None:
    """A limit error is a GraphTooLarge (413 in the API) naming the limit and its value."""
    err = error_of(body, limits)
    assert err.code == "limit_exceeded"
    assert isinstance(err, GraphTooLarge)
    assert err.details["name"] == name
    assert str(err.details["limit"]) in err.message.replace(",", "")


def test_broadcast_that_would_explode_is_refused_before_computing() -> None:
    """(1000, 1) + (1, 1000) would be a million elements: refused from the shapes alone."""
    body = {
        "nodes": [inp("a", [[1.0]] * 1000), inp("b", [[1.0] * 1000]), op("c", "add", "a", "b")],
        "output": "c",
    }
    err = error_of(body, Limits(max_tensor_elements=100_000))
    assert err.code == "limit_exceeded" and err.details["node"] == "c"


def test_evaluation_size_counts_every_value_and_gradient_from_shapes() -> None:
    """Each node and each edge carries a value and a gradient; the output and dout once more.

    Counted on the parsed graph, before evaluating, and only refused by the size check
    (a gradient check, which sends no such answer, still parses the graph).
    """
    body = {
        "nodes": [inp("x", [1.0] * 1000), *(op(f"s{i}", "sum", "x") for i in range(3))],
        "output": "s0",
    }
    graph = parse_graph(body)
    ev = evaluate(graph)
    carried = sum(ev.values[n].size + ev.grads[n].size for n in graph.nodes)
    carried += sum(ev.values[e.source].size + ev.edge_grad(e).size for e in graph.edges)
    carried += ev.output.size + graph.dout.size
    assert graph.evaluation_elements == carried == 2 * (1000 + 3 + 3 * 1000 + 1)
    check_evaluation_size(graph, Limits(max_response_elements=carried))
    with pytest.raises(GraphTooLarge) as info:
        check_evaluation_size(graph, Limits(max_response_elements=carried - 1))
    err = info.value
    assert err.code == "response_too_large"
    assert err.details == {
        "limit": carried - 1,
        "name": "max_response_elements",
        "given": carried,
    }
    assert f"{carried:,} numbers" in err.message and f"{carried - 1:,}" in err.message


def test_errors_keep_their_type_and_code_across_processes() -> None:
    """A gradient check runs in a child process: its GraphError comes back as it was."""
    for err in (
        GraphError("graph_cycle", "a cycle", {"node": "a"}),
        GraphTooLarge("limit_exceeded", "too big", {"limit": 5}),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert (back.code, back.message, back.details) == (err.code, err.message, err.details)


def test_label_inputs_are_not_differentiable() -> None:
    """Nodes used only as class labels are marked (the answer says null: no gradient)."""
    body = {
        "nodes": [
            inp("x", [[1.0, 2.0], [0.5, 0.1]]),
            inp("t", [1, 0]),
            op("l", "softmax_with_loss", "x", "t"),
        ],
        "output": "l",
    }
    ev = evaluate(parse_graph(body))
    assert ev.graph.label_nodes == frozenset({"t"})
    assert not ev.grads["t"].any()


def test_explain_gives_the_rule_with_numbers_for_scalars() -> None:
    """The step-through text of the apple graph's first mul node."""
    body = {
        "nodes": [
            inp("apple", 100),
            inp("n", 2),
            inp("tax", 1.1),
            op("ap", "mul", "apple", "n"),
            op("price", "mul", "ap", "tax"),
        ],
        "output": "price",
    }
    ev = evaluate(parse_graph(body))
    local = explain(ev, "ap")
    assert local is not None
    assert local["ports"][0]["text"] == "dx = dout · y = 1.1 · 2 = 2.2"
    assert local["ports"][1]["text"] == "dy = dout · x = 1.1 · 100 = 110"
    assert explain(ev, "apple") is None
    tensor = evaluate(
        parse_graph({"nodes": [inp("v", [1.0, 2.0]), op("e", "exp", "v")], "output": "e"})
    )
    assert explain(tensor, "e") == {
        "rule": "dx = dout · out",
        "scalar": False,
        "values": None,
        "ports": [
            {
                "port": 0,
                "input": "x",
                "from": "v",
                "rule": "dout · out",
                "numbers": None,
                "text": "dx = dout · out",
                "label": False,
            }
        ],
        "text": "dx = dout · out",
        "terms": [],
    }


def test_explain_tanh_from_its_table_entry() -> None:
    """tanh, added as one table entry, explains itself with its rule and numbers."""
    body = {"nodes": [inp("a", 1.0), op("h", "tanh", "a")], "output": "h", "dout": 2.0}
    local = explain(evaluate(parse_graph(body)), "h")
    assert local is not None
    assert local["text"] == "dx = dout · (1 − out²) = 2 · (1 − 0.76159²) = 0.83995"


def test_softmax_with_loss_explains_y_t_and_n_and_marks_labels() -> None:
    """The step shows y = softmax(x), t, N and (y − t) / N; the label port is marked."""
    from engine.functions import softmax
    from engine.graph import explain

    x = np.array([[0.3, 2.9, 4.0], [1.0, 0.0, -1.0]])
    graph = parse_graph(
        {
            "nodes": [
                {"id": "x", "op": "input", "value": x.tolist()},
                {"id": "t", "op": "input", "value": [2, 0]},
                {"id": "L", "op": "softmax_with_loss", "inputs": ["x", "t"]},
            ],
            "output": "L",
        }
    )
    local = explain(evaluate(graph), "L")
    assert local is not None
    terms = {term["name"]: np.asarray(term["value"]) for term in local["terms"]}
    np.testing.assert_allclose(terms["y = softmax(x)"], softmax(x))
    np.testing.assert_array_equal(terms["t"], [[0, 0, 1], [1, 0, 0]])
    assert float(terms["N"]) == 2
    np.testing.assert_allclose(terms["(y − t) / N"], (softmax(x) - terms["t"]) / 2)
    assert [p["label"] for p in local["ports"]] == [False, True]

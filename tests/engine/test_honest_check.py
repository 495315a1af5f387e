"""The gradient check says which formula gave each number, and which bugs it cannot see."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.gradient import directional_difference
from engine.graph import check_graph, parse_graph


def sigma(z: float) -> float:
    """The logistic sigmoid."""
    return 1.0 / (1.0 + math.exp(-z))


def _sigmoid_graph() -> dict[str, object]:
    return {
        "nodes": [
            {"id": "x", "op": "input", "value": 1.0},
            {"id": "y", "op": "sigmoid", "inputs": ["x"]},
        ],
        "output": "y",
    }


def test_a_large_step_reports_richardson_and_the_plain_central_difference_beside_it() -> None:
    """Sigmoid at x = 1 with eps = 1: the estimate is extrapolated, and says so."""
    f = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    x0 = np.array([1.0])
    d = directional_difference(f, x0, np.ones(1), 1.0, f(x0))
    central = (sigma(2.0) - sigma(0.0)) / 2  # 0.190398…
    half = (sigma(1.5) - sigma(0.5)) / 1  # central difference at eps/2
    assert d.formula == "richardson"
    assert d.central == pytest.approx(central, rel=1e-15)
    assert d.value == pytest.approx((4 * half - central) / 3, rel=1e-15)  # 0.196687…
    assert abs(d.central - 0.190398) < 1e-6 and abs(d.value - 0.196687) < 1e-6


def test_a_small_step_is_a_plain_central_difference() -> None:
    f = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    x0 = np.array([1.0])
    d = directional_difference(f, x0, np.ones(1), 1e-4, f(x0))
    assert d.formula == "central"
    assert (
        d.value == d.central == pytest.approx((sigma(1 + 1e-4) - sigma(1 - 1e-4)) / 2e-4, rel=1e-9)
    )


def test_graph_check_reports_each_elements_formula_and_central_difference() -> None:
    report = check_graph(parse_graph(_sigmoid_graph()), scope="all", eps=1.0)
    x = report["params"]["x"]
    central = (sigma(2.0) - sigma(0.0)) / 2
    assert x["formula"] == "richardson"
    assert x["central"] == pytest.approx(central, rel=1e-15)
    assert x["numerical"] != x["central"]
    assert x["formulas"] == {"central": 0, "central_half": 0, "richardson": 1}
    assert x["worst"][0]["formula"] == "richardson"
    assert x["worst"][0]["central"] == pytest.approx(central, rel=1e-15)
    assert not x["passed"]  # backprop's σ'(1) = 0.19661…: neither estimate agrees at eps = 1
    assert report["formulas"] == {"central": 1, "central_half": 0, "richardson": 1}
    assert any("Richardson" in n for n in report["notes"])
    small = check_graph(parse_graph(_sigmoid_graph()), scope="all")
    assert small["formulas"]["richardson"] == 0
    assert small["params"]["x"]["formula"] == "central"
    assert not any("Richardson" in n for n in small["notes"])


def test_fast_mode_worst_directions_say_their_formula() -> None:
    report = check_graph(parse_graph(_sigmoid_graph()), mode="fast", eps=1.0, seed=0)
    worst = report["params"]["x"]["worst"][0]
    assert worst["formula"] == "richardson"
    assert worst["central"] == pytest.approx(abs((sigma(2.0) - sigma(0.0)) / 2), rel=1e-12)


def _softmax(rows: int, variant: str | None = "no_batch_divide") -> dict[str, object]:
    loss: dict[str, object] = {"id": "loss", "op": "softmax_with_loss", "inputs": ["x", "t"]}
    if variant:
        loss["variant"] = variant
    return {
        "nodes": [
            {"id": "x", "op": "input", "value": [[0.3, 2.9, 4.0]] * rows},
            {"id": "t", "op": "input", "value": [[0, 0, 1]] * rows},
            loss,
        ],
        "output": "loss",
    }


def test_a_bug_that_cannot_show_on_this_graph_is_named() -> None:
    """no_batch_divide with N = 1 changes nothing: the check agrees and says why."""
    one = check_graph(parse_graph(_softmax(1)), scope="all")
    assert one["passed"]
    assert [(b["node"], b["variant"]) for b in one["unseen_bugs"]] == [("loss", "no_batch_divide")]
    assert "N = 1" in one["unseen_bugs"][0]["reason"] and one["unseen_bugs"][0]["why"] == "one_row"
    assert one["unseen_bugs"][0]["reason"] in one["notes"]
    two = check_graph(parse_graph(_softmax(2)), scope="all")
    assert not two["passed"] and two["unseen_bugs"] == []
    right = check_graph(parse_graph(_softmax(1, None)), scope="all")
    assert right["unseen_bugs"] == []


def test_overwrite_without_a_reused_value_is_named() -> None:
    graph = {**_sigmoid_graph(), "accumulate": "overwrite"}
    report = check_graph(parse_graph(graph), scope="all")
    assert report["passed"]
    assert [(b["node"], b["variant"]) for b in report["unseen_bugs"]] == [(None, "overwrite")]
    reused = {
        "nodes": [
            {"id": "x", "op": "input", "value": 3.0},
            {"id": "y", "op": "mul", "inputs": ["x", "x"]},
        ],
        "output": "y",
        "accumulate": "overwrite",
    }
    caught = check_graph(parse_graph(reused), scope="all")
    assert not caught["passed"] and caught["unseen_bugs"] == []

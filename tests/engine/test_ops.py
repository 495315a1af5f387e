"""Every op's backward against central differences, at random shapes (hypothesis)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.graph import GraphError
from engine.graph.op_types import check_params
from engine.graph.ops import OPS, label_problem
from tests.engine.op_rules import RULES

EPS = 1e-6

Case = tuple[list[np.ndarray], dict[str, Any]]


def _dims(draw: st.DrawFn, min_ndim: int = 0, max_ndim: int = 3) -> tuple[int, ...]:
    ndim = draw(st.integers(min_ndim, max_ndim))
    return tuple(draw(st.integers(1, 4)) for _ in range(ndim))


def _broadcast_partner(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[int, ...]:
    drop = draw(st.integers(0, len(shape)))
    partner = list(shape[drop:])
    for i in range(len(partner)):
        if draw(st.booleans()):
            partner[i] = 1
    return tuple(partner)


def _labels(draw: st.DrawFn, rng: np.random.Generator, scores_shape: tuple[int, ...]) -> np.ndarray:
    classes = scores_shape[-1]
    rows = 1 if len(scores_shape) == 1 else scores_shape[0]
    idx = rng.integers(0, classes, size=rows)
    if draw(st.booleans()):
        return np.eye(classes)[idx].reshape(scores_shape)
    if len(scores_shape) == 1:
        return np.asarray(float(idx[0])) if draw(st.booleans()) else idx.astype(float)
    return idx.astype(float)


@st.composite
def cases(draw: st.DrawFn, name: str) -> Case:
    """Random inputs (and params) for op ``name``, in the op's domain and away from kinks."""
    xs, params = draw(_raw_cases(name))
    return [np.array(x, dtype=np.float64) for x in xs], params


@st.composite
def _raw_cases(draw: st.DrawFn, name: str) -> Case:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def normal(shape: tuple[int, ...]) -> np.ndarray:
        return rng.normal(size=shape)

    if name in ("add", "mul"):
        a = _dims(draw)
        b = _broadcast_partner(draw, a)
        pair = [normal(a), normal(b)]
        return (pair if draw(st.booleans()) else pair[::-1]), {}
    if name == "dot":
        n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
        x_shape = (n,) if draw(st.booleans()) else (m, n)
        w_shape = (n,) if draw(st.booleans()) else (n, k)
        return [normal(x_shape), normal(w_shape)], {}
    if name in ("exp", "sigmoid", "tanh"):
        return [normal(_dims(draw))], {}
    if name == "log":
        return [rng.uniform(0.5, 3.0, size=_dims(draw))], {}
    if name == "reciprocal":
        shape = _dims(draw)
        return [rng.uniform(0.5, 3.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)], {}
    if name == "relu":
        shape = _dims(draw)
        return [rng.uniform(0.1, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)], {}
    if name == "sum":
        shape = _dims(draw)
        axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1)) if shape else None
        return [normal(shape)], {"axis": axis}
    if name == "affine":
        n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        x_shape = (n,) if draw(st.booleans()) else (draw(st.integers(1, 4)), n)
        b_shape = draw(st.sampled_from([(m,), (1, m), ()])) if len(x_shape) == 2 else (m,)
        return [normal(x_shape), normal((n, m)), normal(b_shape)], {}
    if name == "softmax":
        return [normal(_dims(draw, min_ndim=1))], {}
    if name in ("cross_entropy", "softmax_with_loss"):
        scores = _dims(draw, min_ndim=1, max_ndim=2)
        x = normal(scores)
        if name == "cross_entropy":
            x = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
        return [x, _labels(draw, rng, scores)], {}
    if name == "batchnorm":
        n, d = draw(st.integers(2, 4)), draw(st.integers(1, 4))
        # rows at least 0.4 apart in every column: a batch of nearly equal values has a
        # tiny variance, where the normalisation curves too fast for central differences
        x = np.arange(n)[:, None] + rng.uniform(-0.3, 0.3, (n, d))
        x = rng.permutation(x) * rng.uniform(0.5, 3, d) + rng.normal(size=d)
        shape = draw(st.sampled_from([(d,), (1, d), ()]))
        return [x, rng.uniform(0.5, 2, shape), normal(draw(st.sampled_from([(d,), ()])))], {}
    if name == "dropout":
        ratio = draw(st.sampled_from([0.0, 0.2, 0.5, 0.9]))
        return [normal(_dims(draw))], {"ratio": ratio, "seed": draw(st.integers(0, 1000))}
    raise AssertionError(f"no case generator for op {name}")


def _run(name: str, xs: list[np.ndarray], params: dict[str, Any], dout: np.ndarray | None) -> Any:
    step = OPS[name].make(check_params(OPS[name], params))
    out = np.asarray(step.forward(*xs), dtype=np.float64)
    if dout is None:
        return out
    return out, [np.asarray(g, dtype=np.float64) for g in step.backward(dout)]


def _numerical(
    name: str, xs: list[np.ndarray], params: dict[str, Any], dout: np.ndarray, i: int
) -> np.ndarray:
    grad = np.zeros_like(xs[i])
    for k in np.ndindex(xs[i].shape):
        moved = [x.copy() for x in xs]
        moved[i][k] += EPS
        plus = float(np.sum(_run(name, moved, params, None) * dout))
        moved[i][k] -= 2 * EPS
        minus = float(np.sum(_run(name, moved, params, None) * dout))
        grad[k] = (plus - minus) / (2 * EPS)
    return grad


GRADIENT_OPS = [name for name in OPS if name != "input"]


def test_every_op_has_a_case_generator_and_complete_docs() -> None:
    """Adding an op to the table without docs fails here (without cases, the tests below do)."""
    assert set(GRADIENT_OPS) | {"input"} == set(OPS)
    for op in OPS.values():
        assert op.doc and "\n" not in op.doc
        assert op.formula
        assert len(op.rules) == op.arity
        public = op.public()
        assert set(public) >= {"name", "inputs", "params", "doc", "arity", "formula"}


def test_every_rule_of_the_table_has_its_reference() -> None:
    """Adding an op or a broken variant without its rules in NumPy (``op_rules.py``) fails here."""
    table = {(op.name, None) for op in OPS.values() if op.name != "input"}
    table |= {(op.name, v.name) for op in OPS.values() for v in op.variants}
    assert set(RULES) == table
    for (name, variant), rules in RULES.items():
        op = OPS[name] if variant is None else OPS[name].with_variant(variant)
        assert len(rules) == len(op.rules) == op.arity, (name, variant)


@pytest.mark.parametrize("name", GRADIENT_OPS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_backward_matches_central_differences(name: str, data: st.DataObject) -> None:
    """backward(dout) equals the numerical gradient of Σ(forward · dout) for every input.

    Inputs and dout are read-only, so an op that writes into what it was given (as
    the book's Relu.backward does to dout) fails here.
    """
    xs, params = data.draw(cases(name))
    op = OPS[name]
    expected_shape = op.shape([x.shape for x in xs], check_params(op, params))
    rng = np.random.default_rng(0)
    dout = np.array(rng.normal(size=expected_shape))
    for a in [*xs, dout]:
        a.setflags(write=False)
    out, grads = _run(name, xs, params, dout)
    assert out.shape == expected_shape
    assert len(grads) == op.arity
    for i, (x, g) in enumerate(zip(xs, grads, strict=True)):
        assert g.shape == x.shape, f"{name}: d{op.inputs[i]} has shape {g.shape}, not {x.shape}"
        if i in op.label_ports:
            assert not g.any(), "labels get no gradient"
            continue
        np.testing.assert_allclose(
            g,
            _numerical(name, xs, params, dout, i),
            rtol=1e-5,
            atol=1e-7,
            err_msg=f"{name}: d{op.inputs[i]}",
        )


def test_bias_gradient_is_summed_over_the_batch() -> None:
    """The chapter's example: dY = [[1,2,3],[4,5,6]] gives dB = [5,7,9]."""
    x_dot_w = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    b = np.array([1.0, 2.0, 3.0])
    out, (dxw, db) = _run("add", [x_dot_w, b], {}, np.array([[1.0, 2, 3], [4, 5, 6]]))
    np.testing.assert_array_equal(out, [[1, 2, 3], [11, 12, 13]])
    np.testing.assert_array_equal(db, [5.0, 7.0, 9.0])
    np.testing.assert_array_equal(dxw, [[1, 2, 3], [4, 5, 6]])


def test_shape_rules_explain_mismatches() -> None:
    """A shape error says both shapes."""
    with pytest.raises(GraphError, match=r"\(2, 3\).*\(4,\)"):
        OPS["add"].shape([(2, 3), (4,)], {})
    with pytest.raises(GraphError, match=r"x of shape \(2, 3\) and W of shape \(2, 2\)"):
        OPS["dot"].shape([(2, 3), (2, 2)], {})
    with pytest.raises(GraphError, match="axis 2"):
        OPS["sum"].shape([(2, 3)], {"axis": 2})


def test_label_problems_are_named() -> None:
    """Labels are one-hot rows or whole class indices."""
    assert label_problem(np.array([0.0, 0.0, 1.0]), (3,)) is None
    assert label_problem(np.array([2.0]), (3,)) is None
    assert "row 1" in str(label_problem(np.array([[0.0, 1.0], [0.5, 0.5]]), (2, 2)))
    assert "0..2" in str(label_problem(np.array([3.0]), (3,)))


def test_params_are_checked() -> None:
    """Unknown or ill-typed parameters are errors, defaults are filled in."""
    assert check_params(OPS["sum"], {}) == {"axis": None}
    with pytest.raises(GraphError, match="'keepdims'"):
        check_params(OPS["sum"], {"keepdims": True})
    with pytest.raises(GraphError, match="whole number"):
        check_params(OPS["sum"], {"axis": True})


@pytest.mark.parametrize("name", GRADIENT_OPS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_local_rules_equal_backward(name: str, data: st.DataObject) -> None:
    """Each rule of the table, the one the step-through shows, computes the op's backward.

    The reference rules (``op_rules.py``) read the op's symbols (dout, out and its inputs)
    at random inputs, as ``explain`` does; the teaching text cannot drift from the numbers.
    """
    xs, params = data.draw(cases(name))
    op = OPS[name]
    checked = check_params(op, params)
    dout = np.random.default_rng(1).normal(size=op.shape([x.shape for x in xs], checked))
    out, grads = _run(name, xs, params, dout)
    env = dict(zip(op.symbols, [dout, out, *xs], strict=True))
    assert len(op.rules) == op.arity
    for i, (rule, text, grad) in enumerate(zip(RULES[name, None], op.rules, grads, strict=True)):
        local = np.asarray(rule(env, checked), dtype=np.float64)
        assert local.shape == xs[i].shape, f"{name}: rule for d{op.inputs[i]}"
        np.testing.assert_allclose(
            local, grad, rtol=1e-10, atol=1e-12, err_msg=f"{name}: d{op.inputs[i]} = {text}"
        )


def _takes_scalars(name: str) -> bool:
    op = OPS[name]
    try:
        op.shape([()] * op.arity, check_params(op, {}))
    except GraphError:
        return False
    return True


SCALAR_OPS = [name for name in GRADIENT_OPS if _takes_scalars(name)]
_AS_PYTHON = {"·": "*", "−": "-", "²": "**2"}


@pytest.mark.parametrize("name", GRADIENT_OPS)
def test_rule_texts_use_only_the_ops_symbols(name: str) -> None:
    """Every name in a rule's text is one the explanation fills in (or N, softmax, labels, or
    dropout's mask, which the step shows among its terms; "none" for labels)."""
    op = OPS[name]
    for rule in op.rules:
        names = set(re.findall(r"[A-Za-z_]+", rule))
        assert names <= {*op.symbols, "N", "softmax", "labels", "mask", "none"}, f"{name}: {rule}"


@pytest.mark.parametrize("name", SCALAR_OPS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_rule_text_is_the_rule_at_scalars(name: str, data: st.DataObject) -> None:
    """At scalars, where the step-through shows numbers, the text read as arithmetic is the rule.

    ``dout · out · (1 − out)`` is evaluated as ``dout * out * (1 - out)`` with the
    symbols' numbers and must equal the table's rule (and so the op's backward).
    """
    op = OPS[name]
    sign = 1.0 if name == "log" else data.draw(st.sampled_from([1.0, -1.0]))
    xs = [np.array(data.draw(st.floats(0.2, 3.0)) * sign) for _ in op.inputs]
    dout = np.array(data.draw(st.floats(-3.0, 3.0)))
    out = _run(name, xs, {}, None)
    env = dict(zip(op.symbols, [dout, out, *xs], strict=True))
    params = check_params(op, {})
    terms = op.terms(env, params) if op.terms is not None else {}
    named = {k.split(" = ")[0]: float(v) for k, v in terms.items() if " = " in k}
    for text, rule in zip(op.rules, RULES[name, None], strict=True):
        expression = text
        for symbol, python in _AS_PYTHON.items():
            expression = expression.replace(symbol, python)
        values = {**named, **{k: float(v) for k, v in env.items()}}
        as_text = eval(expression, {"__builtins__": {}}, values)
        assert float(as_text) == pytest.approx(float(rule(env, params))), f"{name}: {text}"


VARIANTS = [(op.name, v.name) for op in OPS.values() for v in op.variants]


def test_the_issues_broken_layers_are_in_the_table() -> None:
    """Each classic bug is offered, with its explanation, on the op it belongs to."""
    assert set(VARIANTS) >= {
        ("mul", "no_swap"),
        ("relu", "no_mask"),
        ("sigmoid", "no_one_minus"),
        ("affine", "db_mean"),
        ("softmax_with_loss", "no_batch_divide"),
        ("batchnorm", "no_mean_terms"),
        ("dropout", "no_dropout_mask"),
    }
    for name, variant in VARIANTS:
        public = {v["name"]: v for v in OPS[name].public()["variants"]}[variant]
        assert public["doc"] and "\n" not in public["doc"]
        assert set(public["backward"]) == {f"d{i}" for i in OPS[name].inputs}


def _run_op(op: Any, xs: list[np.ndarray], params: dict[str, Any], dout: np.ndarray) -> Any:
    step = op.make(check_params(op, params))
    out = np.asarray(step.forward(*xs), dtype=np.float64)
    return out, [np.asarray(g, dtype=np.float64) for g in step.backward(dout)]


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_variant_keeps_the_forward_its_rules_are_its_backward(
    name: str, variant: str, data: st.DataObject
) -> None:
    """Same value as the op; the variant's rule texts compute the variant's (wrong) backward."""
    xs, params = data.draw(cases(name))
    op, broken = OPS[name], OPS[name].with_variant(variant)
    checked = check_params(op, params)
    dout = np.random.default_rng(2).normal(size=op.shape([x.shape for x in xs], checked))
    out, right = _run_op(op, xs, params, dout)
    broken_out, wrong = _run_op(broken, xs, params, dout)
    np.testing.assert_array_equal(broken_out, out)
    env = dict(zip(op.symbols, [dout, out, *xs], strict=True))
    rules = zip(RULES[name, variant], broken.rules, wrong, strict=True)
    for i, (rule, text, grad) in enumerate(rules):
        local = np.asarray(rule(env, checked), dtype=np.float64)
        assert local.shape == xs[i].shape == grad.shape, f"{variant}: d{op.inputs[i]}"
        np.testing.assert_allclose(local, grad, rtol=1e-10, atol=1e-12, err_msg=text)
    assert len(right) == len(wrong)


@pytest.mark.parametrize(
    ("name", "variant", "xs", "wrong_port"),
    [
        ("mul", "no_swap", [np.array(3.0), np.array(4.0)], 0),
        ("relu", "no_mask", [np.array([-1.0, 2.0])], 0),
        ("sigmoid", "no_one_minus", [np.array([0.5])], 0),
        ("affine", "db_mean", [np.ones((2, 3)), np.ones((3, 2)), np.zeros(2)], 2),
        ("softmax_with_loss", "no_batch_divide", [np.eye(3)[:2], np.array([0.0, 1.0])], 0),
        (
            "batchnorm",
            "no_mean_terms",
            [np.array([[1.0], [2.0], [4.0]]), np.ones(1), np.zeros(1)],
            0,
        ),
        ("dropout", "no_dropout_mask", [np.ones((4, 5))], 0),
    ],
)
def test_each_variant_is_wrong_where_its_bug_reaches(
    name: str, variant: str, xs: list[np.ndarray], wrong_port: int
) -> None:
    op, broken = OPS[name], OPS[name].with_variant(variant)
    dout = np.ones(op.shape([x.shape for x in xs], check_params(op, {})))
    _, right = _run_op(op, xs, {}, dout)
    _, wrong = _run_op(broken, xs, {}, dout)
    assert not np.allclose(right[wrong_port], wrong[wrong_port])

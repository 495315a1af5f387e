"""The one table of graph ops, ``OPS``: inputs, parameters, shape rule, step, rules and docs.

The evaluator (``engine/graph/``), ``GET /graphs/ops``, the page's palette, the export,
the code panel and the OpenAPI schema all read this table. A row's ``make`` builds a
fresh *step* per evaluation: one of the engine's own layers (``engine/layers.py``,
``engine/layers_ch6.py``, their broken variants in ``engine/variants.py``) or a step of
``engine/graph/steps.py``; its ``rules`` are each input's backward as the step-through
shows it. Chapter 6's rows (``batchnorm``, ``dropout``) come last in the palette.

Adding an op takes its row here; its step in ``steps.py`` unless the engine has its
layer; in the tests, its rules in NumPy (``tests/engine/op_rules.py``) and random
inputs for it (``cases`` in ``tests/engine/test_ops.py``), without which the op tests
fail; and its name and doc in Chinese (``op.<name>.name``, ``op.<name>.doc`` in
``static/i18n/zh.json``; the page shows the English doc until then). A symbol for its
node (``static/js/op-labels.js``) is optional: a node shows the op's name otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.functions import softmax
from engine.graph.errors import GraphError
from engine.graph.op_types import Array, Env, Op, Param, Shape, Variant, _touched
from engine.graph.op_types import format_shape as _fmt
from engine.graph.steps import (
    AffineStep,
    BatchNormStep,
    CrossEntropyStep,
    DotStep,
    DropoutStep,
    ExpStep,
    InputStep,
    LogStep,
    OneInput,
    ReciprocalStep,
    SoftmaxStep,
    SoftmaxWithLossStep,
    SumStep,
    TanhStep,
    class_indices,
)
from engine.layers import AddLayer, MulLayer, Relu, Sigmoid
from engine.variants import (
    AffineMeanDb,
    BatchNormalizationNoMeanTerms,
    DropoutNoMask,
    MulLayerNoSwap,
    ReluNoMask,
    SigmoidNoOneMinus,
    SoftmaxWithLossNoDivide,
)

# ---------------------------------------------------------------- shape rules and work


def _product_work(shapes: Sequence[Shape], out: Shape) -> int:
    """Work of x · W (+ b): multiply-adds m·k·n, plus the output (and the bias) once."""
    x, w = shapes[0], shapes[1]
    inner = w[0] if w else 1
    return math.prod(x) * math.prod(w) // max(inner, 1) + _touched(shapes[2:], out)


def _same(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    return shapes[0]


def _broadcast(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise GraphError(
            "shape_mismatch",
            f"x of shape {_fmt(shapes[0])} and y of shape {_fmt(shapes[1])} do not broadcast "
            "(NumPy rules: trailing dimensions must be equal or 1)",
        ) from None


def _need_ndim(name: str, shape: Shape, allowed: Sequence[int]) -> None:
    if len(shape) not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        raise GraphError("shape_mismatch", f"{name} must be {want}, but has shape {_fmt(shape)}")


def _dot_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    x, w = shapes
    _need_ndim("x", x, (1, 2))
    _need_ndim("W", w, (1, 2))
    if x[-1] != w[0]:
        raise GraphError(
            "shape_mismatch",
            f"x of shape {_fmt(x)} and W of shape {_fmt(w)} cannot be multiplied: "
            f"x has {x[-1]} columns but W has {w[0]} rows",
        )
    return x[:-1] + w[1:]


def _affine_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    x, w, b = shapes
    _need_ndim("W", w, (2,))
    if not x:
        raise GraphError("shape_mismatch", "x must be a vector or a batch, but is a scalar")
    features = x[0] if len(x) == 1 else math.prod(x[1:])
    if features != w[0]:
        raise GraphError(
            "shape_mismatch",
            f"x of shape {_fmt(x)} has {features} features but W of shape {_fmt(w)} expects {w[0]}",
        )
    out = (w[1],) if len(x) == 1 else (x[0], w[1])
    try:
        joined = tuple(np.broadcast_shapes(out, b))
    except ValueError:
        joined = ()
    if joined != out:
        raise GraphError(
            "shape_mismatch",
            f"b of shape {_fmt(b)} does not broadcast to x · W of shape {_fmt(out)}",
        )
    return out


def _sum_shape(shapes: Sequence[Shape], params: Mapping[str, Any]) -> Shape:
    (x,) = shapes
    axis = params.get("axis")
    if axis is None:
        return ()
    if not -len(x) <= axis < len(x):
        raise GraphError("shape_mismatch", f"axis {axis} is out of range for x of shape {_fmt(x)}")
    axis %= len(x)
    return x[:axis] + x[axis + 1 :]


def _softmax_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    if not shapes[0]:
        raise GraphError("shape_mismatch", "x must have at least one dimension (the classes)")
    return shapes[0]


def _loss_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    y, t = shapes
    _need_ndim("the scores", y, (1, 2))
    index_shapes = [(), (1,)] if len(y) == 1 else [(y[0],)]
    if t != y and t not in index_shapes:
        wanted = " or ".join(_fmt(s) for s in [y, *index_shapes])
        raise GraphError(
            "shape_mismatch",
            f"labels t of shape {_fmt(t)} do not fit scores of shape {_fmt(y)}: "
            f"give one-hot rows or class indices, shape {wanted}",
        )
    return ()


def _bn_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    x, gamma, beta = shapes
    if len(x) != 2:
        raise GraphError(
            "shape_mismatch",
            f"x must be a 2-D batch (N, D): its statistics are taken over the rows, "
            f"but has shape {tuple(x)}",
        )
    d = x[1]
    for name, s in (("gamma", gamma), ("beta", beta)):
        if tuple(s) not in ((), (d,), (1, d)):
            raise GraphError(
                "shape_mismatch",
                f"{name} of shape {tuple(s)} does not fit x of shape {tuple(x)}: "
                f"give one number per column, shape ({d},), or a single number",
            )
    return tuple(x)


def _dropout_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    return tuple(shapes[0])


# ---------------------------------------------------------------- labels


def label_problem(t: Array, scores_shape: Shape) -> str | None:
    """Why ``t`` is not one-hot rows or whole class indices for these scores (None if it is)."""
    classes = scores_shape[-1]
    if t.shape == scores_shape:
        rows = t.reshape(-1, classes)
        one_hot = np.all((rows == 0) | (rows == 1), axis=1) & (rows.sum(axis=1) == 1)
        if not one_hot.all():
            return f"row {int(np.argmin(one_hot))} of the labels is not one-hot (one 1, rest 0)"
        return None
    flat = t.reshape(-1)
    bad = (flat != np.rint(flat)) | (flat < 0) | (flat >= classes)
    if bad.any():
        return f"class index {float(flat[bad][0]):g} is not a whole number in 0..{classes - 1}"
    return None


# ---------------------------------------------------------------- terms
# The named quantities a backward step shows before its rules, from the rules' symbols
# (``e``: dout, out and the inputs) and the node's params (``p``).


def _one_hot(e: Env, scores: str) -> tuple[Array, int]:
    """The labels t as one-hot rows of the scores' shape, and the number of rows N."""
    y = e[scores]
    idx = class_indices(e["t"], y)
    return np.eye(y.shape[-1])[idx].reshape(y.shape), idx.size


def _softmax_loss_terms(e: Env, _p: Mapping[str, Any]) -> dict[str, Array]:
    t, n = _one_hot(e, "x")
    y = softmax(e["x"])
    return {"y = softmax(x)": y, "t": t, "N": np.asarray(float(n)), "(y − t) / N": (y - t) / n}


def _cross_entropy_terms(e: Env, _p: Mapping[str, Any]) -> dict[str, Array]:
    t, n = _one_hot(e, "y")
    return {"t": t, "N": np.asarray(float(n))}


def _normalised(e: Env) -> tuple[Array, Array]:
    """x̂ = (x − μ) / σ and σ = √(var + ε) of the batch x, as the layer computes them."""
    x = e["x"]
    xc = x - x.mean(axis=0)
    std = np.sqrt(np.mean(xc**2, axis=0) + 10e-7)
    return xc / std, std


def _bn_terms(e: Env, _p: Mapping[str, Any]) -> dict[str, Array]:
    xn, std = _normalised(e)
    return {
        "N": np.asarray(float(e["x"].shape[0])),
        "μ = Σₙ x / N": e["x"].mean(axis=0),
        "σ = √(Σₙ (x − μ)² / N + 10e-7)": std,
        "x̂ = (x − μ) / σ": xn,
    }


def dropout_mask(params: Mapping[str, Any], shape: Shape) -> Array:
    """The mask a dropout node draws: rng(seed).random(shape) > ratio (True: kept)."""
    return np.asarray(np.random.default_rng(params["seed"]).random(shape) > params["ratio"])


def _dropout_terms(e: Env, p: Mapping[str, Any]) -> dict[str, Array]:
    return {"mask = random(seed) > ratio": dropout_mask(p, e["x"].shape)}


# ---------------------------------------------------------------- the table

_AXIS = Param("axis", "int|null", None, "Axis to sum over; null sums every element.")
_VALUE = Param(
    "value",
    "tensor",
    None,
    "A number or a nested list of numbers, given as the node's own `value` field.",
    required=True,
    where="node",
)
_LABELS = frozenset({1})
_RATIO = Param(
    "ratio", "number", 0.5, "The chance that a unit is dropped (the book's dropout_ratio).",
    low=0.0, high=0.99,
)  # fmt: skip
_SEED = Param(
    "seed", "int", 0, "Seed of the mask: the same seed drops the same units.", low=0, high=2**32 - 1
)

_BN_DOC = "gamma / σ · (dout − Σₙ dout / N − x̂ · Σₙ (dout · x̂) / N)"

OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op(
            name="input",
            inputs=(),
            doc="A constant: a number or a tensor, and a leaf of the graph.",
            formula="value",
            rules=(),
            shape=lambda _shapes, _params: (),
            make=InputStep,
            params=(_VALUE,),
        ),
        Op(
            name="add",
            inputs=("x", "y"),
            doc="The book's AddLayer: x + y, broadcasting as NumPy does.",
            formula="x + y",
            rules=("dout", "dout"),
            shape=_broadcast,
            make=lambda _: AddLayer(),
        ),
        Op(
            name="mul",
            inputs=("x", "y"),
            doc="The book's MulLayer: x · y elementwise, broadcasting as NumPy does.",
            formula="x · y",
            rules=("dout · y", "dout · x"),
            shape=_broadcast,
            make=lambda _: MulLayer(),
            variants=(
                Variant(
                    "no_swap",
                    "backward forgets to swap the inputs: dx = dout · x and dy = dout · y, "
                    "so each input gets its own value instead of the other one's.",
                    lambda _: MulLayerNoSwap(),
                    ("dout · x", "dout · y"),
                ),
            ),
        ),
        Op(
            name="dot",
            inputs=("x", "W"),
            doc="Matrix product of 1-D or 2-D arrays, as np.dot.",
            formula="x · W",
            rules=("dout · Wᵀ", "xᵀ · dout"),
            shape=_dot_shape,
            make=DotStep,
            work=_product_work,
        ),
        Op(
            name="exp",
            inputs=("x",),
            doc="Exponential, elementwise.",
            formula="exp(x)",
            rules=("dout · out",),
            shape=_same,
            make=ExpStep,
        ),
        Op(
            name="log",
            inputs=("x",),
            doc="Natural logarithm, elementwise (x must be positive).",
            formula="log(x)",
            rules=("dout / x",),
            shape=_same,
            make=LogStep,
        ),
        Op(
            name="reciprocal",
            inputs=("x",),
            doc='The chapter\'s "/" node: 1 / x, elementwise.',
            formula="1 / x",
            rules=("−dout · out²",),
            shape=_same,
            make=ReciprocalStep,
        ),
        Op(
            name="sum",
            inputs=("x",),
            doc="Sum of the elements of x, over one axis or all of them.",
            formula="Σ x",
            rules=("dout",),
            shape=_sum_shape,
            make=SumStep,
            params=(_AXIS,),
        ),
        Op(
            name="relu",
            inputs=("x",),
            doc="The book's Relu layer: max(0, x); blocks the gradient where x ≤ 0.",
            formula="max(0, x)",
            rules=("dout · (x > 0)",),
            shape=_same,
            make=lambda _: OneInput(Relu()),
            terms=lambda e, _p: {"mask = (x <= 0)": np.asarray(e["x"] <= 0)},
            variants=(
                Variant(
                    "no_mask",
                    "backward forgets the mask: dout flows back even where x ≤ 0, where the "
                    "output did not depend on x.",
                    lambda _: OneInput(ReluNoMask()),
                    ("dout",),
                ),
            ),
        ),
        Op(
            name="sigmoid",
            inputs=("x",),
            doc="The book's Sigmoid layer: 1 / (1 + exp(−x)), elementwise.",
            formula="1 / (1 + exp(−x))",
            rules=("dout · out · (1 − out)",),
            shape=_same,
            make=lambda _: OneInput(Sigmoid()),
            variants=(
                Variant(
                    "no_one_minus",
                    "backward forgets (1 − out): dx = dout · out, not dout · out · (1 − out).",
                    lambda _: OneInput(SigmoidNoOneMinus()),
                    ("dout · out",),
                ),
            ),
        ),
        Op(
            name="tanh",
            inputs=("x",),
            doc="Hyperbolic tangent, elementwise: (exp(x) − exp(−x)) / (exp(x) + exp(−x)).",
            formula="tanh(x)",
            rules=("dout · (1 − out²)",),
            shape=_same,
            make=TanhStep,
        ),
        Op(
            name="affine",
            inputs=("x", "W", "b"),
            doc="The book's Affine layer: x · W + b for a vector x or a batch of rows.",
            formula="x · W + b",
            rules=("dout · Wᵀ", "xᵀ · dout", "Σₙ dout"),
            shape=_affine_shape,
            make=AffineStep,
            work=_product_work,
            variants=(
                Variant(
                    "db_mean",
                    "db averages dout over the batch instead of summing it: b was added to "
                    "every row, so each row's gradient counts in full.",
                    lambda p: AffineStep(p, AffineMeanDb),
                    ("dout · Wᵀ", "xᵀ · dout", "meanₙ dout"),
                ),
            ),
        ),
        Op(
            name="softmax",
            inputs=("x",),
            doc="Softmax along the last axis (shifted by the maximum, never overflows).",
            formula="exp(x) / Σ exp(x)",
            rules=("out · (dout − Σ dout · out)",),
            shape=_softmax_shape,
            make=SoftmaxStep,
        ),
        Op(
            name="cross_entropy",
            inputs=("y", "t"),
            doc="Mean cross-entropy of probabilities y against labels t (one-hot or indices).",
            formula="−Σ t · log(y) / N",
            rules=("−dout · t / (N · y)", "none (labels)"),
            shape=_loss_shape,
            make=CrossEntropyStep,
            label_ports=_LABELS,
            terms=_cross_entropy_terms,
        ),
        Op(
            name="softmax_with_loss",
            inputs=("x", "t"),
            doc="The book's SoftmaxWithLoss layer: softmax, then mean cross-entropy against t.",
            formula="−Σ t · log(softmax(x)) / N",
            rules=("dout · (softmax(x) − t) / N", "none (labels)"),
            shape=_loss_shape,
            make=SoftmaxWithLossStep,
            label_ports=_LABELS,
            terms=_softmax_loss_terms,
            variants=(
                Variant(
                    "no_batch_divide",
                    "backward does not divide by the batch size N: dx = dout · (softmax(x) − t), "
                    "N times too large, though the loss is a mean over the batch.",
                    lambda p: SoftmaxWithLossStep(p, SoftmaxWithLossNoDivide),
                    ("dout · (softmax(x) − t)", "none (labels)"),
                ),
            ),
        ),
        # chapter 6
        Op(
            name="batchnorm",
            inputs=("x", "gamma", "beta"),
            doc="The book's BatchNormalization (training): each column of the batch x "
            "normalised by its mean and variance, then scaled by gamma and shifted by beta.",
            formula="gamma · (x − μ) / σ + beta",
            rules=(_BN_DOC, "Σₙ dout · x̂", "Σₙ dout"),
            shape=_bn_shape,
            make=BatchNormStep,
            terms=_bn_terms,
            variants=(
                Variant(
                    "no_mean_terms",
                    "backward treats the batch's mean and variance as constants: dx = gamma · "
                    "dout / σ, forgetting that every x moved μ and σ too.",
                    lambda p: BatchNormStep(p, BatchNormalizationNoMeanTerms),
                    ("gamma · dout / σ", "Σₙ dout · x̂", "Σₙ dout"),
                ),
            ),
        ),
        Op(
            name="dropout",
            inputs=("x",),
            doc="The book's Dropout (training): each unit kept or dropped by a mask drawn from "
            "the seed; the kept ones pass unchanged.",
            formula="x · mask",
            rules=("dout · mask",),
            shape=_dropout_shape,
            make=DropoutStep,
            params=(_RATIO, _SEED),
            terms=_dropout_terms,
            variants=(
                Variant(
                    "no_dropout_mask",
                    "backward forgets the mask: dout flows back to the dropped units too, "
                    "though they did not reach the output.",
                    lambda p: DropoutStep(p, DropoutNoMask),
                    ("dout",),
                ),
            ),
        ),
    )
}
"""Every op by name, in palette order."""

INPUT = OPS["input"]

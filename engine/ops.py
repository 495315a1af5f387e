"""The one table of graph ops: inputs, parameters, shape rule, forward, backward and docs.

Adding an op is one entry in ``OPS``: the evaluator (``engine/graph/``),
``GET /graphs/ops`` and the UI palette all read this table. Every op builds a
fresh *step* per evaluation, a small object in the book's style with
``forward(*inputs)`` and ``backward(dout)`` returning one gradient per input;
the fused ops (``add``, ``mul``, ``relu``, ``sigmoid``, ``affine``,
``softmax_with_loss``) are the engine's own layers from ``engine/layers.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.functions import softmax
from engine.layers import AddLayer, Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss, unbroadcast
from engine.op_types import (
    Array,
    Env,
    Op,
    OpError,
    Param,
    Rule,
    Shape,
    Variant,
    _touched,
)
from engine.variants import (
    AffineMeanDb,
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


def _fmt(shape: Shape) -> str:
    return str(tuple(shape))  # (), (3,), (2, 3): as Python and NumPy write shapes


def _same(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    return shapes[0]


def _broadcast(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise OpError(
            "shape_mismatch",
            f"x of shape {_fmt(shapes[0])} and y of shape {_fmt(shapes[1])} do not broadcast "
            "(NumPy rules: trailing dimensions must be equal or 1)",
        ) from None


def _need_ndim(name: str, shape: Shape, allowed: Sequence[int]) -> None:
    if len(shape) not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        raise OpError("shape_mismatch", f"{name} must be {want}, but has shape {_fmt(shape)}")


def _dot_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    x, w = shapes
    _need_ndim("x", x, (1, 2))
    _need_ndim("W", w, (1, 2))
    if x[-1] != w[0]:
        raise OpError(
            "shape_mismatch",
            f"x of shape {_fmt(x)} and W of shape {_fmt(w)} cannot be multiplied: "
            f"x has {x[-1]} columns but W has {w[0]} rows",
        )
    return x[:-1] + w[1:]


def _affine_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    x, w, b = shapes
    _need_ndim("W", w, (2,))
    if not x:
        raise OpError("shape_mismatch", "x must be a vector or a batch, but is a scalar")
    features = x[0] if len(x) == 1 else math.prod(x[1:])
    if features != w[0]:
        raise OpError(
            "shape_mismatch",
            f"x of shape {_fmt(x)} has {features} features but W of shape {_fmt(w)} expects {w[0]}",
        )
    out = (w[1],) if len(x) == 1 else (x[0], w[1])
    try:
        joined = tuple(np.broadcast_shapes(out, b))
    except ValueError:
        joined = ()
    if joined != out:
        raise OpError(
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
        raise OpError("shape_mismatch", f"axis {axis} is out of range for x of shape {_fmt(x)}")
    axis %= len(x)
    return x[:axis] + x[axis + 1 :]


def _softmax_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    if not shapes[0]:
        raise OpError("shape_mismatch", "x must have at least one dimension (the classes)")
    return shapes[0]


def _loss_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    y, t = shapes
    _need_ndim("the scores", y, (1, 2))
    index_shapes = [(), (1,)] if len(y) == 1 else [(y[0],)]
    if t != y and t not in index_shapes:
        wanted = " or ".join(_fmt(s) for s in [y, *index_shapes])
        raise OpError(
            "shape_mismatch",
            f"labels t of shape {_fmt(t)} do not fit scores of shape {_fmt(y)}: "
            f"give one-hot rows or class indices, shape {wanted}",
        )
    return ()


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


def _class_indices(t: Array, scores: Array) -> NDArray[np.intp]:
    """Class indices from one-hot rows (argmax) or index labels (rounded to whole numbers)."""
    classes = scores.shape[-1]
    if t.shape == scores.shape:
        return np.argmax(t.reshape(-1, classes), axis=1)
    # NOTE: rounding (not truncating) keeps a label of 2 at 2 when a numerical
    # gradient check nudges it to 1.9999, so the loss is locally constant in t.
    idx = np.rint(t.reshape(-1))
    bad = (idx < 0) | (idx >= classes)
    if bad.any():
        raise OpError(
            "bad_labels",
            f"class indices must be whole numbers in 0..{classes - 1}, got {float(idx[bad][0]):g}",
        )
    return idx.astype(np.intp)


# ---------------------------------------------------------------- steps


class InputStep:
    """A constant: its value is the node's ``value``."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.value: Array = params["value"]

    def forward(self, *xs: Array) -> Array:
        return self.value

    def backward(self, dout: Array) -> Sequence[Any]:
        return ()


class OneInput:
    """Adapts a book layer whose backward returns a single ``dx``."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer

    def forward(self, *xs: Array) -> Any:
        return self.layer.forward(*xs)

    def backward(self, dout: Array) -> Sequence[Any]:
        return (self.layer.backward(dout),)


class DotStep:
    """out = x · W (matrix product of 1-D or 2-D arrays, as ``np.dot``)."""

    def __init__(self, _: Mapping[str, Any]) -> None:
        self.x: Array | None = None
        self.W: Array | None = None

    def forward(self, *xs: Array) -> Array:
        self.x, self.W = xs
        return np.asarray(np.dot(self.x, self.W))

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.x is not None and self.W is not None, "forward first"
        # NOTE: a 1-D x is a row (1, n) and a 1-D W a column (n, 1); in that 2-D
        # view the book's rules dx = dout · Wᵀ and dW = xᵀ · dout hold as written.
        x2 = self.x.reshape(1, -1) if self.x.ndim == 1 else self.x
        w2 = self.W.reshape(-1, 1) if self.W.ndim == 1 else self.W
        d2 = np.asarray(dout).reshape(x2.shape[0], w2.shape[1])
        return (d2 @ w2.T).reshape(self.x.shape), (x2.T @ d2).reshape(self.W.shape)


class AffineStep:
    """The book's Affine layer with W and b as inputs, so their gradients show on edges."""

    def __init__(self, _: Mapping[str, Any], layer: type[Affine] = Affine) -> None:
        self.cls = layer
        self.layer: Affine | None = None

    def forward(self, *xs: Array) -> Array:
        x, W, b = xs
        self.layer = self.cls(W, b)
        return self.layer.forward(x)

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.layer is not None, "forward first"
        dx = self.layer.backward(dout)
        return dx, self.layer.dW, self.layer.db


class ElementwiseStep:
    """out = f(x) elementwise; backward dout · f'(x), with f' given from out and x.

    For a new elementwise op the table entry names both, e.g. ``np.tanh`` and
    ``lambda out, x: 1 - out**2``; a test checks f' against central differences.
    """

    def __init__(self, f: Callable[[Array], Array], df: Callable[[Array, Array], Array]) -> None:
        self.f, self.df = f, df
        self.x: Array | None = None
        self.out: Array | None = None

    def forward(self, *xs: Array) -> Array:
        self.x = xs[0]
        self.out = np.asarray(self.f(self.x))
        return self.out

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.x is not None and self.out is not None, "forward first"
        return (dout * self.df(self.out, self.x),)


def _tanh_grad(out: Array, _x: Array) -> Array:
    return 1 - out**2


class TanhStep(ElementwiseStep):
    """out = tanh(x); backward dout · (1 − out²)."""

    def __init__(self, _: Mapping[str, Any]) -> None:
        super().__init__(np.tanh, _tanh_grad)


class ExpStep:
    """out = exp(x); backward dout · out."""

    def __init__(self, _: Mapping[str, Any]) -> None:
        self.out: Array | None = None

    def forward(self, *xs: Array) -> Array:
        self.out = np.exp(xs[0])
        return self.out

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.out is not None, "forward first"
        return (dout * self.out,)


class LogStep:
    """out = log(x) (natural); backward dout / x."""

    def __init__(self, _: Mapping[str, Any]) -> None:
        self.x: Array | None = None

    def forward(self, *xs: Array) -> Array:
        self.x = xs[0]
        return np.log(self.x)

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.x is not None, "forward first"
        return (dout / self.x,)


class ReciprocalStep:
    """The chapter's "/" node: out = 1 / x; backward −dout · out²."""

    def __init__(self, _: Mapping[str, Any]) -> None:
        self.out: Array | None = None

    def forward(self, *xs: Array) -> Array:
        self.out = 1.0 / xs[0]
        return self.out

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.out is not None, "forward first"
        return (-dout * self.out * self.out,)


class SumStep:
    """out = Σ x over ``axis`` (all elements when axis is null)."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.axis: int | None = params.get("axis")
        self.x_shape: Shape = ()

    def forward(self, *xs: Array) -> Array:
        self.x_shape = xs[0].shape
        return np.asarray(np.sum(xs[0], axis=self.axis))

    def backward(self, dout: Array) -> Sequence[Any]:
        # NOTE: every element of x moved the sum by the same amount, so each gets
        # dout (along the summed axis, the dout of its own slice).
        d = np.asarray(dout)
        if self.axis is not None:
            d = np.expand_dims(d, self.axis)
        return (np.broadcast_to(d, self.x_shape).copy(),)


class SoftmaxStep:
    """out = softmax(x) along the last axis."""

    def __init__(self, _: Mapping[str, Any]) -> None:
        self.out: Array | None = None

    def forward(self, *xs: Array) -> Array:
        self.out = softmax(xs[0])
        return self.out

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.out is not None, "forward first"
        # NOTE: the Jacobian is diag(y) − y yᵀ, so J · dout = y · (dout − Σ dout · y).
        y = self.out
        return (y * (dout - np.sum(dout * y, axis=-1, keepdims=True)),)


class CrossEntropyStep:
    """Mean cross-entropy −Σ t · log(y) / N of probabilities y against labels t."""

    def __init__(self, _: Mapping[str, Any]) -> None:
        self.y: Array | None = None
        self.t: Array | None = None
        self.idx: NDArray[np.intp] | None = None

    def forward(self, *xs: Array) -> Array:
        self.y, self.t = xs
        self.idx = _class_indices(self.t, self.y)
        rows = self.y.reshape(-1, self.y.shape[-1])
        # NOTE: no `+ 1e-7` as in the book: a probability of 0 for the true
        # class is reported as a non-finite loss instead of hidden.
        return np.asarray(-np.mean(np.log(rows[np.arange(rows.shape[0]), self.idx])))

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.y is not None and self.t is not None and self.idx is not None
        rows = self.y.reshape(-1, self.y.shape[-1])
        n = rows.shape[0]
        dy = np.zeros_like(rows)
        dy[np.arange(n), self.idx] = -1.0 / (n * rows[np.arange(n), self.idx])
        # NOTE: t holds class labels, constants of the loss; its gradient is 0.
        return dy.reshape(self.y.shape) * dout, np.zeros_like(self.t)


class SoftmaxWithLossStep:
    """The book's SoftmaxWithLoss layer: softmax then mean cross-entropy; dx = (y − t) / N."""

    def __init__(
        self, _: Mapping[str, Any], layer: type[SoftmaxWithLoss] = SoftmaxWithLoss
    ) -> None:
        self.cls = layer
        self.layer = layer()
        self.t: Array | None = None

    def forward(self, *xs: Array) -> Array:
        x, self.t = xs
        idx = _class_indices(self.t, x)
        labels = idx.reshape(()) if x.ndim == 1 else idx
        return np.asarray(self.layer.forward(x, labels))

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.t is not None, "forward first"
        # NOTE: t holds class labels, constants of the loss; its gradient is 0.
        return self.layer.backward(dout), np.zeros_like(self.t)


# ---------------------------------------------------------------- local rules
# The backward rules as the chapter writes them, one function per input, reading the
# symbols of Rule.text from ``e``; ``p`` holds the node's params.


def _to(shape_of: str, grad: Callable[[Env], Array]) -> Callable[[Env, Mapping[str, Any]], Array]:
    """A rule whose result is summed back to input ``shape_of``'s shape (NumPy broadcasting)."""
    return lambda e, _p: np.asarray(unbroadcast(np.asarray(grad(e)), e[shape_of].shape))


def _rows(e: Env) -> tuple[Array, Array, Array]:
    """x, W and dout as 2-D matrices: a 1-D x is a row, a 1-D W a column, x · W = out."""
    x, w = e["x"], e["W"]
    x2 = x.reshape(1, -1) if x.ndim == 1 else x.reshape(-1, w.shape[0])
    w2 = w.reshape(-1, 1) if w.ndim == 1 else w
    return x2, w2, np.asarray(e["dout"]).reshape(x2.shape[0], w2.shape[1])


def _dot_dx(e: Env, _p: Mapping[str, Any]) -> Array:
    _, w2, d2 = _rows(e)
    return (d2 @ w2.T).reshape(e["x"].shape)


def _dot_dw(e: Env, _p: Mapping[str, Any]) -> Array:
    x2, _, d2 = _rows(e)
    return (x2.T @ d2).reshape(e["W"].shape)


def _affine_db(e: Env, _p: Mapping[str, Any]) -> Array:
    _, _, d2 = _rows(e)
    return np.asarray(unbroadcast(d2.sum(axis=0), e["b"].shape))


def _affine_db_mean(e: Env, _p: Mapping[str, Any]) -> Array:
    _, _, d2 = _rows(e)
    return np.asarray(unbroadcast(d2.mean(axis=0), e["b"].shape))


def _sum_dx(e: Env, p: Mapping[str, Any]) -> Array:
    d = e["dout"] if p.get("axis") is None else np.expand_dims(e["dout"], p["axis"])
    return np.broadcast_to(d, e["x"].shape).copy()


def _one_hot(e: Env, scores: str) -> tuple[Array, int]:
    """The labels t as one-hot rows of the scores' shape, and the number of rows N."""
    y = e[scores]
    idx = _class_indices(e["t"], y)
    return np.eye(y.shape[-1])[idx].reshape(y.shape), idx.size


def _cross_entropy_dy(e: Env, _p: Mapping[str, Any]) -> Array:
    t, n = _one_hot(e, "y")
    return -e["dout"] * t / (n * e["y"])


def _softmax_loss_dx(e: Env, _p: Mapping[str, Any]) -> Array:
    t, n = _one_hot(e, "x")
    return e["dout"] * (softmax(e["x"]) - t) / n


def _softmax_loss_dx_undivided(e: Env, _p: Mapping[str, Any]) -> Array:
    t, _ = _one_hot(e, "x")
    return e["dout"] * (softmax(e["x"]) - t)


def _softmax_loss_terms(e: Env, _p: Mapping[str, Any]) -> dict[str, Array]:
    t, n = _one_hot(e, "x")
    y = softmax(e["x"])
    return {"y = softmax(x)": y, "t": t, "N": np.asarray(float(n)), "(y − t) / N": (y - t) / n}


def _cross_entropy_terms(e: Env, _p: Mapping[str, Any]) -> dict[str, Array]:
    t, n = _one_hot(e, "y")
    return {"t": t, "N": np.asarray(float(n))}


def _labels(e: Env, _p: Mapping[str, Any]) -> Array:
    return np.zeros_like(e["t"])


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
            rules=(
                Rule("dout", _to("x", lambda e: e["dout"])),
                Rule("dout", _to("y", lambda e: e["dout"])),
            ),
            shape=_broadcast,
            make=lambda _: AddLayer(),
        ),
        Op(
            name="mul",
            inputs=("x", "y"),
            doc="The book's MulLayer: x · y elementwise, broadcasting as NumPy does.",
            formula="x · y",
            rules=(
                Rule("dout · y", _to("x", lambda e: e["dout"] * e["y"])),
                Rule("dout · x", _to("y", lambda e: e["dout"] * e["x"])),
            ),
            shape=_broadcast,
            make=lambda _: MulLayer(),
            variants=(
                Variant(
                    "no_swap",
                    "backward forgets to swap the inputs: dx = dout · x and dy = dout · y, "
                    "so each input gets its own value instead of the other one's.",
                    lambda _: MulLayerNoSwap(),
                    (
                        Rule("dout · x", _to("x", lambda e: e["dout"] * e["x"])),
                        Rule("dout · y", _to("y", lambda e: e["dout"] * e["y"])),
                    ),
                ),
            ),
        ),
        Op(
            name="dot",
            inputs=("x", "W"),
            doc="Matrix product of 1-D or 2-D arrays, as np.dot.",
            formula="x · W",
            rules=(Rule("dout · Wᵀ", _dot_dx), Rule("xᵀ · dout", _dot_dw)),
            shape=_dot_shape,
            make=DotStep,
            work=_product_work,
        ),
        Op(
            name="exp",
            inputs=("x",),
            doc="Exponential, elementwise.",
            formula="exp(x)",
            rules=(Rule("dout · out", lambda e, _p: e["dout"] * e["out"]),),
            shape=_same,
            make=ExpStep,
        ),
        Op(
            name="log",
            inputs=("x",),
            doc="Natural logarithm, elementwise (x must be positive).",
            formula="log(x)",
            rules=(Rule("dout / x", lambda e, _p: e["dout"] / e["x"]),),
            shape=_same,
            make=LogStep,
        ),
        Op(
            name="reciprocal",
            inputs=("x",),
            doc='The chapter\'s "/" node: 1 / x, elementwise.',
            formula="1 / x",
            rules=(Rule("−dout · out²", lambda e, _p: -e["dout"] * e["out"] ** 2),),
            shape=_same,
            make=ReciprocalStep,
        ),
        Op(
            name="sum",
            inputs=("x",),
            doc="Sum of the elements of x, over one axis or all of them.",
            formula="Σ x",
            rules=(Rule("dout", _sum_dx),),
            shape=_sum_shape,
            make=SumStep,
            params=(_AXIS,),
        ),
        Op(
            name="relu",
            inputs=("x",),
            doc="The book's Relu layer: max(0, x); blocks the gradient where x ≤ 0.",
            formula="max(0, x)",
            rules=(Rule("dout · (x > 0)", lambda e, _p: e["dout"] * (e["x"] > 0)),),
            shape=_same,
            make=lambda _: OneInput(Relu()),
            terms=lambda e, _p: {"mask = (x <= 0)": np.asarray(e["x"] <= 0)},
            variants=(
                Variant(
                    "no_mask",
                    "backward forgets the mask: dout flows back even where x ≤ 0, where the "
                    "output did not depend on x.",
                    lambda _: OneInput(ReluNoMask()),
                    (Rule("dout", lambda e, _p: e["dout"] + 0.0 * e["x"]),),
                ),
            ),
        ),
        Op(
            name="sigmoid",
            inputs=("x",),
            doc="The book's Sigmoid layer: 1 / (1 + exp(−x)), elementwise.",
            formula="1 / (1 + exp(−x))",
            rules=(
                Rule("dout · out · (1 − out)", lambda e, _p: e["dout"] * e["out"] * (1 - e["out"])),
            ),
            shape=_same,
            make=lambda _: OneInput(Sigmoid()),
            variants=(
                Variant(
                    "no_one_minus",
                    "backward forgets (1 − out): dx = dout · out, not dout · out · (1 − out).",
                    lambda _: OneInput(SigmoidNoOneMinus()),
                    (Rule("dout · out", lambda e, _p: e["dout"] * e["out"]),),
                ),
            ),
        ),
        Op(
            name="tanh",
            inputs=("x",),
            doc="Hyperbolic tangent, elementwise: (exp(x) − exp(−x)) / (exp(x) + exp(−x)).",
            formula="tanh(x)",
            rules=(Rule("dout · (1 − out²)", lambda e, _p: e["dout"] * (1 - e["out"] ** 2)),),
            shape=_same,
            make=TanhStep,
        ),
        Op(
            name="affine",
            inputs=("x", "W", "b"),
            doc="The book's Affine layer: x · W + b for a vector x or a batch of rows.",
            formula="x · W + b",
            rules=(
                Rule("dout · Wᵀ", _dot_dx),
                Rule("xᵀ · dout", _dot_dw),
                Rule("Σₙ dout", _affine_db),
            ),
            shape=_affine_shape,
            make=AffineStep,
            work=_product_work,
            variants=(
                Variant(
                    "db_mean",
                    "db averages dout over the batch instead of summing it: b was added to "
                    "every row, so each row's gradient counts in full.",
                    lambda p: AffineStep(p, AffineMeanDb),
                    (
                        Rule("dout · Wᵀ", _dot_dx),
                        Rule("xᵀ · dout", _dot_dw),
                        Rule("meanₙ dout", _affine_db_mean),
                    ),
                ),
            ),
        ),
        Op(
            name="softmax",
            inputs=("x",),
            doc="Softmax along the last axis (shifted by the maximum, never overflows).",
            formula="exp(x) / Σ exp(x)",
            rules=(
                Rule(
                    "out · (dout − Σ dout · out)",
                    lambda e, _p: (
                        e["out"]
                        * (e["dout"] - np.sum(e["dout"] * e["out"], axis=-1, keepdims=True))
                    ),
                ),
            ),
            shape=_softmax_shape,
            make=SoftmaxStep,
        ),
        Op(
            name="cross_entropy",
            inputs=("y", "t"),
            doc="Mean cross-entropy of probabilities y against labels t (one-hot or indices).",
            formula="−Σ t · log(y) / N",
            rules=(
                Rule("−dout · t / (N · y)", _cross_entropy_dy),
                Rule("none (labels)", _labels),
            ),
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
            rules=(
                Rule("dout · (softmax(x) − t) / N", _softmax_loss_dx),
                Rule("none (labels)", _labels),
            ),
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
                    (
                        Rule("dout · (softmax(x) − t)", _softmax_loss_dx_undivided),
                        Rule("none (labels)", _labels),
                    ),
                ),
            ),
        ),
    )
}
"""Every op by name, in palette order."""

# NOTE: chapter 6's ops (batchnorm, dropout) are rows of this same table, kept in their
# own module; they come last in the palette.
from engine.ops_ch6 import CH6_OPS  # noqa: E402

OPS.update((op.name, op) for op in CH6_OPS)

INPUT = OPS["input"]


def check_params(op: Op, params: Mapping[str, Any]) -> dict[str, Any]:
    """The node's parameters with defaults filled in; raises OpError when one is wrong."""
    known = {p.name: p for p in op.params if p.where == "params"}
    unknown = sorted(set(params) - set(known))
    if unknown:
        names = ", ".join(known) or "none"
        raise OpError(
            "unknown_param",
            f"has no parameter {unknown[0]!r} (its parameters: {names})",
            {"param": unknown[0]},
        )
    out: dict[str, Any] = {}
    for name, spec in known.items():
        value = params.get(name, spec.default)
        if spec.type == "int|null" and not (
            value is None or (isinstance(value, int) and not isinstance(value, bool))
        ):
            raise OpError(
                "invalid_param",
                f"parameter {name!r} must be a whole number or null, not {value!r}",
                {"param": name},
            )
        if spec.type in ("number", "int"):
            _check_number(name, spec, value)
        out[name] = value
    return out


def _check_number(name: str, spec: Param, value: Any) -> None:
    """Raise OpError unless ``value`` is a finite number (whole for "int") within the limits."""
    whole = spec.type == "int"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and whole:
        ok = float(value).is_integer()
    low = -math.inf if spec.low is None else spec.low
    high = math.inf if spec.high is None else spec.high
    if not ok or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        span = (
            f" from {spec.low:g} to {spec.high:g}"
            if spec.low is not None and spec.high is not None
            else ""
        )
        raise OpError(
            "invalid_param",
            f"parameter {name!r} must be {kind}{span}, not {value!r}",
            {"param": name},
        )


def format_shape(shape: Shape) -> str:
    """A shape as Python writes it: (), (3,), (2, 3)."""
    return _fmt(shape)

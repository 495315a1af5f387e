"""The steps graph nodes run: small objects in the book's style, one per node per evaluation.

A step has ``forward(*inputs)``, returning the node's value, and ``backward(dout)``,
returning dL/d(each input), one per input and each of its input's shape. The fused
ops (``add``, ``mul``, ``relu``, ``sigmoid``, ``affine``, ``softmax_with_loss``,
``batchnorm``, ``dropout``) run the engine's own layers (``engine/layers.py``,
``engine/layers_ch6.py``, their broken variants in ``engine/variants.py``); the
others are written here. The export and the code panel print these classes' source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.functions import softmax
from engine.graph.errors import GraphError
from engine.graph.op_types import Array, Shape
from engine.layers import Affine, SoftmaxWithLoss, unbroadcast
from engine.layers_ch6 import BatchNormalization, Dropout


def class_indices(t: Array, scores: Array) -> NDArray[np.intp]:
    """Class indices from one-hot rows (argmax) or index labels (rounded to whole numbers)."""
    classes = scores.shape[-1]
    if t.shape == scores.shape:
        return np.argmax(t.reshape(-1, classes), axis=1)
    # NOTE: rounding (not truncating) keeps a label of 2 at 2 when a numerical
    # gradient check nudges it to 1.9999, so the loss is locally constant in t.
    idx = np.rint(t.reshape(-1))
    bad = (idx < 0) | (idx >= classes)
    if bad.any():
        raise GraphError(
            "bad_labels",
            f"class indices must be whole numbers in 0..{classes - 1}, got {float(idx[bad][0]):g}",
        )
    return idx.astype(np.intp)


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

    A new elementwise op subclasses it with both, as ``TanhStep`` does with ``np.tanh``
    and ``1 − out²``; the op tests check f' against central differences.
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
        self.idx = class_indices(self.t, self.y)
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
        idx = class_indices(self.t, x)
        labels = idx.reshape(()) if x.ndim == 1 else idx
        return np.asarray(self.layer.forward(x, labels))

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.t is not None, "forward first"
        # NOTE: t holds class labels, constants of the loss; its gradient is 0.
        return self.layer.backward(dout), np.zeros_like(self.t)


class BatchNormStep:
    """The book's BatchNormalization layer in training mode, with gamma and beta as inputs."""

    def __init__(
        self, _: Mapping[str, Any], layer: type[BatchNormalization] = BatchNormalization
    ) -> None:
        self.cls = layer
        self.layer: BatchNormalization | None = None
        self.shapes: tuple[Any, Any] = ((), ())

    def forward(self, *xs: Array) -> Array:
        x, gamma, beta = xs
        self.shapes = (np.shape(gamma), np.shape(beta))
        self.layer = self.cls(gamma, beta)
        return self.layer.forward(x, True)

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.layer is not None, "forward first"
        dx = self.layer.backward(dout)
        # NOTE: gamma and beta may be a number or a row (1, D): their gradients are
        # summed back to their own shapes, as for any broadcast input.
        dgamma = unbroadcast(self.layer.dgamma, self.shapes[0])
        dbeta = unbroadcast(self.layer.dbeta, self.shapes[1])
        return dx, dgamma, dbeta


class DropoutStep:
    """The book's Dropout layer in training mode, its mask drawn from the node's seed."""

    def __init__(self, params: Mapping[str, Any], layer: type[Dropout] = Dropout) -> None:
        self.cls = layer
        self.ratio = params["ratio"]
        self.seed = params["seed"]
        self.layer: Dropout | None = None

    def forward(self, *xs: Array) -> Array:
        self.layer = self.cls(self.ratio, rng=self.seed)
        return self.layer.forward(xs[0], True)

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.layer is not None, "forward first"
        return (self.layer.backward(dout),)

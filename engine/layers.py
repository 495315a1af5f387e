"""The chapter's layers: each has ``forward`` and ``backward(dout)``.

Names and shapes follow *Deep Learning from Scratch*, chapter 5. Beyond the
book: an input that NumPy broadcast in ``forward`` gets its gradient summed back
to its own shape, labels may be one-hot or class indices, and ``backward``
never writes into the ``dout`` it was given.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.functions import labels_to_indices, sigmoid


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    if np.shape(grad) == shape:
        return grad
    g = np.asarray(grad)
    if g.ndim < len(shape):  # e.g. dout = 1 for an array output
        g = g.reshape((1,) * (len(shape) - g.ndim) + g.shape)
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    keep = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if keep:
        g = g.sum(axis=keep, keepdims=True)
    if g.shape != shape:
        g = np.broadcast_to(g, shape).copy()
    return g


class MulLayer:
    """out = x * y; backward returns (dout * y, dout * x)."""

    def __init__(self) -> None:
        self.x: Any = None
        self.y: Any = None

    def forward(self, x: Any, y: Any) -> Any:
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        dx = unbroadcast(dout * self.y, np.shape(self.x))
        dy = unbroadcast(dout * self.x, np.shape(self.y))
        return dx, dy


class AddLayer:
    """out = x + y; backward passes dout to both inputs unchanged."""

    def __init__(self) -> None:
        self.x_shape: tuple[int, ...] | None = None
        self.y_shape: tuple[int, ...] | None = None

    def forward(self, x: Any, y: Any) -> Any:
        self.x_shape = np.shape(x)
        self.y_shape = np.shape(y)
        return x + y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        assert self.x_shape is not None and self.y_shape is not None, "forward first"
        # NOTE: `dout * 1` hands each input its own object, so a caller that
        # mutates dx cannot change dy or the caller's dout.
        dx = unbroadcast(dout * 1, self.x_shape)
        dy = unbroadcast(dout * 1, self.y_shape)
        return dx, dy


class Relu:
    """out = max(0, x); the gradient is blocked where x <= 0 (``mask``)."""

    def __init__(self) -> None:
        self.mask: NDArray[np.bool_] | None = None

    def forward(self, x: Any) -> Any:
        x = np.asarray(x)
        self.mask = x <= 0
        return np.maximum(x, 0)

    def backward(self, dout: Any) -> Any:
        assert self.mask is not None, "forward first"
        # NOTE: the book writes `dout[self.mask] = 0`, which zeroes the
        # caller's array; this returns a new one.
        return np.where(self.mask, 0, dout)


class Sigmoid:
    """out = 1 / (1 + exp(-x)); backward is dout * out * (1 - out)."""

    def __init__(self) -> None:
        self.out: Any = None

    def forward(self, x: Any) -> Any:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: Any) -> Any:
        return dout * (1.0 - self.out) * self.out


class Affine:
    """out = x · W + b for a batch x of shape (N, ...) or a single vector x."""

    def __init__(self, W: NDArray[np.floating], b: NDArray[np.floating]) -> None:
        self.W = W
        self.b = b
        self.x: NDArray[np.floating] | None = None
        self.original_x_shape: tuple[int, ...] | None = None
        self.dW: NDArray[np.floating] | None = None
        self.db: NDArray[np.floating] | None = None

    def forward(self, x: Any) -> NDArray[np.floating]:
        x = np.asarray(x)
        self.original_x_shape = x.shape
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        self.x = x
        out = x @ self.W
        out += self.b
        return out

    def backward(self, dout: Any, *, need_dx: bool = True) -> NDArray[np.floating] | None:
        """Set ``dW`` and ``db``; return dx (``None`` with ``need_dx=False``, saving a product)."""
        assert self.x is not None and self.original_x_shape is not None, "forward first"
        dout = np.asarray(dout)
        if self.x.ndim == 1:
            self.dW = np.outer(self.x, dout)
        else:
            self.dW = self.x.T @ dout
        # NOTE: b was broadcast over the batch in forward, so its gradient is
        # the sum over the batch (the chapter's dB = [5, 7, 9] example).
        self.db = unbroadcast(dout, self.b.shape)
        if not need_dx:
            return None
        return (dout @ self.W.T).reshape(self.original_x_shape)


class SoftmaxWithLoss:
    """Softmax followed by the cross-entropy loss; backward gives (y - t) / N."""

    def __init__(self) -> None:
        self.loss: float | None = None
        self.y: NDArray[np.floating] | None = None
        self.t: NDArray[Any] | None = None
        self.idx: NDArray[np.intp] | None = None  # class indices, when t is not one-hot

    def forward(self, x: Any, t: Any) -> float:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        self.t = np.asarray(t)
        # NOTE: log-softmax, not log(softmax + 1e-7): shifting by the row
        # maximum keeps exp() finite and the loss exact for any logits.
        shifted = x - x.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=-1, keepdims=True)
        self.y = e / total
        rows = shifted.reshape(-1, x.shape[-1])
        n = rows.shape[0]
        if self.t.shape == x.shape:  # one-hot (or any probability) rows: the book's -sum t log y
            self.idx = None
            logp = rows - np.log(total).reshape(-1, 1)
            self.loss = float(-(self.t.reshape(rows.shape) * logp).sum()) / n
        else:
            self.idx = labels_to_indices(self.t, x.shape[-1], n)
            picked = rows[np.arange(n), self.idx]
            # mean over rows of log(sum exp) - shifted[true class]
            self.loss = float(np.log(total).sum() - picked.sum()) / n
        return self.loss

    def backward(self, dout: Any = 1) -> NDArray[np.floating]:
        assert self.y is not None and self.t is not None, "forward first"
        y = self.y
        batch_size = y.size // y.shape[-1]  # rows, as forward averages over
        if self.idx is None:
            dx = y - self.t.astype(y.dtype, copy=False)
        else:
            dx = y.copy()
            flat = dx.reshape(-1, dx.shape[-1])
            flat[np.arange(flat.shape[0]), self.idx] -= 1
        return dx * (dout / batch_size)

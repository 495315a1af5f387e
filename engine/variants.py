"""Broken layers: the book's layers with the backward bugs learners really write.

Each class keeps its layer's forward and plants one bug in its backward, so a
gradient check can catch it. The op table (``engine/graph/ops.py``) offers them as the
``variants`` of its ops, each with a one-line explanation of the bug.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.layers import Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss, unbroadcast
from engine.layers_ch6 import BatchNormalization, Dropout


class MulLayerNoSwap(MulLayer):
    """Mul whose backward forgets to swap the inputs: dx = dout * x, dy = dout * y."""

    def backward(self, dout: Any) -> tuple[Any, Any]:
        dx = unbroadcast(dout * self.x, np.shape(self.x))
        dy = unbroadcast(dout * self.y, np.shape(self.y))
        return dx, dy


class ReluNoMask(Relu):
    """Relu whose backward forgets the mask: dx = dout everywhere."""

    def backward(self, dout: Any) -> Any:
        return np.array(dout, dtype=np.float64)


class SigmoidNoOneMinus(Sigmoid):
    """Sigmoid whose backward forgets (1 - y): dx = dout * y."""

    def backward(self, dout: Any) -> Any:
        return dout * self.out


class AffineMeanDb(Affine):
    """Affine whose db averages dout over the batch instead of summing it."""

    def backward(self, dout: Any, *, need_dx: bool = True) -> NDArray[np.floating] | None:
        dx = super().backward(dout, need_dx=need_dx)
        d = np.asarray(dout)
        rows = d.reshape(-1, d.shape[-1]) if d.ndim > 1 else d.reshape(1, -1)
        self.db = np.asarray(unbroadcast(rows.mean(axis=0), np.shape(self.b)))
        return dx


class SoftmaxWithLossNoDivide(SoftmaxWithLoss):
    """Softmax-with-Loss whose backward does not divide by the batch size: dx = y - t."""

    def backward(self, dout: Any = 1) -> NDArray[np.floating]:
        assert self.y is not None, "forward first"
        rows = self.y.size // self.y.shape[-1]
        return super().backward(dout) * rows


class BatchNormalizationNoMeanTerms(BatchNormalization):
    """BatchNormalization whose backward forgets that the batch's mean and variance depend
    on x: dx = gamma * dout / std, as if they were constants."""

    def _backward(self, dout: Any) -> Any:
        assert self.xn is not None and self.std is not None, "a training-mode forward first"
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        return self.gamma * dout / self.std


class DropoutNoMask(Dropout):
    """Dropout whose backward forgets the mask: dx = dout, even for the units it dropped."""

    def backward(self, dout: Any) -> Any:
        return dout * 1.0

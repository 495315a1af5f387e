"""Chapter 6's layers: BatchNormalization and Dropout as the book writes them, plus Tanh.

Names, arguments and formulas follow *Deep Learning from Scratch*'s
``common/layers.py``. Deviations are marked ``# NOTE:``: ``backward`` never writes
into the ``dout`` it was given, Dropout's mask comes from a seedable generator
(or a fixed mask, for gradient checks), and the running statistics take the
input's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]


class BatchNormalization:
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, with the batch's statistics."""

    def __init__(
        self,
        gamma: Array,
        beta: Array,
        momentum: float = 0.9,
        running_mean: Array | None = None,
        running_var: Array | None = None,
    ) -> None:
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape: tuple[int, ...] | None = None
        self.running_mean = running_mean
        self.running_var = running_var
        self.batch_size: int | None = None
        self.xc: Array | None = None
        self.xn: Array | None = None
        self.std: Array | None = None
        self.dgamma: Array | None = None
        self.dbeta: Array | None = None

    def forward(self, x: Any, train_flg: bool = True) -> Array:
        """Normalise over the batch (train_flg) or with the running statistics."""
        x = np.asarray(x)
        self.input_shape = x.shape
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        out = self._forward(x, train_flg)
        return out.reshape(*self.input_shape)

    def _forward(self, x: Array, train_flg: bool) -> Array:
        if self.running_mean is None or self.running_var is None:
            # NOTE: the book's np.zeros(D) is float64; these take x's dtype.
            self.running_mean = np.zeros(x.shape[1], dtype=x.dtype)
            self.running_var = np.zeros(x.shape[1], dtype=x.dtype)
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            # NOTE: the book's epsilon is written 10e-7, which is 1e-6.
            std = np.sqrt(var + 10e-7)
            xn = xc / std
            self.batch_size = x.shape[0]
            self.xc = xc
            self.xn = xn
            self.std = std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / np.sqrt(self.running_var + 10e-7)
        return self.gamma * xn + self.beta

    def backward(self, dout: Any) -> Array:
        """Set ``dgamma`` and ``dbeta``; return dx (of a training-mode forward)."""
        assert self.input_shape is not None, "forward first"
        dout = np.asarray(dout)
        if dout.ndim != 2:
            dout = dout.reshape(dout.shape[0], -1)
        dx = self._backward(dout)
        return dx.reshape(*self.input_shape)

    def _backward(self, dout: Array) -> Array:
        assert self.xn is not None and self.xc is not None and self.std is not None
        assert self.batch_size is not None, "a training-mode forward first"
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size
        self.dgamma = dgamma
        self.dbeta = dbeta
        return dx


class Dropout:
    """Training: keep each unit with probability 1 - ratio; testing: scale by 1 - ratio."""

    def __init__(
        self,
        dropout_ratio: float = 0.5,
        *,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        self.dropout_ratio = dropout_ratio
        # NOTE: the book draws from np.random.rand; here a generator of our own
        # (seedable), so two runs with one seed drop the same units.
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.mask: NDArray[np.bool_] | None = None
        #: A mask to use instead of drawing one (gradient checks need the same mask every call).
        self.fixed_mask: NDArray[np.bool_] | None = None

    def forward(self, x: Any, train_flg: bool = True) -> Array:
        """x * mask while training; x * (1 - ratio) at test time, as the book."""
        x = np.asarray(x)
        if train_flg:
            if self.fixed_mask is not None:
                self.mask = np.broadcast_to(self.fixed_mask, x.shape)
            else:
                self.mask = self.rng.random(x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout: Any) -> Array:
        """dout where the unit was kept, 0 where it was dropped."""
        assert self.mask is not None, "a training-mode forward first"
        return dout * self.mask


class Tanh:
    """out = tanh(x); backward is dout * (1 - out**2) (not in the book's layers)."""

    def __init__(self) -> None:
        self.out: Array | None = None

    def forward(self, x: Any) -> Array:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: Any) -> Array:
        assert self.out is not None, "forward first"
        return dout * (1.0 - self.out * self.out)

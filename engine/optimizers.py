"""The optimizers of the book's chapter 6, updating ``params`` in place.

``OPTIMIZERS`` at the bottom is the one list of them: the API's choices, the CLI's
``--optimizer`` and the page's menu are all read from it. Adding an optimizer is a class
with a ``title`` here, its entry in the table, and its case in tests/engine/test_optimizers.py.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

Params = dict[str, NDArray[np.floating]]


class Optimizer(Protocol):
    """What the trainer needs of an optimizer: made from a learning rate, updates in place."""

    title: ClassVar[str]
    lr: float

    def __init__(self, lr: float) -> None: ...

    def update(self, params: Params, grads: Params) -> None:
        """Change every array of ``params`` in place, one step against ``grads``."""
        ...


class SGD:
    """Stochastic gradient descent: W -= lr * dW."""

    title: ClassVar[str] = "SGD"

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Params, grads: Params) -> None:
        for key, p in params.items():
            p -= self.lr * grads[key]


class Momentum:
    """v = momentum * v - lr * dW; W += v."""

    title: ClassVar[str] = "Momentum"

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: Params | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = {k: np.zeros_like(p) for k, p in params.items()}
        for key, p in params.items():
            v = self.v[key]
            v *= self.momentum
            v -= self.lr * grads[key]
            p += v


class Nesterov:
    """Nesterov's accelerated gradient, as the book: v = m v - lr dW; W += m² v - (1+m) lr dW."""

    title: ClassVar[str] = "Nesterov"

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: Params | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = {k: np.zeros_like(p) for k, p in params.items()}
        m = self.momentum
        for key, p in params.items():
            g = grads[key]
            v = self.v[key]
            v *= m
            v -= self.lr * g
            p += m * m * v
            p -= (1 + m) * self.lr * g


class AdaGrad:
    """h += dW**2; W -= lr * dW / (sqrt(h) + 1e-7)."""

    title: ClassVar[str] = "AdaGrad"

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: Params | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.h is None:
            self.h = {k: np.zeros_like(p) for k, p in params.items()}
        for key, p in params.items():
            g = grads[key]
            self.h[key] += g * g
            p -= self.lr * g / (np.sqrt(self.h[key]) + 1e-7)


class Adam:
    """Adam (Kingma and Ba, 2015) with the book's bias correction folded into the step size."""

    title: ClassVar[str] = "Adam"

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: Params | None = None
        self.v: Params | None = None

    def update(self, params: Params, grads: Params) -> None:
        if self.m is None or self.v is None:
            self.m = {k: np.zeros_like(p) for k, p in params.items()}
            self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key, p in params.items():
            g = grads[key]
            self.m[key] += (1 - self.beta1) * (g - self.m[key])
            self.v[key] += (1 - self.beta2) * (g * g - self.v[key])
            p -= float(lr_t) * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


#: Every optimizer by the name the API, the CLI and the page use; the first is the default.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "adam": Adam,
}

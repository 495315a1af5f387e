"""The optimizers of the book's chapter 6, updating ``params`` in place."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Params = dict[str, NDArray[np.floating]]


class SGD:
    """Stochastic gradient descent: W -= lr * dW."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Params, grads: Params) -> None:
        for key, p in params.items():
            p -= self.lr * grads[key]


class Momentum:
    """v = momentum * v - lr * dW; W += v."""

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


class AdaGrad:
    """h += dW**2; W -= lr * dW / (sqrt(h) + 1e-7)."""

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


OPTIMIZERS: dict[str, type[SGD] | type[Momentum] | type[AdaGrad] | type[Adam]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "adagrad": AdaGrad,
    "adam": Adam,
}

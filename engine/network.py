"""The book's two-layer network, built from the chapter's layers."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from engine.gradient import numerical_gradient
from engine.layers import Affine, Relu, SoftmaxWithLoss

Array = NDArray[np.floating]


class TwoLayerNet:
    """Affine -> ReLU -> Affine -> Softmax-with-Loss, with the book's API."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        seed: int | np.random.Generator | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, not {self.dtype}")
        std = weight_init_std
        self.params: dict[str, Array] = {
            "W1": (std * rng.standard_normal((input_size, hidden_size))).astype(self.dtype),
            "b1": np.zeros(hidden_size, dtype=self.dtype),
            "W2": (std * rng.standard_normal((hidden_size, output_size))).astype(self.dtype),
            "b2": np.zeros(output_size, dtype=self.dtype),
        }
        self.layers: OrderedDict[str, Any] = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x: Any) -> Array:
        """Scores (logits) for a batch x."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: Any, t: Any) -> float:
        """Mean cross-entropy of the network on (x, t); t one-hot or class indices."""
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x: Any, t: Any) -> float:
        """Fraction of x classified as t."""
        scores = self.predict(x)
        classes = scores.shape[-1]
        y = np.argmax(scores.reshape(-1, classes), axis=1)
        t = np.asarray(t)
        if t.shape == scores.shape:  # one-hot rows (or one one-hot vector)
            t = np.argmax(t.reshape(-1, classes), axis=1)
        return float(np.mean(y == t.reshape(-1)))

    def numerical_gradient(self, x: Any, t: Any, eps: float = 1e-4) -> dict[str, Array]:
        """Gradients of the loss by central differences, element by element (slow, as the book)."""

        def loss_w(_: Any) -> float:
            return self.loss(x, t)

        return {key: numerical_gradient(loss_w, self.params[key], eps) for key in self.params}

    def gradient(self, x: Any, t: Any) -> dict[str, Array]:
        """Gradients of the loss by backpropagation."""
        self.loss(x, t)
        dout: Any = self.lastLayer.backward(1)
        layers = list(self.layers.values())
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        # NOTE: nothing upstream of the first layer needs dL/dx (it is the
        # data), so skip that matrix product: a third of the backward work.
        layers[0].backward(dout, need_dx=False)
        a1, a2 = self.layers["Affine1"], self.layers["Affine2"]
        return {"W1": a1.dW, "b1": a1.db, "W2": a2.dW, "b2": a2.db}

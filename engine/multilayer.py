"""The book's deeper networks: ``MultiLayerNet`` and ``MultiLayerNetExtend`` (chapter 6).

A transcription of ``common/multi_layer_net.py`` and ``multi_layer_net_extend.py``
of *Deep Learning from Scratch*: any list of hidden sizes, ReLU / Sigmoid (and,
beyond the book, tanh) activations, weight init by a std or Xavier / He, weight
decay, and (Extend) BatchNormalization and Dropout layers. Deviations are marked
``# NOTE:``: a seedable generator instead of ``np.random``, a dtype, and
``train_flg`` accepted by ``MultiLayerNet`` too (it has no layer that uses it).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from engine.gradient import numerical_gradient
from engine.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss
from engine.layers_ch6 import BatchNormalization, Dropout, Tanh

Array = NDArray[np.floating]

#: The activation layers by name (the book has sigmoid and relu; tanh is ours).
ACTIVATIONS: dict[str, type[Any]] = {"relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh}


def init_scale(weight_init_std: float | str, fan_in: int) -> float:
    """A layer's weight std: a number, 'relu'/'he' sqrt(2/n) or 'sigmoid'/'xavier' sqrt(1/n)."""
    name = str(weight_init_std).lower()
    if name in ("relu", "he"):
        return float(np.sqrt(2.0 / fan_in))
    if name in ("sigmoid", "xavier"):
        return float(np.sqrt(1.0 / fan_in))
    if isinstance(weight_init_std, str):
        raise ValueError(
            f"weight_init_std must be a number, 'relu'/'he' or 'sigmoid'/'xavier', "
            f"not {weight_init_std!r}"
        )
    return float(weight_init_std)


class MultiLayerNet:
    """(Affine -> activation) x len(hidden_size_list) -> Affine -> Softmax-with-Loss."""

    def __init__(
        self,
        input_size: int,
        hidden_size_list: list[int] | tuple[int, ...],
        output_size: int,
        activation: str = "relu",
        weight_init_std: float | str = "relu",
        weight_decay_lambda: float = 0,
        *,
        seed: int | np.random.Generator | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, not {activation!r}")
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.activation = activation
        # NOTE: a generator of our own instead of np.random, and a dtype (float32 trains faster).
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, not {self.dtype}")
        self.params: dict[str, Array] = {}
        #: The loss (with weight decay) of the last ``gradient`` call's batch.
        self.last_loss: float | None = None
        self._init_weight(weight_init_std)
        self.layers: OrderedDict[str, Any] = OrderedDict()
        self._build_layers()
        self.last_layer = SoftmaxWithLoss()

    def _init_weight(self, weight_init_std: float | str) -> None:
        all_size_list = [self.input_size, *self.hidden_size_list, self.output_size]
        for idx in range(1, len(all_size_list)):
            scale = init_scale(weight_init_std, all_size_list[idx - 1])
            shape = (all_size_list[idx - 1], all_size_list[idx])
            w = scale * self.rng.standard_normal(shape)
            self.params["W" + str(idx)] = w.astype(self.dtype)
            self.params["b" + str(idx)] = np.zeros(all_size_list[idx], dtype=self.dtype)

    def _build_layers(self) -> None:
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine" + str(idx)] = self._affine(idx)
            self.layers["Activation_function" + str(idx)] = ACTIVATIONS[self.activation]()
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = self._affine(idx)

    def _affine(self, idx: int) -> Affine:
        return Affine(self.params["W" + str(idx)], self.params["b" + str(idx)])

    def predict(self, x: Any, train_flg: bool = False) -> Array:
        """Scores (logits) for a batch x."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def weight_decay(self) -> float:
        """The weight decay term 0.5 * lambda * sum of every W squared."""
        decay = 0.0
        if self.weight_decay_lambda:
            for idx in range(1, self.hidden_layer_num + 2):
                w = self.params["W" + str(idx)]
                decay += 0.5 * self.weight_decay_lambda * float(np.sum(w**2))
        return decay

    def loss(self, x: Any, t: Any, train_flg: bool = False) -> float:
        """Cross-entropy of the scores plus the weight decay term."""
        y = self.predict(x, train_flg)
        return self.last_layer.forward(y, t) + self.weight_decay()

    def accuracy(self, x: Any, t: Any) -> float:
        """Fraction of x classified as t (t one-hot or class indices)."""
        y = np.argmax(self.predict(x, train_flg=False), axis=1)
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.sum(y == t)) / float(np.asarray(x).shape[0])

    def _param_keys(self) -> list[str]:
        return [k for idx in range(1, self.hidden_layer_num + 2) for k in (f"W{idx}", f"b{idx}")]

    def numerical_gradient(self, x: Any, t: Any, eps: float = 1e-4) -> dict[str, Array]:
        """Gradients of the loss by central differences (slow, as the book)."""

        def loss_w(_: Any) -> float:
            return self.loss(x, t, train_flg=True)

        keys = self._param_keys()
        return {key: numerical_gradient(loss_w, self.params[key], eps) for key in keys}

    def _backward(self, x: Any, t: Any) -> None:
        self.last_loss = self.loss(x, t, train_flg=True)
        dout: Any = self.last_layer.backward(1)
        layers = list(self.layers.values())
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        # NOTE: the first Affine's dx (dL/d data) is never used: skip that product.
        layers[0].backward(dout, need_dx=False)

    def gradient(self, x: Any, t: Any) -> dict[str, Array]:
        """Gradients of the loss by backpropagation (dW includes lambda * W)."""
        self._backward(x, t)
        grads: dict[str, Array] = {}
        lam = self.weight_decay_lambda
        for idx in range(1, self.hidden_layer_num + 2):
            affine = self.layers["Affine" + str(idx)]
            grads["W" + str(idx)] = affine.dW + lam * affine.W if lam else affine.dW
            grads["b" + str(idx)] = affine.db
        return grads


class MultiLayerNetExtend(MultiLayerNet):
    """MultiLayerNet with optional BatchNorm (before each activation) and Dropout (after)."""

    def __init__(
        self,
        input_size: int,
        hidden_size_list: list[int] | tuple[int, ...],
        output_size: int,
        activation: str = "relu",
        weight_init_std: float | str = "relu",
        weight_decay_lambda: float = 0,
        use_dropout: bool = False,
        dropout_ration: float = 0.5,
        use_batchnorm: bool = False,
        *,
        seed: int | np.random.Generator | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        self.use_dropout = use_dropout
        self.dropout_ration = dropout_ration
        self.use_batchnorm = use_batchnorm
        super().__init__(
            input_size,
            hidden_size_list,
            output_size,
            activation,
            weight_init_std,
            weight_decay_lambda,
            seed=seed,
            dtype=dtype,
        )

    def _build_layers(self) -> None:
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine" + str(idx)] = self._affine(idx)
            if self.use_batchnorm:
                size = self.hidden_size_list[idx - 1]
                self.params["gamma" + str(idx)] = np.ones(size, dtype=self.dtype)
                self.params["beta" + str(idx)] = np.zeros(size, dtype=self.dtype)
                self.layers["BatchNorm" + str(idx)] = BatchNormalization(
                    self.params["gamma" + str(idx)], self.params["beta" + str(idx)]
                )
            self.layers["Activation_function" + str(idx)] = ACTIVATIONS[self.activation]()
            if self.use_dropout:
                # NOTE: each Dropout draws from the network's generator (seedable).
                self.layers["Dropout" + str(idx)] = Dropout(self.dropout_ration, rng=self.rng)
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = self._affine(idx)

    def predict(self, x: Any, train_flg: bool = False) -> Array:
        """Scores; BatchNorm and Dropout behave as in training when train_flg is set."""
        for key, layer in self.layers.items():
            if "Dropout" in key or "BatchNorm" in key:
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def _param_keys(self) -> list[str]:
        keys = super()._param_keys()
        if self.use_batchnorm:
            for idx in range(1, self.hidden_layer_num + 1):
                keys += [f"gamma{idx}", f"beta{idx}"]
        return keys

    def gradient(self, x: Any, t: Any) -> dict[str, Array]:
        """Gradients by backpropagation, with BatchNorm's gamma and beta."""
        grads = super().gradient(x, t)
        if self.use_batchnorm:
            for idx in range(1, self.hidden_layer_num + 1):
                bn = self.layers["BatchNorm" + str(idx)]
                grads["gamma" + str(idx)] = bn.dgamma
                grads["beta" + str(idx)] = bn.dbeta
        return grads

    def fix_dropout_masks(self, x: Any) -> None:
        """Draw each Dropout layer's mask for a batch like x, and keep it (for gradient checks)."""
        for key, layer in self.layers.items():
            if "Dropout" in key:
                layer.fixed_mask = None
        h = np.asarray(x)
        for key, layer in self.layers.items():
            if "Dropout" in key or "BatchNorm" in key:
                h = layer.forward(h, True)
                if "Dropout" in key:
                    layer.fixed_mask = layer.mask
            else:
                h = layer.forward(h)

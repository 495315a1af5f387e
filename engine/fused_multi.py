"""The MultiLayerNet's training step in one function, as ``engine/fused.py`` does for TwoLayerNet.

``FusedMultiStep`` trains the book's ``MultiLayerNet`` (any hidden sizes; ReLU,
Sigmoid or tanh; weight decay; every optimizer) with the same tricks as
``FusedStep``: preallocated buffers, uint8 images whose pixels are reordered so a
batch's non-zero pixels lie in a prefix of W1's rows (the rest have a gradient of
exactly 0, or just the weight decay's), the 1/255 scale applied to the small
(batch, hidden) matrices, the learning rate folded into dscores for plain SGD, and
no dL/dx for the data. BatchNormalization and Dropout nets go through the layers
(``MultiLayerNetExtend.gradient``): the step does not cover them.
Tests check it against ``MultiLayerNet.gradient``, step by step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.functions import labels_to_indices
from engine.fused import _EVAL_CHUNK, FusedStep, Reordered
from engine.layer_stats import LayerArrays
from engine.multilayer import MultiLayerNet

Array = NDArray[np.floating]


def _activate(kind: str, a: Array) -> None:
    """The activation, in place: a becomes relu(a), sigmoid(a) or tanh(a)."""
    if kind == "relu":
        np.maximum(a, 0, out=a)
    elif kind == "sigmoid":
        np.negative(a, out=a)
        np.exp(a, out=a)
        a += 1
        np.reciprocal(a, out=a)
    else:
        np.tanh(a, out=a)


def _backprop_activation(kind: str, h: Array, dh: Array, tmp: Array) -> None:
    """dh *= the activation's slope, read from its output h (tmp: scratch of h's shape)."""
    if kind == "relu":
        np.greater(h, 0, out=tmp)
        dh *= tmp
    elif kind == "sigmoid":  # h (1 - h)
        np.subtract(1, h, out=tmp)
        tmp *= h
        dh *= tmp
    else:  # 1 - h²
        np.multiply(h, h, out=tmp)
        np.subtract(1, tmp, out=tmp)
        dh *= tmp


class FusedMultiStep(FusedStep):
    """Forward, backward and update of a MultiLayerNet (no BN, no Dropout) on uint8 batches."""

    def __init__(
        self,
        network: MultiLayerNet,
        optimizer: Any,
        x_train: NDArray[np.uint8],
        t_train: NDArray[Any],
        batch_size: int,
    ) -> None:
        if type(network) is not MultiLayerNet:
            raise TypeError("the fused step trains a MultiLayerNet without BatchNorm or Dropout")
        self.network = network  # type: ignore[assignment]
        self.activation = network.activation
        self.depth = network.hidden_layer_num + 1  # Affine layers
        dtype = self._setup(optimizer, x_train)
        self.decay = dtype.type(network.weight_decay_lambda)
        n, d = batch_size, self.train.x.shape[1]
        sizes = [*network.hidden_size_list, network.output_size]
        self.labels = labels_to_indices(t_train, network.output_size, len(t_train))
        self._u8 = np.empty((n, d), dtype=np.uint8)
        self._x = np.empty(n * d, dtype=dtype)
        # h[l]: output of layer l+1 (activations; the last one holds the scores)
        self._hs = [np.empty((n, m), dtype=dtype) for m in sizes]
        self._dhs = [np.empty((n, m), dtype=dtype) for m in sizes]
        self._tmps = [np.empty((n, m), dtype=dtype) for m in sizes]
        self._m = np.empty((n, 1), dtype=dtype)
        self._total = np.empty(n, dtype=dtype)
        self._log = np.empty(n, dtype=dtype)
        self._ones_c = np.ones(network.output_size, dtype=dtype)
        self._ones_n = np.ones(n, dtype=dtype)
        self._rows = np.arange(n)
        self._eval: Any = None
        #: The last step's batch size and pixel prefix (W1's rows past it had no data gradient).
        self.last_n = 0
        self.last_k = 0
        self._full: dict[str, Array] | None = None

    def step(self, idx: NDArray[np.intp], k: int | None = None) -> float:
        """One training iteration on the training images idx; returns the batch's loss."""
        p, g, kind = self.params, self.grads, self.activation
        n, depth = len(idx), self.depth
        if k is None:
            k = int(self.extents(idx))
        np.take(self.train.x, self.train.row_of[idx], axis=0, out=self._u8[:n])
        x = self._x[: n * k].reshape(n, k)
        np.copyto(x, self._u8[:n, :k], casting="unsafe")  # pixel values 0..255, exact
        self.last_n, self.last_k = n, k
        h = [b[:n] for b in self._hs]
        dh = [b[:n] for b in self._dhs]
        tmp = [b[:n] for b in self._tmps]
        # Forward: Affine (+ activation) per layer; the 1/255 of x applied to x . W1
        np.matmul(x, p["W1"][:k], out=h[0])
        h[0] *= self.scale
        for layer in range(depth):
            if layer:
                np.matmul(h[layer - 1], p[f"W{layer + 1}"], out=h[layer])
            h[layer] += p[f"b{layer + 1}"]
            if layer < depth - 1:
                _activate(kind, h[layer])
        # Softmax-with-Loss as log-softmax, then dscores = fold * (softmax - onehot) / n
        s, t = h[-1], self.labels[idx]
        # NOTE: row sums as products with ones (BLAS), several times faster than np.sum
        # on these (batch, 10) arrays, as in engine/fused.py.
        s -= np.maximum.reduce(s, axis=1, keepdims=True, out=self._m[:n])
        picked = float(np.dot(self._ones_n[:n], s[self._rows[:n], t]))
        e = np.exp(s, out=dh[-1])
        total = np.matmul(e, self._ones_c, out=self._total[:n])
        loss = (float(np.dot(self._ones_n[:n], np.log(total, out=self._log[:n]))) - picked) / n
        e /= total[:, None]
        e[self._rows[:n], t] -= 1
        e *= self.fold / n
        if self.decay:
            loss += (
                0.5
                * float(self.decay)
                * sum(float(np.vdot(p[f"W{i}"], p[f"W{i}"])) for i in range(1, depth + 1))
            )
        # Backward, last layer first; no dL/dx for the data
        for layer in range(depth - 1, -1, -1):
            w, gw, gb = f"W{layer + 1}", g[f"W{layer + 1}"], g[f"b{layer + 1}"]
            np.dot(self._ones_n[:n], dh[layer], out=gb)
            if layer == 0:
                dh[0] *= self.scale
                np.matmul(x.T, dh[0], out=gw[:k])
                break
            np.matmul(h[layer - 1].T, dh[layer], out=gw)
            np.matmul(dh[layer], p[w].T, out=dh[layer - 1])
            _backprop_activation(kind, h[layer - 1], dh[layer - 1], tmp[layer - 1])
        self._update(k)
        return loss

    def activations(self) -> list[Array]:
        """Each hidden layer's output (after its activation) for the last step's batch.

        Views of the step's buffers: the next step overwrites them. (``grads`` holds the
        last step's gradients in the step's own pixel order; with plain SGD they are
        already multiplied by the learning rate, i.e. they are the update, and W1's rows
        past ``last_k`` are left over from earlier steps.)
        """
        return [h[: self.last_n] for h in self._hs[:-1]]

    def _update(self, k: int) -> None:
        """The optimizer's step. ``grads`` keeps the cross-entropy's own gradients (times the
        lr under SGD); the weight decay joins them on the way: W1's rows past k have no
        gradient but the decay's."""
        p, g, decay = self.params, self.grads, self.decay
        if not decay:
            g["W1"][k:] = 0
        if self.sgd:  # lr already folded into the gradients
            for key in p:
                if decay and key.startswith("W"):
                    p[key] *= 1 - self.fold * decay  # W -= lr * lambda * W
                rows = p[key][:k] if key == "W1" else p[key]
                rows -= g[key][:k] if key == "W1" else g[key]
            return
        if not decay:
            self.optimizer.update(p, g)
            return
        if self._full is None:
            self._full = {key: np.empty_like(v) for key, v in g.items()}
        full = self._full
        for key in p:  # dW + lambda * W, as MultiLayerNet.gradient
            if key.startswith("W"):
                np.multiply(p[key], decay, out=full[key])
                full[key] += g[key]
            else:
                full[key][...] = g[key]
        full["W1"][k:] = decay * p["W1"][k:]
        self.optimizer.update(p, full)

    def gradients(self) -> dict[str, Array]:
        """The last step's gradients of the batch's cross-entropy (the weight decay's term
        left out), in the network's own pixel order, as new arrays."""
        out: dict[str, Array] = {}
        for key, g in self.grads.items():
            value = g / self.fold
            if key == "W1":
                value[self.last_k :] = 0
                value[self.order] = value.copy()
            out[key] = value
        return out

    def load(self) -> None:
        """Take the network's current weights, W1 (and the optimizer's W1 state) reordered."""
        p = self.network.params
        self.params["W1"][...] = p["W1"][self.order]
        self.params.update((key, v) for key, v in p.items() if key != "W1")
        if not self._loaded:
            for state in self._optimizer_w1():
                state["W1"] = state["W1"][self.order]
            self._loaded = True

    def accuracy(self, data: Reordered, t: NDArray[Any]) -> float:
        """Accuracy on reordered images, a chunk at a time, without the all-zero columns."""
        p, depth, kind = self.params, self.depth, self.activation
        correct = 0
        rows = _EVAL_CHUNK
        dtype = p["W1"].dtype
        if self._eval is None:
            self._eval = np.empty(rows * data.x.shape[1], dtype=dtype)
        for start in range(0, data.x.shape[0], rows):
            stop = min(start + rows, data.x.shape[0])
            images = data.images[start:stop]
            n, k = stop - start, max(int(data.extent[images[-1]]), 1)
            x = self._eval[: n * k].reshape(n, k)
            np.copyto(x, data.x[start:stop, :k], casting="unsafe")
            h = x @ p["W1"][:k]
            h *= self.scale
            for layer in range(depth):
                if layer:
                    h = h @ p[f"W{layer + 1}"]
                h += p[f"b{layer + 1}"]
                if layer < depth - 1:
                    _activate(kind, h)
            correct += int(np.count_nonzero(np.argmax(h, axis=1) == t[images]))
        return correct / data.x.shape[0]

    def layer_arrays(self, n: int, k: int, before: dict[str, Array]) -> list[LayerArrays]:
        """The arrays of the last ``step`` for the ``layers`` statistics (``before``: the
        step's own weights before it, W1 in the step's pixel order).

        The gradients are ``gradients()`` plus the weight decay's lambda * W, as
        ``MultiLayerNet.gradient`` returns them.
        """
        p, depth = self.params, self.depth
        grads = self.gradients()  # W1 in the network's pixel order
        w1 = np.empty_like(before["W1"])
        w1[self.order] = before["W1"]
        if self.decay:
            for i in range(1, depth + 1):
                grads[f"W{i}"] += self.decay * (w1 if i == 1 else before[f"W{i}"])
        # NOTE: dscores = fold * (softmax - onehot) / n is negative only at the true class,
        # so the softmax comes back as dscores * n / fold + onehot(argmin of each row).
        ds = self._dhs[-1][:n]
        probs = ds * (n / self.fold)
        probs[np.arange(n), np.argmin(ds, axis=1)] += 1
        outputs = [*self.activations(), probs]
        arrays = []
        for i in range(1, depth + 1):
            w = f"W{i}"
            kind = "softmax" if i == depth else self.activation
            arrays.append(
                LayerArrays(f"Affine{i}", w, before[w], p[w], grads[w], outputs[i - 1], kind)
            )
        return arrays

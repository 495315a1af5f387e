"""The TwoLayerNet's training step in one function: the layers' gradients, at less cost.

``TwoLayerNet.gradient`` walks the chapter's layer objects, which allocate every
output, and its first Affine multiplies every pixel although four in five MNIST
pixels are 0. For training, ``FusedStep`` computes the same gradients with
preallocated buffers and skips the pixels that are 0 in every image of a batch:

- the pixels are reordered once, most often non-zero first, so the non-zero
  pixels of any batch lie within a prefix of the columns (about 80% of them for
  MNIST, and never the 67 pixels that are 0 in every training image);
- both big products use only that prefix of the batch and of W1's rows; the
  rows left out have a gradient of exactly 0, so nothing is approximated;
- the images stay uint8 (exact integers once cast), and the 1/255 scale is
  applied to the small (batch, hidden) matrices instead of every pixel.

The step keeps W1 (and the optimizer's state for it) in its own pixel order:
``load`` takes the network's weights, ``sync`` writes W1 back, ``release`` also
puts the optimizer's state back. Between a ``load`` and a ``sync`` the network's
own W1 lags behind. Tests check the step against ``TwoLayerNet.gradient`` and a run against
the layer-by-layer run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.functions import labels_to_indices
from engine.layer_stats import LayerArrays
from engine.network import TwoLayerNet
from engine.optimizers import SGD

Array = NDArray[np.floating]
_CHUNK = 10000  # rows per pass when reordering the data
_EVAL_CHUNK = 1000  # rows per pass when evaluating: their floats stay in the cache


class Reordered:
    """uint8 images with their pixels in a given order and the images sorted by extent.

    An image's extent is 1 + the position of its last non-zero pixel in the new
    order (0 for a blank image). Row ``r`` of ``x`` holds image ``images[r]``;
    ``row_of[i]`` is the row of image i, and ``extent[i]`` its extent. Sorted
    rows let an evaluation pass over a few hundred images use only their columns.
    """

    def __init__(self, x: NDArray[np.uint8], order: NDArray[np.intp]) -> None:
        flat = x.reshape(x.shape[0], -1)
        self.extent = np.empty(flat.shape[0], dtype=np.intp)
        position = np.empty(flat.shape[1], dtype=np.uint16)
        position[order] = np.arange(1, flat.shape[1] + 1)
        for start in range(0, flat.shape[0], _CHUNK):
            rows = flat[start : start + _CHUNK]
            self.extent[start : start + len(rows)] = np.max((rows != 0) * position, axis=1)
        self.images = np.argsort(self.extent, kind="stable")
        self.row_of = np.empty_like(self.images)
        self.row_of[self.images] = np.arange(len(self.images))
        self.x = np.empty_like(flat)
        for start in range(0, flat.shape[0], _CHUNK):
            rows = np.take(flat, self.images[start : start + _CHUNK], axis=0)
            np.take(rows, order, axis=1, out=self.x[start : start + len(rows)])


def pixel_order(x: NDArray[np.uint8], sample: int = _CHUNK) -> NDArray[np.intp]:
    """Pixel indices from most to least often non-zero in the first ``sample`` images."""
    flat = x.reshape(x.shape[0], -1)[:sample]
    return np.argsort(-np.count_nonzero(flat, axis=0), kind="stable")


class FusedStep:
    """Forward, backward and update of a TwoLayerNet on uint8 batches, in one call.

    ``step(idx, k)`` trains on the training images ``idx``, whose pixels past
    position ``k`` (see ``extent``) are all 0, and returns the loss. The scores and
    their gradient are kept classes-first, (classes, batch), so the per-image
    softmax reductions run across rows of contiguous memory.
    """

    def __init__(
        self,
        network: TwoLayerNet,
        optimizer: Any,
        x_train: NDArray[np.uint8],
        t_train: NDArray[Any],
        batch_size: int,
    ) -> None:
        self.network = network
        p = network.params
        dtype = self._setup(optimizer, x_train)
        n, d = batch_size, self.train.x.shape[1]
        hidden, classes = p["W2"].shape
        # one-hot labels, classes-first, times fold / n: dscores = fold * (softmax - onehot) / n
        labels = labels_to_indices(t_train, classes, len(t_train))
        self._onehot = np.zeros((classes, len(labels)), dtype=dtype)
        self._onehot[labels, np.arange(len(labels))] = self.fold / n
        self._u8 = np.empty((n, d), dtype=np.uint8)
        self._x = np.empty(n * d, dtype=dtype)
        self._a1 = np.empty((n, hidden), dtype=dtype)
        self._h = np.empty((n, hidden), dtype=dtype)
        self._mask = np.empty((n, hidden), dtype=bool)
        self._dh = np.empty((n, hidden), dtype=dtype)
        self._s = np.empty((classes, n), dtype=dtype)
        self._e = np.empty((classes, n), dtype=dtype)
        self._y = np.empty((classes, n), dtype=dtype)
        self._m = np.empty(n, dtype=dtype)
        self._total = np.empty(n, dtype=dtype)
        self._ones_n = np.ones(n, dtype=dtype)
        self._ones_c = np.ones(classes, dtype=dtype)
        self._eval: tuple[Array, Array, Array] | None = None

    def _setup(self, optimizer: Any, x_train: NDArray[np.uint8]) -> np.dtype[Any]:
        """What every fused step sets up first (after ``self.network``); the parameters' dtype."""
        self.optimizer = optimizer
        dtype = self.network.params["W1"].dtype
        self.order = pixel_order(x_train)
        self.train = Reordered(x_train, self.order)
        self.scale = dtype.type(1.0 / 255.0)
        # The step's own parameters: W1 in pixel order (see load), the rest the network's.
        self.params: dict[str, Array] = {"W1": np.empty_like(self.network.params["W1"])}
        self._loaded = False
        self.load()
        self.grads: dict[str, Array] = {k: np.zeros_like(v) for k, v in self.params.items()}
        # NOTE: for plain SGD the learning rate is folded into dscores, so every
        # gradient comes out already multiplied by it and the update is W -= grad.
        self.sgd = type(optimizer) is SGD
        self.fold = dtype.type(optimizer.lr if self.sgd else 1.0)
        return dtype

    def extents(self, batches: NDArray[np.intp]) -> NDArray[np.intp]:
        """For each row of batch indices, the number of leading pixels that are not all 0."""
        return np.maximum(self.train.extent[batches].max(axis=-1), 1)

    def step(self, idx: NDArray[np.intp], k: int | None = None) -> float:
        """One training iteration on the training images idx; returns the batch's loss."""
        p, g = self.params, self.grads
        n = len(idx)
        if k is None:
            k = int(self.extents(idx))
        np.take(self.train.x, self.train.row_of[idx], axis=0, out=self._u8[:n])
        x = self._x[: n * k].reshape(n, k)
        np.copyto(x, self._u8[:n, :k], casting="unsafe")  # pixel values 0..255, exact
        w1 = p["W1"][:k]  # the rows of W1 that meet a non-zero pixel of this batch
        # Affine1 and ReLU: h = max(0, x/255 . W1 + b1)
        a1 = np.matmul(x, w1, out=self._a1)
        a1 *= self.scale
        a1 += p["b1"]
        h = np.maximum(a1, 0, out=self._h)
        # Affine2, classes-first: s = (h . W2 + b2)^T
        s = np.matmul(p["W2"].T, h.T, out=self._s)
        s += p["b2"][:, None]
        # Softmax-with-Loss as log-softmax: loss = mean(log(sum(exp(s - max))) - (s - max)[t])
        # NOTE: sums are dot products with ones (np.dot(ones, a)): the same sums, and
        # for these small arrays several times faster than np.sum's reduction machinery.
        s -= np.maximum.reduce(s, axis=0, out=self._m)
        e = np.exp(s, out=self._e)
        total = np.dot(self._ones_c, e, out=self._total)
        y = np.take(self._onehot, idx, axis=1, out=self._y)  # fold / n at each true class
        log_total = np.log(total, out=self._m)
        loss = float(np.dot(self._ones_n, log_total)) / n - float(np.vdot(s, y) / self.fold)
        # Backward: dscores = fold * (softmax - onehot) / n, classes-first
        total *= n / self.fold
        ds = np.divide(e, total, out=e)
        ds -= y
        np.matmul(h.T, ds.T, out=g["W2"])
        np.dot(ds, self._ones_n, out=g["b2"])
        dh = np.matmul(ds.T, p["W2"].T, out=self._dh)
        dh *= np.greater(a1, 0, out=self._mask)  # ReLU passes it where its input was > 0
        np.dot(self._ones_n, dh, out=g["b1"])
        dh *= self.scale  # the 1/255 of x, applied here instead of to every pixel
        np.matmul(x.T, dh, out=g["W1"][:k])
        if self.sgd:  # W -= lr * grad, lr already folded in; rows past k have no gradient
            w1 -= g["W1"][:k]
            p["b1"] -= g["b1"]
            p["W2"] -= g["W2"]
            p["b2"] -= g["b2"]
        else:
            g["W1"][k:] = 0
            self.optimizer.update(p, g)
        return loss

    def layer_arrays(self, n: int, k: int, before: dict[str, Array]) -> list[LayerArrays]:
        """The arrays of the last ``step`` (n images, extent k) for the ``layers`` statistics.

        W1 stays in the step's pixel order (the statistics do not depend on the order); its
        rows past k had no gradient. Gradients are divided by the folded learning rate, and
        the softmax is recovered from dscores: y = (dscores + onehot * fold / n) * n / fold.
        """
        g, p = self.grads, self.params
        dw1 = np.zeros_like(p["W1"])
        dw1[:k] = g["W1"][:k]
        dw1 /= self.fold
        probs = (self._e + self._y) * (n / self.fold)
        return [
            LayerArrays("Affine1", "W1", before["W1"], p["W1"], dw1, self._h[:n], "relu"),
            LayerArrays(
                "Affine2", "W2", before["W2"], p["W2"], g["W2"] / self.fold, probs.T, "softmax"
            ),
        ]

    def _optimizer_w1(self) -> list[dict[str, Array]]:
        """The optimizer's per-parameter state (Momentum's v, Adam's m and v...) holding W1."""
        return [
            state
            for state in vars(self.optimizer).values()
            if isinstance(state, dict) and isinstance(state.get("W1"), np.ndarray)
        ]

    def load(self) -> None:
        """Take the network's current weights, W1 (and the optimizer's W1 state) reordered."""
        p = self.network.params
        self.params["W1"][...] = p["W1"][self.order]
        self.params.update(b1=p["b1"], W2=p["W2"], b2=p["b2"])
        if not self._loaded:
            for state in self._optimizer_w1():
                state["W1"] = state["W1"][self.order]
            self._loaded = True

    def sync(self) -> None:
        """Write W1 back into the network, in the images' own pixel order."""
        self.network.params["W1"][self.order] = self.params["W1"]

    def release(self) -> None:
        """Sync, and put the optimizer's W1 state back in the images' pixel order too."""
        self.sync()
        if self._loaded:
            for state in self._optimizer_w1():
                restored = np.empty_like(state["W1"])
                restored[self.order] = state["W1"]
                state["W1"] = restored
            self._loaded = False

    def accuracy(self, data: Reordered, t: NDArray[Any]) -> float:
        """Accuracy on reordered images, a chunk at a time, without the all-zero columns."""
        p = self.params
        correct = 0
        rows, hidden = _EVAL_CHUNK, p["W1"].shape[1]
        if self._eval is None:  # buffers small enough to stay in cache, allocated once
            self._eval = (
                np.empty(rows * data.x.shape[1], dtype=p["W1"].dtype),
                np.empty((rows, hidden), dtype=p["W1"].dtype),
                np.empty((rows, p["W2"].shape[1]), dtype=p["W1"].dtype),
            )
        xbuf, hbuf, sbuf = self._eval
        for start in range(0, data.x.shape[0], rows):
            stop = min(start + rows, data.x.shape[0])
            images = data.images[start:stop]
            n, k = stop - start, max(int(data.extent[images[-1]]), 1)  # the chunk's largest
            x = xbuf[: n * k].reshape(n, k)
            np.copyto(x, data.x[start:stop, :k], casting="unsafe")
            h = np.matmul(x, p["W1"][:k], out=hbuf[:n])
            h *= self.scale
            h += p["b1"]
            np.maximum(h, 0, out=h)
            scores = np.matmul(h, p["W2"], out=sbuf[:n])
            scores += p["b2"]
            correct += int(np.count_nonzero(np.argmax(scores, axis=1) == t[images]))
        return correct / data.x.shape[0]

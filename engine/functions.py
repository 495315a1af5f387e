"""Activation and loss functions of the chapter, numerically stable."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def sigmoid(x: ArrayLike) -> NDArray[np.floating]:
    """Logistic function 1 / (1 + exp(-x)), without overflow for large |x|."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    # NOTE: exp(-|x|) never overflows; the two branches are the same function.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def relu(x: ArrayLike) -> NDArray[np.floating]:
    """max(0, x) elementwise."""
    return np.maximum(x, 0)


def log_softmax(x: ArrayLike) -> NDArray[np.floating]:
    """log(softmax(x)) along the last axis, computed exactly (no log of a rounded 0)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def softmax(x: ArrayLike) -> NDArray[np.floating]:
    """Softmax along the last axis; shifted by the maximum so it never overflows."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _as_batch(y: NDArray, t: NDArray) -> tuple[NDArray, NDArray]:
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1) if t.size == y.size else t.reshape(1)
    return y, t


def labels_to_indices(t: ArrayLike, num_classes: int, rows: int | None = None) -> NDArray[np.intp]:
    """Class indices from labels given either as indices or as one-hot rows.

    With ``rows`` (the number of score rows) the labels must give one class per row,
    each in 0..num_classes-1, or a ValueError says what is wrong: NumPy would
    otherwise broadcast one label over every row, or read a one-hot vector as
    ``num_classes`` indices, or take -1 as the last class.
    """
    t = np.asarray(t)
    if rows is None:
        if t.ndim >= 1 and t.shape[-1] == num_classes and t.ndim == 2:
            return np.argmax(t, axis=1)
        return t.reshape(-1).astype(np.intp, copy=False)
    if num_classes > 1 and t.size == rows * num_classes and t.shape[-1:] == (num_classes,):
        idx = np.argmax(t.reshape(rows, num_classes), axis=1)
    elif t.size == rows:
        idx = t.reshape(-1).astype(np.intp, copy=False)
    else:
        raise ValueError(
            f"labels of shape {t.shape} do not fit {rows} row(s) of {num_classes} scores: "
            "give one class index per row or one-hot rows"
        )
    bad = (idx < 0) | (idx >= num_classes)
    if bad.any():
        raise ValueError(f"class index {int(idx[bad][0])} is not in 0..{num_classes - 1}")
    return idx


def cross_entropy_error(y: ArrayLike, t: ArrayLike) -> float:
    """Mean cross-entropy of probabilities ``y`` against labels ``t`` (one-hot or indices).

    Unlike the book there is no ``+ 1e-7`` inside the log: a probability of
    exactly 0 for the true class is clipped to the smallest positive float, so
    the loss is exact wherever it is finite.
    """
    y_arr, t_arr = _as_batch(np.asarray(y, dtype=np.float64), np.asarray(t))
    idx = labels_to_indices(t_arr, y_arr.shape[1], y_arr.shape[0])
    p = y_arr[np.arange(y_arr.shape[0]), idx]
    return float(-np.mean(np.log(np.maximum(p, np.finfo(np.float64).tiny))))

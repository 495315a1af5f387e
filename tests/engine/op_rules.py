"""Every backward rule of the op table in NumPy: the op tests' reference.

The table (``engine/graph/ops.py``) writes each input's rule as text, the text the
step-through shows (``dout · y``); here each text is computed from the same symbols
(``dout``, ``out`` and the op's inputs, ``e``) and the node's params (``p``), summed back
to the input's shape where NumPy broadcast it. ``tests/engine/test_ops.py`` holds each
equal to the op's step's ``backward`` at random inputs, and to its text read as
arithmetic at scalars. Written apart from the engine (own softmax, one-hot, sum-back),
so an engine bug is not copied into its reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]
Env = Mapping[str, Array]
Rule = Callable[[Env, Mapping[str, Any]], Array]


def _sum_to(g: Array, shape: tuple[int, ...]) -> Array:
    """``g`` summed over the axes NumPy broadcast an array of ``shape`` along."""
    g = np.asarray(g, dtype=np.float64)
    if g.ndim < len(shape):  # a row (D,) for gamma of shape (1, D)
        g = g.reshape((1,) * (len(shape) - g.ndim) + g.shape)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def _to(shape_of: str, grad: Callable[[Env], Array]) -> Rule:
    """A rule whose result is summed back to input ``shape_of``'s shape."""
    return lambda e, _p: _sum_to(np.asarray(grad(e)), e[shape_of].shape)


def _rows(e: Env) -> tuple[Array, Array, Array]:
    """x, W and dout as 2-D matrices: a 1-D x is a row, a 1-D W a column, x · W = out."""
    x, w = e["x"], e["W"]
    x2 = x.reshape(1, -1) if x.ndim == 1 else x.reshape(-1, w.shape[0])
    w2 = w.reshape(-1, 1) if w.ndim == 1 else w
    return x2, w2, np.asarray(e["dout"]).reshape(x2.shape[0], w2.shape[1])


def _dot_dx(e: Env, _p: Mapping[str, Any]) -> Array:
    _, w2, d2 = _rows(e)
    return (d2 @ w2.T).reshape(e["x"].shape)


def _dot_dw(e: Env, _p: Mapping[str, Any]) -> Array:
    x2, _, d2 = _rows(e)
    return (x2.T @ d2).reshape(e["W"].shape)


def _affine_db(e: Env, _p: Mapping[str, Any]) -> Array:
    return _sum_to(_rows(e)[2].sum(axis=0), e["b"].shape)


def _affine_db_mean(e: Env, _p: Mapping[str, Any]) -> Array:
    return _sum_to(_rows(e)[2].mean(axis=0), e["b"].shape)


def _sum_dx(e: Env, p: Mapping[str, Any]) -> Array:
    d = e["dout"] if p.get("axis") is None else np.expand_dims(e["dout"], p["axis"])
    return np.broadcast_to(d, e["x"].shape).copy()


def _softmax(x: Array) -> Array:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return np.asarray(z / z.sum(axis=-1, keepdims=True))


def _one_hot(e: Env, scores: str) -> tuple[Array, int]:
    """The labels t as one-hot rows of the scores' shape, and the number of rows N."""
    y, t = e[scores], e["t"]
    classes = y.shape[-1]
    if t.shape == y.shape:
        idx = np.argmax(t.reshape(-1, classes), axis=1)
    else:
        idx = np.rint(t.reshape(-1)).astype(np.intp)
    return np.eye(classes)[idx].reshape(y.shape), idx.size


def _cross_entropy_dy(e: Env, _p: Mapping[str, Any]) -> Array:
    t, n = _one_hot(e, "y")
    return np.asarray(-e["dout"] * t / (n * e["y"]))


def _softmax_loss_dx(e: Env, _p: Mapping[str, Any]) -> Array:
    t, n = _one_hot(e, "x")
    return np.asarray(e["dout"] * (_softmax(e["x"]) - t) / n)


def _softmax_loss_dx_undivided(e: Env, _p: Mapping[str, Any]) -> Array:
    t, _ = _one_hot(e, "x")
    return np.asarray(e["dout"] * (_softmax(e["x"]) - t))


def _labels(e: Env, _p: Mapping[str, Any]) -> Array:
    return np.zeros_like(e["t"])


def _normalised(e: Env) -> tuple[Array, Array]:
    """x̂ = (x − μ) / σ and σ = √(var + ε) of the batch x, with the book's ε = 10e-7."""
    x = e["x"]
    xc = x - x.mean(axis=0)
    std = np.sqrt(np.mean(xc**2, axis=0) + 10e-7)
    return xc / std, std


def _bn_dx(e: Env, _p: Mapping[str, Any]) -> Array:
    xn, std = _normalised(e)
    d = e["dout"]
    dx = e["gamma"] / std * (d - d.mean(axis=0) - xn * np.mean(d * xn, axis=0))
    return np.asarray(dx).reshape(e["x"].shape)


def _bn_dx_no_mean_terms(e: Env, _p: Mapping[str, Any]) -> Array:
    _, std = _normalised(e)
    return np.asarray(e["gamma"] * e["dout"] / std).reshape(e["x"].shape)


def _bn_dgamma(e: Env, _p: Mapping[str, Any]) -> Array:
    xn, _ = _normalised(e)
    return _sum_to(np.sum(e["dout"] * xn, axis=0), np.shape(e["gamma"]))


def _bn_dbeta(e: Env, _p: Mapping[str, Any]) -> Array:
    return _sum_to(np.sum(e["dout"], axis=0), np.shape(e["beta"]))


def dropout_mask(p: Mapping[str, Any], shape: tuple[int, ...]) -> Array:
    """The mask a dropout node draws from its seed: rng(seed).random(shape) > ratio."""
    return np.asarray(np.random.default_rng(p["seed"]).random(shape) > p["ratio"])


def _dropout_dx(e: Env, p: Mapping[str, Any]) -> Array:
    return np.asarray(e["dout"] * dropout_mask(p, e["x"].shape))


def _dout_only(e: Env, _p: Mapping[str, Any]) -> Array:
    return np.asarray(e["dout"] + 0.0 * e["x"])


RULES: dict[tuple[str, str | None], tuple[Rule, ...]] = {
    ("add", None): (_to("x", lambda e: e["dout"]), _to("y", lambda e: e["dout"])),
    ("mul", None): (
        _to("x", lambda e: e["dout"] * e["y"]),
        _to("y", lambda e: e["dout"] * e["x"]),
    ),
    ("mul", "no_swap"): (
        _to("x", lambda e: e["dout"] * e["x"]),
        _to("y", lambda e: e["dout"] * e["y"]),
    ),
    ("dot", None): (_dot_dx, _dot_dw),
    ("exp", None): (lambda e, _p: e["dout"] * e["out"],),
    ("log", None): (lambda e, _p: e["dout"] / e["x"],),
    ("reciprocal", None): (lambda e, _p: -e["dout"] * e["out"] ** 2,),
    ("sum", None): (_sum_dx,),
    ("relu", None): (lambda e, _p: e["dout"] * (e["x"] > 0),),
    ("relu", "no_mask"): (_dout_only,),
    ("sigmoid", None): (lambda e, _p: e["dout"] * e["out"] * (1 - e["out"]),),
    ("sigmoid", "no_one_minus"): (lambda e, _p: e["dout"] * e["out"],),
    ("tanh", None): (lambda e, _p: e["dout"] * (1 - e["out"] ** 2),),
    ("affine", None): (_dot_dx, _dot_dw, _affine_db),
    ("affine", "db_mean"): (_dot_dx, _dot_dw, _affine_db_mean),
    ("softmax", None): (
        lambda e, _p: e["out"] * (e["dout"] - np.sum(e["dout"] * e["out"], axis=-1, keepdims=True)),
    ),
    ("cross_entropy", None): (_cross_entropy_dy, _labels),
    ("softmax_with_loss", None): (_softmax_loss_dx, _labels),
    ("softmax_with_loss", "no_batch_divide"): (_softmax_loss_dx_undivided, _labels),
    ("batchnorm", None): (_bn_dx, _bn_dgamma, _bn_dbeta),
    ("batchnorm", "no_mean_terms"): (_bn_dx_no_mean_terms, _bn_dgamma, _bn_dbeta),
    ("dropout", None): (_dropout_dx,),
    ("dropout", "no_dropout_mask"): (_dout_only,),
}
"""Each op's (and each broken variant's) rules, one per input, by (op, variant)."""

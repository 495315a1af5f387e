"""Chapter 6's graph ops: ``batchnorm`` and ``dropout``, rows of the one op table.

``engine/graph/ops.py`` adds ``CH6_OPS`` to ``OPS`` after its own rows, so the evaluator,
``GET /graphs/ops``, the palette, the export and the code panel treat them like
any op. Both run the engine's own layers (``engine/layers_ch6.py``) in training
mode: BatchNormalization normalises with the batch's own statistics (the book's
epsilon, 10e-7), and Dropout's mask is drawn from the node's ``seed``, so forward
and backward (and a gradient check's many forwards) use the same mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.graph.op_types import Array, Env, Op, OpError, Param, Rule, Shape, Variant
from engine.layers import unbroadcast
from engine.layers_ch6 import BatchNormalization, Dropout
from engine.variants import BatchNormalizationNoMeanTerms, DropoutNoMask

# ---------------------------------------------------------------- steps


class BatchNormStep:
    """The book's BatchNormalization layer in training mode, with gamma and beta as inputs."""

    def __init__(
        self, _: Mapping[str, Any], layer: type[BatchNormalization] = BatchNormalization
    ) -> None:
        self.cls = layer
        self.layer: BatchNormalization | None = None
        self.shapes: tuple[Any, Any] = ((), ())

    def forward(self, *xs: Array) -> Array:
        x, gamma, beta = xs
        self.shapes = (np.shape(gamma), np.shape(beta))
        self.layer = self.cls(gamma, beta)
        return self.layer.forward(x, True)

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.layer is not None, "forward first"
        dx = self.layer.backward(dout)
        # NOTE: gamma and beta may be a number or a row (1, D): their gradients are
        # summed back to their own shapes, as for any broadcast input.
        dgamma = unbroadcast(self.layer.dgamma, self.shapes[0])
        dbeta = unbroadcast(self.layer.dbeta, self.shapes[1])
        return dx, dgamma, dbeta


class DropoutStep:
    """The book's Dropout layer in training mode, its mask drawn from the node's seed."""

    def __init__(self, params: Mapping[str, Any], layer: type[Dropout] = Dropout) -> None:
        self.cls = layer
        self.ratio = params["ratio"]
        self.seed = params["seed"]
        self.layer: Dropout | None = None

    def forward(self, *xs: Array) -> Array:
        self.layer = self.cls(self.ratio, rng=self.seed)
        return self.layer.forward(xs[0], True)

    def backward(self, dout: Array) -> Sequence[Any]:
        assert self.layer is not None, "forward first"
        return (self.layer.backward(dout),)


# ---------------------------------------------------------------- rules


def _normalised(e: Env) -> tuple[Array, Array]:
    """x̂ = (x − μ) / σ and σ = √(var + ε) of the batch x, as the layer computes them."""
    x = e["x"]
    xc = x - x.mean(axis=0)
    std = np.sqrt(np.mean(xc**2, axis=0) + 10e-7)
    return xc / std, std


def _bn_dx(e: Env, _p: Mapping[str, Any]) -> Array:
    xn, std = _normalised(e)
    d = e["dout"]
    return np.asarray(
        e["gamma"] / std * (d - d.mean(axis=0) - xn * np.mean(d * xn, axis=0))
    ).reshape(e["x"].shape)


def _bn_dx_no_mean_terms(e: Env, _p: Mapping[str, Any]) -> Array:
    _, std = _normalised(e)
    return np.asarray(e["gamma"] * e["dout"] / std).reshape(e["x"].shape)


def _bn_dgamma(e: Env, _p: Mapping[str, Any]) -> Array:
    xn, _ = _normalised(e)
    return np.asarray(unbroadcast(np.sum(e["dout"] * xn, axis=0), np.shape(e["gamma"])))


def _bn_dbeta(e: Env, _p: Mapping[str, Any]) -> Array:
    return np.asarray(unbroadcast(np.sum(e["dout"], axis=0), np.shape(e["beta"])))


def _bn_terms(e: Env, _p: Mapping[str, Any]) -> dict[str, Array]:
    xn, std = _normalised(e)
    return {
        "N": np.asarray(float(e["x"].shape[0])),
        "μ = Σₙ x / N": e["x"].mean(axis=0),
        "σ = √(Σₙ (x − μ)² / N + 10e-7)": std,
        "x̂ = (x − μ) / σ": xn,
    }


def dropout_mask(params: Mapping[str, Any], shape: Shape) -> Array:
    """The mask a dropout node draws: rng(seed).random(shape) > ratio (True: kept)."""
    return np.asarray(np.random.default_rng(params["seed"]).random(shape) > params["ratio"])


def _dropout_dx(e: Env, p: Mapping[str, Any]) -> Array:
    return np.asarray(e["dout"] * dropout_mask(p, e["x"].shape))


def _dropout_terms(e: Env, p: Mapping[str, Any]) -> dict[str, Array]:
    return {"mask = random(seed) > ratio": dropout_mask(p, e["x"].shape)}


# ---------------------------------------------------------------- shapes


def _bn_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    x, gamma, beta = shapes
    if len(x) != 2:
        raise OpError(
            "shape_mismatch",
            f"x must be a 2-D batch (N, D): its statistics are taken over the rows, "
            f"but has shape {tuple(x)}",
        )
    d = x[1]
    for name, s in (("gamma", gamma), ("beta", beta)):
        if tuple(s) not in ((), (d,), (1, d)):
            raise OpError(
                "shape_mismatch",
                f"{name} of shape {tuple(s)} does not fit x of shape {tuple(x)}: "
                f"give one number per column, shape ({d},), or a single number",
            )
    return tuple(x)


def _dropout_shape(shapes: Sequence[Shape], _: Mapping[str, Any]) -> Shape:
    return tuple(shapes[0])


_RATIO = Param(
    "ratio", "number", 0.5, "The chance that a unit is dropped (the book's dropout_ratio).",
    low=0.0, high=0.99,
)  # fmt: skip
_SEED = Param(
    "seed", "int", 0, "Seed of the mask: the same seed drops the same units.", low=0, high=2**32 - 1
)

_BN_DOC = "gamma / σ · (dout − Σₙ dout / N − x̂ · Σₙ (dout · x̂) / N)"

#: The chapter-6 rows of the op table, in palette order.
CH6_OPS: tuple[Op, ...] = (
    Op(
        name="batchnorm",
        inputs=("x", "gamma", "beta"),
        doc="The book's BatchNormalization (training): each column of the batch x "
        "normalised by its mean and variance, then scaled by gamma and shifted by beta.",
        formula="gamma · (x − μ) / σ + beta",
        rules=(
            Rule(_BN_DOC, _bn_dx),
            Rule("Σₙ dout · x̂", _bn_dgamma),
            Rule("Σₙ dout", _bn_dbeta),
        ),
        shape=_bn_shape,
        make=BatchNormStep,
        terms=_bn_terms,
        variants=(
            Variant(
                "no_mean_terms",
                "backward treats the batch's mean and variance as constants: dx = gamma · "
                "dout / σ, forgetting that every x moved μ and σ too.",
                lambda p: BatchNormStep(p, BatchNormalizationNoMeanTerms),
                (
                    Rule("gamma · dout / σ", _bn_dx_no_mean_terms),
                    Rule("Σₙ dout · x̂", _bn_dgamma),
                    Rule("Σₙ dout", _bn_dbeta),
                ),
            ),
        ),
    ),
    Op(
        name="dropout",
        inputs=("x",),
        doc="The book's Dropout (training): each unit kept or dropped by a mask drawn from "
        "the seed; the kept ones pass unchanged.",
        formula="x · mask",
        rules=(Rule("dout · mask", _dropout_dx),),
        shape=_dropout_shape,
        make=DropoutStep,
        params=(_RATIO, _SEED),
        terms=_dropout_terms,
        variants=(
            Variant(
                "no_dropout_mask",
                "backward forgets the mask: dout flows back to the dropped units too, "
                "though they did not reach the output.",
                lambda p: DropoutStep(p, DropoutNoMask),
                (Rule("dout", lambda e, _p: e["dout"] + 0.0 * e["x"]),),
            ),
        ),
    ),
)

"""Gradient checking: backprop against central differences, element-wise or by direction.

``gradcheck`` compares a network's backprop gradients with numerical ones (the
book's loop, ``engine.gradient.numerical_gradient``, or one directional difference
at a time, ``engine.gradient.directional_difference``). For
``TwoLayerNet`` the full check is vectorised: perturbing one weight changes
only one hidden column (W1, b1) or one logit column (W2, b2), so every
perturbed loss is computed at once from the cached activations instead of one
forward pass per element, which is what makes it 10x+ faster than the book's loop.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.functions import labels_to_indices, log_softmax
from engine.gradient import (
    EPS,
    Difference,
    directional_difference,
    numerical_gradient,
    unit_vector,
)
from engine.layers import Affine, Relu, SoftmaxWithLoss
from engine.network import TwoLayerNet

Array = NDArray[np.float64]

#: Default tolerances for float64: |backprop - numerical| <= atol + rtol * |numerical|.
ATOL = 1e-7
RTOL = 1e-5


@dataclass
class ParamReport:
    """How well backprop agrees with numerical differentiation for one parameter."""

    mean_abs_diff: float
    max_abs_diff: float
    max_rel_error: float
    passed: bool
    size: int
    checked: int
    kinks: int = 0
    worst: list[dict[str, Any]] = field(default_factory=list)
    #: Elements (or directions) whose numerical gradient is undefined, and the first few, why.
    undefined: int = 0
    unchecked: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class GradcheckReport:
    """The result of a gradient check over every parameter."""

    passed: bool
    mode: str
    eps: float
    atol: float
    rtol: float
    elapsed_ms: float
    params: dict[str, ParamReport]
    directions: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def kinks(self) -> int:
        """Elements skipped in all because a ReLU kink lay within eps."""
        return sum(p.kinks for p in self.params.values())

    @property
    def undefined(self) -> int:
        """Elements that could not be checked in all: the loss is undefined near them."""
        return sum(p.undefined for p in self.params.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        out = asdict(self)
        out["kinks"] = self.kinks
        out["undefined"] = self.undefined
        return out


def compare(
    backprop: NDArray[Any],
    numerical: NDArray[Any],
    *,
    atol: float = ATOL,
    rtol: float = RTOL,
    skip: NDArray[np.bool_] | None = None,
    undefined: Mapping[tuple[int, ...], str] | None = None,
    top: int = 5,
) -> ParamReport:
    """Element-wise comparison; elements where ``skip`` is true are reported, not judged.

    ``undefined`` maps the index of each element whose numerical gradient could not be
    computed to the reason; such elements are neither judged nor counted as checked.
    """
    bp = np.asarray(backprop, dtype=np.float64)
    num = np.asarray(numerical, dtype=np.float64)
    undefined = dict(undefined or {})
    lost = np.zeros(bp.shape, dtype=bool)
    for at in undefined:
        lost[at] = True
    num = np.where(lost, 0.0, num)
    with np.errstate(over="ignore", invalid="ignore"):
        diff = np.abs(bp - num)
    skip = np.zeros(diff.shape, dtype=bool) if skip is None else np.asarray(skip, dtype=bool)
    skip = skip & ~lost
    judged = ~skip & ~lost
    d = diff[judged]
    denom = np.maximum(np.abs(bp), np.abs(num))[judged]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(denom > 0, d / np.where(denom > 0, denom, 1.0), 0.0)
    ok = (d <= atol + rtol * np.abs(num[judged])) & np.isfinite(d)
    worst: list[dict[str, Any]] = []
    if diff.size:
        ranked = np.where(judged, diff, -1.0).ravel()
        for flat in np.argsort(ranked)[::-1][:top]:
            if ranked[flat] < 0:
                break
            index = [int(i) for i in np.unravel_index(flat, diff.shape)]
            worst.append(
                {
                    "index": index,
                    "backprop": float(bp.ravel()[flat]),
                    "numerical": float(num.ravel()[flat]),
                    "abs_diff": float(diff.ravel()[flat]),
                }
            )
    return ParamReport(
        mean_abs_diff=float(d.mean()) if d.size else 0.0,
        max_abs_diff=float(d.max()) if d.size else 0.0,
        max_rel_error=float(rel.max()) if rel.size else 0.0,
        # NOTE: a parameter none of whose elements could be computed has not passed.
        passed=bool(ok.all()) and not (undefined and not judged.any()),
        size=int(diff.size),
        checked=int(judged.sum()),
        kinks=int(skip.sum()),
        worst=worst,
        undefined=len(undefined),
        unchecked=[
            {"index": [int(i) for i in at], "reason": reason}
            for at, reason in list(undefined.items())[:top]
        ],
    )


def _loss_from_logits(a: Array, idx: NDArray[np.intp]) -> Array:
    """Mean softmax cross-entropy over the second-to-last axis, for a stack of logit batches."""
    logp = log_softmax(a)
    picked = np.take_along_axis(logp, np.broadcast_to(idx[:, None], (*a.shape[:-1], 1)), -1)
    return -picked[..., 0].mean(axis=-1)


def _as_float64(network: TwoLayerNet) -> TwoLayerNet:
    """A float64 copy of the network (its own class and gradient), leaving the original alone."""
    # NOTE: shallow copies of the network and its layers, then new arrays: a deepcopy
    # of every cached activation cost more than the whole fast check.
    clone = copy.copy(network)
    clone.params = {k: v.astype(np.float64) for k, v in network.params.items()}
    clone.layers = OrderedDict((name, copy.copy(layer)) for name, layer in network.layers.items())
    clone.lastLayer = copy.copy(network.lastLayer)
    clone.layers["Affine1"].W, clone.layers["Affine1"].b = clone.params["W1"], clone.params["b1"]
    clone.layers["Affine2"].W, clone.layers["Affine2"].b = clone.params["W2"], clone.params["b2"]
    return clone


def _two_layer_numerical(
    net: TwoLayerNet,
    x: Array,
    idx: NDArray[np.intp],
    eps: float,
    chunk_elements: int = 2_000_000,
    stop: Callable[[], None] = lambda: None,
) -> tuple[dict[str, Array], dict[str, NDArray[np.bool_]]]:
    """Central differences for every parameter of a TwoLayerNet at once, and the ReLU-kink masks."""
    p = net.params
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    n, c = x.shape[0], W2.shape[1]
    a1 = x @ W1 + b1
    h = np.maximum(a1, 0)
    a2 = h @ W2 + b2
    eye = np.eye(c)
    grads: dict[str, Array] = {}
    kinks: dict[str, NDArray[np.bool_]] = {}

    def central(delta: Array) -> Array:
        """(L(a2 + delta) - L(a2 - delta)) / 2eps for logit offsets stacked on leading axes."""
        return (_loss_from_logits(a2 + delta, idx) - _loss_from_logits(a2 - delta, idx)) / (2 * eps)

    # b2[c']: every logit of class c' moves by eps.
    grads["b2"] = central(eps * eye[:, None, :] + np.zeros((1, n, 1)))
    kinks["b2"] = np.zeros(b2.shape, dtype=bool)
    # W2[j, c']: logit c' moves by eps * h[:, j].
    grads["W2"] = central(eps * h.T[:, None, :, None] * eye[None, :, None, :])
    kinks["W2"] = np.zeros(W2.shape, dtype=bool)

    def hidden_shift(shift: Array) -> tuple[Array, NDArray[np.bool_]]:
        """Numerical gradient when pre-activations a1 move by +-shift (shape (..., H, N))."""
        a1t = a1.T  # (H, N)
        up = np.maximum(a1t + shift, 0) - h.T
        down = np.maximum(a1t - shift, 0) - h.T
        # NOTE: a ReLU kink inside [a1 - shift, a1 + shift] makes the central
        # difference meaningless (it straddles two slopes); flag it.
        kink = ((np.abs(a1t) < np.abs(shift)) & (shift != 0)).any(axis=-1)
        plus = _loss_from_logits(a2 + up[..., None] * W2[:, None, :], idx)
        minus = _loss_from_logits(a2 + down[..., None] * W2[:, None, :], idx)
        return (plus - minus) / (2 * eps), kink

    grads["b1"], kinks["b1"] = hidden_shift(np.full(a1.T.shape, eps))
    # W1[i, j]: hidden pre-activation j of sample n moves by eps * x[n, i].
    d, hid = W1.shape
    gW1 = np.zeros((d, hid))
    kW1 = np.zeros((d, hid), dtype=bool)
    # NOTE: rows where every sample has x[:, i] == 0 leave the loss bit-for-bit
    # unchanged, so their central difference is exactly 0; skip computing them.
    active = np.flatnonzero(np.any(x != 0, axis=0))
    step = max(1, chunk_elements // max(1, hid * n * c))
    for start in range(0, active.size, step):
        stop()
        rows = active[start : start + step]
        shift = eps * x[:, rows].T[:, None, :] * np.ones((1, hid, 1))  # (rows, H, N)
        gW1[rows], kW1[rows] = hidden_shift(shift)
    grads["W1"], kinks["W1"] = gW1, kW1
    return grads, kinks


def _is_plain_two_layer(network: Any) -> bool:
    """Whether the network computes its loss as TwoLayerNet does (its gradient may differ)."""
    cls = type(network)
    if not (
        isinstance(network, TwoLayerNet)
        and cls.loss is TwoLayerNet.loss
        and cls.predict is TwoLayerNet.predict
        and list(network.layers) == ["Affine1", "Relu1", "Affine2"]
    ):
        return False
    # NOTE: the book's layer classes themselves, not subclasses that may compute otherwise.
    kinds = [type(layer) for layer in network.layers.values()] + [type(network.lastLayer)]
    return kinds == [Affine, Relu, Affine, SoftmaxWithLoss]


def gradcheck(
    network: Any,
    x: Any,
    t: Any,
    *,
    mode: str = "full",
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    seed: int | None = None,
    directions: int = 4,
    stop: Callable[[], None] | None = None,
) -> GradcheckReport:
    """Compare backprop with numerical gradients for every parameter of ``network``.

    ``mode="full"`` checks every element by central differences; ``mode="fast"``
    checks ``directions`` random directional derivatives per parameter, as
    ``torch.autograd.gradcheck(fast_mode=True)`` does. The check runs in
    float64 whatever the network's dtype. Elements whose central difference
    crosses a ReLU kink are counted in ``kinks`` and not judged. ``stop`` is called
    between pieces of work and may raise to end a check early (a time limit, a client gone).
    """
    if mode not in ("full", "fast"):
        raise ValueError(f"mode must be 'full' or 'fast', not {mode!r}")
    start = time.perf_counter()
    stop = stop or (lambda: None)
    net = _as_float64(network) if _is_plain_two_layer(network) else network
    x64 = np.asarray(x, dtype=np.float64)
    t_arr = np.asarray(t)
    if x64.ndim == 1:  # one sample: a batch of one (labels: one index or one one-hot row)
        x64 = x64.reshape(1, -1)
        t_arr = t_arr.reshape(1, -1) if t_arr.ndim == 1 and t_arr.size > 1 else t_arr.reshape(1)
    x64 = x64.reshape(x64.shape[0], -1)
    backprop: dict[str, Any] = net.gradient(x64, t_arr)
    notes: list[str] = []
    reports: dict[str, ParamReport] = {}
    if mode == "full":
        if _is_plain_two_layer(net):
            idx = labels_to_indices(t_arr, net.params["W2"].shape[1])
            numerical, kinks = _two_layer_numerical(net, x64, idx, eps, stop=stop)
            base = float(_loss_from_logits(np.asarray(net.predict(x64), dtype=np.float64), idx))
            if not np.isclose(base, net.loss(x64, t_arr), rtol=1e-12, atol=0):
                raise RuntimeError("vectorised loss disagrees with the network's loss")
        else:
            numerical = {}
            for k, v in net.params.items():
                stop()
                numerical[k] = numerical_gradient(lambda _: net.loss(x64, t_arr), v, eps)
            kinks = {}
        for key in net.params:
            reports[key] = compare(
                backprop[key], numerical[key], atol=atol, rtol=rtol, skip=kinks.get(key)
            )
    else:
        reports = _fast_check(
            net, x64, t_arr, backprop, eps, atol, rtol, seed, directions, stop=stop
        )
    if any(r.kinks for r in reports.values()):
        notes.append(
            "Some elements were not judged: their central difference crosses a ReLU kink "
            "(a hidden pre-activation within eps of 0), where no finite difference is meaningful."
        )
    elapsed = (time.perf_counter() - start) * 1000
    return GradcheckReport(
        passed=all(r.passed for r in reports.values()),
        mode=mode,
        eps=eps,
        atol=atol,
        rtol=rtol,
        elapsed_ms=elapsed,
        params=reports,
        directions=directions if mode == "fast" else None,
        notes=notes,
    )


def _fast_check(
    net: Any,
    x: Array,
    t: NDArray[Any],
    backprop: dict[str, Array],
    eps: float,
    atol: float,
    rtol: float,
    seed: int | None,
    directions: int,
    chunk_elements: int = 2_000_000,
    stop: Callable[[], None] = lambda: None,
) -> dict[str, ParamReport]:
    """Random directional derivatives per parameter vs backprop projected on the same direction."""
    rng = np.random.default_rng(seed)
    reports: dict[str, ParamReport] = {}
    if _is_plain_two_layer(net):
        idx = labels_to_indices(t, net.params["W2"].shape[1])
        p = net.params
        a1 = x @ p["W1"] + p["b1"]
        h = np.maximum(a1, 0)
        acts = (a1, h, h @ p["W2"] + p["b2"])
        base = float(_loss_from_logits(acts[2], idx))
        if not np.isclose(base, net.loss(x, t), rtol=1e-12, atol=0):
            raise RuntimeError("vectorised loss disagrees with the network's loss")
        width = max(a1.shape[1], p["W2"].shape[1]) * x.shape[0]
        for key, param in net.params.items():
            # Directions a chunk at a time, so a big network's check stays small in memory.
            per_chunk = max(1, chunk_elements // (param.size + 8 * width))
            num, ana = np.empty(directions), np.empty(directions)
            kink = np.empty(directions, dtype=bool)
            g = np.asarray(backprop[key], np.float64).ravel()
            for start in range(0, directions, per_chunk):
                stop()
                m = min(per_chunk, directions - start)
                # NOTE: uniform directions in [-1, 1)^n, normalised (as torch's fast mode
                # draws uniform ones): any direction serves, and normal draws took longer
                # than the whole check.
                u = rng.random((m, param.size), dtype=np.float32)
                v = np.multiply(u, 2.0, dtype=np.float64)
                v -= 1.0
                norms = np.sqrt(np.einsum("ij,ij->i", v, v))
                v /= np.where(norms > 0, norms, 1.0)[:, None]
                ana[start : start + m] = v @ g
                v *= eps
                chunk = _two_layer_directional(
                    net, x, idx, key, v.reshape(m, *param.shape), eps, acts
                )
                num[start : start + m], kink[start : start + m] = chunk
            reports[key] = compare(ana, num, atol=atol, rtol=rtol, skip=kink)
            reports[key].size = int(param.size)
        return reports
    f0 = float(net.loss(x, t))
    for key, param in net.params.items():
        saved = param.copy()

        def loss(value: Array, param: NDArray[Any] = param) -> float:
            param[...] = value
            return float(net.loss(x, t))

        vs = [unit_vector(rng.standard_normal(param.shape)) for _ in range(directions)]
        try:
            diffs = []
            for v in vs:
                stop()
                diffs.append(directional_difference(loss, saved, v, eps, f0))
        finally:
            param[...] = saved
        reports[key] = compare_directions(
            [float(np.sum(backprop[key] * v)) for v in vs], diffs, atol, rtol, param.size
        )
    return reports


def compare_directions(
    backprop: list[float], diffs: list[Difference], atol: float, rtol: float, size: int
) -> ParamReport:
    """Compare backprop's projections with central differences along the same directions."""
    report = compare(
        np.array(backprop),
        np.array([d.value for d in diffs]),
        atol=atol,
        rtol=rtol,
        skip=np.array([d.kink for d in diffs], dtype=bool),
        undefined={(i,): d.undefined for i, d in enumerate(diffs) if d.undefined is not None},
    )
    report.size = int(size)
    return report


def _two_layer_directional(
    net: TwoLayerNet,
    x: Array,
    idx: NDArray[np.intp],
    key: str,
    steps: Array,
    eps: float,
    acts: tuple[Array, Array, Array],
) -> tuple[Array, NDArray[np.bool_]]:
    """Central differences of a TwoLayerNet's loss along stacked steps (eps * direction) of one
    parameter, all at once from the activations ``acts`` = (a1, h, a2); and whether each
    step crosses a ReLU kink."""
    p = net.params
    a1, h, a2 = acts  # (N, H), (N, H), (N, C)
    kink = np.zeros(len(steps), dtype=bool)
    if key in ("W1", "b1"):
        shift = x @ steps if key == "W1" else steps[:, None, :]  # (D, N, H) or (D, 1, H)
        # NOTE: as in the full check, a pre-activation within the step of 0 makes the
        # central difference straddle the ReLU kink; such directions are not judged.
        kink = np.any(np.abs(a1) < np.abs(shift), axis=(1, 2))
        plus = np.maximum(a1 + shift, 0) @ p["W2"] + p["b2"]
        minus = np.maximum(a1 - shift, 0) @ p["W2"] + p["b2"]
    else:
        shift = h @ steps if key == "W2" else steps[:, None, :]  # (D, N, C) or (D, 1, C)
        plus, minus = a2 + shift, a2 - shift
    losses = _loss_from_logits(np.stack(np.broadcast_arrays(plus, minus)), idx)
    num = (losses[0] - losses[1]) / (2 * eps)
    return num, kink

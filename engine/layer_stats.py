"""Per-layer statistics of one training step: what the ``layers`` event carries.

For each Affine layer of a network, from arrays the step already has (no extra
forward or backward pass):

- ``grad_mean_abs``, ``grad_max_abs``: mean and largest |dL/dW| of its weights;
- ``grad_to_data``: std(dW) / std(W), the gradient's scale against the weights';
- ``update_to_data``: std(W_after - W_before) / std(W_before), what the optimizer
  step changed against the weights (about 1e-3 is healthy, Karpathy's rule of thumb);
- ``activation_hist``: 30 bins of the layer's output after its activation, as the
  next Affine receives it (after Dropout, if any); for the last Affine, the
  softmax probabilities. The counts sum to the batch's elements (N x units);
- ``grad_hist``: 30 bins of dW's elements (the counts sum to W's size);
- ``saturated``: the fraction of the activation that no longer passes a gradient
  (see ``saturation``); ``None`` for the output layer (softmax is not judged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]

#: Bins of every histogram (so 31 edges).
BINS = 30
#: A sigmoid output this close to 0 or 1 is saturated: its local gradient y(1 - y) is below ~0.01.
SIGMOID_MARGIN = 0.01
#: A tanh output with |y| above this is saturated: its local gradient 1 - y^2 is below ~0.06.
TANH_LIMIT = 0.97
#: The fixed histogram range of each bounded activation (others use the data's min and max).
RANGES: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "softmax": (0.0, 1.0),
}


@dataclass
class LayerArrays:
    """The arrays of one Affine layer at one step, as the step left them."""

    name: str
    param: str
    before: Array  # the weights before the optimizer's update (a copy)
    after: Array  # the weights after it
    grad: Array  # dL/dW of this step (with weight decay, if any)
    activation: Array  # the output after the activation (softmax probabilities for the last)
    kind: str  # "relu", "sigmoid", "tanh" or "softmax"
    saturating: Array | None = None  # the activation's own output, when Dropout came after it


def histogram(values: Array, value_range: tuple[float, float] | None = None) -> dict[str, Any]:
    """``{"edges": 31 numbers, "counts": 30}`` of every element of ``values``.

    Without a range, the data's min and max (np.histogram's rule); values outside a given
    range are clipped into its end bins, so the counts always sum to ``values.size``.
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size == 0:
        return {"edges": [0.0] * (BINS + 1), "counts": [0] * BINS}
    finite = flat[np.isfinite(flat)] if not np.isfinite(flat).all() else flat
    if value_range is None:
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    else:
        lo, hi = value_range
        finite = np.clip(finite, lo, hi)
    if lo == hi:  # np.histogram's rule for a constant array
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=BINS, range=(lo, hi))
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def saturation(output: Array, kind: str) -> float | None:
    """The fraction of an activation's output that no longer passes a gradient back.

    sigmoid: outputs within ``SIGMOID_MARGIN`` of 0 or 1; tanh: |y| > ``TANH_LIMIT``;
    ReLU: dead units, the fraction of units (columns) that are 0 for every example of
    the batch. The output layer's softmax: None.
    """
    y = np.asarray(output)
    if y.size == 0 or kind == "softmax":
        return None
    if kind == "sigmoid":
        hit = (y < SIGMOID_MARGIN) | (y > 1.0 - SIGMOID_MARGIN)
        return float(np.count_nonzero(hit)) / y.size
    if kind == "tanh":
        return float(np.count_nonzero(np.abs(y) > TANH_LIMIT)) / y.size
    if kind == "relu":
        rows = y.reshape(y.shape[0], -1) if y.ndim > 1 else y.reshape(1, -1)
        dead = ~np.any(rows > 0, axis=0)
        return float(np.count_nonzero(dead)) / rows.shape[1]
    raise ValueError(f"no saturation rule for activation {kind!r}")


def _ratio(num: Array, den: Array) -> float:
    d = float(np.std(den))
    return float(np.std(num)) / d if d > 0 else 0.0


def layer_stats(layer: LayerArrays) -> dict[str, Any]:
    """One entry of the ``layers`` event."""
    grad = np.asarray(layer.grad, dtype=np.float64)
    before = np.asarray(layer.before, dtype=np.float64)
    update = np.asarray(layer.after, dtype=np.float64) - before
    absg = np.abs(grad)
    out = layer.saturating if layer.saturating is not None else layer.activation
    return {
        "name": layer.name,
        "param": layer.param,
        "grad_mean_abs": float(absg.mean()) if absg.size else 0.0,
        "grad_max_abs": float(absg.max()) if absg.size else 0.0,
        "grad_to_data": _ratio(grad, before),
        "update_to_data": _ratio(update, before),
        "activation_hist": histogram(layer.activation, RANGES.get(layer.kind)),
        "grad_hist": histogram(grad),
        "saturated": saturation(out, layer.kind),
    }


def network_stats(layers: list[LayerArrays]) -> list[dict[str, Any]]:
    """The ``layers`` list of a ``layers`` event, input side first."""
    return [layer_stats(layer) for layer in layers]


def _activation_kind(network: Any) -> str:
    return str(getattr(network, "activation", "relu"))


def from_layers(
    network: Any, before: dict[str, Array], grads: dict[str, Array]
) -> list[LayerArrays]:
    """The arrays of a layer-object network (TwoLayerNet, MultiLayerNet) after a step.

    Uses the caches the forward pass left: each Affine's input ``x`` (so the previous
    layer's output as it arrived), the activation layers' ``out`` (sigmoid, tanh) and
    the loss layer's softmax ``y``.
    """
    items = list(network.layers.items())
    kind = _activation_kind(network)
    affines = [(i, key) for i, (key, _) in enumerate(items) if key.startswith("Affine")]
    last = getattr(network, "last_layer", None) or network.lastLayer
    arrays: list[LayerArrays] = []
    for n, (pos, key) in enumerate(affines):
        number = key[len("Affine") :]
        param = f"W{number}"
        layer = items[pos][1]
        if n + 1 < len(affines):
            activation = items[affines[n + 1][0]][1].x
            own = None
            for _, other in items[pos + 1 : affines[n + 1][0]]:
                if isinstance(getattr(other, "out", None), np.ndarray):
                    own = other.out  # sigmoid / tanh keep their output
            dropped = any(k.startswith("Dropout") for k, _ in items[pos + 1 : affines[n + 1][0]])
            arrays.append(
                LayerArrays(
                    key,
                    param,
                    before[param],
                    layer.W,
                    grads[param],
                    activation,
                    kind,
                    own if dropped else None,
                )
            )
        else:
            arrays.append(
                LayerArrays(key, param, before[param], layer.W, grads[param], last.y, "softmax")
            )
    return arrays


def weights_before(params: dict[str, Array]) -> dict[str, Array]:
    """Copies of the weight matrices (W1, W2, ...) before a step."""
    return {k: v.copy() for k, v in params.items() if k.startswith("W")}

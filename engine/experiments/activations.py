"""The activation histograms of ``ch06/weight_init_activation_histogram.py``.

Random inputs go through ``layers`` fully connected layers of ``nodes`` units without biases;
each layer's outputs are counted in a histogram. With a seed, the numbers are the book's script
run after ``np.random.seed(seed)``: a private ``RandomState(seed)`` draws the same stream
(legacy MT19937) without touching NumPy's global state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def _sigmoid(x: Array) -> Array:
    # NOTE: the book's formula, not engine.functions.sigmoid's stable one, so the bits match.
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _relu(x: Array) -> Array:
    return np.maximum(0, x)


def _tanh(x: Array) -> Array:
    return np.tanh(x)


#: The activation functions of the experiment, by the name the API uses.
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": _sigmoid,
    "relu": _relu,
    "tanh": _tanh,
}

#: The weight initialisations: a fixed std, Xavier's sqrt(1/n) or He's sqrt(2/n).
INITS: tuple[str, ...] = ("std", "xavier", "he")


@dataclass(frozen=True)
class ActivationSettings:
    """The settings of one histogram experiment."""

    layers: int = 5
    nodes: int = 100
    samples: int = 1000
    activation: str = "sigmoid"
    init: str = "std"
    weight_init_std: float = 1.0
    bins: int = 30
    seed: int = 0
    range: tuple[float, float] = (0.0, 1.0)


#: The book's settings (its figure 6-10: sigmoid with std 1).
ACTIVATION_DEFAULTS = ActivationSettings()

#: Upper bounds of a request (the API answers 413 past them): at most about 1 s of work.
ACTIVATION_LIMITS: dict[str, int] = {"layers": 10, "nodes": 300, "samples": 5000, "bins": 200}


@dataclass
class LayerHistogram:
    """One layer's activations: histogram edges and counts, their mean and std."""

    edges: list[float]
    counts: list[int]
    mean: float
    std: float
    outside: int


def init_scale(init: str, nodes: int, weight_init_std: float = 1.0) -> float:
    """The factor the standard normal weights are multiplied by."""
    if init == "xavier":
        return float(np.sqrt(1.0 / nodes))
    if init == "he":
        return float(np.sqrt(2.0 / nodes))
    return weight_init_std


def activation_histograms(
    layers: int = 5,
    nodes: int = 100,
    samples: int = 1000,
    activation: str = "sigmoid",
    init: str = "std",
    weight_init_std: float = 1.0,
    bins: int = 30,
    seed: int = 0,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> list[LayerHistogram]:
    """Each layer's activation histogram, as the book's script computes it."""
    rng = np.random.RandomState(seed)
    act = ACTIVATIONS[activation]
    scale = init_scale(init, nodes, weight_init_std)
    x: Array = rng.randn(samples, nodes)
    out: list[LayerHistogram] = []
    for _ in range(layers):
        w = rng.randn(nodes, nodes) * scale
        a = np.dot(x, w)
        z = act(a)
        counts, edges = np.histogram(z.flatten(), bins, range=value_range)
        flat = z.flatten()
        outside = int(np.count_nonzero((flat < value_range[0]) | (flat > value_range[1])))
        out.append(
            LayerHistogram(
                edges=edges.tolist(),
                counts=counts.tolist(),
                mean=float(np.mean(z)),
                std=float(np.std(z)),
                outside=outside,
            )
        )
        x = z
    return out

"""The chapter-6 experiments against the book's own scripts, transcribed here as the reference.

``Book*`` below are the optimizer classes of the book's ``common/optimizer.py`` verbatim (only
renamed), ``f``/``df`` and the loop are ``ch06/optimizer_compare_naive.py``'s, and
``book_activations`` is ``ch06/weight_init_activation_histogram.py`` with its commented-out
alternatives selectable, run after ``np.random.seed(seed)``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

from engine.experiments import (
    ACTIVATION_DEFAULTS,
    ACTIVATIONS,
    FUNCTIONS,
    INITS,
    RACE_DEFAULTS,
    activation_histograms,
    arrivals,
    contours,
    race,
)

# ----------------------------------------------------------------- the book's optimizers


class BookSGD:
    def __init__(self, lr=0.01):  # type: ignore[no-untyped-def]
        self.lr = lr

    def update(self, params, grads):  # type: ignore[no-untyped-def]
        for key in params.keys():  # noqa: SIM118 (the book verbatim)
            params[key] -= self.lr * grads[key]


class BookMomentum:
    def __init__(self, lr=0.01, momentum=0.9):  # type: ignore[no-untyped-def]
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):  # type: ignore[no-untyped-def]
        if self.v is None:
            self.v = {}
            for key, val in params.items():
                self.v[key] = np.zeros_like(val)

        for key in params.keys():  # noqa: SIM118 (the book verbatim)
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class BookAdaGrad:
    def __init__(self, lr=0.01):  # type: ignore[no-untyped-def]
        self.lr = lr
        self.h = None

    def update(self, params, grads):  # type: ignore[no-untyped-def]
        if self.h is None:
            self.h = {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)

        for key in params.keys():  # noqa: SIM118 (the book verbatim)
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class BookAdam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):  # type: ignore[no-untyped-def]
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):  # type: ignore[no-untyped-def]
        if self.m is None:
            self.m, self.v = {}, {}
            for key, val in params.items():
                self.m[key] = np.zeros_like(val)
                self.v[key] = np.zeros_like(val)

        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)

        for key in params.keys():  # noqa: SIM118 (the book verbatim)
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])

            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


BOOK = {"sgd": BookSGD, "momentum": BookMomentum, "adagrad": BookAdaGrad, "adam": BookAdam}


def f(x, y):  # type: ignore[no-untyped-def]
    return x**2 / 20.0 + y**2


def df(x, y):  # type: ignore[no-untyped-def]
    return x / 10.0, 2.0 * y


def book_race(lrs: dict[str, float], init_pos: tuple[float, float], steps: int) -> dict[str, Any]:
    """optimizer_compare_naive.py's loop, keeping the point after the last update too."""
    params: dict[str, Any] = {}
    grads: dict[str, Any] = {}
    optimizers = OrderedDict((key, BOOK[key](lr=lr)) for key, lr in lrs.items())
    out = {}
    for key in optimizers:
        optimizer = optimizers[key]
        x_history = []
        y_history = []
        params["x"], params["y"] = init_pos[0], init_pos[1]
        for _ in range(steps):
            x_history.append(params["x"])
            y_history.append(params["y"])
            grads["x"], grads["y"] = df(params["x"], params["y"])
            optimizer.update(params, grads)
        x_history.append(params["x"])
        y_history.append(params["y"])
        out[key] = (x_history, y_history, optimizer)
    return out


# ----------------------------------------------------------------- the race


def test_the_defaults_are_the_books() -> None:
    assert RACE_DEFAULTS.start == (-7.0, 2.0)
    assert RACE_DEFAULTS.steps == 30
    book = {"sgd": 0.95, "momentum": 0.1, "adagrad": 1.5, "adam": 0.3}
    assert dict(RACE_DEFAULTS.optimizers) == book


@pytest.mark.parametrize(
    ("lrs", "start", "steps"),
    [
        ({"sgd": 0.95, "momentum": 0.1, "adagrad": 1.5, "adam": 0.3}, (-7.0, 2.0), 30),
        ({"sgd": 0.1, "momentum": 0.05, "adagrad": 0.4, "adam": 1.2}, (3.5, -4.25), 120),
        ({"adam": 0.001, "sgd": 1.01}, (9.0, 0.5), 7),
    ],
)
def test_each_path_is_the_books(
    lrs: dict[str, float], start: tuple[float, float], steps: int
) -> None:
    paths, traces = race(lrs, start, steps)
    book = book_race(lrs, start, steps)
    assert list(paths) == list(lrs)
    for name, (xs, ys, _) in book.items():
        assert len(paths[name]) == steps + 1
        got = np.array(paths[name])
        np.testing.assert_allclose(got[:, 0], xs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got[:, 1], ys, rtol=0, atol=1e-12)
        assert len(traces[name]) == steps


def test_the_trace_holds_the_gradient_read_and_the_state_after_each_update() -> None:
    lrs = {"momentum": 0.1, "adagrad": 1.5, "adam": 0.3}
    paths, traces = race(lrs, (-7.0, 2.0), 3)
    for name in lrs:
        x, y = paths[name][2]
        assert traces[name][2].grad == pytest.approx(df(x, y), abs=1e-15)
    book = book_race(lrs, (-7.0, 2.0), 30)
    full_paths, full = race(lrs, (-7.0, 2.0), 30)
    assert full["momentum"][-1].state["v"] == pytest.approx(
        [float(book["momentum"][2].v[k]) for k in "xy"], abs=1e-12
    )
    assert full["adagrad"][-1].state["h"] == pytest.approx(
        [float(book["adagrad"][2].h[k]) for k in "xy"], abs=1e-12
    )
    adam = book["adam"][2]
    last = full["adam"][-1].state
    assert last["m"] == pytest.approx([float(adam.m[k]) for k in "xy"], abs=1e-12)
    assert last["v"] == pytest.approx([float(adam.v[k]) for k in "xy"], abs=1e-12)
    assert last["t"] == 30
    assert last["lr_t"] == pytest.approx(0.3 * np.sqrt(1 - 0.999**30) / (1 - 0.9**30), abs=1e-15)
    # every step's new point is the previous one plus what the rule adds
    v = full["momentum"][4].state["v"]
    assert full_paths["momentum"][5][0] == pytest.approx(full_paths["momentum"][4][0] + v[0])


def test_adagrad_arrives_first_on_the_books_race() -> None:
    paths, _ = race(dict(RACE_DEFAULTS.optimizers), RACE_DEFAULTS.start, RACE_DEFAULTS.steps)
    first = arrivals(paths, "x2/20+y2")
    radius = FUNCTIONS["x2/20+y2"].radius
    for name, step in first.items():
        assert step is not None
        assert np.hypot(*paths[name][step]) <= radius < np.hypot(*paths[name][step - 1])
    assert min(first, key=lambda k: first[k] or 10**9) == "adagrad"


def test_a_diverging_path_carries_infinities_without_warnings() -> None:
    with np.errstate(all="raise"):
        paths, _ = race({"sgd": 500.0}, (-7.0, 2.0), 200)
    assert not np.all(np.isfinite(paths["sgd"][-1]))


def test_contours_lie_on_their_levels() -> None:
    c = contours("x2/20+y2")
    assert len(c.segments) == len(c.levels)
    for level, segs in zip(c.levels, c.segments, strict=True):
        assert segs, level
        ends = np.array(segs).reshape(-1, 2)
        np.testing.assert_allclose(f(ends[:, 0], ends[:, 1]), level, rtol=0.05, atol=0.02)


# ----------------------------------------------------------------- the activation histograms


def sigmoid(x):  # type: ignore[no-untyped-def]
    return 1 / (1 + np.exp(-x))


def ReLU(x):  # type: ignore[no-untyped-def]
    return np.maximum(0, x)


def tanh(x):  # type: ignore[no-untyped-def]
    return np.tanh(x)


def book_activations(  # type: ignore[no-untyped-def]
    seed, samples, node_num, hidden_layer_size, scale, activation, bins, value_range
):
    """weight_init_activation_histogram.py, its alternatives picked by argument."""
    np.random.seed(seed)
    input_data = np.random.randn(samples, node_num)
    activations = {}
    x = input_data
    for i in range(hidden_layer_size):
        if i != 0:
            x = activations[i - 1]
        w = np.random.randn(node_num, node_num) * scale
        a = np.dot(x, w)
        z = {"sigmoid": sigmoid, "relu": ReLU, "tanh": tanh}[activation](a)
        activations[i] = z
    return [
        (*np.histogram(a.flatten(), bins, range=value_range), np.mean(a), np.std(a))
        for a in activations.values()
    ]


SCALES = {"std1": ("std", 1.0, 1.0), "std001": ("std", 0.01, 0.01)}
SCALES["xavier"] = ("xavier", 1.0, np.sqrt(1.0 / 100))
SCALES["he"] = ("he", 1.0, np.sqrt(2.0 / 100))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("case", sorted(SCALES))
def test_each_histogram_is_the_books_exactly(activation: str, case: str) -> None:
    init, std, scale = SCALES[case]
    got = activation_histograms(
        activation=activation, init=init, weight_init_std=std, seed=0
    )  # the book's 5 layers of 100 nodes, 1000 samples, 30 bins on (0, 1)
    state = np.random.get_state()
    want = book_activations(0, 1000, 100, 5, scale, activation, 30, (0, 1))
    assert len(got) == 5
    for layer, (counts, edges, mean, std_) in zip(got, want, strict=True):
        assert layer.counts == counts.tolist()
        assert layer.edges == edges.tolist()
        assert layer.mean == mean
        assert layer.std == std_
    np.random.set_state(state)


def test_other_sizes_seeds_and_ranges_are_the_books_too() -> None:
    got = activation_histograms(
        layers=3,
        nodes=20,
        samples=50,
        activation="tanh",
        init="he",
        bins=7,
        seed=1234,
        value_range=(-1.0, 1.0),
    )
    want = book_activations(1234, 50, 20, 3, np.sqrt(2.0 / 20), "tanh", 7, (-1.0, 1.0))
    for layer, (counts, edges, mean, std) in zip(got, want, strict=True):
        assert (layer.counts, layer.edges, layer.mean, layer.std) == (
            counts.tolist(),
            edges.tolist(),
            mean,
            std,
        )
        assert sum(layer.counts) + layer.outside == 50 * 20


def test_the_global_random_state_is_left_alone() -> None:
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    activation_histograms(seed=0)
    assert np.array_equal(np.random.get_state()[1], before)


def test_the_defaults_and_inits_are_the_books() -> None:
    assert INITS == ("std", "xavier", "he")
    d = ACTIVATION_DEFAULTS
    assert (d.layers, d.nodes, d.samples, d.bins, d.range) == (5, 100, 1000, 30, (0.0, 1.0))
    assert (d.activation, d.init, d.weight_init_std) == ("sigmoid", "std", 1.0)

"""Each optimizer's first two steps against the book's update rule, worked out by hand.

W = (1, -2), first gradient (0.5, -1), second gradient (0.25, 0.5), lr = 0.1; the other
hyperparameters are the book's defaults. A new optimizer in OPTIMIZERS needs its case here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.cli import build_parser
from engine.optimizers import OPTIMIZERS

W0 = (1.0, -2.0)
GRADS = ((0.5, -1.0), (0.25, 0.5))
E = 1e-7  # the book's guard against division by 0, in AdaGrad's and Adam's denominators

#: W after the first and after the second step.
CASES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    # W -= lr g
    "sgd": ((0.95, -1.9), (0.925, -1.95)),
    # v = 0.9 v - lr g; W += v: v1 = (-0.05, 0.1), v2 = (-0.045 - 0.025, 0.09 - 0.05)
    "momentum": ((0.95, -1.9), (0.88, -1.86)),
    # v = 0.9 v - lr g; W += 0.81 v - 1.9 lr g: v1 = (-0.05, 0.1), so W1 = (1 - 0.0405 - 0.095,
    # -2 + 0.081 + 0.19); v2 = (-0.07, 0.04), so W2 = W1 + (-0.0567 - 0.0475, 0.0324 - 0.095)
    "nesterov": ((0.8645, -1.729), (0.7603, -1.7916)),
    # h += g^2; W -= lr g / (sqrt(h) + 1e-7): h1 = (0.25, 1), so step 1 is about lr sign(g);
    # h2 = (0.3125, 1.25) and sqrt(0.3125) = sqrt(1.25) / 2
    "adagrad": (
        (1 - 0.05 / (0.5 + E), -2 + 0.1 / (1 + E)),
        (
            1 - 0.05 / (0.5 + E) - 0.025 / (0.5 * math.sqrt(1.25) + E),
            -2 + 0.1 / (1 + E) - 0.05 / (math.sqrt(1.25) + E),
        ),
    ),
    # m += 0.1 (g - m); v += 0.001 (g^2 - v); W -= lr_t m / (sqrt(v) + 1e-7) with
    # lr_t = lr sqrt(1 - 0.999^t) / (1 - 0.9^t): m1 = (0.05, -0.1), v1 = (0.00025, 0.001),
    # lr_1 = sqrt(0.001); then m2 = (0.07, -0.04), v2 = (0.00031225, 0.001249),
    # lr_2 = 0.1 sqrt(0.001999) / 0.19
    "adam": (
        (
            1 - math.sqrt(0.001) * 0.05 / (math.sqrt(0.00025) + E),
            -2 + math.sqrt(0.001) * 0.1 / (math.sqrt(0.001) + E),
        ),
        (
            1
            - math.sqrt(0.001) * 0.05 / (math.sqrt(0.00025) + E)
            - 0.1 * math.sqrt(0.001999) / 0.19 * 0.07 / (math.sqrt(0.00031225) + E),
            -2
            + math.sqrt(0.001) * 0.1 / (math.sqrt(0.001) + E)
            + 0.1 * math.sqrt(0.001999) / 0.19 * 0.04 / (math.sqrt(0.001249) + E),
        ),
    ),
}


def test_every_optimizer_has_a_hand_worked_case() -> None:
    assert set(CASES) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_steps_match_the_hand_computation(name: str) -> None:
    w = np.array(W0)
    params = {"W": w}
    optimizer = OPTIMIZERS[name](lr=0.1)
    for grad, expected in zip(GRADS, CASES[name], strict=True):
        optimizer.update(params, {"W": np.array(grad)})
        assert params["W"] is w  # updated in place: the network's arrays are shared
        np.testing.assert_allclose(w, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_float32_stays_float32(name: str) -> None:
    params = {"W": np.array(W0, dtype=np.float32)}
    OPTIMIZERS[name](lr=0.1).update(params, {"W": np.array(GRADS[0], dtype=np.float32)})
    assert params["W"].dtype == np.float32


def test_the_cli_offers_exactly_the_table() -> None:
    train = build_parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    (action,) = [a for a in train._actions if a.dest == "optimizer"]
    assert list(action.choices or []) == list(OPTIMIZERS)
    assert action.default == next(iter(OPTIMIZERS))

"""The gradient check itself: it catches wrong gradients, reports kinks, agrees with the loop."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Affine, TwoLayerNet, gradcheck, numerical_gradient
from engine.gradcheck import _fast_check, _two_layer_directional, compare
from engine.gradient import EPS
from engine.layers import SoftmaxWithLoss


def data(seed: int, n: int = 3, d: int = 784) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, d)) * (rng.random((n, d)) > 0.7), rng.integers(0, 10, n)


def test_numerical_gradient_of_a_known_function() -> None:
    x = np.array([3.0, 4.0])
    grad = numerical_gradient(lambda v: v[0] ** 2 + v[1] ** 2, x)
    assert np.allclose(grad, [6.0, 8.0], atol=1e-8)
    assert np.array_equal(x, [3.0, 4.0]), "x is restored"
    scalar = np.array(2.0)
    assert numerical_gradient(lambda v: float(v) ** 3, scalar) == pytest.approx(12.0, rel=1e-7)


def test_vectorised_full_check_equals_the_books_loop() -> None:
    net = TwoLayerNet(12, 6, 4, weight_init_std=0.3, seed=2)
    x, t = data(3, n=4, d=12)
    t = t % 4
    report = gradcheck(net, x, t)
    loop = net.numerical_gradient(x, t)
    grad = net.gradient(x, t)
    for key in net.params:
        diff = np.abs(loop[key] - grad[key])
        assert report.params[key].max_abs_diff == pytest.approx(diff.max(), abs=1e-11), key


class BrokenNet(TwoLayerNet):
    """A TwoLayerNet whose b1 gradient is wrong by a factor of 1.01."""

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        grads = super().gradient(x, t)
        grads["b1"] = grads["b1"] * 1.01
        return grads


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_a_wrong_gradient_fails_the_check(mode: str) -> None:
    net = BrokenNet(784, 50, 10, seed=0, weight_init_std=0.1)
    x, t = data(1)
    report = gradcheck(net, x, t, mode=mode, seed=0)
    assert not report.passed
    assert not report.params["b1"].passed
    assert report.params["W1"].passed and report.params["W2"].passed


def test_relu_kinks_are_detected_and_not_judged() -> None:
    net = TwoLayerNet(784, 50, 10, seed=4)
    x, t = data(2)
    a1 = x @ net.params["W1"]
    # Put hidden unit 7 of sample 0 right on the kink: its pre-activation is 2e-5 < eps.
    net.params["b1"][7] = -a1[0, 7] + 2e-5
    report = gradcheck(net, x, t)
    assert report.params["b1"].kinks >= 1
    assert report.kinks == sum(p.kinks for p in report.params.values())
    assert report.passed, "kinked elements are reported, not failed"
    assert report.notes and "kink" in report.notes[0]


def test_fast_mode_passes_and_is_fast_and_reports_directions() -> None:
    net = TwoLayerNet(784, 50, 10, seed=5)
    x, t = data(5)
    report = gradcheck(net, x, t, mode="fast", seed=1, directions=4)
    assert report.passed and report.mode == "fast" and report.directions == 4
    assert report.params["W1"].size == 784 * 50
    d = report.to_dict()
    assert set(d["params"]["W2"]) >= {"mean_abs_diff", "max_abs_diff", "max_rel_error", "passed"}


def test_float32_network_is_checked_in_float64_without_changing_it() -> None:
    net = TwoLayerNet(784, 50, 10, seed=6, dtype=np.float32)
    before = {k: v.copy() for k, v in net.params.items()}
    x, t = data(6)
    assert gradcheck(net, x, t).passed
    for key, value in net.params.items():
        assert value.dtype == np.float32 and np.array_equal(value, before[key])


def test_generic_networks_use_the_element_loop() -> None:
    class OneAffine:
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.params = {"W": rng.standard_normal((3, 2)), "b": np.zeros(2)}
            self.layer = Affine(self.params["W"], self.params["b"])

        def loss(self, x: np.ndarray, t: np.ndarray) -> float:
            return float(0.5 * np.sum((self.layer.forward(x) - t) ** 2))

        def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
            self.layer.forward(x)
            self.layer.backward(self.layer.forward(x) - t)
            return {"W": self.layer.dW, "b": self.layer.db}

    x = np.random.default_rng(1).standard_normal((4, 3))
    t = np.zeros((4, 2))
    assert gradcheck(OneAffine(), x, t).passed


def test_compare_reports_worst_elements_and_relative_error() -> None:
    rep = compare(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0]), atol=1e-7, rtol=1e-5)
    assert not rep.passed and rep.max_abs_diff == 0.5
    assert rep.max_rel_error == pytest.approx(0.2)
    assert rep.worst[0]["index"] == [1]


def test_bad_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="full"):
        gradcheck(TwoLayerNet(4, 3, 2), np.ones((1, 4)), np.array([0]), mode="slow")


@pytest.mark.parametrize("key", ["W1", "b1", "W2", "b2"])
def test_fast_directional_differences_are_the_networks_own(key: str) -> None:
    """The vectorised directional differences equal perturbing the parameter and calling loss."""
    net = TwoLayerNet(784, 20, 10, seed=7, weight_init_std=0.1)
    x, t = data(7)
    rng = np.random.default_rng(0)
    param = net.params[key]
    v = rng.uniform(-1, 1, (3, *param.shape))
    a1 = x @ net.params["W1"] + net.params["b1"]
    h = np.maximum(a1, 0)
    acts = (a1, h, h @ net.params["W2"] + net.params["b2"])
    got, _ = _two_layer_directional(net, x, t, key, EPS * v, EPS, acts)
    saved = param.copy()
    for k in range(3):
        param[...] = saved + EPS * v[k]
        plus = net.loss(x, t)
        param[...] = saved - EPS * v[k]
        minus = net.loss(x, t)
        param[...] = saved
        assert got[k] == pytest.approx((plus - minus) / (2 * EPS), rel=1e-6, abs=1e-12)


def test_fast_mode_reports_directions_across_a_relu_kink() -> None:
    net = TwoLayerNet(784, 50, 10, seed=4)
    x, t = data(2)
    a1 = x @ net.params["W1"]
    net.params["b1"][7] = -a1[0, 7] + 1e-9  # within any step of eps * direction
    report = gradcheck(net, x, t, mode="fast", seed=0)
    assert report.params["b1"].kinks == 4, "every b1 direction moves unit 7 across 0"
    assert report.passed and report.notes


class SumLoss(SoftmaxWithLoss):
    """A loss layer that sums over the batch where the network's gradient assumes the mean."""

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        return super().forward(x, t) * np.asarray(x).shape[0]


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_a_network_whose_loss_is_not_the_books_is_checked_against_its_own_loss(
    mode: str,
) -> None:
    net = TwoLayerNet(784, 20, 10, seed=8, weight_init_std=0.1)
    net.lastLayer = SumLoss()
    x, t = data(8)
    report = gradcheck(net, x, t, mode=mode, seed=0)
    assert not report.passed, "backprop's mean-loss gradient is 1/3 of the summed loss's"


def test_fast_mode_in_chunks_draws_and_judges_the_same_directions() -> None:
    net = TwoLayerNet(784, 30, 10, seed=9, weight_init_std=0.1)
    x, t = data(9)
    backprop = net.gradient(x, t)
    whole = _fast_check(net, x, t, backprop, EPS, 1e-7, 1e-5, 3, 6)
    chunked = _fast_check(net, x, t, backprop, EPS, 1e-7, 1e-5, 3, 6, chunk_elements=1)
    for key in net.params:
        assert chunked[key].max_abs_diff == pytest.approx(whole[key].max_abs_diff, rel=1e-6)
        for field in ("backprop", "numerical"):
            got = [w[field] for w in chunked[key].worst]
            assert got == pytest.approx([w[field] for w in whole[key].worst], rel=1e-9), key


def test_directional_difference_tells_a_kink_from_curvature() -> None:
    """ReLU at 0 is a kink; 1/x near 0 only curves (refined); a kink past eps/2 is escaped."""
    from engine.gradient import directional_difference

    one = np.ones(1)
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    at_zero = directional_difference(relu, np.zeros(1), one, 1e-4, relu(np.zeros(1)))
    assert at_zero.kink
    x = np.array([0.7e-4])  # the kink lies 0.7 eps to the left: the half step misses it
    escaped = directional_difference(relu, x, one, 1e-4, relu(x))
    assert not escaped.kink and escaped.value == pytest.approx(1.0, rel=1e-9)
    inv = lambda x: 1.0 / x  # noqa: E731
    x = np.array([0.0135])
    curved = directional_difference(inv, x, one, 1e-4, inv(x))
    assert not curved.kink
    assert curved.value == pytest.approx(-1 / 0.0135**2, rel=1e-7)  # plain: only 2e-5
    with np.errstate(invalid="ignore"):  # log(5e-5 - 1e-4) is nan: undefined, not 0
        undefined = directional_difference(np.log, np.array([5e-5]), one, 1e-4, np.log(5e-5))
    assert np.isnan(undefined.value) and "nan" in str(undefined.undefined)

"""TwoLayerNet: the book's API, seeding, dtypes, and gradients that pass the element-wise check."""

from __future__ import annotations

import numpy as np
import pytest

from engine import TwoLayerNet, gradcheck


def batch(seed: int, n: int = 3, d: int = 784) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, d)) * (rng.random((n, d)) > 0.7)  # sparse like MNIST pixels
    return x, rng.integers(0, 10, n)


def test_book_api_shapes_and_names() -> None:
    net = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (784, 50),
        "b1": (50,),
        "W2": (50, 10),
        "b2": (10,),
    }
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert net.layers["Affine1"].W is net.params["W1"], "parameters are shared by reference"
    x, t = batch(0)
    assert net.predict(x).shape == (3, 10)
    assert net.loss(x, t) == pytest.approx(np.log(10), abs=0.05)
    assert 0.0 <= net.accuracy(x, t) <= 1.0
    assert net.accuracy(x, np.eye(10)[t]) == net.accuracy(x, t)
    grads = net.gradient(x, t)
    assert set(grads) == {"W1", "b1", "W2", "b2"}


def test_seed_makes_it_reproducible_and_dtype_is_kept() -> None:
    a = TwoLayerNet(10, 5, 3, seed=7)
    b = TwoLayerNet(10, 5, 3, seed=7)
    c = TwoLayerNet(10, 5, 3, seed=8)
    assert np.array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    n32 = TwoLayerNet(10, 5, 3, seed=7, dtype=np.float32)
    x = np.random.default_rng(0).random((4, 10)).astype(np.float32)
    grads = n32.gradient(x, np.array([0, 1, 2, 0]))
    assert all(g.dtype == np.float32 for g in grads.values())
    assert n32.predict(x).dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        TwoLayerNet(10, 5, 3, dtype=np.int32)


def test_numerical_gradient_matches_backprop_on_a_small_net() -> None:
    net = TwoLayerNet(6, 4, 3, weight_init_std=0.5, seed=3)
    x, t = batch(1, n=5, d=6)
    t = t % 3
    num = net.numerical_gradient(x, t)
    grad = net.gradient(x, t)
    for key in net.params:
        assert np.allclose(num[key], grad[key], rtol=1e-5, atol=1e-8), key


@pytest.mark.parametrize("seed", range(10))
def test_gradient_check_passes_elementwise_in_float64(seed: int) -> None:
    net = TwoLayerNet(784, 50, 10, seed=seed)
    x, t = batch(100 + seed)
    report = gradcheck(net, x, t, mode="full", atol=1e-7, rtol=1e-5)
    assert report.passed, report.to_dict()
    for key, p in report.params.items():
        assert p.max_abs_diff <= 1e-7, key
        assert p.checked + p.kinks == p.size == net.params[key].size
    # The book's check prints mean abs differences of about 1e-10 to 1e-13.
    assert report.params["W1"].mean_abs_diff < 1e-9


def test_gradient_with_one_hot_labels_equals_index_labels() -> None:
    net = TwoLayerNet(784, 20, 10, seed=1)
    x, t = batch(5, n=8)
    g_idx = net.gradient(x, t)
    g_hot = net.gradient(x, np.eye(10)[t])
    for key in g_idx:
        assert np.allclose(g_idx[key], g_hot[key], rtol=0, atol=1e-15)

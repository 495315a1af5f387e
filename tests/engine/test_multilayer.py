"""The book's MultiLayerNet(Extend): gradients vs central differences, its behaviours, and the
vanishing gradient of a deep sigmoid net on real digits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import MultiLayerNet, MultiLayerNetExtend
from engine.multilayer import init_scale


def small_batch(seed: int, n: int, d: int, classes: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


def random_biases(net: MultiLayerNet, seed: int) -> None:
    """Biases away from 0, so no ReLU input sits exactly on its kink (a dead unit's 0 output
    plus a 0 bias would), where a central difference gives half the slope."""
    rng = np.random.default_rng(seed + 1)
    for key, value in net.params.items():
        if key.startswith("b"):
            value[...] = rng.uniform(0.1, 0.5, value.shape) * rng.choice([-1, 1], value.shape)


def check(net: MultiLayerNet, x: Any, t: Any, seed: int) -> dict[str, Any]:
    """net.gradient vs net.numerical_gradient; the step is 1e-6, so a kink within it is unlikely."""
    random_biases(net, seed)
    if isinstance(net, MultiLayerNetExtend):
        net.fix_dropout_masks(x)
    grads = net.gradient(x, t)
    assert_grads_agree(grads, net.numerical_gradient(x, t, eps=1e-6))
    return grads


def assert_grads_agree(analytic: dict[str, Any], numeric: dict[str, Any]) -> None:
    assert analytic.keys() == numeric.keys()
    for key in numeric:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-4, atol=1e-6, err_msg=key)


nets = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31),
        "n": st.integers(2, 5),
        "d": st.integers(2, 5),
        "hidden": st.lists(st.integers(2, 5), min_size=1, max_size=3),
        "classes": st.integers(2, 4),
        "activation": st.sampled_from(["relu", "sigmoid", "tanh"]),
        "init": st.sampled_from(["relu", "sigmoid", "he", "xavier", 0.5]),
        "decay": st.sampled_from([0.0, 0.1]),
    }
)


@settings(max_examples=15, deadline=None)
@given(c=nets)
def test_multilayernet_gradient_matches_numerical(c: dict[str, Any]) -> None:
    x, t = small_batch(c["seed"], c["n"], c["d"], c["classes"])
    net = MultiLayerNet(
        c["d"], c["hidden"], c["classes"], c["activation"], c["init"], c["decay"], seed=c["seed"]
    )
    check(net, x, t, c["seed"])


@settings(max_examples=15, deadline=None)
@given(c=nets, bn=st.booleans(), dropout=st.booleans())
def test_multilayernetextend_gradient_matches_numerical(
    c: dict[str, Any], bn: bool, dropout: bool
) -> None:
    x, t = small_batch(c["seed"], c["n"], c["d"], c["classes"])
    net = MultiLayerNetExtend(
        c["d"], c["hidden"], c["classes"], c["activation"], c["init"], c["decay"],
        use_dropout=dropout, dropout_ration=0.3, use_batchnorm=bn, seed=c["seed"],
    )  # fmt: skip
    grads = check(net, x, t, c["seed"])
    assert ({f"gamma{i}" for i in range(1, len(c["hidden"]) + 1)} <= grads.keys()) == bn


def test_layer_names_and_params_are_the_books() -> None:
    net = MultiLayerNetExtend(784, [100, 50], 10, use_dropout=True, use_batchnorm=True, seed=0)
    assert list(net.layers) == [
        "Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
        "Affine2", "BatchNorm2", "Activation_function2", "Dropout2", "Affine3",
    ]  # fmt: skip
    assert set(net.params) == {
        "W1",
        "b1",
        "W2",
        "b2",
        "W3",
        "b3",
        "gamma1",
        "beta1",
        "gamma2",
        "beta2",
    }
    assert net.params["W1"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert net.params["W2"].std() == pytest.approx(np.sqrt(2 / 100), rel=0.1)
    plain = MultiLayerNet(784, [100], 10, "sigmoid", "xavier", seed=0)
    assert list(plain.layers) == ["Affine1", "Activation_function1", "Affine2"]
    assert plain.params["W1"].std() == pytest.approx(np.sqrt(1 / 784), rel=0.02)
    assert init_scale(0.01, 784) == 0.01
    with pytest.raises(ValueError, match="weight_init_std"):
        init_scale("lecun", 10)
    with pytest.raises(ValueError, match="activation"):
        MultiLayerNet(4, [3], 2, activation="gelu")


def test_weight_decay_adds_half_lambda_sum_w_squared_and_lambda_w() -> None:
    x, t = small_batch(3, 4, 5, 3)
    a = MultiLayerNet(5, [4, 4], 3, weight_decay_lambda=0, seed=1)
    b = MultiLayerNet(5, [4, 4], 3, weight_decay_lambda=0.2, seed=1)
    squares = sum(float(np.sum(b.params[f"W{i}"] ** 2)) for i in (1, 2, 3))
    assert b.loss(x, t) == pytest.approx(a.loss(x, t) + 0.5 * 0.2 * squares, rel=1e-12)
    ga, gb = a.gradient(x, t), b.gradient(x, t)
    np.testing.assert_allclose(gb["W2"], ga["W2"] + 0.2 * b.params["W2"])
    np.testing.assert_array_equal(gb["b2"], ga["b2"])


def test_predict_uses_running_stats_and_scales_dropout_at_test_time() -> None:
    x, _ = small_batch(4, 30, 6, 3)
    net = MultiLayerNetExtend(
        6, [8], 3, use_batchnorm=True, use_dropout=True, dropout_ration=0.4, seed=2
    )
    train_out = net.predict(x, train_flg=True)
    bn = net.layers["BatchNorm1"]
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    test_out = net.predict(x)  # train_flg=False: running stats, and h * (1 - 0.4)
    h = (x @ net.params["W1"] + net.params["b1"] - mean) / np.sqrt(var + 10e-7)
    h = np.maximum(h, 0) * (1.0 - 0.4)
    np.testing.assert_allclose(test_out, h @ net.params["W2"] + net.params["b2"])
    np.testing.assert_array_equal(bn.running_mean, mean)
    assert not np.allclose(train_out, test_out)
    assert net.accuracy(x, np.argmax(test_out, axis=1)) == 1.0


def first_and_last_mean_abs_dw(net: MultiLayerNet, x: Any, t: Any) -> tuple[float, float]:
    grads = net.gradient(x, t)
    last = net.hidden_layer_num + 1
    return float(np.abs(grads["W1"]).mean()), float(np.abs(grads[f"W{last}"]).mean())


@pytest.mark.parametrize("init", [0.01, "xavier"])
def test_sigmoid_gradients_vanish_toward_the_input_he_relu_do_not(
    training_data: Any, init: float | str
) -> None:
    # NOTE: measured on these 100 digits: sigmoid with std 1 gives only ~37x between the
    # last and first layer's mean |dW| (the large weights make up for sigmoid's slope
    # <= 1/4), and it learns; std 0.01 gives ~1e8x and Xavier ~1e4x.
    x = training_data.x_train[:100].reshape(100, -1).astype(np.float64) / 255.0
    t = training_data.t_train[:100]
    sig = MultiLayerNet(784, [100] * 5, 10, "sigmoid", init, seed=0)
    first, last = first_and_last_mean_abs_dw(sig, x, t)
    assert last >= 100 * first, (first, last)
    he = MultiLayerNet(784, [100] * 5, 10, "relu", "he", seed=0)
    first, last = first_and_last_mean_abs_dw(he, x, t)
    assert last / 10 <= first <= last * 10, (first, last)

"""Edge cases found in review: odd label shapes, 1-D samples, integer and float32 inputs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from engine.gradcheck import gradcheck
from engine.gradient import numerical_gradient
from engine.layers import MulLayer, SoftmaxWithLoss
from engine.network import TwoLayerNet
from engine.trainer import TrainConfig, Trainer

RNG = np.random.default_rng(1)
X = RNG.standard_normal((6, 4))
T = np.array([0, 1, 2, 2, 1, 0])


def _net(dtype: Any = np.float64) -> TwoLayerNet:
    return TwoLayerNet(4, 5, 3, weight_init_std=1.0, seed=0, dtype=dtype)


def _expected_accuracy(net: TwoLayerNet, x: np.ndarray, t: np.ndarray) -> float:
    pred = np.argmax(net.predict(x).reshape(-1, 3), axis=1)
    return float(np.mean(pred == t.reshape(-1)))


# ---- network.py: TwoLayerNet.accuracy


def test_accuracy_of_column_index_labels_matches_loss_reading() -> None:
    # loss() reads (N, 1) labels as class indices (labels_to_indices); accuracy() took them
    # for one-hot rows and argmax'ed every row to class 0.
    net = _net()
    assert net.loss(X, T[:, None]) == net.loss(X, T)
    assert net.accuracy(X, T[:, None]) == pytest.approx(_expected_accuracy(net, X, T))


def test_accuracy_of_a_single_1d_sample() -> None:
    # predict() and loss() take one sample as a 1-D vector; accuracy() raised AxisError.
    net = _net()
    assert net.accuracy(X[0], T[0]) == _expected_accuracy(net, X[:1], T[:1])


# ---- gradcheck.py


def test_gradcheck_of_a_single_1d_sample() -> None:
    # x of shape (4,) was reshaped to (4, 1), a column, and the check crashed in matmul.
    report = gradcheck(_net(), X[0], T[0])
    assert report.passed and report.params["W1"].size == 20


def test_numerical_gradient_of_an_integer_array_is_not_silently_wrong() -> None:
    # x[idx] = tmp + eps is truncated back to tmp (and tmp - eps to tmp - 1), so the
    # gradient of sum(x**2) at [1, 2, 3] came out as [5000, 15000, 25000].
    x = np.array([1, 2, 3])
    try:
        g = numerical_gradient(lambda v: float(np.sum(v.astype(np.float64) ** 2)), x)
    except (TypeError, ValueError):
        return  # refusing integer arrays is a fine fix too
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0], rtol=1e-6)


def test_numerical_gradient_of_float32_uses_the_step_actually_taken() -> None:
    # In float32, x + 1e-4 is not x + 1e-4: dividing by the nominal 2 * eps instead of the
    # step stored gave 5.994 for d(x**2)/dx at 3 (relative error 1e-3).
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    g = numerical_gradient(lambda v: float(np.sum(v.astype(np.float64) ** 2)), x)
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0], rtol=1e-5)


# ---- layers.py


def test_unbroadcast_a_scalar_dout_into_a_shape_with_a_size_1_axis() -> None:
    # unbroadcast indexed g.shape[i] for every axis of the target shape: a grad with fewer
    # dimensions than the input (dout = 1 for an array output) raised IndexError when the
    # input had an axis of length 1. (Without a length-1 axis it already broadcast fine.)
    m = MulLayer()
    m.forward(np.ones((1, 3)), 2.0)
    dx, dy = m.backward(1)
    np.testing.assert_array_equal(dx, np.full((1, 3), 2.0))
    assert float(dy) == 3.0


def _swl_numerical(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return numerical_gradient(lambda _: SoftmaxWithLoss().forward(x, t), x)


def test_softmax_with_loss_backward_matches_forward_for_3d_scores() -> None:
    # forward averages over every row (N * T rows of shape (N, T, C)); backward divided by
    # y.shape[0] = N only, so the gradient was T times too large.
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((2, 3, 4)), rng.integers(0, 4, (2, 3))
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    np.testing.assert_allclose(layer.backward(), _swl_numerical(x, t), atol=1e-8)


def test_softmax_with_loss_keeps_float32_with_float64_one_hot_labels() -> None:
    # y - t with float64 one-hot rows (np.eye's default) upcast dx, and with it every
    # gradient of a float32 TwoLayerNet, to float64.
    net = _net(np.float32)
    grads = net.gradient(X.astype(np.float32), np.eye(3)[T])
    assert {k: g.dtype for k, g in grads.items()} == dict.fromkeys(grads, np.dtype(np.float32))


def test_softmax_with_loss_backward_is_the_gradient_of_its_loss_for_soft_labels() -> None:
    # With t of the scores' shape, forward scored only argmax(t) while backward returned
    # y - t: for t = [0.2, 0.3, 0.5] the gradient pointed the other way from the loss's.
    x, t = np.array([[1.0, 2.0, 3.0]]), np.array([[0.2, 0.3, 0.5]])
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    np.testing.assert_allclose(layer.backward(), _swl_numerical(x, t), atol=1e-8)


def test_softmax_with_loss_rejects_negative_class_indices() -> None:
    # A label of -1 silently meant the last class (NumPy's negative indexing).
    with pytest.raises(ValueError, match="-1"):
        SoftmaxWithLoss().forward(np.array([[1.0, 2.0, 3.0]]), np.array([-1]))


def test_softmax_with_loss_one_hot_vector_for_a_batch_of_one() -> None:
    # Scores (1, 3) with the one-hot vector [0, 0, 1] (shape (3,)): the labels were read as
    # three class indices 0, 0, 1, giving a loss of 8.81 instead of 0.306, silently.
    x, t = np.array([[0.3, 2.9, 4.0]]), np.array([0, 0, 1])
    layer = SoftmaxWithLoss()
    try:
        loss = layer.forward(x, t)
    except ValueError:
        return  # refusing the ambiguous shape is a fine fix too
    y = np.exp(x) / np.exp(x).sum()
    assert loss == pytest.approx(-np.log(y[0, 2]))
    np.testing.assert_allclose(layer.backward(), y - [[0, 0, 1]], atol=1e-12)


def test_one_label_for_a_batch_is_not_broadcast_over_every_row() -> None:
    # One class index for five rows of scores was broadcast by NumPy: every row got class 2.
    x = np.random.default_rng(0).standard_normal((5, 3))
    with pytest.raises(ValueError, match="label"):
        SoftmaxWithLoss().forward(x, np.array([2]))
    with pytest.raises(ValueError, match="label"):
        _net().loss(X, T[:1])


# ---- trainer.py


def _data(n_train: int, n_test: int) -> SimpleNamespace:
    rng = np.random.default_rng(0)
    return SimpleNamespace(
        x_train=rng.integers(0, 256, (n_train, 784), dtype=np.uint8),
        t_train=rng.integers(0, 10, n_train).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, 784), dtype=np.uint8),
        t_test=rng.integers(0, 10, n_test).astype(np.uint8),
    )


@pytest.mark.parametrize(("n_train", "n_test", "which"), [(0, 2, "train"), (3, 0, "test")])
def test_trainer_says_which_set_is_empty(n_train: int, n_test: int, which: str) -> None:
    # Was: "zero-size array to reduction operation maximum which has no identity".
    with pytest.raises(ValueError, match=which):
        Trainer(TrainConfig(iterations=1), _data(n_train, n_test))


def test_train_config_rejects_a_fractional_hidden_size() -> None:
    # validate() checked int(5.5) >= 1 and passed; TwoLayerNet then raised a TypeError.
    with pytest.raises(ValueError, match="hidden_size"):
        TrainConfig(hidden_size=5.5).validate()  # type: ignore[arg-type]

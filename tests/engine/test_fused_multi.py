"""The fused MultiLayerNet step against the book's layer path: the same gradients and runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine import MultiLayerNet, TrainConfig, Trainer
from engine.fused_multi import FusedMultiStep
from engine.optimizers import OPTIMIZERS
from tests.engine.test_trainer import tiny


def twin(activation: str, decay: float, seed: int = 0) -> tuple[MultiLayerNet, MultiLayerNet]:
    """Two equal 784-30-20-10 nets (float64)."""
    make = lambda: MultiLayerNet(  # noqa: E731
        784, [30, 20], 10, activation, "he", decay, seed=seed, dtype=np.float64
    )
    return make(), make()


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("decay", [0.0, 0.1])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_fused_steps_equal_the_layer_path(activation: str, decay: float, optimizer: str) -> None:
    data = tiny(seed=3)
    fused_net, layer_net = twin(activation, decay)
    opt_f, opt_l = OPTIMIZERS[optimizer](lr=0.05), OPTIMIZERS[optimizer](lr=0.05)
    step = FusedMultiStep(fused_net, opt_f, data.x_train, data.t_train, 40)
    rng = np.random.default_rng(1)
    x_all = data.x_train.reshape(len(data.x_train), -1)
    for _ in range(3):
        idx = rng.integers(0, len(x_all), 40)
        loss = step.step(idx)
        grads = layer_net.gradient(x_all[idx] / 255.0, data.t_train[idx].astype(np.intp))
        opt_l.update(layer_net.params, grads)
        assert loss == pytest.approx(layer_net.last_loss, rel=1e-12)
    step.release()
    # (AdaGrad divides by the square root of tiny sums: rounding shows at 1e-10)
    for key, value in layer_net.params.items():
        np.testing.assert_allclose(fused_net.params[key], value, rtol=1e-8, atol=1e-11, err_msg=key)
    assert step.accuracy(step.train, data.t_train) == pytest.approx(
        layer_net.accuracy(x_all / 255.0, data.t_train)
    )


def test_a_fused_run_is_the_layer_run(training_data: Any) -> None:
    def run(step: str) -> tuple[list[float], Trainer]:
        cfg = TrainConfig(
            iterations=30, batch_size=50, layers=(40, 30), activation="tanh", init="xavier",
            weight_decay=0.01, optimizer="momentum", learning_rate=0.05, dtype="float64",
            train_size=2000, step=step, seed=5,
        )  # fmt: skip
        trainer = Trainer(cfg, training_data)
        events = list(trainer.run())
        return [e.data["loss"] for e in events if e.kind == "progress"], trainer

    (fused, a), (layers, b) = run("fused"), run("layers")
    assert isinstance(a.fused, FusedMultiStep) and b.fused is None
    np.testing.assert_allclose(fused, layers, rtol=1e-10)
    for key, value in b.network.params.items():
        np.testing.assert_allclose(a.network.params[key], value, rtol=1e-9, atol=1e-12)
    assert (a.train_acc, a.test_acc) == (b.train_acc, b.test_acc)


def test_bn_and_dropout_nets_take_the_layer_path() -> None:
    trainer = Trainer(TrainConfig(iterations=1, layers=(20, 20), batch_norm=True), tiny())
    assert trainer.fused is None
    with pytest.raises(TypeError, match="BatchNorm"):
        FusedMultiStep(trainer.network, trainer.optimizer, tiny().x_train, tiny().t_train, 10)  # type: ignore[arg-type]


def test_activations_are_the_layer_paths_hidden_outputs() -> None:
    data = tiny(seed=4)
    fused_net, layer_net = twin("sigmoid", 0.0)
    step = FusedMultiStep(fused_net, OPTIMIZERS["sgd"](lr=0.1), data.x_train, data.t_train, 30)
    idx = np.arange(30)
    step.step(idx)
    x = data.x_train[idx].reshape(30, -1) / 255.0
    layer_net.loss(x, data.t_train[idx])  # the forward, with the weights before the update
    outputs = [layer_net.layers[f"Affine{i}"].x for i in (2, 3)]  # the next Affine's input
    got = step.activations()
    assert len(got) == 2 and step.last_n == 30 and 0 < step.last_k <= 784
    for a, b in zip(got, outputs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("decay", [0.0, 0.2])
def test_gradients_are_the_layer_paths_without_the_decay(optimizer: str, decay: float) -> None:
    data = tiny(seed=5)
    fused_net, layer_net = twin("relu", decay)
    opt = OPTIMIZERS[optimizer](lr=0.1)
    step = FusedMultiStep(fused_net, opt, data.x_train, data.t_train, 30)
    idx = np.arange(30, 60)
    before = {k: v.copy() for k, v in layer_net.params.items()}
    step.step(idx)
    grads = layer_net.gradient(data.x_train[idx].reshape(30, -1) / 255.0, data.t_train[idx])
    got = step.gradients()
    for key, value in grads.items():
        data_part = value - decay * before[key] if key.startswith("W") else value
        np.testing.assert_allclose(got[key], data_part, rtol=1e-9, atol=1e-13, err_msg=key)

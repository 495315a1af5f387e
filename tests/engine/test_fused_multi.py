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

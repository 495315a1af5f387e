"""The fused training step: the layers' gradients and updates, with the all-zero pixels skipped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import TrainConfig, Trainer, TwoLayerNet
from engine.fused import FusedStep, Reordered, pixel_order
from engine.gradient import numerical_gradient
from engine.optimizers import OPTIMIZERS, SGD


class Recorder:
    """An optimizer that keeps a copy of the gradients it is given and changes nothing."""

    lr = 1.0

    def __init__(self) -> None:
        self.grads: dict[str, np.ndarray] = {}

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.grads = {k: v.copy() for k, v in grads.items()}


def sparse_images(rng: np.random.Generator, n: int, d: int, density: float) -> np.ndarray:
    """uint8 images where each pixel is non-zero with a probability that varies by pixel."""
    per_pixel = density * rng.random(d) ** 2  # some pixels often lit, most rarely
    lit = rng.random((n, d)) < per_pixel
    return np.where(lit, rng.integers(1, 256, (n, d)), 0).astype(np.uint8)


def layer_gradient(net: TwoLayerNet, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in net.gradient(x / 255.0, t).items()}


def in_image_order(step: FusedStep, w1: np.ndarray) -> np.ndarray:
    out = np.empty_like(w1)
    out[step.order] = w1
    return out


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(1, 60),
    hidden=st.integers(1, 12),
    classes=st.integers(2, 7),
    batch=st.integers(1, 9),
    density=st.floats(0.0, 1.0),
)
def test_gradients_equal_the_layers(
    seed: int, d: int, hidden: int, classes: int, batch: int, density: float
) -> None:
    rng = np.random.default_rng(seed)
    x = sparse_images(rng, 40, d, density)
    t = rng.integers(0, classes, 40)
    net = TwoLayerNet(d, hidden, classes, weight_init_std=0.5, seed=seed)
    recorder = Recorder()
    step = FusedStep(net, recorder, x, t, batch)
    idx = rng.integers(0, 40, batch)
    loss = step.step(idx)
    expected = layer_gradient(net, x[idx].astype(np.float64), t[idx])
    assert loss == pytest.approx(net.lastLayer.loss, rel=1e-12, abs=1e-12)
    got = dict(recorder.grads, W1=in_image_order(step, recorder.grads["W1"]))
    for key, want in expected.items():
        np.testing.assert_allclose(got[key], want, rtol=1e-10, atol=1e-14, err_msg=key)


@pytest.mark.parametrize("seed", range(3))
def test_gradients_match_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = sparse_images(rng, 30, 20, 0.5)
    t = rng.integers(0, 4, 30)
    net = TwoLayerNet(20, 6, 4, weight_init_std=0.5, seed=seed)
    # NOTE: with b1 = 0 a blank image puts every hidden unit exactly on the ReLU kink,
    # where central differences give 1/2 instead of either one-sided slope.
    net.params["b1"][:] = rng.uniform(0.1, 0.5, 6) * rng.choice([-1, 1], 6)
    recorder = Recorder()
    step = FusedStep(net, recorder, x, t, 8)
    idx = rng.integers(0, 30, 8)
    step.step(idx)
    xb, tb = x[idx] / 255.0, t[idx]
    got = dict(recorder.grads, W1=in_image_order(step, recorder.grads["W1"]))
    for key in net.params:
        numeric = numerical_gradient(lambda _: net.loss(xb, tb), net.params[key])
        np.testing.assert_allclose(got[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)


def test_sgd_folds_the_learning_rate_and_updates_like_the_book() -> None:
    rng = np.random.default_rng(0)
    x, t = sparse_images(rng, 50, 30, 0.4), rng.integers(0, 5, 50)
    net = TwoLayerNet(30, 8, 5, weight_init_std=0.3, seed=1)
    twin = TwoLayerNet(30, 8, 5, weight_init_std=0.3, seed=1)
    step = FusedStep(net, SGD(lr=0.25), x, t, 10)
    for _ in range(5):
        idx = rng.integers(0, 50, 10)
        step.step(idx)
        grads = layer_gradient(twin, x[idx].astype(np.float64), t[idx])
        for key, p in twin.params.items():
            p -= 0.25 * grads[key]
    step.sync()
    for key in twin.params:
        np.testing.assert_allclose(net.params[key], twin.params[key], rtol=1e-9, atol=1e-14)


def test_only_pixels_that_are_zero_in_the_whole_batch_are_skipped() -> None:
    rng = np.random.default_rng(5)
    x = sparse_images(rng, 200, 50, 0.3)
    x[7] = 0  # a blank image
    order = pixel_order(x)
    data = Reordered(x, order)
    assert np.array_equal(data.x, x[data.images][:, order])
    assert np.array_equal(data.images[data.row_of], np.arange(200))
    assert np.all(np.diff(data.extent[data.images]) >= 0), "rows sorted by extent"
    for i in range(200):
        lit = np.flatnonzero(data.x[data.row_of[i]])
        assert data.extent[i] == (lit[-1] + 1 if lit.size else 0)
        assert not data.x[data.row_of[i], data.extent[i] :].any()
    counts = np.count_nonzero(x, axis=0)[order]
    assert np.all(np.diff(counts) <= 0), "most often lit pixels first"
    step = FusedStep(TwoLayerNet(50, 4, 3, seed=0), SGD(), x, rng.integers(0, 3, 200), 5)
    batches = rng.integers(0, 200, (20, 5))
    ks = step.extents(batches)
    for batch, k in zip(batches, ks, strict=True):
        rows = data.x[data.row_of[batch]]
        assert not rows[:, k:].any() and (k == 1 or rows[:, k - 1].any())
    assert step.extents(np.array([[7, 7]]))[0] == 1, "a blank batch still has one column"


@dataclass
class Data:
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray


def small_mnist_like(seed: int = 0) -> Data:
    rng = np.random.default_rng(seed)
    centres = sparse_images(rng, 10, 784, 0.6)
    labels = rng.integers(0, 10, 700)
    noise = rng.integers(-60, 60, (700, 784))
    x = np.where(centres[labels] > 0, np.clip(centres[labels] + noise, 1, 255), 0)
    x = x.astype(np.uint8)
    return Data(x[:600], labels[:600].astype(np.uint8), x[600:], labels[600:].astype(np.uint8))


def run(data: Data, **config: Any) -> tuple[Trainer, list[Any]]:
    trainer = Trainer(TrainConfig(**config), data)
    return trainer, list(trainer.run())


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("sampling", ["replacement", "shuffle"])
def test_a_fused_run_is_the_layer_run(optimizer: str, sampling: str) -> None:
    data = small_mnist_like()
    lr = 0.1 if optimizer in ("sgd", "momentum") else 0.01
    common = dict(
        iterations=40,
        batch_size=50,
        seed=4,
        optimizer=optimizer,
        sampling=sampling,
        learning_rate=lr,
        dtype="float64",
    )
    fused, fused_events = run(data, step="fused", **common)
    layers, layer_events = run(data, step="layers", **common)
    assert [e.kind for e in fused_events] == [e.kind for e in layer_events]
    for a, b in zip(fused_events, layer_events, strict=True):
        if a.kind == "progress":
            assert a.data["loss"] == pytest.approx(b.data["loss"], rel=1e-9)
        elif a.kind == "epoch":
            assert a.data["test_acc"] == b.data["test_acc"]
    for key in layers.network.params:
        np.testing.assert_allclose(
            fused.network.params[key], layers.network.params[key], rtol=1e-8, atol=1e-12
        )


def test_weights_are_in_image_order_at_every_epoch_and_after_a_cancel() -> None:
    data = small_mnist_like(1)
    trainer = Trainer(TrainConfig(iterations=100, batch_size=50, seed=0), data)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 30

    x_test = data.x_test.astype(np.float32) / 255
    for event in trainer.run(should_stop=stop):
        if event.kind in ("epoch", "done"):
            # the network's own layers, fed the images as they are, agree with the trainer
            assert trainer.network.accuracy(x_test, data.t_test) == event.data["test_acc"]
    assert event.data["status"] == "cancelled" and event.data["iterations"] == 30


def fused_test_accuracy(trainer: Trainer, data: Data) -> float:
    """Accuracy of the fused step's own weights, on the test images in its pixel order."""
    assert trainer.fused is not None
    return trainer.fused.accuracy(Reordered(data.x_test, trainer.fused.order), data.t_test)


def test_a_consumer_going_away_leaves_the_weights_in_image_order() -> None:
    data = small_mnist_like(2)
    trainer = Trainer(TrainConfig(iterations=50, batch_size=50, seed=0), data)
    events = trainer.run()
    for _ in range(7):
        next(events)  # progress events: the network's W1 lags the step's
    events.close()  # the consumer went away (as when a worker stops streaming)
    x_test = data.x_test.astype(np.float32) / 255
    assert trainer.network.accuracy(x_test, data.t_test) == fused_test_accuracy(trainer, data)


def test_a_failing_run_leaves_the_weights_in_image_order() -> None:
    data = small_mnist_like(3)
    trainer = Trainer(TrainConfig(iterations=500, learning_rate=1e30, seed=0), data)
    seen = 0
    with pytest.raises(FloatingPointError, match="learning rate"):
        for event in trainer.run():
            seen += event.kind == "progress"
    assert seen >= 1 and trainer.fused is not None
    w1 = trainer.network.params["W1"]
    assert np.array_equal(w1[trainer.fused.order], trainer.fused.params["W1"], equal_nan=True)
    assert not np.isnan(w1).all(), "some weights are still numbers, so the order can be seen"


def test_weights_set_before_the_run_are_the_ones_trained() -> None:
    """A warm start: weights put into the network after Trainer() are what run() starts from."""
    data = small_mnist_like(4)
    donor = Trainer(TrainConfig(iterations=60, batch_size=50, seed=1), data)
    list(donor.run())
    results = {}
    for step in ("fused", "layers"):
        cfg = TrainConfig(iterations=1, batch_size=50, learning_rate=1e-9, seed=2, step=step)
        trainer = Trainer(cfg, data)
        for key, value in donor.network.params.items():
            trainer.network.params[key][...] = value
        results[step] = list(trainer.run())[-1].data["test_acc"]
    assert results["fused"] == results["layers"] == donor.test_acc


@pytest.mark.parametrize("optimizer", ["momentum", "adagrad", "adam"])
def test_optimizer_state_ends_in_image_order(optimizer: str) -> None:
    data = small_mnist_like(5)
    cfg = dict(iterations=30, batch_size=50, seed=0, optimizer=optimizer, dtype="float64")
    fused, _ = run(data, step="fused", **cfg)
    layers, _ = run(data, step="layers", **cfg)
    for name, state in vars(layers.optimizer).items():
        if isinstance(state, dict):
            got = vars(fused.optimizer)[name]["W1"]
            np.testing.assert_allclose(got, state["W1"], rtol=1e-8, atol=1e-14, err_msg=name)


def test_labels_outside_the_classes_are_refused() -> None:
    data = small_mnist_like(6)
    data.t_train = data.t_train.astype(np.int64)
    data.t_train[3] = -1
    with pytest.raises(ValueError, match="class index -1"):
        FusedStep(TwoLayerNet(784, 5, 10, seed=0), SGD(), data.x_train, data.t_train, 10)


def test_step_must_be_known() -> None:
    with pytest.raises(ValueError, match="step must be one of"):
        Trainer(TrainConfig(step="magic"), small_mnist_like())

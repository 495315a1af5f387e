"""Training the book's chapter-6 networks through the trainer: MultiLayerNet(Extend), train_size."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine import MultiLayerNet, MultiLayerNetExtend, TrainConfig, Trainer, TwoLayerNet
from engine.optimizers import OPTIMIZERS
from tests.engine.test_trainer import tiny


def losses_and_done(cfg: TrainConfig, data: Any = None) -> tuple[list[float], dict[str, Any]]:
    events = list(Trainer(cfg, data if data is not None else tiny()).run())
    return [e.data["loss"] for e in events if e.kind == "progress"], events[-1].data


def test_default_config_is_still_the_chapters_two_layer_net() -> None:
    assert not TrainConfig().multilayer
    assert not TrainConfig(layers=(50,)).multilayer
    assert TrainConfig(layers=(50, 50)).multilayer and TrainConfig(dropout=0.1).multilayer
    trainer = Trainer(TrainConfig(iterations=1), tiny())
    assert type(trainer.network) is TwoLayerNet and trainer.fused is not None
    # layers=[50] with the defaults is the same run as no layers at all
    assert (
        losses_and_done(TrainConfig(iterations=8))[0]
        == losses_and_done(TrainConfig(iterations=8, layers=(50,)))[0]
    )


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"layers": (40, 30), "init": "he"}, MultiLayerNet),
        ({"activation": "tanh"}, MultiLayerNet),
        ({"init": "he"}, MultiLayerNet),
        ({"weight_decay": 0.1}, MultiLayerNet),
        ({"batch_norm": True}, MultiLayerNetExtend),
        ({"dropout": 0.2}, MultiLayerNetExtend),
    ],
)
def test_any_chapter6_field_trains_a_multilayernet(fields: dict[str, Any], kind: type) -> None:
    cfg = TrainConfig(iterations=40, batch_size=50, seed=0, **fields)
    trainer = Trainer(cfg, tiny())
    assert type(trainer.network) is kind
    events = list(trainer.run())
    losses = [e.data["loss"] for e in events if e.kind == "progress"]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), fields
    assert events[-1].data["test_acc"] > 0.5


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_optimizer_trains_a_deep_net_with_bn_and_dropout(optimizer: str) -> None:
    lr = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.01, "adam": 0.001}[optimizer]
    cfg = TrainConfig(
        iterations=40, batch_size=50, learning_rate=lr, optimizer=optimizer, seed=1,
        layers=(30, 30, 30), init="he", batch_norm=True, dropout=0.1, weight_decay=0.01,
    )  # fmt: skip
    run = Trainer(cfg, tiny())
    before = {k: v.copy() for k, v in run.network.params.items()}
    events = list(run.run())
    losses = [e.data["loss"] for e in events if e.kind == "progress"]
    done = events[-1].data
    assert all(not np.array_equal(before[k], run.network.params[k]) for k in before), optimizer
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), optimizer
    assert done["status"] == "completed"


def test_deep_runs_repeat_with_a_seed_and_include_the_weight_decay_in_the_loss() -> None:
    cfg = TrainConfig(iterations=10, layers=(20, 20), dropout=0.3, weight_decay=0.5, seed=4)
    a, _ = losses_and_done(cfg)
    assert a == losses_and_done(cfg)[0]
    first = {}
    for step in ("layers", "fused"):
        cfg = TrainConfig(iterations=1, layers=(20, 20), weight_decay=0.5, seed=4, step=step)
        trainer = Trainer(cfg, tiny())
        net = trainer.network
        assert isinstance(net, MultiLayerNet)
        squares = sum(float(np.sum(net.params[f"W{i}"] ** 2)) for i in (1, 2, 3))
        (first[step],) = [e.data["loss"] for e in trainer.run() if e.kind == "progress"]
        assert first[step] > 0.5 * 0.5 * squares  # the decay term is in
    assert net.last_loss is None  # the fused step does not go through the layers
    assert first["fused"] == pytest.approx(first["layers"], rel=1e-5)  # float32 sums


def test_train_size_trains_on_the_first_images_only() -> None:
    data = tiny()
    cfg = TrainConfig(iterations=6, batch_size=100, train_size=300, sampling="shuffle", seed=0)
    trainer = Trainer(cfg, data)
    assert trainer.train_size == 300 and trainer.iters_per_epoch == 3
    seen: list[int] = []
    batches = trainer._batches()
    for _ in range(2):
        seen += next(batches).ravel().tolist()
    assert max(seen) < 300 and sorted(seen[:300]) == list(range(300))
    events = list(trainer.run())
    assert [e.data["iteration"] for e in events if e.kind == "epoch"] == [3, 6]
    # train accuracy is measured on those 300 images
    assert trainer.train_acc == trainer.accuracy(data.x_train[:300], data.t_train[:300])
    deep = Trainer(TrainConfig(iterations=3, train_size=300, layers=(20, 20), seed=0), data)
    assert deep.train_size == 300 and list(deep.run())[-1].data["status"] == "completed"


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"layers": ()}, "layers"),
        ({"layers": [10] * 11}, "layers"),
        ({"layers": [10, 0]}, "layers"),
        ({"activation": "gelu"}, "activation"),
        ({"init": "lecun"}, "init"),
        ({"batch_norm": "yes"}, "batch_norm"),
        ({"dropout": 0.95}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"weight_decay": float("nan")}, "weight_decay"),
        ({"train_size": 0}, "train_size"),
        ({"train_size": 501}, "train_size"),
    ],
)
def test_bad_chapter6_fields_name_the_field(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Trainer(TrainConfig(**fields), tiny())

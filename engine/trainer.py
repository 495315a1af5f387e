"""Training the book's TwoLayerNet or MultiLayerNet(Extend), as a stream of events.

``Trainer.run`` reproduces the chapter's loop (mini-batches, gradient by
backprop, optimizer step, loss every iteration, accuracy every epoch) and
yields ``progress``, ``epoch`` and ``done`` events. Images stay uint8; each
batch is gathered and converted into preallocated float buffers. By default the
step is ``engine.fused.FusedStep`` (the layers' gradients in one function);
``TrainConfig(step="layers")`` walks the chapter's layer objects instead.

The default config trains the chapter's TwoLayerNet (784-50-10, ReLU). Deeper
or different networks (``layers``, ``activation``, ``init``, ``batch_norm``,
``dropout``, ``weight_decay``) train the book's chapter-6 ``MultiLayerNet``, or
``MultiLayerNetExtend`` when batch normalization or dropout is on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from engine.events import DONE, EPOCH, LAYERS, PROGRESS
from engine.fused import FusedStep, Reordered
from engine.fused_multi import FusedMultiStep
from engine.layer_stats import from_layers, network_stats, weights_before
from engine.multilayer import ACTIVATIONS, MultiLayerNet, MultiLayerNetExtend
from engine.network import TwoLayerNet
from engine.optimizers import OPTIMIZERS

SAMPLINGS = ("replacement", "shuffle")
STEPS = ("fused", "layers")
_BLOCK = 100  # batches drawn per call of the random generator
DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float64": np.float64}
#: Weight initialisations: ``weight_init_std`` as given, Xavier sqrt(1/n), He sqrt(2/n).
INITS = ("std", "xavier", "he")
#: The limits of the chapter-6 fields (the API and the CLI read them from here).
MAX_HIDDEN_LAYERS = 10
MAX_DROPOUT = 0.9
MAX_WEIGHT_DECAY = 1.0


class TrainingData(Protocol):
    """What the trainer needs of a dataset: uint8 images (N, 784) and labels (N,)."""

    x_train: NDArray[np.uint8]
    t_train: NDArray[Any]
    x_test: NDArray[np.uint8]
    t_test: NDArray[Any]


@dataclass
class TrainConfig:
    """A training run's settings; the defaults are the chapter's run."""

    dataset: str = "mnist"
    hidden_size: int = 50
    learning_rate: float = 0.1
    batch_size: int = 100
    iterations: int = 10000
    seed: int | None = 0
    optimizer: str = "sgd"
    sampling: str = "replacement"
    dtype: str = "float32"
    weight_init_std: float = 0.01
    eval_every_epoch: bool = True
    blas_threads: int = 1
    #: BLAS threads of the accuracy evaluations (large products that a second core speeds up
    #: when it is free; a service running one trainer per core gives each one).
    eval_threads: int = 2
    step: str = "fused"
    #: A ``layers`` event (per-layer statistics, engine.layer_stats) at most every this many
    #: iterations and at every epoch; 0: none.
    layer_stats_every: int = 100
    #: Hidden layer sizes; None means one layer of ``hidden_size`` (the chapter's TwoLayerNet).
    layers: tuple[int, ...] | None = None
    activation: str = "relu"
    init: str = "std"
    batch_norm: bool = False
    #: Dropout ratio after each hidden activation; 0 means no Dropout layers.
    dropout: float = 0.0
    #: Weight decay lambda: the loss gains 0.5 * lambda * sum of W squared.
    weight_decay: float = 0.0
    #: Train on the first N training images only (chapter 6's overfitting uses 300).
    train_size: int | None = None

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """The hidden layers' sizes."""
        return (self.hidden_size,) if self.layers is None else tuple(self.layers)

    @property
    def multilayer(self) -> bool:
        """Whether this trains a MultiLayerNet(Extend) rather than the chapter's TwoLayerNet."""
        return (
            len(self.hidden_sizes) != 1
            or self.activation != "relu"
            or self.init != "std"
            or bool(self.batch_norm)
            or self.dropout > 0
            or self.weight_decay > 0
        )

    def validate(self) -> None:
        """Raise ValueError naming the first field that cannot be trained with."""
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)}, not {self.optimizer!r}"
            )
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {list(SAMPLINGS)}, not {self.sampling!r}")
        if self.step not in STEPS:
            raise ValueError(f"step must be one of {list(STEPS)}, not {self.step!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}, not {self.dtype!r}")
        for name in ("hidden_size", "batch_size", "iterations", "blas_threads", "eval_threads"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        every = self.layer_stats_every
        if not isinstance(every, int | np.integer) or isinstance(every, bool) or every < 0:
            raise ValueError(f"layer_stats_every must be a whole number >= 0, not {every!r}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError("learning_rate must be a positive finite number")
        if not (np.isfinite(self.weight_init_std) and self.weight_init_std > 0):
            raise ValueError("weight_init_std must be a positive finite number")
        self._validate_chapter6()

    def _validate_chapter6(self) -> None:
        """The chapter-6 fields: deeper nets, activations, inits, BN, dropout, weight decay."""
        if self.layers is not None:
            sizes = self.layers
            if not isinstance(sizes, list | tuple) or not 1 <= len(sizes) <= MAX_HIDDEN_LAYERS:
                raise ValueError(
                    f"layers must be a list of 1 to {MAX_HIDDEN_LAYERS} hidden sizes, not {sizes!r}"
                )
            if any(
                not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1 for n in sizes
            ):
                raise ValueError(f"layers must hold whole numbers of at least 1, not {sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {list(ACTIVATIONS)}, not {self.activation!r}"
            )
        if self.init not in INITS:
            raise ValueError(f"init must be one of {list(INITS)}, not {self.init!r}")
        if not isinstance(self.batch_norm, bool | np.bool_):
            raise ValueError(f"batch_norm must be true or false, not {self.batch_norm!r}")
        for name, top in (("dropout", MAX_DROPOUT), ("weight_decay", MAX_WEIGHT_DECAY)):
            value = getattr(self, name)
            if isinstance(value, bool) or not (
                isinstance(value, int | float | np.floating) and 0 <= value <= top
            ):
                raise ValueError(f"{name} must be a number from 0 to {top}, not {value!r}")
        n = self.train_size
        if n is not None and (not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1):
            raise ValueError(f"train_size must be a whole number of at least 1, not {n!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the settings."""
        return asdict(self)


@dataclass
class TrainEvent:
    """One thing that happened during training: a kind of ``engine.events`` and its data."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def _scale(dtype: type[np.floating[Any]]) -> np.floating[Any]:
    return dtype(1.0 / 255.0)


@dataclass
class FirstImages:
    """The first ``n`` training images of a dataset, and all its test images."""

    x_train: NDArray[np.uint8]
    t_train: NDArray[Any]
    x_test: NDArray[np.uint8]
    t_test: NDArray[Any]

    @classmethod
    def of(cls, data: TrainingData, n: int) -> FirstImages:
        """The first n training images of data (views, not copies)."""
        if n > len(data.x_train):
            raise ValueError(f"train_size {n} is more than the {len(data.x_train)} training images")
        return cls(data.x_train[:n], data.t_train[:n], data.x_test, data.t_test)


def build_network(
    config: TrainConfig, input_size: int, classes: int, rng: np.random.Generator
) -> TwoLayerNet | MultiLayerNet:
    """The network a config trains: the chapter's TwoLayerNet, or MultiLayerNet(Extend)."""
    dtype = DTYPES[config.dtype]
    if not config.multilayer:
        return TwoLayerNet(
            input_size,
            config.hidden_sizes[0],
            classes,
            config.weight_init_std,
            seed=rng,
            dtype=dtype,
        )
    init: float | str = config.weight_init_std if config.init == "std" else config.init
    hidden = list(config.hidden_sizes)
    decay = float(config.weight_decay)
    if config.batch_norm or config.dropout > 0:
        return MultiLayerNetExtend(
            input_size, hidden, classes, config.activation, init, decay,
            use_dropout=config.dropout > 0, dropout_ration=float(config.dropout),
            use_batchnorm=bool(config.batch_norm), seed=rng, dtype=dtype,
        )  # fmt: skip
    return MultiLayerNet(
        input_size, hidden, classes, config.activation, init, decay, seed=rng, dtype=dtype
    )


class Trainer:
    """Runs one training of a TwoLayerNet or MultiLayerNet(Extend) on uint8 image data."""

    def __init__(self, config: TrainConfig, data: TrainingData) -> None:
        config.validate()
        self.config = config
        if config.train_size is not None:
            data = FirstImages.of(data, config.train_size)
        self.data = data
        self.dtype = DTYPES[config.dtype]
        self.rng = np.random.default_rng(config.seed)
        for name in ("x_train", "x_test"):
            if len(getattr(data, name)) == 0:
                raise ValueError(f"the {name[2:]} set is empty; training needs images in both sets")
        input_size = int(np.prod(data.x_train.shape[1:]))
        classes = int(max(data.t_train.max(), data.t_test.max())) + 1
        self.network = build_network(config, input_size, max(classes, 10), self.rng)
        self.optimizer = OPTIMIZERS[config.optimizer](lr=config.learning_rate)
        self.train_size = int(data.x_train.shape[0])
        if config.sampling == "shuffle" and config.batch_size > self.train_size:
            raise ValueError(
                f"batch_size {config.batch_size} is larger than the {self.train_size} training "
                "images; shuffle sampling needs batch_size <= the training set size"
            )
        self.iters_per_epoch = max(self.train_size // config.batch_size, 1)
        self.train_acc: float | None = None
        self.test_acc: float | None = None
        self.iteration = 0
        # NOTE: the fused step computes the layers' gradients in one function and
        # skips the pixels a batch has all at 0 (see engine/fused.py); "layers"
        # walks the chapter's layer objects, as TwoLayerNet.gradient does.
        self.fused: FusedStep | None = None
        self._grads: dict[str, Any] = {}
        self._test: Reordered | None = None
        if config.step == "fused" and isinstance(self.network, TwoLayerNet):
            self.fused = FusedStep(
                self.network, self.optimizer, data.x_train, data.t_train, config.batch_size
            )
        elif config.step == "fused" and type(self.network) is MultiLayerNet:
            # NOTE: BatchNorm and Dropout nets (MultiLayerNetExtend) go through the layers.
            self.fused = FusedMultiStep(
                self.network, self.optimizer, data.x_train, data.t_train, config.batch_size
            )

    def accuracy(self, x: NDArray[np.uint8], t: NDArray[Any], chunk: int = 1000) -> float:
        """Accuracy on uint8 images, converted to floats a chunk at a time."""
        correct = 0
        scale = _scale(self.dtype)
        flat = x.reshape(x.shape[0], -1)
        p = self.network.params
        for start in range(0, flat.shape[0], chunk):
            xb = np.multiply(flat[start : start + chunk], scale, dtype=self.dtype)
            if isinstance(self.network, MultiLayerNet):  # BatchNorm, Dropout in test mode
                pred = np.argmax(self.network.predict(xb, train_flg=False), axis=1)
                correct += int(np.count_nonzero(pred == t[start : start + chunk]))
                continue
            # The network's predict, without keeping the layers' caches for backward.
            h = xb @ p["W1"]
            h += p["b1"]
            np.maximum(h, 0, out=h)
            scores = h @ p["W2"]
            scores += p["b2"]
            pred = np.argmax(scores, axis=1)
            correct += int(np.count_nonzero(pred == t[start : start + chunk]))
        return correct / flat.shape[0]

    def evaluate(self) -> tuple[float, float]:
        """Accuracy on the whole training and test sets."""
        data = self.data
        threads = max(self.config.eval_threads, self.config.blas_threads)
        with threadpool_limits(limits=threads, user_api="blas"):
            if self.fused is None:
                self.train_acc = self.accuracy(data.x_train, data.t_train)
                self.test_acc = self.accuracy(data.x_test, data.t_test)
            else:
                if self._test is None:
                    self._test = Reordered(data.x_test, self.fused.order)
                self.train_acc = self.fused.accuracy(self.fused.train, data.t_train)
                self.test_acc = self.fused.accuracy(self._test, data.t_test)
        return self.train_acc, self.test_acc

    def _batches(self) -> Iterator[NDArray[np.intp]]:
        """Blocks of batches, one batch of training-image indices per row."""
        cfg = self.config
        if cfg.sampling == "replacement":
            # NOTE: as the book's np.random.choice(train_size, batch_size): each
            # batch is drawn with replacement, independently; drawing a block of
            # them at once gives the same numbers as one call per batch.
            while True:
                yield self.rng.integers(0, self.train_size, size=(_BLOCK, cfg.batch_size))
        per_epoch = self.train_size // cfg.batch_size
        while True:
            order = self.rng.permutation(self.train_size)
            yield order[: per_epoch * cfg.batch_size].reshape(per_epoch, cfg.batch_size)

    def _layers_step(self, x_all: NDArray[np.uint8], t_all: NDArray[np.intp]) -> Any:
        """The chapter's step through the layer objects, as a function of the batch indices."""
        batch = self.config.batch_size
        xb_u8 = np.empty((batch, x_all.shape[1]), dtype=x_all.dtype)
        xb = np.empty((batch, x_all.shape[1]), dtype=self.dtype)
        scale = _scale(self.dtype)

        def step(idx: NDArray[np.intp], _k: int) -> float | None:
            np.take(x_all, idx, axis=0, out=xb_u8)
            np.multiply(xb_u8, scale, out=xb)
            network = self.network
            grads = network.gradient(xb, t_all[idx])
            self._grads = grads
            self.optimizer.update(network.params, grads)
            if isinstance(network, MultiLayerNet):
                return network.last_loss  # with the weight decay term
            return network.lastLayer.loss

        return step

    def _weights_before(self) -> dict[str, Any]:
        """Copies of the weights the next step will update (for the update:data ratio)."""
        return weights_before(self.fused.params if self.fused else self.network.params)

    def layer_stats(self, before: dict[str, Any], n: int, k: int) -> list[dict[str, Any]]:
        """The ``layers`` statistics of the step just taken, from the arrays it left."""
        if self.fused is not None:
            return network_stats(self.fused.layer_arrays(n, k, before))
        return network_stats(from_layers(self.network, before, self._grads))

    def run(self, should_stop: Callable[[], bool] | None = None) -> Iterator[TrainEvent]:
        """Train, yielding progress every iteration, epoch every epoch, then done.

        ``network`` holds the current weights at every epoch and done event and once
        the run ends in any way; at progress events its W1 may lag (the fused step
        trains its own copy; ``self.fused.sync()`` brings it up to date).
        """
        cfg = self.config
        started = time.perf_counter()
        fused = self.fused
        if fused is not None:
            fused.load()  # the network's weights as they are now
            step = fused.step
        else:
            x_all = self.data.x_train.reshape(self.train_size, -1)
            step = self._layers_step(x_all, self.data.t_train.astype(np.intp))
        status = "completed"
        epoch = 0
        blocks = self._batches()
        block: NDArray[np.intp] = np.empty((0, cfg.batch_size), dtype=np.intp)
        extents: list[int] = []
        row = 0
        every = cfg.layer_stats_every
        # NOTE: one BLAS thread by default: a service runs one trainer per core, and on
        # some machines a second thread makes these small products slower, not faster.
        # Overflow is caught below as a non-finite loss, with a message that says what to do.
        try:
            with (
                threadpool_limits(limits=cfg.blas_threads, user_api="blas"),
                np.errstate(all="ignore"),
            ):
                for i in range(1, cfg.iterations + 1):
                    if should_stop is not None and should_stop():
                        status = "cancelled"
                        break
                    if row == len(block):
                        block, row = next(blocks), 0
                        extents = fused.extents(block).tolist() if fused else [0] * len(block)
                    last = i == cfg.iterations
                    at_epoch = cfg.eval_every_epoch and (i % self.iters_per_epoch == 0 or last)
                    stats = every > 0 and (i % every == 0 or at_epoch)
                    before = self._weights_before() if stats else None
                    loss = step(block[row], extents[row])
                    row += 1
                    self.iteration = i
                    if loss is None or not np.isfinite(loss):
                        raise FloatingPointError(
                            f"the loss became {loss} at iteration {i}; lower the learning rate"
                        )
                    yield TrainEvent(PROGRESS, {"iteration": i, "loss": loss})
                    if before is not None:
                        k = extents[row - 1]
                        layers = self.layer_stats(before, cfg.batch_size, k)
                        yield TrainEvent(LAYERS, {"iteration": i, "layers": layers})
                    if at_epoch:
                        epoch_value: float = i // self.iters_per_epoch
                        if i % self.iters_per_epoch:
                            epoch_value = round(i / self.iters_per_epoch, 2)
                        train_acc, test_acc = self.evaluate()
                        epoch += 1
                        if fused is not None:
                            fused.sync()
                        yield TrainEvent(
                            EPOCH,
                            {
                                "epoch": epoch_value,
                                "iteration": i,
                                "train_acc": train_acc,
                                "test_acc": test_acc,
                            },
                        )
        finally:
            if fused is not None:  # the network's weights, in the images' pixel order
                fused.release()
        if (status == "cancelled" or not cfg.eval_every_epoch) and self.iteration:
            self.evaluate()
        yield TrainEvent(
            DONE,
            {
                "status": status,
                "iterations": self.iteration,
                "train_acc": self.train_acc,
                "test_acc": self.test_acc,
                "elapsed_s": time.perf_counter() - started,
            },
        )

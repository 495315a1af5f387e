"""What a finished run's weights are used for: its network, predictions, and the insights'
test-set softmax, each kept in memory once computed (a finished run's weights never change).
"""

from __future__ import annotations

import dataclasses
import io
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from app.errors import Conflict, Unprocessable

if TYPE_CHECKING:
    from app.training.records import RunRecord
    from app.training.service import RunService

#: Networks of finished runs kept in memory.
KEPT_NETWORKS = 16
#: Finished runs whose test-set predictions are kept.
KEPT_PREDICTIONS = 8
#: Datasets kept in memory for the insights.
KEPT_DATASETS = 2


class Predictions:
    """A service's finished runs as networks: predict, and the softmax of their test sets."""

    def __init__(self, service: RunService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._networks: OrderedDict[str, Any] = OrderedDict()
        self._datasets: OrderedDict[str, Any] = OrderedDict()
        #: Each finished run's dataset and softmax on its test set (by run id and status).
        self._softmax: OrderedDict[tuple[str, str], tuple[Any, NDArray[np.float64]]] = OrderedDict()

    def forget(self, run_ids: set[str]) -> None:
        """Drop what is kept of these runs (removed or deleted)."""
        with self._lock:
            for run_id in run_ids:
                self._networks.pop(run_id, None)
            for key in [k for k in self._softmax if k[0] in run_ids]:
                del self._softmax[key]

    def network(self, run_id: str) -> Any:
        """The trained network of a finished run with saved weights (cached); else 409."""
        with self._lock:
            net = self._networks.get(run_id)
            if net is not None:
                self._networks.move_to_end(run_id)
                return net
        run = self.service.get(run_id)
        # NOTE: a cancelled run saves the weights it reached; a failed or interrupted one has
        # those of its last epoch's evaluation, if it reached one; without any, this 409.
        blob = self.service.store.weights(run_id) if run.finished else None
        if blob is None:
            raise Conflict(
                f"Run '{run_id}' is {run.status}; only a completed run, or one that stopped "
                "after it trained, has weights to inspect or predict with.",
                code="run_not_finished" if not run.finished else "no_weights",
                details={"run_id": run_id, "status": run.status},
            )
        net = _network(run.config, blob)
        with self._lock:
            self._networks[run_id] = net
            while len(self._networks) > KEPT_NETWORKS:
                self._networks.popitem(last=False)
        return net

    def predict(self, run_id: str, image: list[list[float]]) -> dict[str, Any]:
        """Classify a 28x28 image in 0..1 with a completed run's network."""
        x = validate_image(image)
        net = self.network(run_id)
        from engine.functions import softmax

        probs = softmax(net.predict(x.reshape(1, -1).astype(net.dtype)).astype(np.float64))[0]
        return {"label": int(np.argmax(probs)), "probabilities": [float(p) for p in probs]}

    def dataset(self, name: str) -> Any:
        """The dataset a run trained on (kept in memory, at most ``KEPT_DATASETS``)."""
        from engine.data import DatasetError, load_dataset

        with self._lock:
            if name in self._datasets:
                self._datasets.move_to_end(name)
                return self._datasets[name]
        try:
            data = load_dataset(name, download=False, progress=False)
        except DatasetError as e:
            raise Conflict(str(e), code="dataset_unavailable", details={"dataset": name}) from None
        with self._lock:
            self._datasets[name] = data
            while len(self._datasets) > KEPT_DATASETS:
                self._datasets.popitem(last=False)
        return data

    def test_softmax(self, run: RunRecord) -> tuple[Any, NDArray[np.float64]]:
        """The run's dataset and its softmax on the test set (computed once per finished run)."""
        from engine.data import to_float
        from engine.functions import softmax

        key = (run.id, run.status)
        with self._lock:
            if key in self._softmax:
                self._softmax.move_to_end(key)
                return self._softmax[key]
        net = self.network(run.id)
        data = self.dataset(str(run.config.get("dataset", "mnist")))
        probs = np.concatenate(
            [
                softmax(net.predict(to_float(data.x_test[i : i + 1000], net.dtype)))
                for i in range(0, len(data.x_test), 1000)
            ]
        ).astype(np.float64)
        with self._lock:
            self._softmax[key] = (data, probs)
            while len(self._softmax) > KEPT_PREDICTIONS:
                self._softmax.popitem(last=False)
        return data, probs


def _network(config: dict[str, Any], blob: bytes) -> Any:
    """The network a run's configuration builds, holding the saved weights of ``blob``."""
    from engine.trainer import TrainConfig, build_network

    with np.load(io.BytesIO(blob)) as npz:
        params = {k: npz[k] for k in npz.files}
    w1 = params["W1"]
    last = params[f"W{sum(1 for k in params if k.startswith('W'))}"]
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    train = TrainConfig(**{k: v for k, v in config.items() if k in known})
    train.dtype = str(w1.dtype)
    train.hidden_size = int(w1.shape[1])
    net = build_network(train, int(w1.shape[0]), int(last.shape[1]), np.random.default_rng(0))
    for key, value in params.items():
        if key.startswith("running_"):  # BatchNorm's statistics for predictions
            layer = net.layers["BatchNorm" + "".join(c for c in key if c.isdigit())]
            setattr(layer, key.rstrip("0123456789"), value.copy())
        else:
            net.params[key][...] = value
    return net


def validate_image(image: list[list[float]]) -> np.ndarray:
    """A 28x28 float array from rows of numbers, or a 422 naming what is wrong."""
    rows = len(image)
    if rows != 28 or any(len(r) != 28 for r in image):
        bad = next((i for i, r in enumerate(image) if len(r) != 28), None)
        where = f"row {bad} has {len(image[bad])} numbers" if bad is not None else f"{rows} rows"
        raise Unprocessable(
            f"'image' must be 28 rows of 28 numbers; got {where}.",
            code="bad_shape",
            details={"field": "image", "expected": [28, 28], "rows": rows},
        )
    x = np.asarray(image, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        r, c = np.argwhere(~np.isfinite(x))[0]
        raise Unprocessable(
            f"'image' holds a value that is not a finite number at row {r}, column {c}.",
            code="not_finite",
            details={"field": "image", "row": int(r), "column": int(c)},
        )
    if x.min() < 0 or x.max() > 1:
        r, c = np.argwhere((x < 0) | (x > 1))[0]
        raise Unprocessable(
            f"'image' values must be in 0..1; row {r}, column {c} is {x[r, c]}.",
            code="out_of_range",
            details={"field": "image", "row": int(r), "column": int(c), "value": float(x[r, c])},
        )
    return x

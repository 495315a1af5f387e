"""One training attempt, as both executors run it: the trainer's events reported to a ``Reporter``.

A local worker process (``local.py``) reports over its multiprocessing queue and its
server's stop flag; a Celery worker (``celery.py``) through its ``LogWriter``, straight into
the shared event log. Both run ``train`` below, so a seed gives the same numbers on either.
This module and ``events.py`` are what a spawned worker imports: the standard library, the
engine, nothing of the server.
"""

from __future__ import annotations

import io
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.training import events

log = logging.getLogger("backprop_lab.executor")


@dataclass(frozen=True)
class WorkerMessage:
    """Something a worker reports about a run; ``weights`` on an ``epoch`` or a trained ``done``."""

    run_id: str
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)
    weights: bytes | None = None
    worker: int = -1


Sink = Callable[[Sequence[WorkerMessage]], None]


class Executor(Protocol):
    """Runs training configurations somewhere and reports their events to a sink."""

    def start(self, sink: Sink) -> None:
        """Start accepting runs; every message of every run goes to ``sink``."""

    def submit(self, run_id: str, config: dict[str, Any]) -> None:
        """Queue a run; it starts when a worker is free."""

    def cancel(self, run_id: str) -> bool:
        """Ask a queued or running run to stop; False if the executor does not hold it."""

    def shutdown(self) -> None:
        """Stop every worker (runs in flight are abandoned)."""


@dataclass(frozen=True)
class WorkerOptions:
    """How each worker process behaves."""

    preload: tuple[str, ...] = ("mnist",)
    progress_interval: float = 0.25
    download: bool = True
    nice: int = 5
    max_seconds: float = math.inf  # wall-clock limit of one run (BACKPROP_LAB_MAX_RUN_SECONDS)


class Reporter(Protocol):
    """Where an attempt reports its events, and whence it learns it must stop."""

    def put(self, msg: WorkerMessage) -> None:
        """Record one message of the attempt (in order)."""

    def stop_requested(self) -> bool:
        """True when the attempt must stop (cancelled, superseded, or its server gone)."""


def _weights_npz(params: dict[str, Any], network: Any = None) -> bytes:
    """The weights as .npz; with BatchNorm, its running mean and variance too (running_mean1...)."""
    import numpy as np

    buf = io.BytesIO()
    arrays: dict[str, Any] = {k: np.asarray(v) for k, v in params.items()}
    for key, layer in getattr(network, "layers", {}).items():
        if key.startswith("BatchNorm") and layer.running_mean is not None:
            number = key[len("BatchNorm") :]
            arrays[f"running_mean{number}"] = np.asarray(layer.running_mean)
            arrays[f"running_var{number}"] = np.asarray(layer.running_var)
    np.savez(buf, **arrays)
    return buf.getvalue()


def _finite(x: float) -> float | None:
    """The loss to 7 significant digits (float32's precision), None if not finite."""
    return float(f"{x:.7g}") if math.isfinite(x) else None


def _download_reporter(
    dataset: str, send: Callable[[str, Mapping[str, Any]], None], interval: float
) -> Callable[[str, int, int | None], None]:
    """Send ``download`` events (file, bytes so far, total) at most every ``interval`` seconds."""
    last = -math.inf

    def report(file: str, done: int, total: int | None) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= interval or done == total:
            last = now
            send(events.DOWNLOAD, events.download(dataset, file, done, total))

    return report


def train(
    run_id: str,
    config: dict[str, Any],
    reporter: Reporter,
    datasets: dict[str, Any],
    options: WorkerOptions,
    worker: int = -1,
) -> None:
    """Train one attempt of a run, reporting every event; a failure ends it ``failed``.

    ``datasets`` holds the datasets this process has loaded (a first use adds one).
    """
    from engine.data import DatasetError, load_dataset
    from engine.trainer import TrainConfig, Trainer

    def send(kind: str, data: Mapping[str, Any], weights: bytes | None = None) -> None:
        reporter.put(WorkerMessage(run_id, kind, data, weights, worker))

    send(events.RUNNING, {})  # the store numbers the attempt
    watch = events.LossWatch()
    losses: list[float | None] = []
    first = 1

    def flush(iteration: int, loss: float | None) -> None:
        nonlocal losses, first
        if losses:
            send(events.PROGRESS, events.progress(iteration, loss, first, losses))
            first = iteration + 1
            losses = []

    iteration, loss = 0, None
    try:
        name = str(config.get("dataset", "mnist"))
        if name not in datasets:
            datasets[name] = load_dataset(
                name,
                download=options.download,
                progress=True,  # a first-use download shows its bar in the server's terminal
                report=_download_reporter(name, send, options.progress_interval),
            )
        # NOTE: one BLAS thread for the evaluations too: a worker shares the machine's cores
        # with other workers (two threads each made 2 workers on 2 cores no faster than 1).
        trainer = Trainer(TrainConfig(**config, eval_threads=1), datasets[name])
        last_sent = -math.inf
        deadline = time.monotonic() + options.max_seconds

        def should_stop() -> bool:
            return reporter.stop_requested() or time.monotonic() > deadline

        for ev in trainer.run(should_stop):
            if ev.kind == events.PROGRESS:
                iteration, loss = int(ev.data["iteration"]), _finite(float(ev.data["loss"]))
                losses.append(loss)
                watch.add(loss)
                now = time.monotonic()
                if now - last_sent >= options.progress_interval:
                    flush(iteration, loss)
                    last_sent = now
            elif ev.kind == events.LAYERS:
                send(events.LAYERS, ev.data)
            elif ev.kind == events.EPOCH:
                flush(iteration, loss)
                # The weights at each evaluation are kept too, so a run cut off later (a crash,
                # a failure) can still be inspected as it was at its last epoch.
                epoch = {k: float(v) if k.endswith("acc") else v for k, v in ev.data.items()}
                send(events.EPOCH, epoch, _weights_npz(trainer.network.params, trainer.network))
            elif ev.kind == events.DONE:
                flush(iteration, loss)
                metrics = dict(ev.data)
                status = str(metrics.pop("status"))
                weights, warning = None, None
                if status == "completed":
                    weights, warning = (
                        _weights_npz(trainer.network.params, trainer.network),
                        watch.warning(),
                    )
                elif status == "cancelled" and trainer.iteration:
                    # A cancelled run keeps what it learned so far: it can still be inspected.
                    weights = _weights_npz(trainer.network.params, trainer.network)
                if status == "cancelled" and time.monotonic() > deadline:
                    metrics["message"] = events.time_limit(options.max_seconds)
                send(events.DONE, events.done(status, warning=warning, **metrics), weights)
                return
            else:
                raise ValueError(f"the trainer yielded an unknown event kind {ev.kind!r}")
    except DatasetError as e:
        failed = events.done(
            "failed", message=str(e), iterations=0, dataset=name, alternative=e.alternative
        )
        send(events.DONE, failed)
    except Exception as e:  # the run fails; the worker lives on
        log.exception("run %s failed", run_id)
        flush(iteration, loss)  # the losses up to the failure are part of its history
        send(events.DONE, events.done("failed", message=f"{type(e).__name__}: {e}"))


def warm_up(datasets: Mapping[str, Any]) -> float:
    """Train a few iterations on each preloaded dataset, as a run would, and throw them away;
    the seconds it took.

    A process's first run also pays for what is done once per process (the engine's imports,
    NumPy's first calls, the allocator's first pages): 0.15 to 0.5 s, as much as a fifth of a
    2,000-iteration run, and more when two new workers start at once. Paid here, before the
    process takes a run, the first learner's run is as fast as the next.
    """
    from engine.trainer import TrainConfig, Trainer

    t0 = time.perf_counter()
    for data in datasets.values():
        for _ in Trainer(TrainConfig(iterations=5, seed=0, eval_threads=1), data).run():
            pass
    return time.perf_counter() - t0

"""Every event of a run: its kinds, each kind's data (typed), and the builders of each one.

A run's log holds the kinds of ``KINDS``: ``running`` (a worker started an attempt),
``download`` (it fetches the dataset first), then the trainer's own (``progress``,
``layers``, ``epoch``, ``done``; named in ``engine/events.py``, which the engine's CLI reads
too, since the engine never imports the app). ``done`` ends the log: every ``done``
(completed, cancelled, failed, interrupted), wherever it arises (a worker, the executor, a
cancel, a server restart), is built here by ``done``. A stream also sends two kinds that are
not in the log: ``queued`` (the run's place in its queue) and ``no_worker``.

The JS typedefs of the page (``static/js/types.d.ts``) name the same kinds and fields;
``tests/app/test_event_kinds.py`` compares them. Worker processes import this module, so it
needs nothing but the standard library and ``engine.events``.
"""

# NOTE: no ``from __future__ import annotations`` here: on Python 3.11 a TypedDict finds
# ``NotRequired`` only in evaluated annotations, and its ``__required_keys__`` are what the
# page's typedefs are checked against.
import math
from collections import deque
from typing import Any, Literal, NotRequired, TypedDict, get_args

from engine.events import DONE, EPOCH, LAYERS, PROGRESS

#: A worker started an attempt of the run (attempt 2+: again from the beginning).
RUNNING = "running"
#: The worker fetches the run's dataset before it trains (first use).
DOWNLOAD = "download"
#: Every kind of event a run's log may hold, in the order they first come.
KINDS = (RUNNING, DOWNLOAD, PROGRESS, LAYERS, EPOCH, DONE)
#: Sent on a queued run's stream when it opens and when its place changes; never stored.
QUEUED = "queued"
#: Sent on a queued run's stream while the lab has no live worker; never stored.
NO_WORKER = "no_worker"

Status = Literal["queued", "running", "completed", "cancelled", "failed", "interrupted"]
#: Statuses of a run that may still record events.
ACTIVE: tuple[Status, ...] = ("queued", "running")
#: Statuses a ``done`` event may carry; the run's status becomes it.
TERMINAL: tuple[Status, ...] = ("completed", "cancelled", "failed", "interrupted")
#: Every status, in the order a run goes through them.
STATUSES: tuple[Status, ...] = ACTIVE + TERMINAL
assert set(STATUSES) == set(get_args(Status))


class RunningData(TypedDict):
    """``running``: the attempt's number (the store sets it); why it restarted, if it did."""

    attempt: int
    message: NotRequired[str]


class DownloadData(TypedDict):
    """``download``: bytes of one file of the dataset fetched so far (``total``: if known)."""

    dataset: str
    file: str
    bytes: int
    total: int | None


class ProgressData(TypedDict):
    """``progress``: the losses since the last one (``losses[0]`` is ``first_iteration``'s)."""

    iteration: int
    loss: float | None
    first_iteration: int
    losses: list[float | None]


class EpochData(TypedDict):
    """``epoch``: accuracies at an epoch's end (or the last iteration)."""

    epoch: float
    iteration: int
    train_acc: float
    test_acc: float


class LayersData(TypedDict):
    """``layers``: per-layer statistics of one step (engine/layer_stats.py)."""

    iteration: int
    layers: list[dict[str, Any]]


class DoneData(TypedDict):
    """``done``: how the run ended; ``has_weights``: whether its weights can be used
    (predictions and insights), set by the store as it records the event."""

    status: Status
    has_weights: NotRequired[bool]
    iterations: NotRequired[int | None]
    train_acc: NotRequired[float | None]
    test_acc: NotRequired[float | None]
    elapsed_s: NotRequired[float | None]
    message: NotRequired[str]
    warning: NotRequired[str]
    dataset: NotRequired[str]
    alternative: NotRequired[str | None]


class QueuedData(TypedDict):
    """``queued``: runs ahead of this one in its queue (as GET /train/{id} counts)."""

    queue_position: int


class NoWorkerData(TypedDict):
    """``no_worker``: runs wait and no worker lives; the message says what to do."""

    message: str
    queue_position: int | None


#: Each kind's data: the log's kinds, then the stream's own.
DATA: dict[str, type] = {
    RUNNING: RunningData,
    DOWNLOAD: DownloadData,
    PROGRESS: ProgressData,
    LAYERS: LayersData,
    EPOCH: EpochData,
    DONE: DoneData,
    QUEUED: QueuedData,
    NO_WORKER: NoWorkerData,
}
assert tuple(DATA)[: len(KINDS)] == KINDS


def check_kind(kind: str) -> str:
    """``kind`` if a run's log may hold it; a ValueError naming it otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}: a run's log holds only {KINDS}")
    return kind


#: The ``message`` of a cancelled run's ``done`` (the API promises one on cancelled and failed).
CANCELLED = "The run was cancelled (DELETE /train/{id}) before it finished."
#: The ``message`` of a run a server stopped before it finished.
INTERRUPTED = "The server stopped while this run was queued or training; it was not finished."

_DEFAULT_MESSAGES = {"cancelled": CANCELLED, "interrupted": INTERRUPTED}

#: The numbers of each layer a run's history keeps for every ``layers`` event (its charts over
#: time); the histograms are kept for the last event only, so the history stays small.
LAYER_SERIES = ("grad_mean_abs", "grad_max_abs", "grad_to_data", "update_to_data", "saturated")


def layers_point(data: dict[str, Any]) -> dict[str, Any]:
    """A ``layers`` event without its histograms: one point of the history's ``layers``."""
    return {
        "iteration": data.get("iteration"),
        "layers": [
            {"name": layer.get("name"), **{k: layer.get(k) for k in LAYER_SERIES}}
            for layer in data.get("layers", [])
        ],
    }


def running(attempt: int = 1) -> RunningData:
    """The data of a ``running`` event: a worker started the run (attempt 2+: from the start)."""
    return {"attempt": attempt}


def download(dataset: str, file: str, done: int, total: int | None) -> DownloadData:
    """The data of a ``download`` event."""
    return {"dataset": dataset, "file": file, "bytes": done, "total": total}


def progress(
    iteration: int, loss: float | None, first: int, losses: list[float | None]
) -> ProgressData:
    """The data of a ``progress`` event: the losses of iterations ``first`` to ``iteration``."""
    return {"iteration": iteration, "loss": loss, "first_iteration": first, "losses": losses}


def restarted(attempt: int, worker: str | None) -> str:
    """Why a run starts again from the beginning: the worker of its last attempt was lost."""
    who = f" ({worker})" if worker else ""
    return (
        f"The worker of attempt {attempt}{who} was lost (it stopped beating); the run starts "
        "again from the beginning. What that attempt recorded stays in the log before this event."
    )


def worker_lost(attempts: int, worker: str | None) -> str:
    """The ``message`` of a run that failed because its workers were lost too many times."""
    who = f" (last on {worker})" if worker else ""
    return (
        f"A worker was lost while training this run{who}, on each of its {attempts} "
        "attempts, so it is not retried again. What it recorded is kept. Check the worker "
        "machines (out of memory? stopped?) and start the run again."
    )


def silent(seconds: float, worker: str | None) -> str:
    """The ``message`` of a run interrupted because its worker stopped beating."""
    who = f" ({worker})" if worker else ""
    return (
        f"No worker has reported on this run for {seconds:g} s: its worker{who} stopped or "
        "lost its connection to the database. What it recorded is kept; start it again."
    )


def time_limit(seconds: float) -> str:
    """Why a run stopped at the lab's wall-clock limit."""
    return (
        f"Stopped after {seconds:g} s, the lab's limit for one run "
        "(BACKPROP_LAB_MAX_RUN_SECONDS); what it recorded and learned so far is kept."
    )


def done(
    status: str, *, message: str | None = None, warning: str | None = None, **fields: Any
) -> dict[str, Any]:
    """The data of the terminal ``done`` event (cancelled, failed, interrupted carry a message)."""
    if status not in TERMINAL:
        raise ValueError(f"a done event ends a run: status must be one of {TERMINAL}, not {status}")
    message = message or _DEFAULT_MESSAGES.get(status)
    if status == "failed" and not message:
        raise ValueError("a failed run's done event needs a message")
    data: dict[str, Any] = {"status": status, **fields}
    if message:
        data["message"] = message
    if warning:
        data["warning"] = warning
    return data


class LossWatch:
    """Watches a run's losses for divergence to finite but huge values.

    A run whose loss peaks above ``peak_ratio`` times its first loss, or whose last
    ``window`` losses average above ``mean_ratio`` times it, completes with a warning.
    """

    def __init__(self, peak_ratio: float = 10.0, mean_ratio: float = 2.0, window: int = 50) -> None:
        self.peak_ratio = peak_ratio
        self.mean_ratio = mean_ratio
        self.first: float | None = None
        self.peak = -math.inf
        self.recent: deque[float] = deque(maxlen=window)

    def add(self, loss: float | None) -> None:
        """Take one iteration's loss (None or non-finite ones are not counted)."""
        if loss is None or not math.isfinite(loss):
            return
        if self.first is None:
            self.first = loss
        self.peak = max(self.peak, loss)
        self.recent.append(loss)

    def warning(self) -> str | None:
        """A sentence saying how the loss diverged, or None if it did not."""
        first = self.first
        if first is None or first <= 0 or not self.recent:
            return None
        mean = sum(self.recent) / len(self.recent)
        if self.peak <= self.peak_ratio * first and mean <= self.mean_ratio * first:
            return None
        return (
            f"The loss diverged: it started at {first:.4g}, peaked at {self.peak:.4g} and ended "
            f"near {mean:.4g} (mean of the last {len(self.recent)}). The weights are not "
            "usable; lower the learning rate."
        )

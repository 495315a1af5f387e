"""The events of a run's log: the kinds, ``running``, ``layers`` and the one terminal ``done``.

Every ``running`` and every ``done`` (completed, cancelled, failed, interrupted), wherever it
arises (a worker, the executor, a cancel, a server restart), is built here. Worker processes
import this module, so it needs nothing but the standard library.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

#: Statuses a ``done`` event may carry; the run's status becomes it.
TERMINAL = ("completed", "cancelled", "failed", "interrupted")

#: The ``message`` of a cancelled run's ``done`` (the API promises one on cancelled and failed).
CANCELLED = "The run was cancelled (DELETE /train/{id}) before it finished."
#: The ``message`` of a run a server stopped before it finished.
INTERRUPTED = "The server stopped while this run was queued or training; it was not finished."

_DEFAULT_MESSAGES = {"cancelled": CANCELLED, "interrupted": INTERRUPTED}

#: Per-layer statistics of one training step (engine/layer_stats.py), with every epoch and at
#: most every ``layer_stats_every`` iterations: ``{"iteration", "layers": [...]}``.
LAYERS = "layers"
#: Every kind of event a run's log may hold.
KINDS = ("running", "download", "progress", LAYERS, "epoch", "done")
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


def running(attempt: int = 1) -> dict[str, Any]:
    """The data of a ``running`` event: a worker started the run (attempt 2+: from the start)."""
    return {"attempt": attempt}


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

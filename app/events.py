"""The events of a run's log that say where it stands: ``running``, and the one terminal ``done``.

Every ``running`` and every ``done`` (completed, cancelled, failed, interrupted), wherever it
arises (a worker, the executor, a cancel, a server restart), is built here. Worker processes
import this module, so it needs nothing but the standard library.
"""

from __future__ import annotations

from typing import Any

#: Statuses a ``done`` event may carry; the run's status becomes it.
TERMINAL = ("completed", "cancelled", "failed", "interrupted")

#: The ``message`` of a cancelled run's ``done`` (the API promises one on cancelled and failed).
CANCELLED = "The run was cancelled (DELETE /train/{id}) before it finished."
#: The ``message`` of a run a server stopped before it finished.
INTERRUPTED = "The server stopped while this run was queued or training; it was not finished."

_DEFAULT_MESSAGES = {"cancelled": CANCELLED, "interrupted": INTERRUPTED}


def running(attempt: int = 1) -> dict[str, Any]:
    """The data of a ``running`` event: a worker started the run (attempt 2+: from the start)."""
    return {"attempt": attempt}


def done(status: str, *, message: str | None = None, **fields: Any) -> dict[str, Any]:
    """The data of the terminal ``done`` event (cancelled, failed, interrupted carry a message)."""
    if status not in TERMINAL:
        raise ValueError(f"a done event ends a run: status must be one of {TERMINAL}, not {status}")
    message = message or _DEFAULT_MESSAGES.get(status)
    if status == "failed" and not message:
        raise ValueError("a failed run's done event needs a message")
    data: dict[str, Any] = {"status": status, **fields}
    if message:
        data["message"] = message
    return data

"""One logging setup for servers and workers: ISO 8601 UTC time, level, logger, one line per event.

``setup_logging`` sends every logger (uvicorn's, its access log included, and Celery's)
through one handler on the root logger; the run id and the worker of a line come from
context variables set where a run is handled (or from ``extra=``). Text by default;
JSON lines (one object per line) with ``BACKPROP_LAB_LOG_FORMAT=json``. In text, a
traceback follows its line indented; in JSON it is the ``exception`` field of that line.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime

#: The run a line is about (set while a worker handles a run).
RUN_ID: ContextVar[str | None] = ContextVar("run_id", default=None)
#: The worker a line comes from ("<host>:<pid>"), for every thread of the process.
_WORKER: dict[str, str | None] = {"name": None}
#: Loggers that bring their own handlers (uvicorn, Celery): theirs are replaced by ours.
_FOREIGN = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.app.trace")


def set_worker(name: str | None) -> None:
    """Name the worker every later line of this process comes from."""
    _WORKER["name"] = name


class ContextFilter(logging.Filter):
    """Adds ``run_id`` and ``worker`` to each record (None where not known)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Fill the fields a record did not get through ``extra=``."""
        if getattr(record, "run_id", None) is None:
            record.run_id = RUN_ID.get()
        if getattr(record, "worker", None) is None:
            record.worker = _WORKER["name"]
        return True


def iso_time(created: float) -> str:
    """A record's time as ISO 8601 in UTC with milliseconds: 2026-12-04T16:30:31.123Z."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class LineFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> [run=<id>] [worker=<name>] <message>``, or one JSON object."""

    def __init__(self, json_lines: bool = False) -> None:
        super().__init__()
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (text: a traceback follows, indented)."""
        message = record.getMessage()
        run_id = getattr(record, "run_id", None)
        worker = getattr(record, "worker", None)
        error = self.formatException(record.exc_info) if record.exc_info else None
        if self.json_lines:
            line: dict[str, object] = {
                "time": iso_time(record.created),
                "level": record.levelname,
                "logger": record.name,
                "message": message,
            }
            if run_id:
                line["run_id"] = run_id
            if worker:
                line["worker"] = worker
            if error:
                line["exception"] = error
            return json.dumps(line, ensure_ascii=False, default=str)
        where = "".join(
            f" {k}={v}" for k, v in (("run", run_id), ("worker", worker)) if v is not None
        )
        text = " ".join(message.splitlines()) if message else ""
        out = f"{iso_time(record.created)} {record.levelname} {record.name}{where} {text}"
        if error:
            out += "\n" + "\n".join("    " + ln for ln in error.splitlines())
        return out


def setup_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Route every logger of this process through one handler in the chosen format (idempotent)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "backprop_lab", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.backprop_lab = True  # type: ignore[attr-defined]
    handler.setFormatter(LineFormatter(json_lines=log_format == "json"))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    logging.captureWarnings(True)  # Python's warnings (Celery's root warning) as log lines
    # NOTE: Celery's pool logs through "multiprocessing", which billiard cuts off from the root
    # logger (a dead training process would be reported as a bare line): ours is its handler.
    pool = logging.getLogger("multiprocessing")
    for old_handler in [h for h in pool.handlers if getattr(h, "backprop_lab", False)]:
        pool.removeHandler(old_handler)
    pool.addHandler(handler)
    pool.propagate = False
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    # Alembic names each of its plugins as it loads them, a dozen lines per start-up that say
    # nothing to an operator; its migrations ("Running upgrade ...") are still logged.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    for name in _FOREIGN:
        logger = logging.getLogger(name)
        if name == "uvicorn.access" and not logger.handlers and not logger.propagate:
            continue  # the access log is off (--no-access-log): keep it off
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True


class Outage:
    """Says that a part does not answer: once when it stops, once a minute while it is away,
    and once when it is back."""

    def __init__(self, logger: logging.Logger, what: str, every: float = 60.0) -> None:
        self.logger = logger
        self.what = what
        self.every = every
        self._lock = threading.Lock()
        self._since: float | None = None
        self._said = 0.0

    def down(self, error: BaseException | str, doing: str = "") -> None:
        """The part did not answer now (logged at most once a minute)."""
        now = time.monotonic()
        with self._lock:
            if self._since is not None and now - self._said < self.every:
                return
            first = self._since is None
            since = now if self._since is None else self._since
            self._since = since
            self._said = now
            away = now - since
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else repr(error)
        when = "" if first else f" (for {away:.0f} s)"
        self.logger.warning(
            "%s does not answer%s: %s; %sretrying (said again once a minute)",
            self.what,
            when,
            reason,
            f"{doing}; " if doing else "",
        )

    def up(self) -> None:
        """The part answered (logged once if it had been away)."""
        with self._lock:
            if self._since is None:
                return
            away = time.monotonic() - self._since
            self._since = None
        self.logger.warning("%s answers again after %.0f s", self.what, away)

"""The lab as its database tells it: runs by status, the queue, live workers, stale beats.

Read by ``/readyz`` (are workers taking runs?), ``/metrics`` (at scrape time, so any server
reports the whole lab's numbers) and a queued run's answer (does a worker live to take it?).
Beats are written with the workers' clocks and read with this server's: keep machines on NTP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from app.settings import Settings
from app.training.events import STATUSES
from app.training.records import runs
from app.training.store import RunStore

#: Every status a run can have, so each is reported (as 0 when no run has it).
#: A running run's beat older than this many beat intervals is "stale" (the reaper ends it later).
STALE_INTERVALS = 3


@dataclass(frozen=True)
class LabState:
    """One look at the lab; times are seconds since the epoch."""

    by_status: dict[str, int]
    oldest_queued: float | None
    last_worker_sign: float | None
    live_workers: int
    stale_beats: int
    now: float

    @property
    def queue_depth(self) -> int:
        """Runs waiting for a worker."""
        return self.by_status.get("queued", 0)

    def no_worker(self, timeout: float) -> bool:
        """Runs have waited longer than ``timeout`` and no worker took or beat for one meanwhile."""
        if self.oldest_queued is None or self.now - self.oldest_queued <= timeout:
            return False
        return self.last_worker_sign is None or self.now - self.last_worker_sign > timeout


def read_lab(store: RunStore, heartbeat_interval: float, heartbeat_timeout: float) -> LabState:
    """The lab's state now (three small queries)."""
    now = time.time()
    live_since = now - heartbeat_timeout
    stale_before = now - STALE_INTERVALS * heartbeat_interval
    running = runs.c.status == "running"
    with store.engine.connect() as db:
        counts: dict[str, int] = dict(
            db.execute(sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status)).all()
        )
        oldest, last_sign = db.execute(
            sa.select(
                sa.select(sa.func.min(runs.c.created_at))
                .where(runs.c.status == "queued")
                .scalar_subquery(),
                # NOTE: a claim sets the beat too, and a finished run keeps its last one.
                sa.select(sa.func.max(runs.c.heartbeat_at)).scalar_subquery(),
            )
        ).one()
        live, stale = db.execute(
            sa.select(
                sa.func.count(sa.distinct(runs.c.worker)).filter(
                    running, runs.c.heartbeat_at >= live_since
                ),
                sa.func.count().filter(running, runs.c.heartbeat_at < stale_before),
            )
        ).one()
    by_status: dict[str, int] = {s: int(counts.get(s, 0)) for s in STATUSES}
    return LabState(by_status, oldest, last_sign, int(live), int(stale), now)


class LabWatch:
    """One server's view of the lab: read on demand; whether workers are missing, kept 1 s."""

    def __init__(self, store: RunStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._missing = (-1e9, False)

    def read(self) -> LabState:
        """The lab's runs, queue and workers as the database tells them now."""
        s = self.settings
        return read_lab(self.store, s.heartbeat_interval, s.heartbeat_timeout)

    def workers(self) -> str:
        """Readiness of the workers: "ok", or what is missing."""
        lab, timeout = self.read(), self.settings.heartbeat_timeout
        return no_worker_text(lab.queue_depth, timeout) if lab.no_worker(timeout) else "ok"

    def no_worker(self) -> bool:
        """Whether runs wait with no live worker (Celery; looked up at most once a second)."""
        if self.settings.executor != "celery":
            return False
        now = time.monotonic()
        if now - self._missing[0] > 1.0:
            self._missing = (now, self.read().no_worker(self.settings.heartbeat_timeout))
        return self._missing[1]


def no_worker_text(waiting: int, timeout: float) -> str:
    """What readiness and a queued run say when no worker takes runs."""
    runs = "1 run waits" if waiting == 1 else f"{waiting} runs wait"
    return (
        f"none: {runs} and no worker has taken or beaten for a run in {timeout:g} s; "
        "start one (python -m app.worker) or check that the workers reach the broker"
    )


def queued_message(timeout: float) -> str:
    """The status message of a queued run while the lab has no live worker."""
    return (
        f"No worker has taken or beaten for a run in the last {timeout:g} s: this run waits "
        "until a worker starts. Tell whoever runs the lab."
    )

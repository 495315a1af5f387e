"""The servers' watch over Celery runs: the reaper of silent runs, the queue's resender.

Liveness comes from heartbeats in the log (``celery.LogWriter`` beats): a run whose beat
stops for ``heartbeat_timeout`` is marked ``interrupted`` by the ``Reaper``, measured on the
server's own clock; a queued run the broker lost (a Redis restarted without its data) is
sent again by ``QueueWatch``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from app.db import is_disconnect
from app.training.celery import FRONT, CeleryExecutor, broker_lists, queues
from app.training.store import RunStore

log = logging.getLogger("backprop_lab.distributed")


class Reaper:
    """Marks ``interrupted`` every running run whose worker has not beaten for the timeout.

    Silence is measured on this server's own clock, from when it last saw the beat
    change, and only while the database answers; so neither clock skew between
    machines nor a database outage interrupts a healthy run.
    """

    def __init__(
        self, store: RunStore, interval: float, timeout: float, queue: QueueWatch | None = None
    ) -> None:
        self.store = store
        self.interval = interval
        self.timeout = timeout
        self.queue = queue
        self._seen: dict[str, tuple[tuple[int, float | None], float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        self._thread.join(5)

    def sweep(self) -> list[str]:
        """One look at every running run; returns the ids interrupted now."""
        now = time.monotonic()
        interrupted = []
        waiting: list[bytes] | None = None  # the broker's queue, read once if needed
        beats = self.store.beats()
        alive = {run_id for run_id, _, _ in beats}
        for run_id in list(self._seen):
            if run_id not in alive:
                del self._seen[run_id]
        for run_id, attempt, beat in beats:
            key = (attempt, beat)
            seen = self._seen.get(run_id)
            if seen is None or seen[0] != key:
                self._seen[run_id] = (key, now)
            elif now - seen[1] > self.timeout:
                if self.queue is not None:
                    # NOTE: a training process that died has its run put back on the queue
                    # (``retry_lost``, at the front): while the broker holds
                    # it, its next attempt is coming, so silence does not count.
                    if waiting is None:
                        waiting = self.queue.waiting()
                    if any(run_id.encode() in m for m in waiting):
                        self._seen[run_id] = (key, now)
                        continue
                if self.store.interrupt_if_silent(run_id, key, self.timeout):
                    log.warning(
                        "run %s interrupted: no beat for %g s",
                        run_id,
                        self.timeout,
                        extra={"run_id": run_id},
                    )
                    interrupted.append(run_id)
                del self._seen[run_id]
        return interrupted

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception as e:
                self._seen.clear()  # an outage is not silence: start counting afresh
                if not is_disconnect(e):
                    log.exception("the reaper could not read the runs")
            if self.queue is not None:
                try:
                    self.queue.sweep()
                except Exception as e:
                    log.warning("could not compare the queue with the broker: %s", e)


class QueueWatch:
    """Sends again every queued run whose message the broker no longer holds.

    A Redis that restarts without its data (no ``appendonly``) forgets the runs still
    queued; the database still has them. A queued run missing from the broker's queue
    and from its delivered-but-unacknowledged messages, twice in a row
    ``every`` seconds apart (a message moving from one to the other is never missed
    twice), is sent again. A duplicate is harmless: the worker's claim drops it.
    """

    def __init__(self, store: RunStore, executor: CeleryExecutor, every: float = 5.0) -> None:
        self.store = store
        self.executor = executor
        self.every = every
        self._missing: set[str] = set()
        self._next = time.monotonic() + every

    def _broker(self) -> Any:
        """A Redis client of the broker, quick to give up."""
        import redis

        url = self.executor.settings.broker_url
        return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)

    def _waiting(self, client: Any) -> list[bytes]:
        """The messages waiting in every list of the lab's queues."""
        found: list[bytes] = []
        for q in queues(self.executor.settings).values():
            for name in broker_lists(q):
                found += client.lrange(name, 0, -1)
        return found

    def waiting(self) -> list[bytes]:
        """The messages waiting in the broker's queue (empty if it does not answer)."""
        import redis

        client = self._broker()
        try:
            return self._waiting(client)
        except redis.RedisError:
            return []
        finally:
            client.close()

    def held(self) -> list[bytes]:
        """Every message the broker holds for the queue: waiting, or delivered and unacked."""
        client = self._broker()
        try:
            waiting = self._waiting(client)
            unacked: list[bytes] = client.hvals("unacked")
        finally:
            client.close()
        return waiting + unacked

    def sweep(self, force: bool = False) -> list[str]:
        """Compare once (when due); returns the ids sent again now."""
        if not force and time.monotonic() < self._next:
            return []
        self._next = time.monotonic() + self.every
        queued = self.store.queued()
        if not queued:
            self._missing.clear()
            return []
        held = self.held()
        missing = {r for r in queued if not any(r.encode() in m for m in held)}
        again = [r for r in queued if r in missing & self._missing]  # oldest first
        for run_id in again:
            log.warning("run %s was queued but the broker had lost it; sending it again", run_id)
            run = self.store.get_run(run_id)
            if run is not None:  # it was queued before every newer run: at the front
                self.executor.send(run_id, run.config, FRONT)
        self._missing = missing - set(again)
        return again

"""A server's live event streams of runs: their slots (limits), and what each one sends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from app.db import is_disconnect
from app.errors import Conflict, TooManyRequests
from app.metrics import SSE_STREAMS
from app.settings import Settings
from app.training import events
from app.training.notifier import RunNotifier
from app.training.records import StoredEvent
from app.training.store import RunStore

#: Seconds between two looks at a queued run's place in its queue (its ``queued`` events).
QUEUE_POLL = 1.0


@dataclass(frozen=True)
class Queued:
    """A queued run's place changed (or its stream opened): ``queue_position`` runs ahead.

    Sent as ``event: queued`` without an id and never stored: it says what the queue is
    now, not something that happened to the run.
    """

    queue_position: int

    def data(self) -> events.QueuedData:
        """The event's data."""
        return {"queue_position": self.queue_position}


class RunStreams:
    """Every event stream this server holds open, by run and by client."""

    def __init__(self, settings: Settings, store: RunStore) -> None:
        self.settings = settings
        self.store = store
        self.notifier = RunNotifier()
        self.subscribers: dict[str, int] = {}
        self.client_streams: dict[tuple[str, str], int] = {}
        #: Set when the server stops: every stream ends (clients resume with Last-Event-ID).
        self.stopping = False

    @contextmanager
    def slot(self, run_id: str, client: str = "") -> Iterator[None]:
        """Hold one of the run's event-stream slots while inside; 409 past the per-run limit,
        429 past the per-client one (``client``: the address it comes from).

        Call it on the event loop: the slot is taken when the stream is admitted and
        given back the moment the block ends (the stream ended or its client left).
        """
        mine = self.settings.max_streams_per_client
        key = (run_id, client)
        if self.client_streams.get(key, 0) >= mine:
            raise TooManyRequests(
                f"You already have {mine} event streams open on run '{run_id}', this server's "
                "limit per client: close a tab showing this run, or wait for one to end.",
                code="too_many_streams",
                details={"field": "streams", "limit": mine},
                headers={"Retry-After": "5"},
            )
        limit = self.settings.max_subscribers_per_run
        if self.subscribers.get(run_id, 0) >= limit:
            raise Conflict(
                f"Run '{run_id}' already has {limit} open event streams, this server's limit.",
                code="too_many_subscribers",
                details={"field": "subscribers", "limit": limit},
            )
        self.subscribers[run_id] = self.subscribers.get(run_id, 0) + 1
        self.client_streams[key] = self.client_streams.get(key, 0) + 1
        SSE_STREAMS.inc()
        try:
            yield
        finally:
            SSE_STREAMS.dec()
            self.subscribers[run_id] -= 1
            if not self.subscribers[run_id]:
                del self.subscribers[run_id]
            self.client_streams[key] -= 1
            if not self.client_streams[key]:
                del self.client_streams[key]

    async def follow(self, run_id: str, after: int) -> AsyncIterator[StoredEvent | Queued | None]:
        """Events after ``after`` from the log, then live ones until ``done``; None = idle ping.

        Live events come from the notifier's memory of committed events, and the
        notifier wakes the stream at each append; the database is read (in a
        thread) to replay history or to fill a gap. While the run is queued, its place
        in the queue is sent (``Queued``) when the stream has caught up, and again each
        time it changes (looked at every ``QUEUE_POLL`` seconds).
        """
        ping = self.settings.sse_ping_interval
        queued = True  # until the run is seen running or finished
        position: int | None = None
        pinged = time.monotonic()
        while not self.stopping:
            waiter = self.notifier.waiter(run_id)
            batch = self.notifier.since(run_id, after)
            try:
                if batch is None:
                    batch = await run_in_threadpool(self.store.events_after, run_id, after, 2000)
                    if not batch:
                        run = await run_in_threadpool(self.store.get_run, run_id)
                        if run is None or (run.finished and run.last_seq <= after):
                            return
                if not batch and queued:
                    run = await run_in_threadpool(self.store.get_run, run_id)
                    if run is None or run.status != "queued" or run.queue_position is None:
                        queued = False
                    elif run.queue_position != position:
                        position = run.queue_position
                        yield Queued(position)
            except Exception as e:
                if not is_disconnect(e):
                    raise
                # The database is away: keep the stream open and read again soon.
                yield None
                await asyncio.sleep(1.0)
                continue
            for ev in batch:
                if self.stopping:
                    return
                yield ev
                after, pinged = ev.seq, time.monotonic()
                if ev.kind in (events.RUNNING, events.DONE):
                    queued = False
                if ev.kind == events.DONE:
                    return
            if batch:
                continue
            wait = min(ping, QUEUE_POLL) if queued else ping
            try:
                await asyncio.wait_for(waiter.wait(), timeout=wait)
            except TimeoutError:
                if time.monotonic() - pinged >= ping - 0.01:
                    pinged = time.monotonic()
                    yield None

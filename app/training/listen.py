"""Wake this server's event streams when any process appends to the log.

Choice: PostgreSQL LISTEN/NOTIFY, not Redis pub/sub. The store sends its NOTIFY in
the transaction that appends the events, so a notification arrives exactly when
the events are committed and readable (never before, never lost between commit and
publish), the database already reaches every server, and the stream keeps working
while the broker is down. A listener that loses its connection reconnects and has
every stream re-read the log from where it stands, so a missed notification costs
a read, never an event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from app.db import normalized_url
from app.training.records import CHANNEL, StoredEvent
from app.training.store import RunStore

log = logging.getLogger("backprop_lab.listen")

Written = dict[str, list[StoredEvent]]


class LogListener:
    """A thread on its own PostgreSQL connection: LISTEN, read what was announced, hand it on."""

    def __init__(
        self,
        store: RunStore,
        deliver: Callable[[Written], None],
        resync: Callable[[], None],
        watched: Callable[[], set[str]],
        forget: Callable[[set[str]], None],
    ) -> None:
        self.store = store
        self.deliver = deliver
        self.resync = resync
        self.watched = watched
        self.forget = forget
        url = normalized_url(store.url)
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._delivered: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-listener", daemon=True)

    def start(self) -> None:
        """Start listening."""
        self._thread.start()

    def stop(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._delivered.clear()
                    self.resync()  # anything announced while we were away is read from the log
                    while not self._stop.is_set():
                        announced: dict[str, tuple[int, int]] = {}
                        for note in conn.notifies(timeout=0.5, stop_after=1):
                            self._note(note.payload, announced)
                        if announced:
                            for note in conn.notifies(timeout=0.002):
                                self._note(note.payload, announced)
                            self._read(announced)
            except Exception as e:
                if self._stop.is_set():
                    return
                log.warning("event listener lost the database (%s); reconnecting", e)
                self._stop.wait(0.5)

    @staticmethod
    def _note(payload: str, announced: dict[str, tuple[int, int]]) -> None:
        run_id, first, last = payload.split(" ")
        low, _ = announced.get(run_id, (int(first), 0))
        announced[run_id] = (min(low, int(first)), int(last))

    def _read(self, announced: dict[str, tuple[int, int]]) -> None:
        watched = self.watched()
        written: Written = {}
        gone: set[str] = set()
        unwatched = set(announced) - watched
        if unwatched:
            # NOTE: nobody here streams these runs now, so their events are not read; what
            # this server remembers of them is out of date and is dropped (a stream that
            # resumes later reads the log).
            for run_id in unwatched:
                self._delivered.pop(run_id, None)
            self.forget(unwatched)
        ranges: dict[str, tuple[int, int]] = {}
        for run_id, (first, last) in announced.items():
            after = self._delivered.get(run_id, first - 1)
            if run_id not in unwatched and after < last:
                ranges[run_id] = (after, last)
        # One query for every run announced together: with a class streaming, a read per run
        # made the last run of a batch wait for all the others.
        found = self.store.events_between(ranges) if ranges else {}
        for run_id in ranges:
            new = found.get(run_id)
            if new:
                written[run_id] = new
                self._delivered[run_id] = new[-1].seq
            else:
                # NOTE: announced events are committed with their announcement, so none
                # there means the run was deleted: its streams wake, read the log and end.
                gone.add(run_id)
        if gone:
            for run_id in gone:
                self._delivered.pop(run_id, None)
            self.forget(gone)
        if written:
            self.deliver(written)

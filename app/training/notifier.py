"""What a server remembers of recent events, so live streams need not read the database."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from app.training import events
from app.training.records import StoredEvent


class RunNotifier:
    """Recent events of each run in memory (on the event loop), and a wake-up per append.

    It holds only events already committed to the log, so a stream that reads
    them instead of the database sends exactly what the database holds; a
    stream that falls behind its window reads the database.
    """

    def __init__(self, window: int = 512, runs: int = 64) -> None:
        self.window = window
        self.runs = runs
        self._events: dict[str, asyncio.Event] = {}
        self._recent: OrderedDict[str, list[StoredEvent]] = OrderedDict()

    def waiter(self, run_id: str) -> asyncio.Event:
        """An asyncio.Event set at the next append to the run's log."""
        ev = self._events.get(run_id)
        if ev is None:
            ev = self._events[run_id] = asyncio.Event()
        return ev

    def publish(self, written: dict[str, list[StoredEvent]]) -> None:
        """Remember newly committed events and wake everyone waiting on their runs."""
        for run_id, new in written.items():
            recent = self._recent.pop(run_id, [])
            if recent:
                # NOTE: the same events may come twice (this server wrote them and the
                # database announced them); only what follows the last one counts.
                new = [e for e in new if e.seq > recent[-1].seq]
            if recent and new and recent[-1].seq + 1 != new[0].seq:
                recent = []
            recent = (recent + new)[-self.window :]
            self._recent[run_id] = recent
            if not recent:
                continue
            while len(self._recent) > self.runs:
                self._recent.popitem(last=False)
            ev = self._events.pop(run_id, None)
            if ev is not None:
                ev.set()

    def forget(self, run_ids: set[str]) -> None:
        """Drop what is remembered of these runs (it is out of date) and wake their streams."""
        for run_id in run_ids:
            self._recent.pop(run_id, None)
            ev = self._events.pop(run_id, None)
            if ev is not None:
                ev.set()

    def resync(self) -> None:
        """Forget what is in memory and wake every stream: each reads the log where it stands."""
        self._recent.clear()
        self.wake_all()

    def wake_all(self) -> None:
        """Wake every waiting stream (the server is shutting down, or the log must be re-read)."""
        events, self._events = self._events, {}
        for ev in events.values():
            ev.set()

    def since(self, run_id: str, after: int) -> list[StoredEvent] | None:
        """Events after ``after`` from memory; None if memory cannot say (read the log)."""
        recent = self._recent.get(run_id)
        if not recent or recent[0].seq > after + 1:
            return None
        if recent[-1].kind == events.DONE and recent[-1].seq <= after:
            return None  # nothing more will come: the log says so, and ends the stream
        return [e for e in recent if e.seq > after]

"""The event log: the one record of every run's progress, on SQLite or PostgreSQL.

Every event stream replays from it, and a run's status follows from its ``running`` and
``done`` events, written in the same transaction as they are. One code path serves both
databases (SQLAlchemy Core): the embedded SQLite file, where the server process is the only
writer (WAL mode, so readers never wait), and PostgreSQL shared by any number of servers and
workers, where each append locks its runs' rows to number their events and announces them
with ``NOTIFY`` in the same transaction. ``store.RunStore`` adds the runs' own operations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.db import describe, is_postgres, make_engine, sqlite_url, upgrade
from app.metrics import EVENTS_WRITTEN
from app.training import events
from app.training.events import TERMINAL
from app.training.records import (
    CHANNEL,
    NewEvent,
    StoredEvent,
    event_log,
    runs,
    to_json,
    weights_table,
)


class EventLog:
    """The event log and weights of a SQLite file or a PostgreSQL database, safe to use from
    any thread."""

    def __init__(self, where: Path | str) -> None:
        self.url = sqlite_url(where) if isinstance(where, Path) else where
        self.engine = make_engine(self.url)
        self.postgres = is_postgres(self.engine)
        self.where = describe(self.url)
        # NOTE: SQLite takes one writer at a time anyway; queueing them here, not in the
        # file's busy handler, keeps writes in order and avoids busy retries.
        self._write_lock: AbstractContextManager[Any] = (
            nullcontext() if self.postgres else threading.Lock()
        )
        #: Ids of runs removed to free space (the service forgets them in memory); appended.
        self.removed: list[str] = []
        upgrade(self.engine)

    @property
    def open_connections(self) -> int:
        """Connections this store holds open (pooled or in use)."""
        pool: Any = self.engine.pool
        return int(pool.checkedin() + pool.checkedout()) if hasattr(pool, "checkedin") else 0

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as db:
            if not self.postgres:
                db.exec_driver_sql("BEGIN IMMEDIATE")
            yield db

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self.engine.connect() as db:
            yield db

    def ping(self) -> None:
        """Raise if the database cannot be reached now."""
        with self._reading() as db:
            db.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        """Close every connection this store opened."""
        self.engine.dispose()

    def _lock_runs(self, db: Connection, ids: Sequence[str]) -> dict[str, Any]:
        """The rows of these runs, locked until the transaction ends (PostgreSQL)."""
        query = sa.select(runs).where(runs.c.id.in_(sorted(set(ids)))).order_by(runs.c.id)
        if self.postgres:
            query = query.with_for_update()
        return {r.id: r for r in db.execute(query)}

    # ----------------------------------------------------------------- events

    def append(
        self, new: Sequence[NewEvent], *, batch: int | None = None
    ) -> dict[str, list[StoredEvent]]:
        """Append events in one transaction; returns the events written, by run, as stored.

        A ``running`` event starts the run's next attempt (its data gets the attempt's
        number) and a ``done`` event closes it (status, final metrics, warning, weights),
        in the same transaction; events for a run that is already closed, or of an
        attempt the run has left, are dropped, so a log never continues after its
        ``done`` and never mixes attempts silently.

        ``batch`` numbers a worker's writes within its attempt (1, 2, …): a batch the run
        has already recorded is dropped, so a write retried after a commit whose answer was
        lost (the connection broke) does not record its events twice.
        """
        if not new:
            return {}
        with self._writing() as db:
            written = self._append(db, new, batch)
        for stored in written.values():  # counted once committed
            for ev in stored:
                EVENTS_WRITTEN.labels(ev.kind).inc()
        return written

    def _append(
        self, db: Connection, new: Sequence[NewEvent], batch: int | None = None
    ) -> dict[str, list[StoredEvent]]:
        for ev in new:
            events.check_kind(ev.kind)  # a kind the log does not know is a bug: nothing is written
        state = {
            r.id: {
                "seq": int(r.last_seq),
                "status": r.status,
                "attempt": int(r.attempt),
                "worker": r.worker,
                "recorded": batch is not None and int(r.written) >= batch,
            }
            for r in self._lock_runs(db, [ev.run_id for ev in new]).values()
        }
        written: dict[str, list[StoredEvent]] = {}
        grown: dict[str, int] = {}  # bytes each run's log and weights grew by
        rows: list[dict[str, Any]] = []
        now = time.time()
        for ev in new:
            st = state.get(ev.run_id)
            if st is None or st["status"] in TERMINAL or st["recorded"]:
                continue
            if ev.attempt is not None and ev.attempt != st["attempt"]:
                continue  # a lost attempt's worker still writing: never mixed into the next one
            data = ev.data
            if ev.kind == events.RUNNING:
                if st["status"] == "running":
                    # A restart: the lost attempt's weights go with it (its log stays).
                    grown[ev.run_id] = grown.get(ev.run_id, 0) - self._drop_weights(db, ev.run_id)
                    if "message" not in data:
                        data = {**data, "message": events.restarted(st["attempt"], st["worker"])}
                st["attempt"] += 1
                st["status"] = "running"
                data = {**data, "attempt": st["attempt"]}
                db.execute(
                    runs.update()
                    .where(runs.c.id == ev.run_id)
                    .values(
                        status="running",
                        attempt=st["attempt"],
                        started_at=sa.func.coalesce(runs.c.started_at, now),
                        heartbeat_at=now,
                        worker=ev.worker,
                        written=0,
                    )
                )
            if ev.kind == events.DONE:
                # NOTE: written once with the event, so the stream sends it as stored: whether
                # the run's weights (these, or those of its last epoch) can be used.
                has = ev.weights is not None or self._has_weights(db, ev.run_id)
                data = {**data, "has_weights": has}
            st["seq"] += 1
            text = to_json(data)
            rows.append({"run_id": ev.run_id, "seq": st["seq"], "kind": ev.kind, "data": text})
            written.setdefault(ev.run_id, []).append(StoredEvent(st["seq"], ev.kind, text))
            size = len(text)
            if ev.weights is not None:
                # NOTE: an epoch's weights (the latest evaluation), replaced by the final ones.
                size += len(ev.weights) - self._drop_weights(db, ev.run_id)
                db.execute(weights_table.insert().values(run_id=ev.run_id, npz=ev.weights))
            grown[ev.run_id] = grown.get(ev.run_id, 0) + size
            if ev.kind == events.DONE:
                st["status"] = str(ev.data.get("status", "failed"))
                self._close_run(db, ev, now)
        if rows:
            db.execute(event_log.insert(), rows)
        for run_id, stored in written.items():
            values: dict[str, Any] = {
                "last_seq": stored[-1].seq,
                "stored_bytes": runs.c.stored_bytes + grown.get(run_id, 0),
            }
            if batch is not None:
                values["written"] = batch
            db.execute(runs.update().where(runs.c.id == run_id).values(**values))
            if self.postgres:
                # NOTE: delivered to listeners only when this transaction commits, so a
                # listener that reads the log on it always finds these events there.
                db.execute(
                    sa.text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": CHANNEL, "payload": f"{run_id} {stored[0].seq} {stored[-1].seq}"},
                )
        return written

    @staticmethod
    def _has_weights(db: Connection, run_id: str) -> bool:
        """Whether the run has saved weights now (this transaction's included)."""
        query = sa.select(weights_table.c.run_id).where(weights_table.c.run_id == run_id)
        return db.execute(query).first() is not None

    @staticmethod
    def _drop_weights(db: Connection, run_id: str) -> int:
        """Delete a run's weights; the bytes they took (0 if it had none)."""
        where = weights_table.c.run_id == run_id
        size = db.execute(sa.select(sa.func.length(weights_table.c.npz)).where(where)).scalar()
        db.execute(weights_table.delete().where(where))
        return int(size or 0)

    @staticmethod
    def _close_run(db: Connection, ev: NewEvent, now: float) -> None:
        d = ev.data
        values: dict[str, Any] = {
            "status": d.get("status", "failed"),
            "finished_at": now,
            "train_acc": d.get("train_acc"),
            "test_acc": d.get("test_acc"),
            "elapsed_s": d.get("elapsed_s"),
            "message": d.get("message"),
            "warning": d.get("warning"),
        }
        if d.get("iterations") is not None:
            values["iterations"] = d["iterations"]
        db.execute(runs.update().where(runs.c.id == ev.run_id).values(**values))

    def events_after(self, run_id: str, after: int = 0, limit: int = 10_000) -> list[StoredEvent]:
        """Events of a run with sequence number greater than ``after``, in order."""
        query = (
            sa.select(event_log.c.seq, event_log.c.kind, event_log.c.data)
            .where(event_log.c.run_id == run_id, event_log.c.seq > after)
            .order_by(event_log.c.seq)
            .limit(limit)
        )
        with self._reading() as db:
            return [StoredEvent(int(r.seq), r.kind, r.data) for r in db.execute(query)]

    def events_between(
        self, ranges: dict[str, tuple[int, int]], chunk: int = 100
    ) -> dict[str, list[StoredEvent]]:
        """Events of many runs at once: for each run, those with ``after < seq <= last`` of its
        ``(after, last)``, in order; a run with none is left out. One query per ``chunk`` runs
        (a server listening to 30 learners reads what a notification announced in one)."""
        found: dict[str, list[StoredEvent]] = {}
        items = list(ranges.items())
        for start in range(0, len(items), chunk):
            wanted = sa.or_(
                *(
                    sa.and_(
                        event_log.c.run_id == run_id,
                        event_log.c.seq > after,
                        event_log.c.seq <= last,
                    )
                    for run_id, (after, last) in items[start : start + chunk]
                )
            )
            query = (
                sa.select(event_log.c.run_id, event_log.c.seq, event_log.c.kind, event_log.c.data)
                .where(wanted)
                .order_by(event_log.c.run_id, event_log.c.seq)
            )
            with self._reading() as db:
                for r in db.execute(query):
                    found.setdefault(r.run_id, []).append(StoredEvent(int(r.seq), r.kind, r.data))
        return found

    def weights(self, run_id: str) -> bytes | None:
        """The trained weights of a run as an .npz payload, or None."""
        query = sa.select(weights_table.c.npz).where(weights_table.c.run_id == run_id)
        with self._reading() as db:
            blob = db.execute(query).scalar()
        return bytes(blob) if blob is not None else None

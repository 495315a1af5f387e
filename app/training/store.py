"""The store: runs, their configuration, their event log and their trained weights.

The event log is the single source of truth of a run's progress: every event
stream replays from it, and a run's status follows from its ``running`` and
``done`` events, written in the same transaction. One code path serves both
databases (SQLAlchemy Core): the embedded SQLite file, where the server process is
the only writer (WAL mode, so readers never wait), and PostgreSQL shared by any
number of servers and workers, where each append locks its runs' rows to number
their events and announces them with ``NOTIFY`` in the same transaction.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import events
from app.db import describe, is_postgres, make_engine, sqlite_url, upgrade
from app.events import TERMINAL
from app.finite import finite
from app.metrics import EVENTS_WRITTEN

ACTIVE = ("queued", "running")
#: The PostgreSQL advisory lock every server takes to admit a run (the active-run cap).
_ADMIT_LOCK = 0x61_64_6D_74  # "admt"
#: The PostgreSQL channel that announces appended events ("<run id> <first seq> <last seq>").
CHANNEL = "backprop_lab_events"

metadata = sa.MetaData()
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("iterations", sa.Integer),
    sa.Column("train_acc", sa.Float),
    sa.Column("test_acc", sa.Float),
    sa.Column("elapsed_s", sa.Float),
    sa.Column("message", sa.Text),
    sa.Column("warning", sa.Text),
    sa.Column("name", sa.Text),  # given by a person (NULL: the run is named by its settings)
    sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("heartbeat_at", sa.Float),  # the last beat of the worker training it
    sa.Column("worker", sa.Text),  # who trains it: "<host>:<pid>"
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("written", sa.Integer, nullable=False, server_default="0"),  # see append(batch=)
    sa.Column("owner_hash", sa.Text),  # SHA-256 of its owner's token (NULL: made before owners)
    sa.Column("client", sa.Text),  # whose active-run quota it counts against
    sa.Column("stored_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("removed", sa.Text),  # why its log and weights were removed (to free space)
    sa.Column("queue", sa.Text),  # "long" for the long queue; NULL: the short one
)
event_log = sa.Table(
    "events",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)
weights_table = sa.Table(
    "weights",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("npz", sa.LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class RunRecord:
    """One row of ``runs``."""

    id: str
    status: str
    config: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    iterations: int | None
    train_acc: float | None
    test_acc: float | None
    elapsed_s: float | None
    message: str | None
    last_seq: int
    warning: str | None = None
    name: str | None = None
    has_weights: bool = False
    queue_position: int | None = None
    attempt: int = 0
    heartbeat_at: float | None = None
    worker: str | None = None
    cancel_requested: bool = False
    owner_hash: str | None = None
    client: str | None = None
    stored_bytes: int = 0
    removed: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the run will record nothing more."""
        return self.status in TERMINAL


@dataclass(frozen=True)
class StoredEvent:
    """One event of a run's log; ``data`` is its JSON text as recorded."""

    seq: int
    kind: str
    data: str


@dataclass(frozen=True)
class NewEvent:
    """An event to append; ``weights`` (an .npz payload) on an ``epoch`` or a ``done``.

    With ``attempt`` set, the event belongs to that attempt of the run and is dropped
    if the run has moved on to another (a worker presumed lost that still writes).
    """

    run_id: str
    kind: str
    data: dict[str, Any]
    weights: bytes | None = None
    attempt: int | None = None
    worker: str | None = None


def to_json(data: dict[str, Any]) -> str:
    """Strict JSON text of an event's data (a NaN or infinity becomes null)."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError:
        return json.dumps(finite(data), allow_nan=False)


def _record(row: Any) -> RunRecord:
    m = row._mapping
    return RunRecord(
        id=m["id"],
        status=m["status"],
        config=json.loads(m["config"]),
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        iterations=m["iterations"],
        train_acc=m["train_acc"],
        test_acc=m["test_acc"],
        elapsed_s=m["elapsed_s"],
        message=m["message"],
        last_seq=int(m["last_seq"]),
        warning=m["warning"],
        name=m["name"],
        has_weights=bool(m["has_weights"]),
        queue_position=m["queue_position"],
        attempt=int(m["attempt"]),
        heartbeat_at=m["heartbeat_at"],
        worker=m["worker"],
        cancel_requested=bool(m["cancel_requested"]),
        owner_hash=m["owner_hash"],
        client=m["client"],
        stored_bytes=int(m["stored_bytes"]),
        removed=m["removed"],
    )


def _select_runs() -> sa.Select[Any]:
    """A run's row with whether it has saved weights and, if queued, the queued runs ahead.

    Only runs of its own queue (short or long) are ahead of it: the other is taken apart.
    """
    ahead = runs.alias("ahead")
    earlier = sa.and_(
        sa.or_(
            ahead.c.created_at < runs.c.created_at,
            sa.and_(ahead.c.created_at == runs.c.created_at, ahead.c.id < runs.c.id),
        ),
        sa.func.coalesce(ahead.c.queue, "") == sa.func.coalesce(runs.c.queue, ""),
    )
    position = (
        sa.select(sa.func.count()).where(ahead.c.status == "queued", earlier).scalar_subquery()
    )
    return sa.select(
        runs,
        sa.exists().where(weights_table.c.run_id == runs.c.id).label("has_weights"),
        sa.case((runs.c.status == "queued", position), else_=None).label("queue_position"),
    )


_SELECT = _select_runs()


@dataclass(frozen=True)
class Owner:
    """Who starts a run: the hash of their token, and the key their quota is counted by."""

    token_hash: str
    client: str


class ClientQuotaFull(Exception):
    """The client already has its limit of runs queued or training."""

    def __init__(self, active: int) -> None:
        super().__init__(f"{active} runs active")
        self.active = active


class StorageFull(Exception):
    """Runs would take more than the stored-bytes budget even without the client's old runs."""

    def __init__(self, stored: int, needed: int) -> None:
        super().__init__(f"{stored} bytes stored, {needed} more needed")
        self.stored = stored
        self.needed = needed


@dataclass(frozen=True)
class Budget:
    """The disk budget of runs at an admission: ``limit`` bytes, ``needed`` for the new run."""

    limit: int
    needed: int
    reason: str  # written on each run removed to make room


@dataclass(frozen=True)
class Claim:
    """What became of a worker's attempt to start a run: ``attempt`` set if it is the worker's."""

    attempt: int | None
    reason: str = ""


class RunStore:
    """The runs of a SQLite file or a PostgreSQL database, safe to use from any thread."""

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

    # ----------------------------------------------------------------- runs

    def create_run(
        self,
        run_id: str,
        config: dict[str, Any],
        name: str | None = None,
        *,
        max_active: int | None = None,
        owner: Owner | None = None,
        max_per_client: int | None = None,
        budget: Budget | None = None,
        then: Callable[[], None] | None = None,
        queue: str | None = None,
    ) -> RunRecord | None:
        """Insert a queued run; None if ``max_active`` runs are already queued or running.

        The counts and the insert are one transaction that every server takes in turn
        (an advisory lock on PostgreSQL), so servers together never pass the limits; the
        time is the database's, so servers with skewed clocks still queue in order.
        Raises ``ClientQuotaFull`` past ``max_per_client`` runs of the owner's client, and,
        with a ``budget``, removes the client's oldest finished runs until the new run fits
        (``StorageFull`` if it cannot, and then nothing is removed).
        ``then`` (sending the run to the broker) runs inside that transaction: runs reach the
        broker in the order of their creation, which is the order ``queue_position`` tells; if
        it raises, nothing is recorded.
        """
        with self._writing() as db:
            if self.postgres:
                db.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADMIT_LOCK})
                clock = sa.text("SELECT extract(epoch FROM clock_timestamp())")
                now = float(db.execute(clock).scalar_one())
            else:
                now = time.time()
            if max_active is not None:
                active = sa.select(sa.func.count()).where(runs.c.status.in_(ACTIVE))
                if int(db.execute(active).scalar_one()) >= max_active:
                    return None
            if owner is not None and max_per_client is not None:
                # NOTE: a browser's first run is counted by its address (it had no token yet),
                # the later ones by its token: both are its own.
                mine = sa.select(sa.func.count()).where(
                    runs.c.status.in_(ACTIVE),
                    sa.or_(runs.c.client == owner.client, runs.c.owner_hash == owner.token_hash),
                )
                count = int(db.execute(mine).scalar_one())
                if count >= max_per_client:
                    raise ClientQuotaFull(count)
            if budget is not None:
                self._make_room(db, budget, owner)
            db.execute(
                runs.insert().values(
                    id=run_id,
                    status="queued",
                    config=json.dumps(config),
                    created_at=now,
                    name=name,
                    owner_hash=owner.token_hash if owner else None,
                    client=owner.client if owner else None,
                    queue=queue,
                )
            )
            if then is not None:
                then()
        return self.get_run(run_id)

    def _make_room(self, db: Connection, budget: Budget, owner: Owner | None) -> None:
        """Remove the owner's oldest finished runs until ``budget.needed`` more bytes fit."""
        total = sa.select(sa.func.coalesce(sa.func.sum(runs.c.stored_bytes), 0))
        stored = int(db.execute(total).scalar_one())
        if stored + budget.needed <= budget.limit:
            return
        oldest = (
            sa.select(runs.c.id, runs.c.stored_bytes)
            .where(
                sa.or_(runs.c.client == owner.client, runs.c.owner_hash == owner.token_hash)
                if owner is not None
                else sa.false(),
                runs.c.status.notin_(ACTIVE),
                runs.c.removed.is_(None),
                runs.c.stored_bytes > 0,
            )
            .order_by(runs.c.created_at, runs.c.id)
        )
        victims: list[str] = []
        left = stored
        for row in db.execute(oldest):
            if left + budget.needed <= budget.limit:
                break
            victims.append(row.id)
            left -= int(row.stored_bytes)
        if left + budget.needed > budget.limit:
            raise StorageFull(stored, budget.needed)
        for run_id in victims:
            self._purge(db, run_id)
            db.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(removed=budget.reason, stored_bytes=0)
            )
        self.removed.extend(victims)

    @staticmethod
    def _purge(db: Connection, run_id: str) -> None:
        db.execute(event_log.delete().where(event_log.c.run_id == run_id))
        db.execute(weights_table.delete().where(weights_table.c.run_id == run_id))

    def remove_run(self, run_id: str) -> bool:
        """Delete a run with its event log and weights (False if there was none); frees disk.

        On SQLite the freed pages go back to the file system when the file was made with
        incremental auto-vacuum (every file this version creates), else SQLite reuses them.
        """
        with self._writing() as db:
            self._purge(db, run_id)
            gone = db.execute(runs.delete().where(runs.c.id == run_id)).rowcount
            if self.postgres:
                # Every server's streams of the run learn it is gone (see listen.py).
                db.execute(
                    sa.text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": CHANNEL, "payload": f"{run_id} 1 {2**62}"},
                )
        if not self.postgres:
            with self._write_lock:
                raw = self.engine.raw_connection()
                try:
                    # NOTE: Python's execute() steps this pragma once, freeing one page;
                    # executescript() runs it to the end.
                    raw.driver_connection.executescript(  # type: ignore[union-attr]
                        "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);"
                    )
                finally:
                    raw.close()
        return bool(gone)

    def delete_run(self, run_id: str) -> None:
        """Forget a run that was never accepted (its submission failed)."""
        with self._writing() as db:
            db.execute(event_log.delete().where(event_log.c.run_id == run_id))
            db.execute(weights_table.delete().where(weights_table.c.run_id == run_id))
            db.execute(runs.delete().where(runs.c.id == run_id))

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None."""
        with self._reading() as db:
            row = db.execute(_SELECT.where(runs.c.id == run_id)).first()
        return _record(row) if row else None

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run a new name."""
        with self._writing() as db:
            db.execute(runs.update().where(runs.c.id == run_id).values(name=name))

    def list_runs(
        self, limit: int = 100, offset: int = 0, owner_hash: str | None = None
    ) -> list[RunRecord]:
        """Runs, newest first (only those of ``owner_hash`` if given)."""
        query = _SELECT.order_by(runs.c.created_at.desc(), runs.c.id.desc())
        if owner_hash is not None:
            query = query.where(runs.c.owner_hash == owner_hash)
        with self._reading() as db:
            rows = db.execute(query.limit(limit).offset(offset)).all()
        return [_record(r) for r in rows]

    def count_active(self) -> int:
        """Runs queued or running."""
        query = sa.select(sa.func.count()).select_from(runs).where(runs.c.status.in_(ACTIVE))
        with self._reading() as db:
            return int(db.execute(query).scalar_one())

    def attempts(self, run_id: str) -> int:
        """How many times a worker has started the run (its ``running`` events)."""
        with self._reading() as db:
            value = db.execute(sa.select(runs.c.attempt).where(runs.c.id == run_id)).scalar()
        return int(value or 0)

    def interrupt_unfinished(self) -> list[str]:
        """Close every queued or running run as ``interrupted`` with a final ``done`` event."""
        with self._reading() as db:
            ids = list(db.execute(sa.select(runs.c.id).where(runs.c.status.in_(ACTIVE))).scalars())
        self.append([NewEvent(i, "done", events.done("interrupted")) for i in ids])
        return ids

    # ----------------------------------------------------------------- workers

    def claim(
        self,
        run_id: str,
        worker: str,
        *,
        seen: tuple[int, float | None],
        max_attempts: int,
    ) -> Claim:
        """Start the run's next attempt on ``worker``, if it is still what the worker saw.

        ``seen`` is the (attempt, heartbeat) the worker read: a queued run, or a running
        one whose beat the worker watched stop (its worker was lost). A run cancelled
        meanwhile ends ``cancelled``; one whose lost attempts used up ``max_attempts``
        ends ``failed``, saying a worker was lost.
        """
        with self._writing() as db:
            row = self._lock_runs(db, [run_id]).get(run_id)
            if row is None or row.status in TERMINAL:
                return Claim(None, "finished")
            if (row.attempt, row.heartbeat_at) != seen:
                return Claim(None, "taken")
            if row.cancel_requested:
                self._append(db, [NewEvent(run_id, "done", events.done("cancelled"))])
                return Claim(None, "cancelled")
            if row.status == "running" and row.attempt >= max_attempts:
                lost = events.done(
                    "failed",
                    message=events.worker_lost(row.attempt, row.worker),
                    iterations=row.iterations,
                )
                self._append(db, [NewEvent(run_id, "done", lost)])
                return Claim(None, "failed")
            data = events.running(row.attempt + 1)
            if row.status == "running":
                data["message"] = events.restarted(row.attempt, row.worker)
            self._append(db, [NewEvent(run_id, "running", data, worker=worker)])
            return Claim(row.attempt + 1)

    def beat(self, run_id: str, attempt: int) -> None:
        """Record that the worker of this attempt is alive."""
        with self._writing() as db:
            db.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.attempt == attempt, runs.c.status == "running")
                .values(heartbeat_at=time.time())
            )

    def stop_reason(self, run_id: str, attempt: int) -> str | None:
        """Why the worker of this attempt must stop (cancelled, finished, superseded), or None."""
        query = sa.select(runs.c.status, runs.c.attempt, runs.c.cancel_requested).where(
            runs.c.id == run_id
        )
        with self._reading() as db:
            row = db.execute(query).first()
        if row is None or row.status in TERMINAL:
            return "finished"
        if row.attempt != attempt:
            return "superseded"
        return "cancel" if row.cancel_requested else None

    def request_cancel(self, run_id: str) -> str:
        """Ask a run to stop: a queued one ends ``cancelled`` now; returns its status after."""
        with self._writing() as db:
            row = self._lock_runs(db, [run_id]).get(run_id)
            if row is None or row.status in TERMINAL:
                return "missing" if row is None else str(row.status)
            db.execute(runs.update().where(runs.c.id == run_id).values(cancel_requested=True))
            if row.status == "queued":
                self._append(db, [NewEvent(run_id, "done", events.done("cancelled"))])
                return "cancelled"
            return str(row.status)

    def queued(self) -> list[str]:
        """Ids of the runs waiting for a worker, oldest first."""
        query = sa.select(runs.c.id).where(runs.c.status == "queued").order_by(runs.c.created_at)
        with self._reading() as db:
            return list(db.execute(query).scalars())

    def beats(self) -> list[tuple[str, int, float | None]]:
        """(run id, attempt, last beat) of every running run."""
        query = sa.select(runs.c.id, runs.c.attempt, runs.c.heartbeat_at).where(
            runs.c.status == "running"
        )
        with self._reading() as db:
            return [(r.id, int(r.attempt), r.heartbeat_at) for r in db.execute(query)]

    def interrupt_if_silent(
        self, run_id: str, seen: tuple[int, float | None], silent_for: float
    ) -> bool:
        """End a running run ``interrupted`` if its attempt and last beat are still ``seen``."""
        with self._writing() as db:
            row = self._lock_runs(db, [run_id]).get(run_id)
            if row is None or row.status != "running" or (row.attempt, row.heartbeat_at) != seen:
                return False
            message = events.silent(silent_for, row.worker)
            done = events.done("interrupted", message=message, iterations=row.iterations)
            self._append(db, [NewEvent(run_id, "done", done)])
            return True

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
            if ev.kind == "running":
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
            if ev.kind == "done":
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

    def weights(self, run_id: str) -> bytes | None:
        """The trained weights of a run as an .npz payload, or None."""
        query = sa.select(weights_table.c.npz).where(weights_table.c.run_id == run_id)
        with self._reading() as db:
            blob = db.execute(query).scalar()
        return bytes(blob) if blob is not None else None

"""The store: runs, their configuration and owners, admission, cancels, and the workers'
claims and beats, over the event log (``eventlog.py``) that records what each run did.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.training import events
from app.training.eventlog import EventLog
from app.training.events import ACTIVE, TERMINAL
from app.training.records import (
    CHANNEL,
    SELECT_RUNS,
    Budget,
    Claim,
    ClientQuotaFull,
    NewEvent,
    Owner,
    RunRecord,
    StorageFull,
    event_log,
    runs,
    to_record,
    weights_table,
)

#: The PostgreSQL advisory lock every server takes to admit a run (the active-run cap).
_ADMIT_LOCK = 0x61_64_6D_74  # "admt"


class RunStore(EventLog):
    """The runs of a SQLite file or a PostgreSQL database, over their event log; safe to use
    from any thread."""

    # ----------------------------------------------------------------- runs

    def create_run(
        self,
        run_id: str,
        config: dict[str, Any],
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
            row = db.execute(SELECT_RUNS.where(runs.c.id == run_id)).first()
        return to_record(row) if row else None

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run a new name."""
        with self._writing() as db:
            db.execute(runs.update().where(runs.c.id == run_id).values(name=name))

    def list_runs(
        self, limit: int = 100, offset: int = 0, owner_hash: str | None = None
    ) -> list[RunRecord]:
        """Runs, newest first (only those of ``owner_hash`` if given)."""
        query = SELECT_RUNS.order_by(runs.c.created_at.desc(), runs.c.id.desc())
        if owner_hash is not None:
            query = query.where(runs.c.owner_hash == owner_hash)
        with self._reading() as db:
            rows = db.execute(query.limit(limit).offset(offset)).all()
        return [to_record(r) for r in rows]

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
        self.append([NewEvent(i, events.DONE, events.done("interrupted")) for i in ids])
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
                self._append(db, [NewEvent(run_id, events.DONE, events.done("cancelled"))])
                return Claim(None, "cancelled")
            if row.status == "running" and row.attempt >= max_attempts:
                lost = events.done(
                    "failed",
                    message=events.worker_lost(row.attempt, row.worker),
                    iterations=row.iterations,
                )
                self._append(db, [NewEvent(run_id, events.DONE, lost)])
                return Claim(None, "failed")
            data = events.running(row.attempt + 1)
            if row.status == "running":
                data["message"] = events.restarted(row.attempt, row.worker)
            self._append(db, [NewEvent(run_id, events.RUNNING, data, worker=worker)])
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
                self._append(db, [NewEvent(run_id, events.DONE, events.done("cancelled"))])
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
            self._append(db, [NewEvent(run_id, events.DONE, done)])
            return True

"""The database's tables of runs, events and weights, and the records the store reads and
writes (``store.py`` holds the operations on them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.finite import finite
from app.training.events import TERMINAL

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
    data: Mapping[str, Any]
    weights: bytes | None = None
    attempt: int | None = None
    worker: str | None = None


def to_json(data: Mapping[str, Any]) -> str:
    """Strict JSON text of an event's data (a NaN or infinity becomes null)."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError:
        return json.dumps(finite(data), allow_nan=False)


def to_record(row: Any) -> RunRecord:
    """A row of ``SELECT_RUNS`` as a record."""
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


#: A run's row with ``has_weights`` and ``queue_position``.
SELECT_RUNS = _select_runs()


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

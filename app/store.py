"""The SQLite store: runs, their configuration, their event log and their trained weights.

The event log is the single source of truth of a run's progress: every event
stream replays from it, and a run's status follows from its ``running`` and
``done`` events, written in the same transaction. The server process is the
only writer; it writes each batch of events in one transaction (WAL mode, so
readers never wait for it).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import events
from app.events import TERMINAL
from app.finite import finite

ACTIVE = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    iterations INTEGER,
    train_acc REAL,
    test_acc REAL,
    elapsed_s REAL,
    message TEXT,
    warning TEXT,
    name TEXT,  -- given by a person (NULL: the run is named by its settings)
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at DESC);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS weights (
    run_id TEXT PRIMARY KEY,
    npz BLOB NOT NULL
);
"""


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
    """An event to append; ``weights`` (an .npz payload) on an ``epoch`` or a ``done``."""

    run_id: str
    kind: str
    data: dict[str, Any]
    weights: bytes | None = None


def to_json(data: dict[str, Any]) -> str:
    """Strict JSON text of an event's data (a NaN or infinity becomes null)."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError:
        return json.dumps(finite(data), allow_nan=False)


def _record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        status=row["status"],
        config=json.loads(row["config"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        iterations=row["iterations"],
        train_acc=row["train_acc"],
        test_acc=row["test_acc"],
        elapsed_s=row["elapsed_s"],
        message=row["message"],
        last_seq=row["last_seq"],
        warning=row["warning"],
        name=row["name"],
        has_weights=bool(row["has_weights"]),
        queue_position=row["queue_position"],
    )


#: A run's row with whether it has saved weights (the inspectors and the pad need them).
_SELECT = (
    "SELECT runs.*, EXISTS (SELECT 1 FROM weights WHERE weights.run_id = runs.id) AS has_weights, "
    "CASE WHEN runs.status = 'queued' THEN (SELECT COUNT(*) FROM runs AS ahead "
    "WHERE ahead.status = 'queued' AND (ahead.created_at < runs.created_at OR "
    "(ahead.created_at = runs.created_at AND ahead.rowid < runs.rowid))) END AS queue_position "
    "FROM runs"
)


class RunStore:
    """Thread-safe access to the SQLite file (one connection per thread, one writer at a time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._connections_lock = threading.Lock()
        with self._writing() as db:
            db.executescript(_SCHEMA)
            columns = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
            if "warning" not in columns:  # a database from before run warnings
                db.execute("ALTER TABLE runs ADD COLUMN warning TEXT")
            if "name" not in columns:  # a database from before run names
                db.execute("ALTER TABLE runs ADD COLUMN name TEXT")

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
            with self._connections_lock:
                # NOTE: the server's worker threads come and go (anyio ends a thread idle for
                # 10 s), so close the connections of threads that have ended, or every new
                # thread would leak one connection (and its file handles).
                alive = []
                for thread, conn in self._connections:
                    if thread.is_alive():
                        alive.append((thread, conn))
                    else:
                        conn.close()
                alive.append((threading.current_thread(), db))
                self._connections = alive
        return db

    @property
    def open_connections(self) -> int:
        """Connections this store holds open (one per live thread that used it)."""
        with self._connections_lock:
            return len(self._connections)

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            db = self._db()
            with db:
                yield db

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._connections_lock:
            for _, db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    # ----------------------------------------------------------------- runs

    def create_run(self, run_id: str, config: dict[str, Any], name: str | None = None) -> RunRecord:
        """Insert a queued run."""
        with self._writing() as db:
            db.execute(
                "INSERT INTO runs (id, status, config, created_at, name) "
                "VALUES (?, 'queued', ?, ?, ?)",
                (run_id, json.dumps(config), time.time(), name),
            )
        run = self.get_run(run_id)
        assert run is not None
        return run

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None."""
        row = self._db().execute(f"{_SELECT} WHERE id = ?", (run_id,)).fetchone()
        return _record(row) if row else None

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run a new name."""
        with self._writing() as db:
            db.execute("UPDATE runs SET name = ? WHERE id = ?", (name, run_id))

    def list_runs(self, limit: int = 100, offset: int = 0) -> list[RunRecord]:
        """Runs, newest first."""
        rows = self._db().execute(
            f"{_SELECT} ORDER BY created_at DESC, runs.rowid DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_record(r) for r in rows]

    def count_active(self) -> int:
        """Runs queued or running."""
        row = (
            self._db()
            .execute("SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running')")
            .fetchone()
        )
        return int(row[0])

    def attempts(self, run_id: str) -> int:
        """How many times a worker has started the run (its ``running`` events)."""
        row = (
            self._db()
            .execute("SELECT COUNT(*) FROM events WHERE run_id = ? AND kind = 'running'", (run_id,))
            .fetchone()
        )
        return int(row[0])

    def interrupt_unfinished(self) -> list[str]:
        """Close every queued or running run as ``interrupted`` with a final ``done`` event."""
        ids = [
            r[0]
            for r in self._db().execute("SELECT id FROM runs WHERE status IN ('queued', 'running')")
        ]
        self.append([NewEvent(i, "done", events.done("interrupted")) for i in ids])
        return ids

    # ----------------------------------------------------------------- events

    def append(self, events: Sequence[NewEvent]) -> dict[str, list[StoredEvent]]:
        """Append events in one transaction; returns the events written, by run, as stored.

        A ``running`` event marks its run running and a ``done`` event closes it
        (status, final metrics, warning, weights), in the same transaction; events
        for a run that is already closed are dropped, so a log never continues
        after its ``done``.
        """
        if not events:
            return {}
        last: dict[str, int] = {}
        written: dict[str, list[StoredEvent]] = {}
        closed: set[str] = set()
        with self._writing() as db:
            for ev in events:
                if ev.run_id in closed:
                    continue
                if ev.run_id not in last:
                    row = db.execute(
                        "SELECT last_seq, status FROM runs WHERE id = ?", (ev.run_id,)
                    ).fetchone()
                    if row is None or row["status"] in TERMINAL:
                        closed.add(ev.run_id)
                        continue
                    last[ev.run_id] = int(row["last_seq"])
                seq = last[ev.run_id] + 1
                last[ev.run_id] = seq
                text = to_json(ev.data)
                db.execute(
                    "INSERT INTO events (run_id, seq, kind, data) VALUES (?, ?, ?, ?)",
                    (ev.run_id, seq, ev.kind, text),
                )
                written.setdefault(ev.run_id, []).append(StoredEvent(seq, ev.kind, text))
                if ev.kind == "running":
                    db.execute(
                        "UPDATE runs SET status = 'running', "
                        "started_at = COALESCE(started_at, ?) WHERE id = ?",
                        (time.time(), ev.run_id),
                    )
                elif ev.kind == "done":
                    self._close_run(db, ev)
                    closed.add(ev.run_id)
                if ev.weights is not None and ev.kind != "done":
                    # NOTE: the weights of the latest evaluation, replaced by the final ones.
                    db.execute(
                        "INSERT OR REPLACE INTO weights (run_id, npz) VALUES (?, ?)",
                        (ev.run_id, ev.weights),
                    )
            for run_id, seq in last.items():
                db.execute("UPDATE runs SET last_seq = ? WHERE id = ?", (seq, run_id))
        return written

    @staticmethod
    def _close_run(db: sqlite3.Connection, ev: NewEvent) -> None:
        d = ev.data
        db.execute(
            "UPDATE runs SET status = ?, finished_at = ?, iterations = COALESCE(?, iterations), "
            "train_acc = ?, test_acc = ?, elapsed_s = ?, message = ?, warning = ? WHERE id = ?",
            (
                d.get("status", "failed"),
                time.time(),
                d.get("iterations"),
                d.get("train_acc"),
                d.get("test_acc"),
                d.get("elapsed_s"),
                d.get("message"),
                d.get("warning"),
                ev.run_id,
            ),
        )
        if ev.weights is not None:
            db.execute(
                "INSERT OR REPLACE INTO weights (run_id, npz) VALUES (?, ?)",
                (ev.run_id, ev.weights),
            )

    def events_after(self, run_id: str, after: int = 0, limit: int = 10_000) -> list[StoredEvent]:
        """Events of a run with sequence number greater than ``after``, in order."""
        rows = self._db().execute(
            "SELECT seq, kind, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (run_id, after, limit),
        )
        return [StoredEvent(r[0], r[1], r[2]) for r in rows]

    def weights(self, run_id: str) -> bytes | None:
        """The trained weights of a run as an .npz payload, or None."""
        row = self._db().execute("SELECT npz FROM weights WHERE run_id = ?", (run_id,)).fetchone()
        return bytes(row[0]) if row else None

"""A SQLite file made by the version before migrations upgrades in place when the server starts."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import httpx
import numpy as np

from app.db import head_revision
from tests.app.sse_client import stream
from tests.conftest import OPERATOR, Digits, Server

#: The schema of backprop-lab.sqlite3 as the version before migrations made it (fbce3f5).
SCHEMA_BEFORE_MIGRATIONS = """
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

CONFIG = {
    "dataset": "mnist",
    "hidden_size": 4,
    "learning_rate": 0.1,
    "batch_size": 100,
    "iterations": 3,
    "seed": 0,
    "optimizer": "sgd",
}


def _old_file(path: Path) -> None:
    """A file as the old version left it: a completed run with weights, one left running."""
    rng = np.random.default_rng(0)
    params = {
        "W1": rng.normal(size=(784, 4)).astype(np.float32),
        "b1": np.zeros(4, np.float32),
        "W2": rng.normal(size=(4, 10)).astype(np.float32),
        "b2": np.zeros(10, np.float32),
    }
    buf = io.BytesIO()
    np.savez(buf, **params)
    log = [
        ("running", {"attempt": 1}),
        (
            "progress",
            {"iteration": 3, "loss": 2.1, "first_iteration": 1, "losses": [2.3, 2.2, 2.1]},
        ),
        ("done", {"status": "completed", "train_acc": 0.5, "test_acc": 0.4, "elapsed_s": 1.0}),
    ]
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_BEFORE_MIGRATIONS)
        db.execute(
            "INSERT INTO runs (id, status, config, created_at, started_at, finished_at, "
            "iterations, train_acc, test_acc, elapsed_s, name, last_seq) VALUES "
            "('old', 'completed', ?, 1.0, 1.5, 2.5, 3, 0.5, 0.4, 1.0, 'kept name', 3)",
            (json.dumps(CONFIG),),
        )
        db.executemany(
            "INSERT INTO events (run_id, seq, kind, data) VALUES ('old', ?, ?, ?)",
            [(i, kind, json.dumps(data)) for i, (kind, data) in enumerate(log, start=1)],
        )
        db.execute("INSERT INTO weights (run_id, npz) VALUES ('old', ?)", (buf.getvalue(),))
        db.execute(
            "INSERT INTO runs (id, status, config, created_at, last_seq) "
            "VALUES ('cut', 'running', ?, 3.0, 1)",
            (json.dumps(CONFIG),),
        )
        db.execute(
            "INSERT INTO events (run_id, seq, kind, data) VALUES ('cut', 1, 'running', ?)",
            (json.dumps({"attempt": 1}),),
        )


def test_a_file_from_before_migrations_upgrades_in_place(tmp_path: Path, digits: Digits) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = data / "backprop-lab.sqlite3"
    _old_file(path)
    server = Server(data, digits.env).start()
    try:
        runs = httpx.get(f"{server.url}/runs").json()["runs"]
        assert [(r["id"], r["status"]) for r in runs] == [
            ("cut", "interrupted"),
            ("old", "completed"),
        ]
        old = httpx.get(f"{server.url}/train/old").json()
        assert old["name"] == "kept name" and old["has_weights"] is True
        assert old["history"]["loss"] == [2.3, 2.2, 2.1]
        assert (old["train_acc"], old["test_acc"], old["iterations"]) == (0.5, 0.4, 3)
        assert [e.event for e in stream(server.url, "old")] == ["running", "progress", "done"]
        blank = {"image": [[0.0] * 28 for _ in range(28)]}
        assert httpx.post(f"{server.url}/runs/old/predict", json=blank).status_code == 200
        # a run from before owners has none: nobody but the operator changes it
        assert old["mine"] is False
        r = httpx.patch(f"{server.url}/train/old", json={"name": "taken"})
        assert r.status_code == 403 and "BACKPROP_LAB_ADMIN_TOKEN" in r.text
        r = httpx.patch(f"{server.url}/train/old", json={"name": "kept name"}, headers=OPERATOR)
        assert r.status_code == 200
        # the run the old server left running is closed, after its own log
        cut = stream(server.url, "cut")
        assert [(e.id, e.event) for e in cut] == [(1, "running"), (2, "done")]
        # and the upgraded file trains new runs
        new = httpx.post(f"{server.url}/train", json={"iterations": 50}).json()["id"]
        assert stream(server.url, new)[-1].data["status"] == "completed"
    finally:
        server.stop()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
        columns = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
        assert {"attempt", "heartbeat_at", "worker", "cancel_requested"} <= columns
        assert db.execute("SELECT attempt FROM runs WHERE id = 'old'").fetchone() == (1,)
        # what the old run stored was measured: its events' text and its weights' bytes
        measured = db.execute(
            "SELECT (SELECT SUM(LENGTH(data)) FROM events WHERE run_id = 'old') + "
            "(SELECT LENGTH(npz) FROM weights WHERE run_id = 'old')"
        ).fetchone()[0]
        row = db.execute("SELECT stored_bytes, owner_hash FROM runs WHERE id = 'old'").fetchone()
        assert row == (measured, None) and measured > 0
        without_rowid = db.execute("SELECT sql FROM sqlite_master WHERE name = 'events'")
        assert "WITHOUT ROWID" in without_rowid.fetchone()[0]


def test_a_new_file_and_a_second_start_agree(tmp_path: Path) -> None:
    """A new database gets the same schema, and starting again changes nothing."""
    from app.training.store import RunStore

    path = tmp_path / "runs.sqlite3"
    RunStore(path).close()
    with sqlite3.connect(path) as db:
        first = sorted(db.execute("SELECT name, sql FROM sqlite_master").fetchall())
    RunStore(path).close()
    with sqlite3.connect(path) as db:
        assert sorted(db.execute("SELECT name, sql FROM sqlite_master").fetchall()) == first
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == (
            head_revision(),
        )

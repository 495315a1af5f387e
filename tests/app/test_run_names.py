"""Run names in the store: a database from before names gains the column; default names."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.training import events
from app.training.records import NewEvent
from app.training.service import default_name
from app.training.store import RunStore

#: The runs table as databases made before run names (and warnings) had it.
OLD_RUNS = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, config TEXT NOT NULL, created_at REAL NOT NULL,
    started_at REAL, finished_at REAL, iterations INTEGER, train_acc REAL, test_acc REAL,
    elapsed_s REAL, message TEXT, last_seq INTEGER NOT NULL DEFAULT 0
);
INSERT INTO runs (id, status, config, created_at) VALUES ('old', 'completed', '{}', 1.0);
"""


def test_an_older_database_gains_names_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_RUNS)
    store = RunStore(path)
    old = store.get_run("old")
    assert old is not None and old.name is None and old.has_weights is False
    store.rename_run("old", "kept")
    assert [(r.id, r.name) for r in store.list_runs()] == [("old", "kept")]
    store.close()


def test_weights_of_an_epoch_are_kept_until_the_final_ones(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    store.create_run("r", {"iterations": 10})
    store.append([NewEvent("r", "running", events.running())])
    store.append([NewEvent("r", "epoch", {"epoch": 1}, b"epoch-1")])
    run = store.get_run("r")
    assert run is not None and run.has_weights and store.weights("r") == b"epoch-1"
    store.append([NewEvent("r", "done", events.done("completed"), b"final")])
    assert store.weights("r") == b"final"
    store.close()


def test_default_names_are_short_and_readable() -> None:
    config = {"optimizer": "adam", "learning_rate": 0.001, "hidden_size": 100, "iterations": 10000}
    assert default_name(config) == "Adam lr 0.001 · 100 hidden · 10,000 it."
    assert default_name({}) == "SGD lr ? · ? hidden · ? it."

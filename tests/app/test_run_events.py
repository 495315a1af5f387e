"""A run's own events: `running` sets its status in the same transaction; one `done` builder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.training import events
from app.training.records import NewEvent
from app.training.store import RunStore

APP = Path(__file__).resolve().parents[2] / "app"


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    s = RunStore(tmp_path / "runs.sqlite3")
    s.create_run("r", {"iterations": 10})
    return s


def test_a_running_event_marks_the_run_running(store: RunStore) -> None:
    written = store.append([NewEvent("r", "running", events.running())])
    assert [(e.seq, e.kind, e.data) for e in written["r"]] == [(1, "running", '{"attempt": 1}')]
    run = store.get_run("r")
    assert run is not None
    assert (run.status, run.last_seq) == ("running", 1)
    assert run.started_at is not None
    assert store.attempts("r") == 1
    store.close()


def test_nothing_follows_a_done_not_even_running(store: RunStore) -> None:
    store.append([NewEvent("r", "done", events.done("cancelled"))])
    assert store.append([NewEvent("r", "running", events.running())]) == {}
    run = store.get_run("r")
    assert run is not None and run.status == "cancelled" and run.started_at is None
    store.close()


def test_interrupting_unfinished_runs_writes_their_done(store: RunStore) -> None:
    assert store.interrupt_unfinished() == ["r"]
    [ev] = store.events_after("r")
    assert ev.kind == "done" and '"status": "interrupted"' in ev.data
    run = store.get_run("r")
    assert run is not None and run.message == events.INTERRUPTED
    store.close()


def test_done_carries_a_message_where_the_api_promises_one() -> None:
    assert events.done("cancelled") == {"status": "cancelled", "message": events.CANCELLED}
    assert events.done("interrupted")["message"] == events.INTERRUPTED
    assert events.done("completed", train_acc=0.9) == {"status": "completed", "train_acc": 0.9}
    assert events.done("failed", message="boom", iterations=0) == {
        "status": "failed",
        "iterations": 0,
        "message": "boom",
    }
    with pytest.raises(ValueError, match="needs a message"):
        events.done("failed")
    with pytest.raises(ValueError, match="status must be one of"):
        events.done("running")


def test_every_terminal_event_is_built_by_app_events() -> None:
    """No other module of the app spells out a done event's status."""
    pattern = re.compile(r"""["']status["']\s*:\s*["'](completed|cancelled|failed|interrupted)""")
    offenders = [
        f"{path.relative_to(APP)}:{n}"
        for path in APP.rglob("*.py")
        if path.name != "events.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_loss_watch_warns_on_a_huge_peak_or_a_high_end() -> None:
    calm = events.LossWatch()
    for loss in [2.3, 2.0, 1.5, None, float("nan"), 0.4, *[0.3] * 60]:
        calm.add(loss)
    assert calm.warning() is None
    spike = events.LossWatch()
    for loss in [2.3, 40.0, *[0.3] * 60]:  # peaked above 10x its start, then recovered
        spike.add(loss)
    assert "peaked at 40" in (spike.warning() or "")
    high = events.LossWatch()
    for loss in [2.3, *[5.0] * 60]:  # never above 10x, but ends above 2x its start
        high.add(loss)
    assert "diverged" in (high.warning() or "")
    assert events.LossWatch().warning() is None  # no losses at all


def test_a_database_from_before_warnings_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, status TEXT NOT NULL, config TEXT NOT NULL, "
        "created_at REAL NOT NULL, started_at REAL, finished_at REAL, iterations INTEGER, "
        "train_acc REAL, test_acc REAL, elapsed_s REAL, message TEXT, "
        "last_seq INTEGER NOT NULL DEFAULT 0)"
    )
    old.execute("INSERT INTO runs (id, status, config, created_at) VALUES ('r', 'queued', '{}', 0)")
    old.commit()
    old.close()
    store = RunStore(path)
    store.append([NewEvent("r", "done", events.done("completed", warning="it diverged"))])
    run = store.get_run("r")
    assert run is not None and run.warning == "it diverged"
    store.close()


def test_events_of_many_runs_are_read_at_once_as_one_by_one(store: RunStore) -> None:
    store.create_run("s", {"iterations": 10})
    for i in range(1, 6):
        for run_id in ("r", "s"):
            data = {"iteration": i, "loss": 1.0 / i, "first_iteration": i, "losses": [1.0 / i]}
            store.append([NewEvent(run_id, "progress", data)])
    ranges = {"r": (1, 4), "s": (0, 2), "nobody": (0, 3), "s-later": (5, 9)}
    want = {
        "r": store.events_after("r", 1, 3),
        "s": store.events_after("s", 0, 2),
    }
    assert [e.seq for e in want["r"]] == [2, 3, 4] and [e.seq for e in want["s"]] == [1, 2]
    assert store.events_between(ranges) == want
    assert store.events_between(ranges, chunk=1) == want  # a query per run, the same answer
    assert store.events_between({"r": (5, 5)}) == {}
    store.close()

"""A run's own events: `running` sets its status in the same transaction; one `done` builder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import events
from app.store import NewEvent, RunStore

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

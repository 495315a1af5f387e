"""Every event kind has one home (app/training/events.py): the page's typedefs, the engine's
names and the log agree with it, and a kind it does not know is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.training import events
from app.training.records import NewEvent
from app.training.store import RunStore
from engine import events as engine_events

TYPES = Path(__file__).resolve().parents[2] / "static" / "js" / "types.d.ts"


def typedef_fields() -> dict[str, dict[str, bool]]:
    """``RunEventData`` of types.d.ts: each kind's fields, True for a required one."""
    text = TYPES.read_text(encoding="utf-8")
    body = text[text.index("export interface RunEventData {") :]
    body = body[: body.index("\n}\n")]
    body = re.sub(r"/\*\*.*?\*/", "", body, flags=re.S)  # doc comments name fields too
    kinds: dict[str, dict[str, bool]] = {}
    for kind, inside in re.findall(r"^  (\w+): \{(.*?)\};$", body, flags=re.S | re.M):
        fields = re.findall(r"(\w+)(\??):", inside)
        kinds[kind] = {name: not optional for name, optional in fields}
    return kinds


def python_fields() -> dict[str, dict[str, bool]]:
    """``events.DATA``: each kind's TypedDict fields, True for a required one."""
    return {
        kind: {
            name: name in data.__required_keys__  # type: ignore[attr-defined]
            for name in data.__annotations__
        }
        for kind, data in events.DATA.items()
    }


def test_the_page_typedefs_name_every_kind_and_field_of_the_python_definitions() -> None:
    js, py = typedef_fields(), python_fields()
    assert list(js) == list(py)  # same kinds, same order
    for kind in py:
        assert js[kind] == py[kind], kind
    assert set(events.KINDS) | {events.QUEUED, events.NO_WORKER} == set(py)


def test_the_statuses_are_one_list() -> None:
    text = TYPES.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("export type RunStatus ="))
    assert re.findall(r'"(\w+)"', line) == list(events.STATUSES)
    assert events.STATUSES == events.ACTIVE + events.TERMINAL


def test_the_trainer_kinds_are_the_engines_names() -> None:
    """The engine names its own kinds (the CLI reads them there); the app re-uses them."""
    assert set(engine_events.TRAINER_KINDS) <= set(events.KINDS)
    assert events.DONE == engine_events.DONE and events.PROGRESS == engine_events.PROGRESS


def test_an_unknown_kind_is_an_error_and_nothing_is_written(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.db")
    try:
        store.create_run("r", {"iterations": 10})
        store.append([NewEvent("r", events.RUNNING, events.running())])
        with pytest.raises(ValueError, match="unknown event kind 'finished'"):
            store.append(
                [
                    NewEvent("r", events.PROGRESS, events.progress(1, 2.0, 1, [2.0])),
                    NewEvent("r", "finished", {"status": "completed"}),
                ]
            )
        run = store.get_run("r")
        assert run is not None and run.status == "running" and run.last_seq == 1
        assert [e.kind for e in store.events_after("r")] == ["running"]
    finally:
        store.close()


def test_done_says_whether_the_weights_can_be_used(tmp_path: Path) -> None:
    """Written once with the event: the final weights, an epoch's, or none at all."""
    store = RunStore(tmp_path / "runs.db")
    try:
        for run_id in ("none", "epoch", "final"):
            store.create_run(run_id, {"iterations": 10})
            store.append([NewEvent(run_id, events.RUNNING, events.running())])
        epoch = {"epoch": 1, "iteration": 5, "train_acc": 0.5, "test_acc": 0.5}
        store.append([NewEvent("epoch", events.EPOCH, epoch, b"weights")])
        store.append(
            [
                NewEvent("none", events.DONE, events.done("failed", message="boom")),
                NewEvent("epoch", events.DONE, events.done("failed", message="boom")),
                NewEvent("final", events.DONE, events.done("completed"), b"weights"),
            ]
        )
        for run_id, expected in (("none", False), ("epoch", True), ("final", True)):
            last = store.events_after(run_id)[-1]
            assert last.kind == events.DONE
            assert f'"has_weights": {str(expected).lower()}' in last.data
            run = store.get_run(run_id)
            assert run is not None and run.has_weights is expected
    finally:
        store.close()

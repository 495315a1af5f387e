"""POST /train and its event stream, end to end against a real uvicorn server and real MNIST."""

from __future__ import annotations

import csv
import io
import itertools
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.app.sse_client import Event, iter_events, stream, wait_status
from tests.conftest import OPERATOR, Digits, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A server with one worker, frequent progress events and the real MNIST."""
    env = {
        **digits.env,
        "BACKPROP_LAB_PROGRESS_INTERVAL": "0.02",
        "BACKPROP_LAB_WORKERS": "1",
    }
    srv = Server(tmp_path_factory.mktemp("train-data"), env).start()
    yield srv
    srv.stop()


def start(url: str, **config: object) -> str:
    r = httpx.post(f"{url}/train", json=config, timeout=30)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued"
    assert body["events"] == f"/train/{body['id']}/events"
    return str(body["id"])


def assert_consecutive(events: list[Event], first: int = 1) -> None:
    assert [e.id for e in events] == list(range(first, first + len(events)))


def test_short_mnist_run_streams_live_and_matches_the_run(server: Server) -> None:
    run_id = start(server.url, iterations=300, hidden_size=100, batch_size=100, seed=1)
    events = stream(server.url, run_id)

    assert_consecutive(events)
    # the log says when a worker started the run: the stream carries it first
    assert (events[0].event, events[0].data) == ("running", {"attempt": 1})
    assert [e.event for e in events].count("running") == 1
    assert events[-1].event == "done"
    assert [e.event for e in events].count("done") == 1
    assert {e.event for e in events} <= {"running", "progress", "layers", "epoch", "done"}
    progress = [e for e in events if e.event == "progress"]
    assert len(progress) >= 2
    # events arrive while the run trains, not all at the end
    assert events[-1].received - progress[0].received > 0.05
    losses = [x for e in progress for x in e.data["losses"]]
    assert len(losses) == 300
    assert progress[-1].data["iteration"] == 300
    assert losses[-1] < losses[0]

    done = events[-1].data
    assert done["status"] == "completed"
    run = httpx.get(f"{server.url}/train/{run_id}").json()
    assert run["status"] == "completed"
    assert run["started_at"] is not None
    assert "warning" not in done and run["warning"] is None  # it learned: no divergence
    assert run["train_acc"] == pytest.approx(done["train_acc"])
    assert run["test_acc"] == pytest.approx(done["test_acc"])
    assert 0.8 < run["test_acc"] <= 1.0
    assert run["iterations"] == 300
    assert run["history"]["loss"] == losses
    epochs = [e.data for e in events if e.event == "epoch"]
    assert run["history"]["epochs"] == epochs
    assert epochs[-1]["test_acc"] == pytest.approx(done["test_acc"])
    assert run["config"]["hidden_size"] == 100
    assert run["last_event_id"] == events[-1].id

    # a late subscriber gets the whole history, then the stream ends
    again = stream(server.url, run_id)
    assert [(e.id, e.event, e.data) for e in again] == [(e.id, e.event, e.data) for e in events]

    # listed newest first, with final accuracies
    runs = httpx.get(f"{server.url}/runs").json()["runs"]
    assert runs[0]["id"] == run_id
    assert runs[0]["test_acc"] == pytest.approx(done["test_acc"])
    assert all(a["created_at"] >= b["created_at"] for a, b in itertools.pairwise(runs))

    # exports
    exported = httpx.get(f"{server.url}/train/{run_id}/history.json")
    assert exported.status_code == 200
    assert exported.json()["history"] == run["history"]
    text = httpx.get(f"{server.url}/train/{run_id}/history.csv")
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert len(rows) == 300
    assert float(rows[0]["loss"]) == pytest.approx(losses[0])
    assert rows[-1]["test_acc"] != ""


def test_reconnect_with_last_event_id_loses_and_repeats_nothing(server: Server) -> None:
    run_id = start(server.url, iterations=1500, seed=2)
    first = stream(server.url, run_id, limit=3)
    assert_consecutive(first)
    rest = stream(server.url, run_id, last_event_id=first[-1].id)
    assert rest[0].id == first[-1].id + 1
    assert_consecutive(first + rest)
    assert rest[-1].event == "done"
    full = stream(server.url, run_id)
    assert [(e.id, e.data) for e in first + rest] == [(e.id, e.data) for e in full]
    losses = [x for e in first + rest if e.event == "progress" for x in e.data["losses"]]
    assert len(losses) == 1500
    # resuming after the last event: nothing more, the stream ends at once
    assert stream(server.url, run_id, last_event_id=full[-1].id) == []


def test_many_subscribers_each_receive_every_event(server: Server) -> None:
    run_id = start(server.url, iterations=800, seed=3)
    results: list[list[Event]] = [[] for _ in range(10)]

    def watch(i: int) -> None:
        results[i] = stream(server.url, run_id)

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    reference = [(e.id, e.event, e.data) for e in results[0]]
    assert reference[-1][1] == "done"
    for got in results:
        assert [(e.id, e.event, e.data) for e in got] == reference


def test_cancel_a_running_run(server: Server) -> None:
    run_id = start(server.url, iterations=100_000, seed=4)
    head = stream(server.url, run_id, limit=2)
    assert [e.event for e in head] == ["running", "progress"]
    assert httpx.get(f"{server.url}/train/{run_id}").json()["status"] == "running"
    r = httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    assert r.status_code == 202, r.text
    assert r.json()["cancel_requested"] is True
    rest = stream(server.url, run_id, last_event_id=head[-1].id)
    assert rest[-1].event == "done"
    assert rest[-1].data["status"] == "cancelled"
    assert "cancelled" in rest[-1].data["message"]  # api.md: cancelled/failed carry a message
    run = wait_status(server.url, run_id, {"cancelled"})
    assert run["status"] == "cancelled"
    assert run["message"] == rest[-1].data["message"]
    assert 0 < run["iterations"] < 100_000
    assert len(run["history"]["loss"]) == run["iterations"]
    again = httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "run_finished"


def test_unknown_run_is_404_everywhere(server: Server) -> None:
    for method, path in [
        ("GET", "/train/nope"),
        ("GET", "/train/nope/events"),
        ("DELETE", "/train/nope"),
        ("GET", "/train/nope/history.csv"),
        ("GET", "/train/nope/history.json"),
    ]:
        r = httpx.request(method, server.url + path)
        assert r.status_code == 404, (method, path)
        err = r.json()["error"]
        assert err["code"] == "run_not_found"
        assert "nope" in err["message"]


def test_a_huge_unknown_run_id_is_echoed_once_and_cut(server: Server) -> None:
    """A 60,000-character id was echoed whole twice (message and details) in its 404."""
    run_id = "a" * 60_000
    for method, path in [("GET", f"/train/{run_id}"), ("GET", f"/train/{run_id}/events")]:
        r = httpx.request(method, server.url + path, timeout=30)
        assert r.status_code == 404, r.text[:200]
        assert len(r.content) < 500
        err = r.json()["error"]
        assert err["code"] == "run_not_found"
        assert err["message"].count("a" * 40) == 1 and "a" * 41 not in err["message"]
        assert "a" * 40 + "…" in err["message"]
        assert err["details"] == {"field": "run_id", "length": 60_000}


def test_bad_last_event_id_is_400(server: Server) -> None:
    run_id = start(server.url, iterations=10)
    r = httpx.get(f"{server.url}/train/{run_id}/events", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_last_event_id"
    wait_status(server.url, run_id, {"completed"})


@pytest.mark.parametrize(
    "value",
    [
        "-1",
        "1.5",
        "²",  # str.isdigit() accepts it, int() does not: it was a 500
        "9" * 5000,  # past Python's int-from-text limit: it was a 500
        str(2**63),  # past SQLite's integers: the stream failed on the database read
    ],
)
def test_odd_last_event_id_is_400_not_500(server: Server, value: str) -> None:
    run_id = start(server.url, iterations=10)
    wait_status(server.url, run_id, {"completed"})
    r = httpx.get(
        f"{server.url}/train/{run_id}/events",
        headers=[(b"Last-Event-ID", value.encode("latin-1"))],
        timeout=30,
    )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "bad_last_event_id"
    assert "Last-Event-ID" in err["message"]


def test_largest_last_event_id_ends_a_finished_stream(server: Server) -> None:
    run_id = start(server.url, iterations=10)
    wait_status(server.url, run_id, {"completed"})
    assert stream(server.url, run_id, last_event_id=2**63 - 1) == []


def test_a_failing_run_keeps_the_losses_before_its_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Losses not yet sent when training raises are flushed before the failed done."""
    import engine.trainer
    from app.training.attempt import WorkerMessage, WorkerOptions, train
    from engine.trainer import TrainEvent

    class Exploding:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def run(self, should_stop: object) -> Iterator[TrainEvent]:
            for i in range(1, 6):
                yield TrainEvent("progress", {"iteration": i, "loss": 1.0 / i})
            raise FloatingPointError("the loss became nan at iteration 6")

    class Sent(list[WorkerMessage]):
        def put(self, msg: WorkerMessage) -> None:
            self.append(msg)

        def stop_requested(self) -> bool:
            return False

    monkeypatch.setattr(engine.trainer, "Trainer", Exploding)
    sent = Sent()
    options = WorkerOptions(preload=(), progress_interval=3600)
    train("r", {"dataset": "mnist"}, sent, {"mnist": None}, options)
    kinds = [m.kind for m in sent]
    assert kinds == ["running", "progress", "progress", "done"]
    losses = [x for m in sent if m.kind == "progress" for x in m.data["losses"]]
    assert losses == [1.0, 0.5, 0.3333333, 0.25, 0.2]
    assert sent[-1].data["status"] == "failed"
    assert "FloatingPointError" in sent[-1].data["message"]


def test_a_queued_run_streams_its_place_and_done_says_whether_it_has_weights(
    server: Server,
) -> None:
    """`queued` (no id, not in the log) when the stream opens and each time the place changes;
    `done` carries `has_weights`."""
    a = start(server.url, iterations=50000)
    assert wait_status(server.url, a, {"running"})["status"] == "running"
    b = start(server.url, iterations=50000)
    c = start(server.url, iterations=200, batch_size=50, seed=2)
    assert httpx.get(f"{server.url}/train/{c}").json()["queue_position"] == 1
    seen: list[Event] = []
    try:
        with httpx.stream("GET", f"{server.url}/train/{c}/events", timeout=60) as r:
            assert r.status_code == 200
            for ev in iter_events(r, unstored=True):
                seen.append(ev)
                if ev.event == "queued" and ev.data == {"queue_position": 1}:
                    httpx.delete(f"{server.url}/train/{b}", headers=OPERATOR)  # c moves up
                elif ev.event == "queued" and ev.data == {"queue_position": 0}:
                    httpx.delete(f"{server.url}/train/{a}", headers=OPERATOR)  # c starts
                if ev.event == "done":
                    break
    finally:
        for run_id in (a, b, c):
            httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    queued = [e for e in seen if e.event == "queued"]
    assert [e.data for e in queued] == [{"queue_position": 1}, {"queue_position": 0}]
    assert all(e.id is None for e in queued)
    stored = [e for e in seen if e.event != "queued"]
    assert_consecutive(stored)  # the log's numbering is unchanged
    assert stored[0].event == "running" and stored[-1].event == "done"
    assert stored[-1].data["status"] == "completed" and stored[-1].data["has_weights"] is True
    # the same done, replayed from the log; and a run cancelled while queued has no weights
    assert stream(server.url, c)[-1].data == stored[-1].data
    done_b = stream(server.url, b)[-1]
    assert done_b.data["status"] == "cancelled" and done_b.data["has_weights"] is False
    assert httpx.get(f"{server.url}/train/{b}").json()["has_weights"] is False
    # a replay of a finished run sends no queued event
    replay = []
    with httpx.stream("GET", f"{server.url}/train/{c}/events", timeout=60) as r:
        replay = list(iter_events(r, unstored=True))
    assert [e.event for e in replay] == [e.event for e in stored]

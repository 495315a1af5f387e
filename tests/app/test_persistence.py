"""Runs survive a crash: SIGKILL the server and its workers mid-run, restart on the same data."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.app.sse_client import Event, iter_events, read_until, stream, wait_status
from tests.conftest import Digits, Server


def test_sigkill_mid_run_leaves_it_interrupted_with_its_metrics(
    tmp_path: Path, digits: Digits
) -> None:
    env = {
        **digits.env,
        "BACKPROP_LAB_WORKERS": "1",
        "BACKPROP_LAB_PROGRESS_INTERVAL": "0.05",
    }
    data = tmp_path / "data"
    first = Server(data, env).start()
    try:
        done = httpx.post(f"{first.url}/train", json={"iterations": 100, "seed": 7}).json()["id"]
        wait_status(first.url, done, {"completed"})
        run_id = httpx.post(f"{first.url}/train", json={"iterations": 100_000}).json()["id"]
        seen = stream(first.url, run_id, limit=40)
        assert any(e.event == "epoch" for e in seen)
        before: dict[str, Any] = httpx.get(f"{first.url}/train/{run_id}").json()
        assert before["status"] == "running"
    finally:
        first.kill()

    second = Server(data, env).start()
    try:
        after = httpx.get(f"{second.url}/train/{run_id}").json()
        assert after["status"] == "interrupted"
        assert after["message"]
        # it kept the weights of its last epoch: it can still be inspected
        assert after["has_weights"] is True
        blank = {"image": [[0.0] * 28 for _ in range(28)]}
        assert httpx.post(f"{second.url}/runs/{run_id}/predict", json=blank).status_code == 200
        # every metric recorded before the crash is still there, unchanged
        n = len(before["history"]["loss"])
        assert after["history"]["loss"][:n] == before["history"]["loss"]
        assert (
            after["history"]["epochs"][: len(before["history"]["epochs"])]
            == before["history"]["epochs"]
        )
        replay = stream(second.url, run_id)
        assert [(e.id, e.event, e.data) for e in replay[: len(seen)]] == [
            (e.id, e.event, e.data) for e in seen
        ]
        assert [e.id for e in replay] == list(range(1, len(replay) + 1))
        assert replay[-1].event == "done"
        assert replay[-1].data["status"] == "interrupted"
        # the run finished before the crash is intact, weights included
        old = httpx.get(f"{second.url}/train/{done}").json()
        assert old["status"] == "completed"
        image = [[0.0] * 28 for _ in range(28)]
        assert (
            httpx.post(f"{second.url}/runs/{done}/predict", json={"image": image}).status_code
            == 200
        )
        # and a new run trains fine
        new_id = httpx.post(f"{second.url}/train", json={"iterations": 200}).json()["id"]
        events = stream(second.url, new_id)
        assert events[-1].data["status"] == "completed"
        runs = httpx.get(f"{second.url}/runs").json()["runs"]
        assert [r["id"] for r in runs] == [new_id, run_id, done]
    finally:
        second.stop()


def _spawned_children(pid: int) -> list[int]:
    """Processes started by multiprocessing's spawn under ``pid`` (the training workers)."""
    out = []
    # NOTE: each thread lists its own children (a replacement worker is started by the pump).
    children = {
        c for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()
    }
    for child in sorted(children):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmdline:
            out.append(int(child))
    return out


def _attempt_trains(attempt: int) -> Callable[[list[Event]], bool]:
    """Whether a log so far has a progress event of the given attempt."""

    def check(log: list[Event]) -> bool:
        starts = [e for e in log if e.event == "running"]
        return len(starts) == attempt and log[-1].event == "progress"

    return check


def _kill_the_worker(server: Server) -> None:
    assert server.proc is not None
    workers = _spawned_children(server.proc.pid)
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)


def test_a_worker_killed_mid_run_is_retried_once_then_the_run_fails(
    tmp_path: Path, digits: Digits
) -> None:
    """Attempt 2 starts from the beginning; a second loss fails the run, keeping its log."""
    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1", "BACKPROP_LAB_PROGRESS_INTERVAL": "0.05"}
    server = Server(tmp_path / "data", env).start()
    try:
        run_id = httpx.post(f"{server.url}/train", json={"iterations": 100_000}).json()["id"]
        read_until(server.url, run_id, _attempt_trains(1))
        _kill_the_worker(server)
        # the replacement worker starts after a short back-off, then attempt 2 begins
        log = read_until(server.url, run_id, _attempt_trains(2))
        starts = [e for e in log if e.event == "running"]
        assert [e.data["attempt"] for e in starts] == [1, 2]
        assert "was lost" in starts[1].data["message"]
        second = log.index(starts[1])
        assert [e for e in log[:second] if e.event == "progress"], "attempt 1 recorded losses"
        again = [e for e in log[second:] if e.event == "progress"]
        assert again[0].data["first_iteration"] == 1  # from the beginning
        assert [e.id for e in log] == list(range(1, len(log) + 1))
        # the history is attempt 2's alone; the log keeps both
        run = httpx.get(f"{server.url}/train/{run_id}").json()
        assert run["status"] == "running"
        assert run["history"]["loss"][: len(again[0].data["losses"])] == again[0].data["losses"]

        _kill_the_worker(server)
        events = stream(server.url, run_id)
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        assert [(e.id, e.event, e.data) for e in events[: len(log)]] == [
            (e.id, e.event, e.data) for e in log
        ]
        assert events[-1].event == "done"
        assert events[-1].data["status"] == "failed"
        assert "worker was lost" in events[-1].data["message"]
        assert "2 attempts" in events[-1].data["message"]
        run = httpx.get(f"{server.url}/train/{run_id}").json()
        assert run["status"] == "failed" and run["history"]["loss"]
        new_id = httpx.post(f"{server.url}/train", json={"iterations": 100}).json()["id"]
        assert stream(server.url, new_id)[-1].data["status"] == "completed"
    finally:
        server.stop()


def test_sigterm_with_an_open_event_stream_stops_promptly(tmp_path: Path, digits: Digits) -> None:
    """A graceful stop must not wait for a long run's event stream to end (it used to)."""
    import subprocess
    import threading
    import time

    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1"}
    data = tmp_path / "data"
    server = Server(data, env).start()
    seen: list[Any] = []
    try:
        run_id = httpx.post(f"{server.url}/train", json={"iterations": 100_000}).json()["id"]

        def read() -> None:
            url = f"{server.url}/train/{run_id}/events"
            with httpx.stream("GET", url, timeout=60) as r:
                seen.extend(iter_events(r))

        reader = threading.Thread(target=read)
        reader.start()
        deadline = time.monotonic() + 30
        while not seen and time.monotonic() < deadline:
            time.sleep(0.1)
        assert seen, "no event arrived"
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGTERM)
        started = time.monotonic()
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            raise AssertionError("the server did not stop within 10 s of SIGTERM") from None
        assert time.monotonic() - started < 10
        reader.join(10)
        assert not reader.is_alive()
        # the stream ended without a done: the client reconnects with Last-Event-ID later
        assert all(e.event != "done" for e in seen)
    finally:
        server.kill()

    again = Server(data, env).start()
    try:
        run = httpx.get(f"{again.url}/train/{run_id}").json()
        assert run["status"] == "interrupted"
        rest = stream(again.url, run_id, last_event_id=seen[-1].id)
        assert rest[0].id == seen[-1].id + 1
        assert rest[-1].data["status"] == "interrupted"
    finally:
        again.stop()


def test_store_closes_the_connections_of_ended_threads(tmp_path: Path) -> None:
    """Threads come and go (anyio ends idle ones); each used to leak its SQLite connection."""
    import threading

    from app.training.store import RunStore

    store = RunStore(tmp_path / "runs.sqlite3")
    try:
        store.create_run("r1", {"iterations": 1})
        for _ in range(20):
            t = threading.Thread(target=store.get_run, args=("r1",))
            t.start()
            t.join()
        store.get_run("r1")
        # this thread, the last ended thread's (closed at the next new connection)
        assert store.open_connections <= 2
        fds = os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []
        if fds:
            before = len(fds)
            for _ in range(20):
                t = threading.Thread(target=store.get_run, args=("r1",))
                t.start()
                t.join()
            assert len(os.listdir("/proc/self/fd")) <= before + 3
    finally:
        store.close()
    assert store.open_connections == 0

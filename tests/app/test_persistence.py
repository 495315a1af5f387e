"""Runs survive a crash: SIGKILL the server and its workers mid-run, restart on the same data."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx

from tests.app.sse_client import stream, wait_status
from tests.conftest import Server


def test_sigkill_mid_run_leaves_it_interrupted_with_its_metrics(
    tmp_path: Path, mnist_dir: Path
) -> None:
    env = {
        "MNIST_DIR": str(mnist_dir),
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
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmdline:
            out.append(int(child))
    return out


def test_a_worker_killed_mid_run_fails_the_run_and_is_replaced(
    tmp_path: Path, mnist_dir: Path
) -> None:
    env = {"MNIST_DIR": str(mnist_dir), "BACKPROP_LAB_WORKERS": "1"}
    server = Server(tmp_path / "data", env).start()
    try:
        run_id = httpx.post(f"{server.url}/train", json={"iterations": 100_000}).json()["id"]
        stream(server.url, run_id, limit=2)
        assert server.proc is not None
        workers = _spawned_children(server.proc.pid)
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)
        events = stream(server.url, run_id)
        assert events[-1].event == "done"
        assert events[-1].data["status"] == "failed"
        assert "worker stopped unexpectedly" in events[-1].data["message"]
        run = httpx.get(f"{server.url}/train/{run_id}").json()
        assert run["status"] == "failed" and run["history"]["loss"]
        new_id = httpx.post(f"{server.url}/train", json={"iterations": 100}).json()["id"]
        assert stream(server.url, new_id)[-1].data["status"] == "completed"
    finally:
        server.stop()

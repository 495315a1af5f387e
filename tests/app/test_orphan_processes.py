"""A server killed outright (SIGKILL) takes every process it started with it, within seconds."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from app.graphwork import PROCESS_THRESHOLD
from tests.app.sse_client import read_until
from tests.conftest import Digits, Server

#: Two runs train at once, each long enough to still be training when the server dies.
ENV = {"BACKPROP_LAB_WORKERS": "2", "BACKPROP_LAB_PROGRESS_INTERVAL": "0.05"}
LONG_RUN = {"iterations": 100_000, "hidden_size": 50, "batch_size": 100}


def _children() -> dict[int, list[int]]:
    """Every live process's children, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is still a running process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_sigkill_of_the_server_ends_its_training_and_check_processes(
    server_factory: Callable[..., Server], digits: Digits
) -> None:
    server = server_factory(env={**digits.env, **ENV})
    runs = []
    for _ in range(2):
        r = httpx.post(f"{server.url}/train", json=LONG_RUN)
        assert r.status_code == 202, r.text
        runs.append(r.json()["id"])
    # Both train (each has sent progress): a cancelled run's last message carries its weights,
    # more than a pipe holds, which nobody reads once the server is gone.
    for run_id in runs:
        read_until(server.url, run_id, lambda events: events[-1].event == "progress")
    check = httpx.post(f"{server.url}/gradcheck", json={"batch_size": 1}, timeout=60)
    assert check.status_code == 200, check.text
    # A graph body over 128 KB starts a graph process (app/graphwork.py).
    graph = {"nodes": [{"id": "x", "op": "input", "value": 2.0}], "output": "x"}
    padded = json.dumps(graph).encode() + b" " * (PROCESS_THRESHOLD + 1)
    evaluated = httpx.post(
        f"{server.url}/graphs/evaluate",
        content=padded,
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert evaluated.status_code == 200, evaluated.text
    assert server.proc is not None
    family = descendants(server.proc.pid)
    # Two training workers, the check process, the graph process and the resource tracker.
    assert len(family) >= 5, family
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(alive(p) for p in family):
        time.sleep(0.1)
    left = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:120] for p in family if alive(p)}
    for p in left:  # do not leave them behind for the next tests
        os.kill(p, signal.SIGKILL)
    assert not left, f"processes outlived their server by 5 s: {left}"


#: A server that starts one training process and dies at once, before that process is up.
DIES_WHILE_ITS_WORKER_STARTS = """
import os
from app.training.local import LocalExecutor

worker = LocalExecutor(1)._spawn(0)
print(worker.process.pid, flush=True)
os._exit(0)
"""


def test_a_worker_whose_server_died_while_it_started_exits(tmp_path: Path) -> None:
    """The worker learns its server's pid from the server, not from getppid() once started
    (by then init's, and the worker waited forever on a queue it holds both ends of)."""
    import subprocess
    import sys

    out = tmp_path / "out"
    with out.open("w") as stdout:  # a file, not a pipe an orphan would hold open
        done = subprocess.run(
            [sys.executable, "-c", DIES_WHILE_ITS_WORKER_STARTS],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "BACKPROP_LAB_CACHE_DIR": str(tmp_path)},
        )
    assert done.returncode == 0, out.read_text()
    pid = int(out.read_text().split()[0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    orphan = alive(pid)
    if orphan:  # leave no orphan behind even when this test fails
        os.kill(pid, signal.SIGKILL)
    assert not orphan, "the worker outlived the server that started it"

"""A gradient check cannot hold the server: its real cost is budgeted, it has a time limit,
it stops when its client goes, and its process ends when the server dies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server

SMALL = {
    "graph": {
        "nodes": [
            {"id": "x", "op": "input", "value": [1.0, 2.0]},
            {"id": "s", "op": "sum", "inputs": ["x"]},
        ],
        "output": "s",
    }
}


def fan_out(elements: int, sums: int) -> dict[str, Any]:
    """One input of ``elements`` numbers read by ``sums`` sum nodes (issue 9's slow check)."""
    nodes: list[dict[str, Any]] = [{"id": "x", "op": "input", "value": [0.5] * elements}]
    nodes += [{"id": f"s{i}", "op": "sum", "inputs": ["x"]} for i in range(sums)]
    return {"nodes": nodes, "output": "s0"}


def children(pid: int) -> set[int]:
    """Every living descendant of process ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in found:
                found.add(child)
                todo.append(child)
    return found


def command(pid: int) -> str:
    """A process's command line (what it is, when a test says it outlived its server)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_issue_9s_check_is_refused_at_once_by_its_real_cost(
    server_factory: Callable[..., Server],
) -> None:
    """13,800 numbers feeding 499 sums: 70 KB that kept a check busy for 12.5 minutes."""
    server = server_factory(env={"BACKPROP_LAB_PRELOAD_DATASETS": ""})
    started = time.monotonic()
    r = httpx.post(
        f"{server.url}/gradcheck", json={"graph": fan_out(13_800, 499), "mode": "full"}, timeout=60
    )
    assert r.status_code == 413, r.text[:300]
    error = r.json()["error"]
    assert error["code"] == "limit_exceeded"
    assert "max_gradcheck_work" in error["message"] and "13,800 numbers" in error["message"]
    assert error["details"]["value"] > error["details"]["limit"] == 2_000_000_000
    assert time.monotonic() - started < 20
    # The same graph checked along 4 random directions per input fits, and passes.
    r = httpx.post(
        f"{server.url}/gradcheck", json={"graph": fan_out(13_800, 499), "mode": "fast"}, timeout=60
    )
    assert r.status_code == 200, r.text[:300]
    assert r.json()["passed"] is True


def test_a_check_past_its_time_limit_is_stopped_with_a_clear_413(
    server_factory: Callable[..., Server],
) -> None:
    env = {
        "BACKPROP_LAB_PRELOAD_DATASETS": "",
        "BACKPROP_LAB_MAX_GRADCHECK_SECONDS": "1",
        "BACKPROP_LAB_MAX_GRADCHECK_WORK": str(10**15),
    }
    server = server_factory(env=env)
    started = time.monotonic()
    r = httpx.post(
        f"{server.url}/gradcheck", json={"graph": fan_out(4000, 400), "mode": "full"}, timeout=120
    )
    took = time.monotonic() - started
    assert r.status_code == 413, r.text[:300]
    error = r.json()["error"]
    assert error["code"] == "check_time_limit"
    assert "max_gradcheck_seconds = 1" in error["message"] and "Use mode 'fast'" in error["message"]
    assert error["details"]["limit"] == 1 and error["details"]["value"] >= 1
    assert took < 30, took  # the whole check would take over a minute
    small = httpx.post(f"{server.url}/gradcheck", json=SMALL, timeout=30)
    assert small.status_code == 200 and small.json()["passed"] is True


def test_a_check_whose_client_has_gone_is_stopped(
    server_factory: Callable[..., Server],
) -> None:
    """Once the client of a long check hangs up, the next check does not wait for it."""
    env = {
        "BACKPROP_LAB_PRELOAD_DATASETS": "",
        "BACKPROP_LAB_MAX_GRADCHECK_SECONDS": "600",
        "BACKPROP_LAB_MAX_GRADCHECK_WORK": str(10**15),
    }
    server = server_factory(env=env)
    long_check = {"graph": fan_out(4000, 400), "mode": "full"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/gradcheck", json=long_check, timeout=2)
    started = time.monotonic()
    small = httpx.post(f"{server.url}/gradcheck", json=SMALL, timeout=120)
    waited = time.monotonic() - started
    assert small.status_code == 200 and small.json()["passed"] is True
    assert waited < 15, f"the next check waited {waited:.1f} s behind an abandoned one"


def test_check_processes_exit_when_the_server_is_killed(
    server_factory: Callable[..., Server],
) -> None:
    """SIGKILL to the server alone (as the OOM killer does) leaves no process behind."""
    server = server_factory(env={"BACKPROP_LAB_PRELOAD_DATASETS": ""})
    assert server.proc is not None
    assert httpx.post(f"{server.url}/gradcheck", json=SMALL, timeout=60).status_code == 200
    left = children(server.proc.pid)
    assert len(left) >= 2, left  # at least the check process and the resource tracker
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(p) for p in left):
        time.sleep(0.2)
    orphans = {p: command(p) for p in left if alive(p)}
    for p in orphans:  # leave no orphan behind even when this test fails
        os.kill(p, signal.SIGKILL)
    assert not orphans, f"processes outlived their server: {orphans}"

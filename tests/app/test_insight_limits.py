"""Insight work (confusion, misclassified, weights, predict) under a memory cap: bounded, cached."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.app.sse_client import finished_run
from tests.conftest import Digits, Server

#: Address space the server may add to what it holds once started: a few evaluations of a
#: hidden-2048 network on the test set (~110 MB each), far from 24 of them at once, beside
#: the stacks of the threads 24 requests may start (below).
HEADROOM = 900 * 2**20
#: Threads the server may start for the requests (anyio's pool), each with its stack.
THREADS = 40


def vm_size(pid: int) -> int:
    """A process's address space in bytes (VmSize)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A server with the real digits, one worker, its address space capped once it is up.

    The cap stands for a container's memory limit, which counts the pages a process uses;
    an address-space cap also counts what is only reserved. So the server keeps glibc to
    two malloc arenas (each thread that meets a busy one would reserve 64 MB more, 16 of
    them on two cores: in CI the arenas of 24 threads took the room of every evaluation).
    """
    env = {
        **digits.env,
        "BACKPROP_LAB_WORKERS": "1",
        "BACKPROP_LAB_INSIGHT_WAIT": "60",
        "MALLOC_ARENA_MAX": "2",
    }
    srv = Server(tmp_path_factory.mktemp("insight-data"), env).start()
    assert srv.proc is not None
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def wide_run(server: Server) -> str:
    """A finished run of the widest network the server allows (hidden 2048, a few steps)."""
    config = {"iterations": 2, "hidden_size": 2048, "batch_size": 10}
    run_id = finished_run(server.url, config)
    assert server.proc is not None
    httpx.get(f"{server.url}/healthz")  # everything a first request loads is loaded
    stack = resource.getrlimit(resource.RLIMIT_STACK)[0]
    stack = 8 * 2**20 if stack == resource.RLIM_INFINITY else stack
    cap = vm_size(server.proc.pid) + HEADROOM + THREADS * stack
    resource.prlimit(server.proc.pid, resource.RLIMIT_AS, (cap, cap))
    return run_id


@pytest.mark.parametrize("path", ["confusion", "misclassified"])
def test_24_concurrent_insights_on_a_wide_run_leave_the_server_up(
    server: Server, wide_run: str, path: str
) -> None:
    url = f"{server.url}/runs/{wide_run}/{path}"
    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda _: httpx.get(url, timeout=120), range(24)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 429, 503}, [r.text[:300] for r in answers]
    assert statuses.count(200) >= 1, sorted({r.text[:300] for r in answers})
    for r in answers:
        if r.status_code != 200:
            assert set(r.json()["error"]) == {"code", "message", "details"}
            assert int(r.headers["retry-after"]) >= 1
    assert server.proc is not None and server.proc.poll() is None, "the server died"
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    # Computed once: every 200 is the same answer.
    bodies = {r.text for r in answers if r.status_code == 200}
    assert len(bodies) == 1


def test_a_busy_insight_slot_answers_503_with_retry_after(
    server_factory: object, digits: Digits, tmp_path: Path
) -> None:
    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1", "BACKPROP_LAB_INSIGHT_WAIT": "0"}
    srv: Server = server_factory(env=env)  # type: ignore[operator]
    config = {"iterations": 2, "hidden_size": 2048, "batch_size": 10}
    run_id = finished_run(srv.url, config)
    url = f"{srv.url}/runs/{run_id}/confusion"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: httpx.get(url, timeout=120), range(4)))
    statuses = sorted(r.status_code for r in answers)
    assert 200 in statuses and 503 in statuses, statuses
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.json()["error"]["code"] == "busy"
    assert int(busy.headers["retry-after"]) >= 1


def test_out_of_memory_is_a_503_for_that_request_only(
    server_factory: object, digits: Digits
) -> None:
    srv: Server = server_factory(env={**digits.env, "BACKPROP_LAB_WORKERS": "1"})  # type: ignore[operator]
    config = {"iterations": 2, "hidden_size": 2048, "batch_size": 10}
    run_id = finished_run(srv.url, config)
    assert httpx.get(f"{srv.url}/runs/{run_id}/weights?limit=1").status_code == 200
    assert srv.proc is not None
    cap = vm_size(srv.proc.pid) + 4 * 2**20  # too little for the test set's activations
    unlimited = resource.RLIM_INFINITY
    resource.prlimit(srv.proc.pid, resource.RLIMIT_AS, (cap, unlimited))
    r = httpx.get(f"{srv.url}/runs/{run_id}/confusion", timeout=60)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "out_of_memory"
    assert int(r.headers["retry-after"]) >= 1
    resource.prlimit(srv.proc.pid, resource.RLIMIT_AS, (unlimited, unlimited))
    assert httpx.get(f"{srv.url}/healthz", timeout=5).status_code == 200
    assert httpx.get(f"{srv.url}/runs/{run_id}/confusion", timeout=60).status_code == 200

"""A hostile client against a server under a memory cap: it refuses or answers, and lives.

The server's address space is capped with ``prlimit --as`` (the kernel refuses any
allocation over it, as a small host would): issue 9's request (10^6 numbers feeding 100
``sum`` nodes, an answer of 808 MB) must get its 413 without touching the cap, and the
heaviest request inside the default limits must be answered while GET /healthz keeps
answering, every poll within a bounded time.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from tests.conftest import Server

CAP_BYTES = 1_500_000_000
"""Address space of the server: about 340 MB idle, the worst answer about 250 MB more."""

HEALTHZ_TIMEOUT = 10.0
"""Longest a /healthz poll may take while the heavy request runs (a stall of the loop fails)."""


def capped_server(server_factory: Callable[..., Server]) -> Server:
    """A real server (no dataset preloading) whose address space is capped at CAP_BYTES."""
    env = {"BACKPROP_LAB_PRELOAD_DATASETS": "", "BACKPROP_LAB_WORKERS": "1"}
    server = server_factory(env=env)
    assert server.proc is not None
    pid = server.proc.pid
    subprocess.run(["prlimit", "--pid", str(pid), f"--as={CAP_BYTES}:{CAP_BYTES}"], check=True)
    limit = subprocess.run(
        ["prlimit", "--pid", str(pid), "--as", "--raw", "--noheadings", "--output=SOFT"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert int(limit.stdout) == CAP_BYTES
    return server


def worst_allowed(max_response_elements: int) -> dict[str, Any]:
    """input (N) -> exp -> sum, carrying 8N + 4 numbers: the answer at its limit, long numbers."""
    n = (max_response_elements - 4) // 8
    values = np.round(np.random.default_rng(0).uniform(-20, 0, n), 2).tolist()
    nodes = [
        {"id": "x", "op": "input", "value": values},
        {"id": "e", "op": "exp", "inputs": ["x"]},
        {"id": "s", "op": "sum", "inputs": ["e"]},
    ]
    return {"nodes": nodes, "output": "s"}


def test_capped_server_refuses_the_fan_out_and_answers_the_worst_request_while_alive(
    server_factory: Callable[..., Server],
) -> None:
    """413 for issue 9's request; 200 for the worst allowed one, /healthz answering meanwhile."""
    server = capped_server(server_factory)
    client = httpx.Client(base_url=server.url, timeout=120)

    nodes: list[dict[str, Any]] = [{"id": "x", "op": "input", "value": [0] * 1_000_000}]
    nodes += [{"id": f"s{i}", "op": "sum", "inputs": ["x"]} for i in range(100)]
    r = client.post("/graphs/evaluate", json={"nodes": nodes, "output": "s0"})
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["code"] == "response_too_large"

    limit = client.get("/graphs/ops").json()["limits"]["max_response_elements"]
    body = worst_allowed(limit)
    polls: list[int] = []
    failures: list[str] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=HEALTHZ_TIMEOUT) as c:
            while not done.is_set():
                try:
                    polls.append(c.get("/healthz").status_code)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                done.wait(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        r = client.post("/graphs/evaluate", json=body)
    finally:
        done.set()
        poller.join()
    assert r.status_code == 200, r.text[:300]
    answer = r.json()
    n = len(body["nodes"][0]["value"])
    assert answer["nodes"]["e"]["shape"] == [n]
    assert len(answer["edges"][1]["value"]) == n
    expected = float(np.exp(np.array(body["nodes"][0]["value"])).sum())
    assert np.isclose(answer["output"]["value"], expected, rtol=1e-12, atol=0)
    assert not failures, failures
    assert polls and set(polls) == {200}
    assert server.proc is not None and server.proc.poll() is None, "the server died"
    assert client.get("/healthz").status_code == 200
    client.close()

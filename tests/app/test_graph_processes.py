"""Graph bodies over 128 KB are parsed, evaluated and rendered in worker processes.

The answer is the same as the server's own (small bodies), a worker past the time limit is
killed and replaced, and a body that cannot get a worker in time is a 503 with Retry-After.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from app.graphwork import PROCESS_THRESHOLD
from tests.conftest import Server

JSON = {"content-type": "application/json"}

GRAPH = {
    "nodes": [
        {"id": "x", "op": "input", "value": [[1.5, -2.0], [0.25, 3.0]]},
        {"id": "w", "op": "input", "value": [[0.5], [-1.0]]},
        {"id": "y", "op": "dot", "inputs": ["x", "w"]},
        {"id": "s", "op": "sum", "inputs": ["y"]},
    ],
    "output": "s",
}


def padded(body: bytes) -> bytes:
    """The same JSON with whitespace past the threshold: it goes to a worker process."""
    return body + b" " * (PROCESS_THRESHOLD + 1)


def test_a_worker_answers_what_the_server_answers(live_server: Server) -> None:
    small = json.dumps(GRAPH).encode()
    with httpx.Client(base_url=live_server.url, timeout=120, headers=JSON) as client:
        for path in ("/graphs/evaluate", "/graphs/export/python"):
            here = client.post(path, content=small)
            there = client.post(path, content=padded(small))
            assert here.status_code == there.status_code == 200, there.text[:300]
            assert here.content == there.content
            assert here.headers["content-type"] == there.headers["content-type"]
        bad = json.dumps({**GRAPH, "output": "nope"}).encode()
        here = client.post("/graphs/evaluate", content=bad)
        there = client.post("/graphs/evaluate", content=padded(bad))
        assert here.status_code == there.status_code == 422
        assert here.json() == there.json()
        check = json.dumps({"graph": GRAPH, "mode": "full"}).encode()
        here = client.post("/gradcheck", content=check)
        there = client.post("/gradcheck", content=padded(check))
        assert here.status_code == there.status_code == 200, there.text[:300]
        assert here.json()["passed"] is there.json()["passed"] is True
        strange = json.dumps({"graph": GRAPH, "mode": "sideways"}).encode()
        here = client.post("/gradcheck", content=strange)
        there = client.post("/gradcheck", content=padded(strange))
        assert here.status_code == there.status_code == 422
        assert here.json() == there.json()


def slow_graph() -> bytes:
    """Twelve products of 1000x1000 matrices, forward and back: far over one second."""
    square = [[0.001] * 1000 for _ in range(1000)]
    nodes: list[dict[str, Any]] = [
        {"id": "x", "op": "input", "value": square},
        {"id": "W", "op": "input", "value": square},
        {"id": "y0", "op": "dot", "inputs": ["x", "W"]},
    ]
    nodes += [{"id": f"y{i}", "op": "dot", "inputs": [f"y{i - 1}", "W"]} for i in range(1, 12)]
    nodes.append({"id": "s", "op": "sum", "inputs": ["y11"]})
    return json.dumps({"nodes": nodes, "output": "s"}).encode()


def test_a_worker_past_its_time_is_killed_and_a_waiting_body_is_told_to_retry(
    server_factory: Callable[..., Server],
) -> None:
    env = {
        "BACKPROP_LAB_PRELOAD_DATASETS": "",
        "BACKPROP_LAB_GRAPH_PROCESSES": "1",
        "BACKPROP_LAB_GRAPH_WAIT": "0",
        "BACKPROP_LAB_MAX_GRAPH_SECONDS": "1",
        "BACKPROP_LAB_MAX_TOTAL_ELEMENTS": str(20_000_000),
        "BACKPROP_LAB_MAX_RESPONSE_ELEMENTS": str(100_000_000),
        "BACKPROP_LAB_MAX_BODY_BYTES": str(50_000_000),
    }
    server = server_factory(env=env)
    quick = padded(json.dumps(GRAPH).encode())
    slow = slow_graph()
    with httpx.Client(base_url=server.url, timeout=120, headers=JSON) as client:
        # The worker is up (a new one has more time for its first body, to start).
        assert client.post("/graphs/evaluate", content=quick).status_code == 200
        answers: list[httpx.Response] = []
        hog = threading.Thread(
            target=lambda: answers.append(client.post("/graphs/evaluate", content=slow))
        )
        hog.start()
        time.sleep(1.0)
        busy = httpx.post(server.url + "/graphs/evaluate", content=quick, headers=JSON)
        hog.join()
        assert busy.status_code == 503, busy.text[:300]
        assert busy.json()["error"]["code"] == "busy"
        assert int(busy.headers["retry-after"]) >= 1
        killed = answers[0]
        assert killed.status_code == 413, killed.text[:300]
        assert killed.json()["error"]["code"] == "evaluation_time_limit"
        again = client.post("/graphs/evaluate", content=quick)
        assert again.status_code == 200, again.text[:300]
        assert again.content == client.post("/graphs/evaluate", content=json.dumps(GRAPH)).content

"""The worst POST /graphs/evaluate a client can send inside the default limits, measured.

The answer carries every node's and every edge's value and gradient, so the heaviest
request fills ``max_response_elements`` with long numbers: an input of N elements
through ``exp`` into ``sum`` carries 8N + 4 numbers. While it runs, a second client polls
GET /healthz every 20 ms. Printed: the request's time and answer size, the server's peak
RSS (VmHWM) before and after, and the /healthz latencies; then several such requests at
once (heavy evaluations run one at a time per process); then the request of issue 9
(an input of 10^6 elements feeding 100 ``sum`` nodes), which must get its 413 at once.

Usage: .venv/bin/python -m benchmarks.bench_graph_worst [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._server import serve  # noqa: E402
from engine.graph import DEFAULT_LIMITS  # noqa: E402


def worst_body(limit: int = DEFAULT_LIMITS.max_response_elements) -> dict[str, Any]:
    """input (N) -> exp -> sum with 8N + 4 <= ``limit``: long numbers, the answer at its limit."""
    n = (limit - 4) // 8
    values = np.round(np.random.default_rng(0).uniform(-20, 0, n), 2).tolist()
    return {
        "nodes": [
            {"id": "x", "op": "input", "value": values},
            {"id": "e", "op": "exp", "inputs": ["x"]},
            {"id": "s", "op": "sum", "inputs": ["e"]},
        ],
        "output": "s",
    }


def fan_out_body(k: int = 100, n: int = 1_000_000) -> dict[str, Any]:
    """Issue 9's request: one input of ``n`` elements feeding ``k`` sum nodes."""
    nodes: list[dict[str, Any]] = [{"id": "x", "op": "input", "value": [0] * n}]
    nodes += [{"id": f"s{i}", "op": "sum", "inputs": ["x"]} for i in range(k)]
    return {"nodes": nodes, "output": "s0"}


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def timed_post(url: str, body: bytes, path: str = "/graphs/evaluate") -> tuple[float, int, int]:
    """(seconds, status, answer bytes) of one POST to ``path``."""
    t0 = time.perf_counter()
    r = httpx.post(
        url + path,
        content=body,
        headers={"content-type": "application/json"},
        timeout=300,
    )
    return time.perf_counter() - t0, r.status_code, len(r.content)


def while_polling(
    url: str, body: bytes, path: str = "/graphs/evaluate"
) -> tuple[tuple[float, int, int], list[float]]:
    """POST ``body`` while another client polls /healthz; the POST's figures and the latencies."""
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            while not done.is_set():
                t0 = time.perf_counter()
                c.get("/healthz").raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = timed_post(url, body, path)
    finally:
        done.set()
        poller.join()
    return result, latencies


def main() -> int:
    """Measure and print; return 1 if the worst request failed or the fan-out was not a 413."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="times the worst request is sent")
    parser.add_argument(
        "--concurrent", type=int, default=4, help="clients sending it at once, at the end"
    )
    args = parser.parse_args()
    worst = json.dumps(worst_body()).encode()
    fan_out = json.dumps(fan_out_body()).encode()
    settings = {"BACKPROP_LAB_PRELOAD_DATASETS": "", "BACKPROP_LAB_WORKERS": "1"}
    ok = True
    with serve(settings, ["--no-access-log"], log=True) as (url, pid):
        idle = peak_rss_mb(pid)
        print(f"server idle: peak RSS {idle:.0f} MB")
        for i in range(args.repeat):
            (seconds, status, size), lat = while_polling(url, worst)
            ok &= status == 200
            print(
                f"worst request {i + 1} ({len(worst) / 1e6:.1f} MB body): {status} in "
                f"{seconds:.2f} s, answer {size / 1e6:.0f} MB; server peak RSS "
                f"{peak_rss_mb(pid):.0f} MB; /healthz {len(lat)} polls, median "
                f"{statistics.median(lat):.1f} ms, max {max(lat):.0f} ms"
            )
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrent) as pool:
            results = list(pool.map(lambda _: timed_post(url, worst), range(args.concurrent)))
        ok &= all(status == 200 for _, status, _ in results)
        print(
            f"{args.concurrent} worst requests at once: all answered in "
            f"{time.perf_counter() - t0:.2f} s; server peak RSS {peak_rss_mb(pid):.0f} MB"
        )
        seconds, status, _ = timed_post(url, fan_out)
        ok &= status == 413
        print(
            f"issue 9 fan-out ({len(fan_out) / 1e6:.1f} MB body, k = 100): {status} "
            f"in {seconds:.2f} s"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

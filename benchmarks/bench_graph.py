"""Latency and throughput of POST /graphs/evaluate for every preset, through a real uvicorn.

1. Median (and p90/p99) latency of each preset, one keep-alive client, one uvicorn worker
   (target: median < 5 ms), next to GET /healthz measured the same way as a reference.
2. Throughput with 2 uvicorn workers, measured with wrk (Debian's package) and a small Lua
   script for the POST, on 127.0.0.1 (target: >= 300 requests/s); a bounded httpx thread
   loop is used instead when wrk is not installed.

Usage: .venv/bin/python -m benchmarks.bench_graph [--requests 300] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._server import serve  # noqa: E402
from engine.graph.presets import PRESETS  # noqa: E402

LATENCY_TARGET_MS = 5.0
THROUGHPUT_TARGET = 300.0


@contextmanager
def server(workers: int) -> Iterator[str]:
    """A uvicorn server on a free loopback port, stopped (its process group) on exit."""
    # No training worker preloads MNIST while we measure; this one client sends every request,
    # so the per-client rate and connection limits a lab sets for its learners are raised.
    settings = {
        "BACKPROP_LAB_PRELOAD_DATASETS": "",
        "BACKPROP_LAB_WORKERS": "1",
        "BACKPROP_LAB_RATE_LIMIT": "1000000/minute",
        "BACKPROP_LAB_MAX_CONNECTIONS_PER_CLIENT": "2000",
    }
    args = ["--no-access-log"] + (["--workers", str(workers)] if workers > 1 else [])
    with serve(settings, args, log=True) as (url, _):
        if workers > 1:
            time.sleep(1.0)  # let every worker finish starting
        yield url


Case = tuple[str, str, str, bytes | None]


def latencies_ms(client: httpx.Client, cases: list[Case], n: int) -> dict[str, list[float]]:
    """Wall time of ``n`` requests per case, in ms, taking the cases in turn.

    Interleaving spreads any background load evenly over the cases (20 warm-up rounds first).
    """
    headers = {"content-type": "application/json"}
    times: dict[str, list[float]] = {name: [] for name, *_ in cases}
    for i in range(n + 20):
        for name, method, path, body in cases:
            t0 = time.perf_counter()
            r = client.request(method, path, content=body, headers=headers)
            elapsed = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"{method} {path} answered {r.status_code}: {r.text[:200]}")
            if i >= 20:
                times[name].append(elapsed)
    return times


def engine_ms(body: bytes, n: int = 200) -> float:
    """Median in-process time of what the endpoint does: parse, evaluate, render, encode."""
    from app.schemas_graphs import evaluation_json
    from engine.graph import check_evaluation_size, evaluate, parse_graph

    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        graph = parse_graph(json.loads(body))
        check_evaluation_size(graph)
        evaluation_json(evaluate(graph))
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def wrk_rps(url: str, method: str, body: bytes | None, seconds: int) -> float:
    """Requests per second from wrk (2 threads, 16 connections), refusing any non-2xx."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n')
        script.write('wrk.headers["Content-Type"] = "application/json"\n')
        if body is not None:
            script.write(f"wrk.body = {json.dumps(body.decode())}\n")
    try:
        cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", script.name, url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    finally:
        os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error responses:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return float(match.group(1))


def httpx_rps(url: str, method: str, body: bytes | None, seconds: int) -> float:
    """Requests per second from 8 threads with keep-alive clients, for ``seconds``."""
    stop = time.monotonic() + seconds
    counts: list[int] = []

    def worker() -> None:
        done = 0
        with httpx.Client(timeout=10) as c:
            while time.monotonic() < stop:
                r = c.request(
                    method, url, content=body, headers={"content-type": "application/json"}
                )
                r.raise_for_status()
                done += 1
        counts.append(done)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    """Measure, print the table, and return 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per preset")
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per preset")
    args = parser.parse_args()

    cases: list[Case] = [("GET /healthz", "GET", "/healthz", None)]
    cases += [(p.id, "POST", "/graphs/evaluate", json.dumps(p.graph).encode()) for p in PRESETS]

    load_before = os.getloadavg()[0]
    in_process = {name: engine_ms(body) for name, _, _, body in cases if body is not None}
    medians: dict[str, tuple[float, float, float]] = {}
    with server(workers=1) as url, httpx.Client(base_url=url, timeout=10) as client:
        for name, times in latencies_ms(client, cases, args.requests).items():
            times.sort()
            medians[name] = (
                statistics.median(times),
                _quantile(times, 0.90),
                _quantile(times, 0.99),
            )

    tool = "wrk" if shutil.which("wrk") else "httpx threads"
    rps: dict[str, float] = {}
    with server(workers=2) as url:
        for name, method, path, body in cases:
            measure = wrk_rps if tool == "wrk" else httpx_rps
            rps[name] = measure(url + path, method, body, args.seconds)

    cpu = os.cpu_count()
    load_after = os.getloadavg()[0]
    print(
        f"\nPOST /graphs/evaluate on 127.0.0.1, {cpu} CPUs, load average {load_before:.1f} "
        f"before and {load_after:.1f} after; latency: 1 worker, {args.requests} keep-alive "
        f"requests per case, cases in turn; throughput: 2 workers, {tool} -t2 -c16 "
        f"-d{args.seconds}s; engine: parse + evaluate + render + encode in this process\n"
    )
    head = (
        f"{'case':<30} {'median ms':>9} {'p90 ms':>7} {'p99 ms':>7} {'x healthz':>9} "
        f"{'req/s':>8} {'engine ms':>9}"
    )
    print(head)
    print("-" * len(head))
    base_ms = medians["GET /healthz"][0]
    ok = True
    for name, *_ in cases:
        med, p90, p99 = medians[name]
        engine = f"{in_process[name]:>9.2f}" if name in in_process else f"{'':>9}"
        print(
            f"{name:<30} {med:>9.2f} {p90:>7.2f} {p99:>7.2f} {med / base_ms:>9.2f} "
            f"{rps[name]:>8.0f} {engine}"
        )
        if name != "GET /healthz":
            ok &= med < LATENCY_TARGET_MS and rps[name] >= THROUGHPUT_TARGET
    print(
        f"\ntargets: median < {LATENCY_TARGET_MS:g} ms, >= {THROUGHPUT_TARGET:g} req/s: "
        + ("met" if ok else "MISSED")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

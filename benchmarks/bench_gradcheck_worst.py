"""The worst POST /gradcheck of a posted graph inside the default limits, measured.

A check's cost is estimated from shapes before any work (``engine.graph.check_work``:
for each checked node, its nudges times the work of everything downstream of it) and
refused over ``max_gradcheck_work``. For three kinds of graph (one input fanned out to
many ``sum`` nodes, as in issue 9; a long chain of ``tanh``; a matrix product), the
largest full check the budget admits is found and timed in one thread (as in the check
process): its time, and how many units of estimated work a second that is, the ratio
that says whether the budget keeps checks short. Then the slowest of them over HTTP on a
real server while a second client polls GET /healthz (its latencies, the check process's
peak RSS), issue 9's check (13,800 numbers into 499 sums, which must be refused at once),
and a long check abandoned by its client (the next check must not wait for it). Each
admitted check's time is also given as a fraction of the queue's worst-case estimate
(``app.checkqueue``), which must stay under 1 for the wait bound to hold.

Usage: .venv/bin/python -m benchmarks.bench_gradcheck_worst
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.checkqueue import graph_seconds  # noqa: E402
from app.settings import Settings  # noqa: E402
from benchmarks._server import serve  # noqa: E402
from benchmarks.bench_graph_worst import peak_rss_mb, timed_post, while_polling  # noqa: E402
from engine.graph import check_graph, check_work, parse_graph  # noqa: E402

BUDGET = Settings().max_gradcheck_work
SECONDS = Settings().max_gradcheck_seconds


def fan_out(n: int, k: int = 50) -> dict[str, Any]:
    """One input of ``n`` numbers read by ``k`` sum nodes."""
    nodes: list[dict[str, Any]] = [{"id": "x", "op": "input", "value": [0.5] * n}]
    nodes += [{"id": f"s{i}", "op": "sum", "inputs": ["x"]} for i in range(k)]
    return {"nodes": nodes, "output": "s0"}


def softmax_fan_out(n: int, k: int = 498) -> dict[str, Any]:
    """One input of ``n`` numbers read by ``k`` softmax nodes (issue 19: it ran 30.1 s)."""
    nodes: list[dict[str, Any]] = [{"id": "x", "op": "input", "value": [0.5] * n}]
    nodes += [{"id": f"s{i}", "op": "softmax", "inputs": ["x"]} for i in range(k)]
    nodes.append({"id": "out", "op": "sum", "inputs": ["s0"]})
    return {"nodes": nodes, "output": "out"}


def chain(n: int, depth: int = 400) -> dict[str, Any]:
    """An input of ``n`` numbers through ``depth`` tanh nodes, then a sum."""
    nodes: list[dict[str, Any]] = [{"id": "t0", "op": "input", "value": [0.1] * n}]
    nodes += [{"id": f"t{i}", "op": "tanh", "inputs": [f"t{i - 1}"]} for i in range(1, depth)]
    nodes.append({"id": "s", "op": "sum", "inputs": [f"t{depth - 1}"]})
    return {"nodes": nodes, "output": "s"}


def product(n: int) -> dict[str, Any]:
    """x (n×n) · W (n×n), summed: both inputs checked."""
    square = [[0.01 * ((i * n + j) % 7) for j in range(n)] for i in range(n)]
    return {
        "nodes": [
            {"id": "x", "op": "input", "value": square},
            {"id": "W", "op": "input", "value": square},
            {"id": "y", "op": "dot", "inputs": ["x", "W"]},
            {"id": "s", "op": "sum", "inputs": ["y"]},
        ],
        "output": "s",
    }


def largest(family: Callable[[int], dict[str, Any]]) -> tuple[int, dict[str, Any], int]:
    """The largest size whose full check the budget admits: (size, graph, estimated work)."""
    lo, hi = 1, 2
    while check_work(parse_graph(family(hi))) <= BUDGET:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if check_work(parse_graph(family(mid))) <= BUDGET:
            lo = mid
        else:
            hi = mid
    body = family(lo)
    return lo, body, check_work(parse_graph(body))


def main() -> int:
    """Measure and print; return 1 if a check did not behave."""
    ok = True
    print(f"budget max_gradcheck_work {BUDGET:,}; time limit {SECONDS} s")
    slowest: tuple[float, str, dict[str, Any]] = (0.0, "", {})
    families: tuple[tuple[str, Callable[[int], dict[str, Any]]], ...] = (
        ("fan-out to 50 sums", fan_out),
        ("fan-out to 498 softmax", softmax_fan_out),
        ("400 tanh", chain),
        ("x·W", product),
    )
    for name, family in families:
        size, body, work = largest(family)
        with threadpool_limits(1):
            t0 = time.perf_counter()
            report = check_graph(parse_graph(body), mode="full")
            seconds = time.perf_counter() - t0
        ok &= report["passed"]
        print(
            f"{name}: largest admitted size {size}, estimated work {work:,}: {seconds:.2f} s "
            f"in one thread = {work / seconds / 1e6:.0f} M units/s; "
            f"{seconds / SECONDS:.2f} of the time limit; "
            f"{seconds / graph_seconds(work):.2f} of the queue's estimate"
        )
        ok &= seconds <= SECONDS
        if seconds > slowest[0]:
            slowest = (seconds, name, body)
    settings = {"BACKPROP_LAB_PRELOAD_DATASETS": "", "BACKPROP_LAB_WORKERS": "1"}
    with serve(settings, ["--no-access-log"], log=True) as (url, pid):
        body = json.dumps({"graph": slowest[2], "mode": "full"}).encode()
        (seconds, status, _), lat = while_polling(url, body, "/gradcheck")
        ok &= status == 200
        checkers = [p for p in _children(pid) if "spawn_main" in _cmdline(p)]
        rss = max((peak_rss_mb(p) for p in checkers), default=0.0)
        print(
            f"over HTTP, {slowest[1]}: {status} in {seconds:.2f} s; check process peak RSS "
            f"{rss:.0f} MB, server {peak_rss_mb(pid):.0f} MB; /healthz {len(lat)} polls, "
            f"median {statistics.median(lat):.1f} ms, max {max(lat):.0f} ms"
        )
        issue = json.dumps({"graph": _issue_graph(), "mode": "full"}).encode()
        seconds, status, _ = timed_post(url, issue, "/gradcheck")
        ok &= status == 413
        print(f"issue 9's check (13,800 numbers into 499 sums, full): {status} in {seconds:.2f} s")
        with_time = {"graph": slowest[2], "mode": "full"}
        with contextlib.suppress(httpx.ReadTimeout):
            httpx.post(url + "/gradcheck", json=with_time, timeout=1.0)
        small = json.dumps({"graph": fan_out(10, 2), "mode": "full"}).encode()
        seconds, status, _ = timed_post(url, small, "/gradcheck")
        ok &= status == 200
        print(
            f"a small check right after a client abandoned a long one: {status} in {seconds:.2f} s"
        )
    return 0 if ok else 1


def _issue_graph() -> dict[str, Any]:
    return fan_out(13_800, 499)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


if __name__ == "__main__":
    raise SystemExit(main())

"""The worst request a hostile client can craft inside the default limits, measured.

Starts a real server with the default limits, sends each candidate body once (the shapes
of issue 19: millions of empty lists where a string or a number is wanted, unknown keys,
8 MB of numbers in a graph, ...) while a second client polls GET /healthz every 50 ms, and
prints each one's time, answer, the server's peak RSS (VmHWM) and the /healthz p99 and max.
Then the worst of them (by /healthz max), and the worst graph body, are each looped by 2
clients for ``--seconds`` (30), with the rate limit lifted so that every request is served.
Targets: /healthz p99 < 100 ms and max < 500 ms; server RSS < 1 GB (its child processes'
peaks, graph workers included, are printed too).

Usage: .venv/bin/python -m benchmarks.bench_hostile [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._server import Poller, serve  # noqa: E402

LIMIT = 8_000_000
JSON = {"content-type": "application/json"}


def empty_lists(key: str, wrap: Callable[[bytes], bytes] = lambda b: b) -> bytes:
    """``{key: [[],[],…]}`` (inside ``wrap``) just under the body limit."""
    head = b'{"' + key.encode() + b'":['
    room = LIMIT - 200 - len(wrap(b""))
    count = (room - len(head) - 2) // 3
    return wrap(head + b"[]," * (count - 1) + b"[]]}")


def numbers(count: int, per: int) -> bytes:
    """A graph of ``count // per`` input nodes of ``per`` zeros each, summed: legal, heavy."""
    nodes = [
        f'{{"id":"x{i}","op":"input","value":[{",".join(["0"] * per)}]}}'
        for i in range(count // per)
    ]
    nodes.append('{"id":"s","op":"sum","inputs":["x0"]}')
    return ('{"nodes":[' + ",".join(nodes) + '],"output":"s"}').encode()


def outer_product(n: int) -> bytes:
    """A 20 KB body whose answer is large: (n x 1) . (1 x n), summed (about 4n² numbers)."""
    col = [[0.123456789 + i] for i in range(n)]
    row = [[0.987654321 + i for i in range(n)]]
    nodes = [
        {"id": "a", "op": "input", "value": col},
        {"id": "b", "op": "input", "value": row},
        {"id": "y", "op": "dot", "inputs": ["a", "b"]},
        {"id": "s", "op": "sum", "inputs": ["y"]},
    ]
    return json.dumps({"nodes": nodes, "output": "s"}).encode()


CANDIDATES: list[tuple[str, str, str, Callable[[], bytes]]] = [
    ("rename: name = [[],…]", "PATCH", "/train/{run}", lambda: empty_lists("name")),
    ("train: pad = [[],…]", "POST", "/train", lambda: empty_lists("pad")),
    ("predict: image = [[],…]", "POST", "/runs/{run}/predict", lambda: empty_lists("image")),
    ("gradcheck: dataset = [[],…]", "POST", "/gradcheck", lambda: empty_lists("dataset")),
    (
        "gradcheck: graph.nodes = [[],…]",
        "POST",
        "/gradcheck",
        lambda: empty_lists("nodes", lambda b: b'{"graph":' + b + b"}"),
    ),
    ("evaluate: nodes = [[],…]", "POST", "/graphs/evaluate", lambda: empty_lists("nodes")),
    ("evaluate: pad = [[],…]", "POST", "/graphs/evaluate", lambda: empty_lists("pad")),
    ("export: output = [[],…]", "POST", "/graphs/export/python", lambda: empty_lists("output")),
    (
        "evaluate: 3.9 M zeros in 4 inputs",
        "POST",
        "/graphs/evaluate",
        lambda: numbers(3_900_000, 975_000),
    ),
    (
        "evaluate: 1000x1 . 1x1000 (big answer)",
        "POST",
        "/graphs/evaluate",
        lambda: outer_product(1000),
    ),
]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children_peak_mb(pid: int) -> str:
    """The peak RSS of the server's child processes (graph, check and training workers)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    peaks = [peak_rss_mb(k) for k in kids if Path(f"/proc/{k}").exists()]
    shown = ", ".join(f"{p:.0f}" for p in sorted(peaks, reverse=True))
    return f"children peak RSS [{shown}] MB"


def main() -> None:
    """Measure every candidate once, then loop the worst with two clients."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    # NOTE: the rate limit (60/minute on these routes) would answer most looped requests 429
    # at once; it is lifted so that the loop measures the work itself.
    env = {"BACKPROP_LAB_WORKERS": "1", "BACKPROP_LAB_RATE_LIMIT": "100000/minute"}
    with serve(env, log=True) as (url, pid):
        run = "0123456789abcdef"  # no such run: the body is refused before the run is looked up
        print(f"server pid {pid}, peak RSS at start {peak_rss_mb(pid):.0f} MB\n")
        worst: tuple[float, str, str, str, bytes] | None = None
        worst_graph: tuple[float, str, str, str, bytes] | None = None
        for name, method, path, make in CANDIDATES:
            body = make()
            assert len(body) <= LIMIT, (name, len(body))
            with Poller(url, timeout=60) as poller, httpx.Client(timeout=120) as client:
                time.sleep(0.3)
                start = time.perf_counter()
                r = client.request(method, url + path.format(run=run), content=body, headers=JSON)
                took = time.perf_counter() - start
                time.sleep(0.3)
            code = r.json().get("error", {}).get("code", "ok") if r.content[:1] == b"{" else "ok"
            print(f"{name:36s} {len(body) / 1e6:4.1f} MB -> {r.status_code} {code:18s} "
                  f"{len(r.content):7d} B in {took:5.2f} s; {poller.summary()}; "
                  f"peak RSS {peak_rss_mb(pid):.0f} MB; {children_peak_mb(pid)}")  # fmt: skip
            seen = (max(poller.latencies), name, method, path.format(run=run), body)
            if worst is None or seen[0] > worst[0]:
                worst = seen
            graph = "graph" in name or path.startswith("/graphs")
            if graph and (worst_graph is None or seen[0] > worst_graph[0]):
                worst_graph = seen
        assert worst is not None and worst_graph is not None
        for kind, chosen in (("worst", worst), ("worst graph body", worst_graph)):
            loop_two(url, pid, kind, chosen, args.seconds)


def loop_two(
    url: str, pid: int, kind: str, chosen: tuple[float, str, str, str, bytes], seconds: float
) -> None:
    """Two clients looping one body for ``seconds`` while /healthz is polled."""
    _, name, method, path, body = chosen
    print(f"\n{kind}: {name}; 2 clients looping it for {seconds:.0f} s")
    stop = threading.Event()
    answers: list[float] = []
    statuses: Counter[int] = Counter()

    def loop() -> None:
        with httpx.Client(timeout=120) as client:
            while not stop.is_set():
                start = time.perf_counter()
                r = client.request(method, url + path, content=body, headers=JSON)
                statuses[r.status_code] += 1
                answers.append(time.perf_counter() - start)

    clients = [threading.Thread(target=loop) for _ in range(2)]
    with Poller(url, timeout=60) as poller:
        for c in clients:
            c.start()
        time.sleep(seconds)
        stop.set()
        for c in clients:
            c.join()
    print(f"{len(answers)} requests {dict(statuses)}, median {statistics.median(answers):.2f} s; "
          f"{poller.summary()}; peak RSS {peak_rss_mb(pid):.0f} MB; "
          f"{children_peak_mb(pid)}")  # fmt: skip


if __name__ == "__main__":
    main()

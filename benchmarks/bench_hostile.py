"""The worst request a hostile client can craft inside the default limits, measured.

Starts a real server with the default limits, sends each candidate body once (the shapes
of issue 19: millions of empty lists where a string or a number is wanted, unknown keys,
8 MB of numbers in a graph, ...) while a second client polls GET /healthz every 50 ms, and
prints each one's time, answer, the server's peak RSS (VmHWM) and the /healthz p99 and max.
Then the worst of them (by /healthz max) is looped by 2 clients for ``--seconds`` (30).
Targets: /healthz p99 < 100 ms and max < 500 ms; server RSS < 1 GB.

Usage: .venv/bin/python -m benchmarks.bench_hostile [--seconds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
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
]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    """Measure every candidate once, then loop the worst with two clients."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with serve({"BACKPROP_LAB_WORKERS": "1"}, log=True) as (url, pid):
        run = "0123456789abcdef"  # no such run: the body is refused before the run is looked up
        print(f"server pid {pid}, peak RSS at start {peak_rss_mb(pid):.0f} MB\n")
        worst: tuple[float, str, str, str, bytes] | None = None
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
                  f"peak RSS {peak_rss_mb(pid):.0f} MB")  # fmt: skip
            if worst is None or max(poller.latencies) > worst[0]:
                worst = (max(poller.latencies), name, method, path.format(run=run), body)
        assert worst is not None
        _, name, method, path, body = worst
        print(f"\nworst: {name}; 2 clients looping it for {args.seconds:.0f} s")
        stop = threading.Event()
        answers: list[float] = []

        def loop() -> None:
            with httpx.Client(timeout=120) as client:
                while not stop.is_set():
                    start = time.perf_counter()
                    client.request(method, url + path, content=body, headers=JSON)
                    answers.append(time.perf_counter() - start)

        clients = [threading.Thread(target=loop) for _ in range(2)]
        with Poller(url, timeout=60) as poller:
            for c in clients:
                c.start()
            time.sleep(args.seconds)
            stop.set()
            for c in clients:
                c.join()
        print(f"{len(answers)} requests, median {statistics.median(answers):.2f} s; "
              f"{poller.summary()}; peak RSS {peak_rss_mb(pid):.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()

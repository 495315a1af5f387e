"""What a client that holds connections (or floods insights) costs a real server, at defaults.

1. 300 uploads of 7,989,999 of 7,990,000 body bytes, stalled (issue 19 saw 2.56 GB pinned):
   how many are refused (per-address cap, bytes-in-flight cap), the server's peak RSS, and
   /healthz latency from a second address polling every 50 ms meanwhile.
2. 1,000 connections with half a request head, stalled: how many are refused at once and how
   long until the server has closed the rest (the header timeout).
3. 24 concurrent GET /runs/{id}/confusion on a hidden-2048 run (it killed the server before):
   statuses, time, peak RSS, /healthz latency. Needs the digits (MNIST_DIR or the subset).

Usage: .venv/bin/python -m benchmarks.bench_held_connections
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._server import serve  # noqa: E402
from benchmarks.bench_graph_worst import peak_rss_mb  # noqa: E402

BODY = 7_990_000


def rss_mb(pid: int) -> float:
    """The process's resident memory now, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def polling(url: str) -> Iterator[list[float]]:
    """/healthz from 127.0.0.2 every 50 ms while the block runs; the latencies in ms."""
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=url, timeout=60, transport=transport) as c:
            while not done.is_set():
                t0 = time.perf_counter()
                c.get("/healthz").raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        yield latencies
    finally:
        done.set()
        poller.join()


def summary(latencies: list[float]) -> str:
    """Median, p99 and max of latencies in ms."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"/healthz {len(ordered)} polls: median {statistics.median(ordered):.1f} ms, "
        f"p99 {p99:.0f} ms, max {ordered[-1]:.0f} ms"
    )


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port))


def stalled_uploads(url: str, pid: int) -> None:
    port = int(url.rsplit(":", 1)[1])
    head = (
        f"POST /graphs/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {BODY}\r\n\r\n"
    ).encode()
    body = b" " * (BODY - 1)
    idle = rss_mb(pid)
    socks, outcome = [], Counter[str]()
    t0 = time.perf_counter()
    with polling(url) as latencies:
        for _ in range(300):
            sock = connect(port)
            socks.append(sock)
            try:
                sock.sendall(head + body)
                outcome["held"] += 1
            except OSError:
                outcome["refused"] += 1
        time.sleep(2)
        held_rss = rss_mb(pid)
    for sock in socks:
        sock.close()
    print(
        f"300 stalled near-limit uploads: {dict(outcome)} in {time.perf_counter() - t0:.1f} s; "
        f"server RSS idle {idle:.0f} MB, while held {held_rss:.0f} MB, peak {peak_rss_mb(pid):.0f}"
        f" MB; {summary(latencies)}"
    )


def half_heads(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    socks = []
    for _ in range(1000):
        sock = connect(port)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        socks.append(sock)
    t0 = time.perf_counter()
    answers = Counter[str]()
    closed_by = 0.0
    for sock in socks:
        sock.settimeout(120)
        data = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                data += chunk
        answers[data[:12].decode(errors="replace") or "closed"] += 1
        closed_by = max(closed_by, time.perf_counter() - t0)
        sock.close()
    print(
        f"1,000 half-sent request heads: answers {dict(answers)}; all closed by the server "
        f"within {closed_by:.1f} s"
    )


def confusion_flood(url: str, pid: int) -> None:
    config = {"iterations": 2, "hidden_size": 2048, "batch_size": 10}
    run_id = httpx.post(url + "/train", json=config).json()["id"]
    deadline = time.monotonic() + 300
    while httpx.get(f"{url}/train/{run_id}").json()["status"] not in ("completed", "failed"):
        if time.monotonic() > deadline:
            raise RuntimeError("the run did not finish")
        time.sleep(0.2)
    get: Callable[[int], httpx.Response] = lambda _: httpx.get(  # noqa: E731
        f"{url}/runs/{run_id}/confusion", timeout=300
    )
    t0 = time.perf_counter()
    with polling(url) as latencies, ThreadPoolExecutor(24) as pool:
        statuses = Counter(r.status_code for r in pool.map(get, range(24)))
    print(
        f"24 concurrent confusion matrices of a hidden-2048 run: {dict(statuses)} in "
        f"{time.perf_counter() - t0:.1f} s; server peak RSS {peak_rss_mb(pid):.0f} MB, alive: "
        f"{httpx.get(url + '/healthz').status_code == 200}; {summary(latencies)}"
    )


def main() -> int:
    """Measure and print."""
    settings = {"BACKPROP_LAB_PRELOAD_DATASETS": "", "BACKPROP_LAB_WORKERS": "1"}
    with serve(settings, ["--no-access-log"], log=True) as (url, pid):
        stalled_uploads(url, pid)
    with serve(settings, ["--no-access-log"], log=True) as (url, _):
        half_heads(url)
    with serve(settings, ["--no-access-log"], log=True) as (url, pid):
        confusion_flood(url, pid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

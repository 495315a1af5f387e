"""A real uvicorn server for the benchmarks (free port, fresh data directory); a /healthz poller."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


#: This one process plays every learner: the per-client limits a lab sets for its learners
#: (runs, requests, streams, connections) are raised for it.
ONE_CLIENT = {
    "BACKPROP_LAB_MAX_ACTIVE_RUNS_PER_CLIENT": "100",
    "BACKPROP_LAB_RATE_LIMIT": "100000/minute",
    "BACKPROP_LAB_MAX_STREAMS_PER_CLIENT": "200",
    "BACKPROP_LAB_MAX_CONNECTIONS_PER_CLIENT": "2000",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    settings: dict[str, str], uvicorn_args: Sequence[str] = (), log: bool = False
) -> Iterator[tuple[str, int]]:
    """Start the app with BACKPROP_LAB_* ``settings``; yield (url, pid); stop its process group.

    With ``log`` the server's output goes to a file in its data directory, not the terminal.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "BACKPROP_LAB_DATA_DIR": data, **settings}
        cmd = [sys.executable, "-m", "app.serve", "app.main:app", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--log-level", "warning", *uvicorn_args]
        out = open(Path(data) / "server.log", "wb") if log else None  # noqa: SIM115 (closed below)
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT if log else None,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("the server exited before answering /healthz")
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not answer /healthz within 60 s")
                time.sleep(0.1)
            yield url, proc.pid
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            if out is not None:
                out.close()


class Poller:
    """A second client asking ``/healthz`` every 50 ms; its latencies in seconds."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        self.url = url
        self.timeout = timeout
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                start = time.perf_counter()
                try:
                    ok = client.get(self.url + "/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies.append(time.perf_counter() - start)
                self.failures += not ok
                self._stop.wait(0.05)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def worst(self) -> float:
        """The slowest /healthz answer seen."""
        return max(self.latencies)

    def summary(self) -> str:
        """p50, p99 and max in ms, and the count."""
        lat = sorted(self.latencies)
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        return (
            f"healthz p50 {statistics.median(lat) * 1e3:6.0f} ms  p99 {p99 * 1e3:6.0f} ms  "
            f"max {lat[-1] * 1e3:6.0f} ms  ({len(lat)} polls, {self.failures} failed)"
        )

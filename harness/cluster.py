"""Real PostgreSQL, Redis and Celery workers on loopback, for the cluster tests and bench-scale.

Each is a process of its own on a free port, started and stopped as a machine's
service would be: PostgreSQL from Debian's binaries in a temporary cluster (run
as the ``postgres`` user when the tests run as root), ``redis-server`` with an
append-only file (so a restart keeps its queue), and ``python -m app.worker``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.processes import ProcessGroup

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: object, what: str, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not come up in {timeout} s\n{tail}")


class Postgres:
    """A throwaway PostgreSQL 15 cluster in a temporary directory.

    ``fsync=False`` (the tests) turns off fsync, synchronous commit and full-page writes;
    ``True`` keeps PostgreSQL's defaults, as a deployment runs it.
    """

    def __init__(self, fsync: bool = False) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(
                "The cluster tests need PostgreSQL 15's server: apt-get install -y postgresql-15"
            )
        self.fsync = fsync
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="backprop-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._as_user([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "lab"])
        self.url = f"postgresql://lab@127.0.0.1:{self.port}/lab"

    def _as_user(self, cmd: list[str]) -> None:
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.root)

    def start(self) -> Postgres:
        """Start the server and wait until it accepts connections (creating the database once)."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
        options += "-c max_connections=300"
        if not self.fsync:  # a throwaway cluster need not survive a power cut: faster tests
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options]
        self._as_user([*pg_ctl, "-l", str(self.log), "-w", "-t", "60", "start"])
        import psycopg

        admin = f"postgresql://lab@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'lab'").fetchone():
                conn.execute("CREATE DATABASE lab")
        return self

    def create_database(self, name: str) -> str:
        """A new empty database on this server; returns its URL."""
        import psycopg

        admin = f"postgresql://lab@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://lab@127.0.0.1:{self.port}/{name}"

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` ends open connections, as a service manager does)."""
        if (self.data / "postmaster.pid").exists():
            self._as_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def remove(self) -> None:
        """Stop and delete the cluster."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A redis-server on a free port that keeps its data in an append-only file."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("The cluster tests need Redis: apt-get install -y redis-server")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="backprop-redis-"))
        self.log = self.root / "redis.log"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Redis:
        """Start it and wait until it answers PING."""
        import redis

        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--dir", str(self.root), "--appendonly", "yes", "--appendfsync", "always"]
        cmd += ["--save", "", "--logfile", str(self.log)]
        self.proc = subprocess.Popen(cmd, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        _wait(up, "redis-server", 20, self.log)
        client.close()
        return self

    def stop(self) -> None:
        """Stop it as a service manager does (SIGTERM); its queue is kept on disk."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def lose_data(self) -> None:
        """Stop it, delete what it kept on disk, and start it again empty."""
        self.stop()
        for path in self.root.iterdir():
            if path != self.log:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.start()

    def remove(self) -> None:
        """Stop it and delete its files."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


class Worker(ProcessGroup):
    """``python -m app.worker``: a Celery worker node with its pool of training processes.

    ``kill`` is a whole node lost (its main process and its pool); ``stop`` is Celery's warm
    shutdown (SIGTERM).
    """

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 1) -> None:
        self.env = {**os.environ, **env, "BACKPROP_LAB_WORKERS": str(concurrency)}
        self.concurrency = concurrency
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Worker:
        """Start it and wait until each of its training processes has loaded its datasets."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.worker"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.log.read_text()[-3000:]}")
            return self.log.read_bytes()[offset:].count(b"training process ") >= self.concurrency

        _wait(ready, "the Celery worker", timeout, self.log)
        return self

    def pool(self) -> list[int]:
        """Pids of the processes that train (the pool's children of the worker's main process)."""
        assert self.proc is not None
        pid = self.proc.pid
        tasks = Path(f"/proc/{pid}/task")
        return sorted(int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split())

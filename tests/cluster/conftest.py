"""The cluster's parts for each test: one PostgreSQL and one Redis for the package, and per test
a fresh database, its own queue, and the servers and workers it starts (all stopped after)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster import Postgres, Redis, Worker
from tests.conftest import Digits, Server

_names = itertools.count(1)


@pytest.fixture(scope="package")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL 15 server for the cluster tests."""
    pg = Postgres().start()
    yield pg
    pg.remove()


@pytest.fixture(scope="package")
def redis_server() -> Iterator[Redis]:
    """A redis-server (append-only) for the cluster tests."""
    r = Redis().start()
    yield r
    r.remove()


class Cluster:
    """Servers and workers sharing one database and one queue; everything stopped at the end."""

    def __init__(self, pg: Postgres, redis: Redis, root: Path, digits: Digits) -> None:
        n = next(_names)
        self.pg, self.redis, self.root = pg, redis, root
        self.database_url = pg.create_database(f"lab_{n}")
        self.env = {
            **digits.env,
            "BACKPROP_LAB_DATABASE_URL": self.database_url,
            "BACKPROP_LAB_BROKER_URL": redis.url,
            "BACKPROP_LAB_EXECUTOR": "celery",
            "BACKPROP_LAB_QUEUE": f"test-{n}",
            "BACKPROP_LAB_HEARTBEAT_INTERVAL": "0.5",
            "BACKPROP_LAB_PROGRESS_INTERVAL": "0.1",
            "BACKPROP_LAB_MAX_ACTIVE_RUNS": "50",
        }
        self.servers: list[Server] = []
        self.workers: list[Worker] = []

    def server(self, workers: int = 1, **env: str) -> Server:
        """Start an API server of the cluster."""
        data = self.root / f"server-{len(self.servers)}"
        server = Server(data, {**self.env, **env}, workers).start()
        self.servers.append(server)
        return server

    def worker(self, concurrency: int = 1, **env: str) -> Worker:
        """Start a worker node (``python -m app.worker``) of ``concurrency`` processes."""
        log = self.root / f"worker-{len(self.workers)}.log"
        env = {**self.env, "BACKPROP_LAB_DATA_DIR": str(self.root / "worker-data"), **env}
        worker = Worker(env, log, concurrency).start()
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        """Stop every worker and server this cluster started."""
        for worker in self.workers:
            worker.kill()
        for server in self.servers:
            server.kill()


@pytest.fixture
def cluster(
    postgres: Postgres, redis_server: Redis, tmp_path: Path, digits: Digits
) -> Iterator[Cluster]:
    """A fresh cluster on the package's PostgreSQL and Redis."""
    c = Cluster(postgres, redis_server, tmp_path, digits)
    yield c
    c.close()

"""Limits for a class, across machines: one set of lab-wide settings in the database, and runs
routed to a short or a long queue by their expected cost (real PostgreSQL, Redis, Celery)."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.app.sse_client import stream
from tests.cluster.conftest import Cluster
from tests.cluster.test_cluster import get, start
from tests.conftest import ROOT, TEST_ENV


def test_a_server_or_worker_that_disagrees_on_a_lab_setting_refuses_naming_both_values(
    cluster: Cluster,
) -> None:
    a = cluster.server()  # the first records the lab's settings (MAX_ACTIVE_RUNS 50)
    with pytest.raises(RuntimeError) as refused:
        cluster.server(BACKPROP_LAB_MAX_ACTIVE_RUNS="40")
    said = str(refused.value)
    assert "BACKPROP_LAB_MAX_ACTIVE_RUNS is 40 here but 50 for the lab" in said
    assert "python -m app.labsettings --adopt" in said
    with pytest.raises(RuntimeError) as refused:
        cluster.worker(BACKPROP_LAB_RUN_ATTEMPTS="3")
    assert "BACKPROP_LAB_RUN_ATTEMPTS is 3 here but 2 for the lab" in str(refused.value)
    # the operator changes the lab's value on purpose; then a server with it starts
    env = {**os.environ, **TEST_ENV, **cluster.env, "BACKPROP_LAB_MAX_ACTIVE_RUNS": "40"}
    out = subprocess.run(
        [sys.executable, "-m", "app.labsettings", "--adopt"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "BACKPROP_LAB_MAX_ACTIVE_RUNS=40" in out
    b = cluster.server(BACKPROP_LAB_MAX_ACTIVE_RUNS="40")
    assert httpx.get(f"{b.url}/healthz").status_code == 200
    assert httpx.get(f"{a.url}/healthz").status_code == 200  # a running server is left alone


def test_long_runs_wait_in_their_own_queue_for_a_worker_that_takes_them(
    cluster: Cluster,
) -> None:
    cost = {"BACKPROP_LAB_LONG_RUN_COST": "1000000"}  # iterations × batch × hidden
    cluster.worker(BACKPROP_LAB_WORKER_QUEUES="short", **cost)
    a = cluster.server(**cost)
    long_run = start(a, iterations=400, batch_size=100, hidden_size=50)  # 2,000,000: long
    short = [start(a, iterations=100, batch_size=100, hidden_size=50) for _ in range(2)]
    assert get(a, long_run)["queue_position"] == 0  # behind no short run
    for run_id in short:
        assert stream(a.url, run_id)[-1].data["status"] == "completed"
    # the short-only worker took the later short runs and left the long one waiting
    assert get(a, long_run)["status"] == "queued"
    cluster.worker(BACKPROP_LAB_WORKER_QUEUES="long", **cost)
    assert stream(a.url, long_run)[-1].data["status"] == "completed"

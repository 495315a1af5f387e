"""Operating the lab on real PostgreSQL, Redis, uvicorn and Celery: readiness, metrics, logs,
start-up without the database or the dataset."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.settings import Settings
from app.training.celery import TASK, make_celery
from app.training.store import RunStore
from harness.cluster import ROOT, free_port
from tests.app.sse_client import Event, iter_events, read_until, stream
from tests.cluster.conftest import Cluster
from tests.cluster.test_cluster import get, start, wait_for
from tests.conftest import OPERATOR
from tests.observability import LINE, samples


def names(text: str) -> set[str]:
    """The sample names of a Prometheus answer."""
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def text_lines(log: Path) -> list[re.Match[str]]:
    """The log's lines that start an event, parsed (time, level, logger, fields, message)."""
    found = []
    for line in log.read_text().splitlines():
        if line.startswith(" ") or not line.strip():
            continue  # a traceback's continuation
        m = LINE.match(line)
        assert m, f"a log line without time, level and logger: {line!r}"
        datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        found.append(m)
    return found


def test_no_worker_makes_the_lab_unready_and_the_queued_run_says_so(cluster: Cluster) -> None:
    a = cluster.server(BACKPROP_LAB_HEARTBEAT_TIMEOUT="2", BACKPROP_LAB_SSE_PING_INTERVAL="0.5")
    assert httpx.get(f"{a.url}/readyz").status_code == 200  # nothing waits: nothing is missing
    run_id = start(a, iterations=200)
    assert httpx.get(f"{a.url}/healthz").json() == {"status": "ok"}

    def unready() -> dict[str, Any] | None:
        r = httpx.get(f"{a.url}/readyz")
        return r.json() if r.status_code == 503 else None

    body = wait_for(unready, "readiness names the workers", 20)
    assert body["error"]["details"]["down"] == ["workers"]
    assert body["error"]["code"] == "workers_unavailable"
    assert body["parts"]["database"] == "ok" and body["parts"]["broker"] == "ok"
    run = get(a, run_id)
    assert run["status"] == "queued" and run["no_worker"] is True
    assert "No worker" in run["message"]
    # the stream opens with the run's place (``queued``), then says no worker lives at each
    # ping (``no_worker``): neither has an id, as neither is part of the run's log
    seen: list[Event] = []
    with httpx.stream("GET", f"{a.url}/train/{run_id}/events", timeout=30) as r:
        for ev in iter_events(r, unstored=True):
            seen.append(ev)
            if ev.event == "no_worker":
                break
    assert [e.event for e in seen] == ["queued", "no_worker"], seen
    assert seen[0].data == {"queue_position": 0}
    assert all(e.id is None for e in seen)
    assert "No worker" in seen[-1].data["message"]
    assert seen[-1].data["queue_position"] == 0
    cluster.worker()
    assert stream(a.url, run_id)[-1].data["status"] == "completed"
    wait_for(lambda: httpx.get(f"{a.url}/readyz").status_code == 200, "ready again", 20)
    assert get(a, run_id)["no_worker"] is False


def test_metrics_of_servers_and_workers_name_every_metric_the_dashboard_uses(
    cluster: Cluster,
) -> None:
    port = free_port()
    cluster.worker(BACKPROP_LAB_METRICS_PORT=str(port))
    a, b = cluster.server(), cluster.server()
    before = samples(httpx.get(f"{a.url}/metrics").text)
    for _ in range(3):
        assert httpx.get(f"{a.url}/train/no-such-run").status_code == 404
    # NOTE: long enough to still train after a beat or two: a warmed-up worker ran 3,000
    # iterations in about a second (CI scraped a finished run, and no live worker).
    run_id = start(b, iterations=20_000)
    wait_for(lambda: get(a, run_id)["status"] == "running", "the run trains")
    time.sleep(1)  # a beat or two
    training = samples(httpx.get(f"{b.url}/metrics").text)
    assert get(a, run_id)["status"] == "running", "the run ended before the scrape"
    assert training["backprop_lab_live_workers{}"] == 1
    assert training["backprop_lab_runs{status=running}"] == 1
    assert training["backprop_lab_stale_beats{}"] == 0
    log = stream(a.url, run_id)
    assert log[-1].data["status"] == "completed"
    server_text = httpx.get(f"{a.url}/metrics").text
    after = samples(server_text)
    key = "backprop_lab_http_requests_total{method=GET,route=/train/{run_id},status=404}"
    assert after[key] - before.get(key, 0) == 3  # by route template, not by raw path
    assert not any("no-such-run" in k for k in after)
    # the lab's facts come from the database: server A reports B's run
    assert after["backprop_lab_runs{status=completed}"] == 1
    assert after["backprop_lab_queue_depth{}"] == 0
    worker_text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    worker = samples(worker_text)
    written = sum(v for k, v in worker.items() if k.startswith("backprop_lab_events_written_total"))
    assert written == len(log) - 1  # the worker wrote every event but the claim's "running"...
    assert worker["backprop_lab_worker_runs_finished_total{status=completed}"] == 1
    dashboard = (ROOT / "deploy" / "grafana-dashboard.json").read_text()
    exprs = [t["expr"] for p in json.loads(dashboard)["panels"] for t in p["targets"]]
    used = {n for e in exprs for n in re.findall(r"\b(backprop_lab_\w+)", e)}
    assert used, "the dashboard queries the lab's metrics"
    missing = used - names(server_text) - names(worker_text)
    assert not missing, f"the dashboard uses metrics nobody exports: {missing}"


def test_worker_logs_are_timestamped_with_run_ids_and_a_failed_run_is_a_failed_task(
    cluster: Cluster,
) -> None:
    worker = cluster.worker(BACKPROP_LAB_LOG_FORMAT="json")
    a = cluster.server()
    good = start(a, iterations=100)
    assert stream(a.url, good)[-1].data["status"] == "completed"
    settings = Settings(
        database_url=cluster.database_url,
        broker_url=cluster.redis.url,
        queue=cluster.env["BACKPROP_LAB_QUEUE"],
    )
    store = RunStore(settings.database())
    bad = "badconfig0000001"
    store.create_run(bad, {"iterations": "many", "seed": 1})  # the trainer cannot use it
    celery = make_celery(settings)
    celery.send_task(TASK, args=[bad], queue=settings.queue, task_id=bad)
    celery.close()
    assert stream(a.url, bad)[-1].data["status"] == "failed"
    store.close()
    lines = []
    wait_for(
        lambda: f'"{bad}' in worker.log.read_text() and "failed" in worker.log.read_text(),
        "logged",
        20,
    )
    time.sleep(0.5)
    for raw in worker.log.read_text().splitlines():
        line = json.loads(raw)  # every line is one JSON object
        datetime.fromisoformat(line["time"].replace("Z", "+00:00"))
        assert line["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        lines.append(line)
    about_bad = [ln for ln in lines if ln.get("run_id") == bad]
    assert any(ln["logger"] == "celery.app.trace" and ln["level"] == "ERROR" for ln in about_bad)
    assert not any("succeeded" in ln["message"] for ln in about_bad)
    about_good = [ln for ln in lines if ln.get("run_id") == good]
    assert any("succeeded" in ln["message"] for ln in about_good)
    assert all(ln.get("worker") for ln in about_good if ln["logger"].startswith("backprop_lab"))


def test_a_server_started_while_postgres_is_down_waits_and_a_worker_warns(
    cluster: Cluster,
) -> None:
    worker = cluster.worker()
    cluster.pg.stop()
    try:
        a = cluster.server()  # answers /healthz at once, with no database
        body = httpx.get(f"{a.url}/readyz").json()
        assert body["error"]["details"]["down"] == ["database"]
        refused = httpx.post(f"{a.url}/train", json={"iterations": 100})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "database_unavailable"
        time.sleep(5)  # two retries at least
        assert a.proc is not None and a.proc.poll() is None
    finally:
        cluster.pg.start()
    wait_for(lambda: httpx.get(f"{a.url}/readyz").status_code == 200, "A starts", 30)
    assert stream(a.url, start(a, iterations=100))[-1].data["status"] == "completed"
    server_log = text_lines(a.log)
    waiting = [m for m in server_log if "does not answer" in m.group(5)]
    assert len(waiting) == 1 and waiting[0].group(2) == "WARNING"  # once a minute, not a flood
    assert "Traceback" not in a.log.read_text()
    assert any("answers again" in m.group(5) for m in server_log)
    del worker


def test_a_worker_or_celery_server_without_the_lab_dataset_refuses_to_start(
    cluster: Cluster, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        **os.environ,
        **cluster.env,
        "MNIST_DIR": str(empty),
        "BACKPROP_LAB_CACHE_DIR": str(empty),
        "BACKPROP_LAB_OFFLINE": "1",
        "BACKPROP_LAB_DATA_DIR": str(tmp_path / "data"),
        "BACKPROP_LAB_DEFAULT_DATASET": "mnist",  # the lab's dataset, which this machine lacks
    }

    def refused(*args: str) -> str:
        """Run ``python -m args`` with that environment; check it failed, its output."""
        done = subprocess.run(
            [sys.executable, "-m", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        assert "Traceback" not in done.stdout + done.stderr
        return done.stdout + done.stderr

    out = refused("app.worker")
    assert "MNIST" in out and str(empty) in out and "does not start" in out
    out = refused("uvicorn", "app.main:app", "--port", str(free_port()))
    assert "MNIST" in out and str(empty) in out


def test_runs_start_in_the_order_their_queue_positions_told(cluster: Cluster) -> None:
    """A burst of 30 runs through two servers at once: the worker starts them in queue order."""
    cluster.worker(concurrency=1)
    a, b = cluster.server(), cluster.server()
    busy = start(a, iterations=100_000)
    wait_for(lambda: get(a, busy)["status"] == "running", "the worker is busy")
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: start((a, b)[i % 2], iterations=20), range(30)))
    told = {r: get(b, r)["queue_position"] for r in ids}
    assert sorted(told.values()) == list(range(30))
    assert httpx.delete(f"{a.url}/train/{busy}", headers=OPERATOR).status_code == 202
    for r in ids:
        assert stream(a.url, r)[-1].data["status"] == "completed"
    started = sorted(ids, key=lambda r: get(a, r)["started_at"])
    assert started == sorted(ids, key=lambda r: told[r])  # no inversion


def test_a_killed_training_process_retries_as_attempt_2_while_six_runs_wait(
    cluster: Cluster,
) -> None:
    """The run put back is not lost behind six waiting runs that take longer than the heartbeat
    timeout: it is retried as attempt 2 and completes, and so do they."""
    worker = cluster.worker(concurrency=1)
    a = cluster.server(BACKPROP_LAB_HEARTBEAT_TIMEOUT="8")
    # NOTE: long enough to be killed mid-run: at 3000 iterations (about 1 s of training on a
    # 2-core machine) the run often completed before the kill, and there was no retry to see.
    run_id = start(a, iterations=10_000)
    wait_for(lambda: get(a, run_id)["status"] == "running", "the run trains")
    # six runs of about 2 s each, queued before the kill: together longer than the timeout
    waiting = [start(a, iterations=5000) for _ in range(6)]
    read_until(a.url, run_id, lambda seen: seen[-1].event == "progress")  # in its loop
    (pool,) = worker.pool()
    assert get(a, run_id)["status"] == "running"  # still training: the kill cuts it off
    os.kill(pool, signal.SIGKILL)  # the process training the run, as the OOM killer would
    log = stream(a.url, run_id)
    starts = [e.data["attempt"] for e in log if e.event == "running"]
    assert log[-1].data["status"] == "completed", log[-1].data
    assert starts == [1, 2]
    assert all(stream(a.url, r)[-1].data["status"] == "completed" for r in waiting)

"""Beyond one machine: API servers and Celery workers sharing PostgreSQL and Redis, on loopback.

Every part is real: PostgreSQL 15, redis-server, uvicorn processes, Celery workers
(``python -m app.worker``). A run started on one server is streamed, resumed and
cancelled on another; workers, servers, the database and the broker are killed
or stopped mid-run, and what was recorded is never lost.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import httpx

from tests.app.sse_client import Event, iter_events, read_until, stream
from tests.cluster.conftest import Cluster
from tests.conftest import OPERATOR, Server


def start(server: Server, **config: Any) -> str:
    """POST /train on a server; the new run's id."""
    r = httpx.post(f"{server.url}/train", json={"seed": 1, **config}, timeout=30)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def get(server: Server, run_id: str) -> dict[str, Any]:
    """GET /train/{id} on a server."""
    r = httpx.get(f"{server.url}/train/{run_id}", timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def wait_for(check: Any, what: str, timeout: float = 60.0) -> Any:
    """Poll ``check()`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def trains(log: list[Event]) -> bool:
    """Whether a log so far shows progress."""
    return log[-1].event == "progress"


#: Iterations of a run whose training process is killed after its first progress: a warm
#: process trains 2,000 in about 0.65 s, which left little room to kill it still training.
KILLED_RUN = 6000


def watch(server: Server, run_id: str) -> tuple[threading.Thread, list[Event]]:
    """Stream a run in a thread until it ends; returns once three events have arrived."""
    seen: list[Event] = []

    def read() -> None:
        with httpx.stream("GET", f"{server.url}/train/{run_id}/events", timeout=90) as r:
            for ev in iter_events(r):
                seen.append(ev)

    reader = threading.Thread(target=read)
    reader.start()
    wait_for(lambda: len(seen) >= 3, "the stream has begun")
    return reader, seen


def consecutive(log: list[Event]) -> None:
    """Event ids are 1, 2, 3, … with no gap and no repeat."""
    assert [e.id for e in log] == list(range(1, len(log) + 1))


def test_a_run_started_on_a_streams_on_b_and_resumes_without_loss(cluster: Cluster) -> None:
    cluster.worker()
    a = cluster.server()
    b = cluster.server(workers=2)  # uvicorn --workers 2: any of its processes serves the run
    run_id = start(a, iterations=1500)
    first = stream(b.url, run_id, limit=5)
    assert first[0].event == "running" and first[0].data["attempt"] == 1
    rest = stream(b.url, run_id, last_event_id=first[-1].id)  # Last-Event-ID resume on B
    log = first + rest
    consecutive(log)
    assert log[-1].event == "done" and log[-1].data["status"] == "completed"
    whole = stream(a.url, run_id)  # the whole log again, from the other server
    assert [(e.id, e.event, e.data) for e in whole] == [(e.id, e.event, e.data) for e in log]
    run_a, run_b = get(a, run_id), get(b, run_id)
    assert run_a == run_b and run_a["status"] == "completed"
    assert len(run_a["history"]["loss"]) == 1500
    assert httpx.get(f"{a.url}/readyz").json() == {
        "status": "ready",
        "parts": {"database": "ok", "broker": "ok", "workers": "ok"},
    }


def test_queued_and_running_runs_are_cancelled_through_another_server(cluster: Cluster) -> None:
    cluster.worker(concurrency=1)
    a, b = cluster.server(), cluster.server()
    busy = start(a, iterations=100_000)
    read_until(a.url, busy, trains)
    queued = [start(a, iterations=100_000) for _ in range(3)]
    assert [get(b, q)["queue_position"] for q in queued] == [0, 1, 2]
    assert get(b, busy)["queue_position"] is None
    # a queued run: cancelled at once, and it never starts
    r = httpx.delete(f"{b.url}/train/{queued[0]}", headers=OPERATOR)
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    assert [get(a, q)["queue_position"] for q in queued[1:]] == [0, 1]
    # a running run: its worker stops within a second
    seen = stream(a.url, busy, limit=3)
    t0 = time.monotonic()
    assert httpx.delete(f"{b.url}/train/{busy}", headers=OPERATOR).status_code == 202
    tail = stream(a.url, busy, last_event_id=seen[-1].id)
    assert tail[-1].data["status"] == "cancelled"
    assert time.monotonic() - t0 < 1.0
    # the next queued run is trained; the cancelled one never was
    wait_for(lambda: get(a, queued[1])["status"] == "running", "the next run starts")
    log = stream(b.url, queued[0])
    assert [e.event for e in log] == ["done"] and log[0].data["status"] == "cancelled"
    for q in queued[1:]:
        httpx.delete(f"{a.url}/train/{q}", headers=OPERATOR)
    wait_for(lambda: all(get(a, q)["status"] == "cancelled" for q in queued), "all cancelled", 5)


def test_a_worker_process_killed_mid_run_restarts_it_as_attempt_2(cluster: Cluster) -> None:
    worker = cluster.worker(concurrency=1)
    a, b = cluster.server(), cluster.server()
    run_id = start(a, iterations=KILLED_RUN)
    read_until(b.url, run_id, trains)
    (pool,) = worker.pool()
    os.kill(pool, signal.SIGKILL)  # the process training the run, as the OOM killer would
    log = stream(b.url, run_id)
    consecutive(log)
    starts = [e for e in log if e.event == "running"]
    assert [e.data["attempt"] for e in starts] == [1, 2]
    assert "was lost" in starts[1].data["message"]
    cut = log.index(starts[1])
    assert any(e.event == "progress" for e in log[:cut])  # attempt 1's record is kept
    assert log[-1].data["status"] == "completed"
    # the history is attempt 2's, whole and from the beginning: the same as a clean run
    clean = start(a, iterations=KILLED_RUN)
    stream(a.url, clean)
    assert get(a, run_id)["history"] == get(a, clean)["history"]


def test_a_lost_attempt_goes_ahead_of_six_waiting_runs_and_completes_as_attempt_2(
    cluster: Cluster,
) -> None:
    worker = cluster.worker(concurrency=1)
    a = cluster.server()
    run_id = start(a, iterations=KILLED_RUN)
    read_until(a.url, run_id, trains)
    waiting = [start(a, iterations=300, seed=2) for _ in range(6)]
    assert [get(a, q)["queue_position"] for q in waiting] == list(range(6))
    (pool,) = worker.pool()
    os.kill(pool, signal.SIGKILL)
    log = stream(a.url, run_id)
    consecutive(log)
    assert [e.data["attempt"] for e in log if e.event == "running"] == [1, 2]
    assert log[-1].data["status"] == "completed"
    # attempt 2 went ahead of them all: with one training process, none started before it ended
    done = get(a, run_id)["finished_at"]
    for q in waiting:
        run = get(a, q)
        assert run["started_at"] is None or run["started_at"] >= done, run
    for q in waiting:
        httpx.delete(f"{a.url}/train/{q}", headers=OPERATOR)
    clean = start(a, iterations=KILLED_RUN)
    stream(a.url, clean)
    assert get(a, run_id)["history"] == get(a, clean)["history"]


def test_a_run_whose_workers_keep_dying_fails_saying_a_worker_was_lost(
    cluster: Cluster,
) -> None:
    worker = cluster.worker(concurrency=1)
    a = cluster.server()
    run_id = start(a, iterations=100_000)
    for attempt in (1, 2):
        read_until(a.url, run_id, lambda log, n=attempt: trains(log) and _attempt(log) == n)
        (pool,) = worker.pool()
        os.kill(pool, signal.SIGKILL)
    log = stream(a.url, run_id)
    consecutive(log)
    done = log[-1]
    assert done.event == "done" and done.data["status"] == "failed"
    assert "worker was lost" in done.data["message"] and "2 attempts" in done.data["message"]
    run = get(a, run_id)
    assert run["status"] == "failed" and run["history"]["loss"]  # attempt 2's losses kept


def _attempt(log: list[Event]) -> int:
    return max((e.data["attempt"] for e in log if e.event == "running"), default=0)


def test_a_silent_worker_machine_interrupts_its_run_keeping_its_record(
    cluster: Cluster,
) -> None:
    worker = cluster.worker(concurrency=1)
    a = cluster.server(BACKPROP_LAB_HEARTBEAT_TIMEOUT="3")
    run_id = start(a, iterations=100_000)
    before = read_until(a.url, run_id, lambda log: any(e.event == "epoch" for e in log))
    worker.kill()  # the whole node, its main process too: nobody puts the task back
    t0 = time.monotonic()
    log = stream(a.url, run_id)
    waited = time.monotonic() - t0
    consecutive(log)
    assert [(e.id, e.data) for e in log[: len(before)]] == [(e.id, e.data) for e in before]
    assert log[-1].data["status"] == "interrupted"
    assert "No worker has reported" in log[-1].data["message"]
    assert 3.0 - 2 * 0.5 <= waited < 8.0  # the last beat came up to two intervals earlier
    run = get(a, run_id)
    assert run["status"] == "interrupted" and run["has_weights"]  # its last epoch's weights
    assert run["history"]["epochs"]
    # a server's restart interrupts nothing: liveness comes from heartbeats
    cluster.worker(concurrency=1)
    other = start(a, iterations=100_000)
    read_until(a.url, other, trains)
    a.kill()
    a2 = cluster.server()
    assert get(a2, other)["status"] == "running"
    httpx.delete(f"{a2.url}/train/{other}", headers=OPERATOR)


def test_killing_one_api_server_leaves_the_other_streaming(cluster: Cluster) -> None:
    cluster.worker(concurrency=1)
    a, b = cluster.server(), cluster.server()
    run_id = start(a, iterations=10_000)
    reader, seen = watch(b, run_id)
    a.kill()
    assert seen[-1].event != "done"  # A died mid-run
    reader.join(60)
    assert seen[-1].event == "done" and seen[-1].data["status"] == "completed"
    consecutive(seen)
    a2 = cluster.server()  # the killed server comes back and serves the same run
    assert [(e.id, e.data) for e in stream(a2.url, run_id)] == [(e.id, e.data) for e in seen]
    assert get(a2, run_id)["status"] == "completed"


def test_a_stream_resumed_after_the_run_ended_unwatched_gets_the_rest_at_once(
    cluster: Cluster,
) -> None:
    """B streamed part of the run, then nobody watched it there until it ended."""
    cluster.worker(concurrency=1)
    a, b = cluster.server(), cluster.server()
    run_id = start(a, iterations=3000)
    seen = read_until(b.url, run_id, lambda log: len(log) >= 3)
    wait_for(lambda: get(a, run_id)["status"] == "completed", "the run ends")
    t0 = time.monotonic()
    rest = stream(b.url, run_id, last_event_id=seen[-1].id)  # well before a 15 s ping
    assert time.monotonic() - t0 < 2.0
    consecutive(seen + rest)
    assert rest[-1].data["status"] == "completed"


def test_a_worker_whose_main_process_dies_interrupts_its_run(cluster: Cluster) -> None:
    """Its training process dies with it (no trainer left writing); silence ends the run."""
    from pathlib import Path

    worker = cluster.worker(concurrency=1)
    a = cluster.server(BACKPROP_LAB_HEARTBEAT_TIMEOUT="3")
    run_id = start(a, iterations=100_000)
    before = read_until(a.url, run_id, trains)
    (pool,) = worker.pool()
    assert worker.proc is not None
    os.kill(worker.proc.pid, signal.SIGKILL)  # the main process only
    log = stream(a.url, run_id)
    assert not Path(f"/proc/{pool}").exists() or "Z" in Path(f"/proc/{pool}/stat").read_text()
    consecutive(log)
    assert [(e.id, e.data) for e in log[: len(before)]] == [(e.id, e.data) for e in before]
    assert log[-1].data["status"] == "interrupted"  # not "cancelled": nobody cancelled it
    assert "No worker has reported" in log[-1].data["message"]
    assert get(a, run_id)["history"]["loss"]


def test_postgres_stopped_and_restarted_while_runs_queue_and_train(cluster: Cluster) -> None:
    """An outage longer than the heartbeat timeout: silence during it does not count."""
    worker = cluster.worker(concurrency=1)
    a = cluster.server(BACKPROP_LAB_HEARTBEAT_TIMEOUT="3")
    b = cluster.server(BACKPROP_LAB_HEARTBEAT_TIMEOUT="3")
    running = start(a, iterations=6000)
    queued = start(a, iterations=600)
    read_until(b.url, running, trains)
    reader, seen = watch(b, running)
    cluster.pg.stop()
    try:
        assert httpx.get(f"{a.url}/healthz", timeout=15).status_code == 200  # alive
        health = httpx.get(f"{a.url}/readyz", timeout=15)
        assert health.status_code == 503
        body = health.json()
        assert body["parts"]["broker"] == "ok"
        assert body["parts"]["database"].startswith("down: PostgreSQL at 127.0.0.1")
        assert body["error"]["code"] == "database_unavailable"
        refused = httpx.post(f"{a.url}/train", json={"iterations": 100}, timeout=15)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "database_unavailable"
        assert "PostgreSQL at 127.0.0.1" in refused.json()["error"]["message"]
        assert httpx.get(f"{b.url}/train/{running}", timeout=15).status_code == 503
        time.sleep(5)  # the worker trains on, keeping its events until the database is back
    finally:
        cluster.pg.start()
    wait_for(lambda: httpx.get(f"{a.url}/readyz").status_code == 200, "A recovers", 30)
    reader.join(90)
    consecutive(seen)
    assert seen[-1].data["status"] == "completed"
    run = get(a, running)
    assert run["status"] == "completed" and len(run["history"]["loss"]) == 6000
    assert stream(a.url, queued)[-1].data["status"] == "completed"
    assert get(b, start(b, iterations=100))["status"] in ("queued", "running", "completed")
    # the worker said so: one warning when the database stopped answering, one when it was back
    said = [ln for ln in worker.log.read_text().splitlines() if "The database (" in ln]
    assert len([ln for ln in said if "does not answer" in ln]) == 1, said
    assert len([ln for ln in said if "answers again" in ln]) == 1, said
    assert all(" WARNING backprop_lab.distributed " in ln for ln in said), said


def test_redis_stopped_and_restarted_while_runs_queue_and_train(cluster: Cluster) -> None:
    cluster.worker(concurrency=1)
    a, b = cluster.server(), cluster.server()
    running = start(a, iterations=5000)
    queued = start(a, iterations=600)
    read_until(b.url, running, trains)
    cluster.redis.stop()
    try:
        assert httpx.get(f"{a.url}/healthz", timeout=15).status_code == 200  # alive
        health = httpx.get(f"{a.url}/readyz", timeout=15)
        assert health.status_code == 503
        body = health.json()
        assert body["parts"]["database"] == "ok"
        assert body["parts"]["broker"].startswith("down: Redis at 127.0.0.1")
        refused = httpx.post(f"{b.url}/train", json={"iterations": 100}, timeout=15)
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "broker_unavailable" and "Redis" in error["message"]
        before = len(httpx.get(f"{a.url}/runs").json()["runs"])
        assert before == 2  # the refused run left no trace
        # the running run trains on and is recorded: the log needs only the database
        log = stream(b.url, running)
        consecutive(log)
        assert log[-1].data["status"] == "completed"
        assert get(a, queued)["status"] == "queued"
    finally:
        cluster.redis.start()
    wait_for(lambda: httpx.get(f"{a.url}/readyz").status_code == 200, "A recovers", 30)
    # the queued run was kept by Redis and is trained once the worker reconnects
    assert stream(a.url, queued, last_event_id=0)[-1].data["status"] == "completed"
    assert stream(b.url, start(b, iterations=100))[-1].data["status"] == "completed"


def test_runs_queued_in_a_redis_that_lost_its_data_are_sent_again(cluster: Cluster) -> None:
    """Redis restarted empty (no appendonly file): the database still knows the queued run."""
    cluster.worker(concurrency=1)
    a = cluster.server()
    busy = start(a, iterations=100_000)
    read_until(a.url, busy, trains)
    queued = start(a, iterations=300)
    cluster.redis.lose_data()
    wait_for(lambda: httpx.get(f"{a.url}/readyz").status_code == 200, "A sees Redis", 30)
    httpx.delete(f"{a.url}/train/{busy}", headers=OPERATOR)
    t0 = time.monotonic()
    log = stream(a.url, queued)
    assert log[-1].data["status"] == "completed"
    assert [e.data["attempt"] for e in log if e.event == "running"] == [1]  # trained once
    assert time.monotonic() - t0 < 30


def test_the_same_seed_gives_the_same_losses_on_the_local_and_celery_executors(
    cluster: Cluster, server_factory: Any, tmp_path: Any
) -> None:
    cluster.worker(concurrency=1)
    celery_server = cluster.server()
    config = {"iterations": 700, "seed": 5, "hidden_size": 30, "learning_rate": 0.2}
    on_celery = start(celery_server, **config)
    assert stream(celery_server.url, on_celery)[-1].data["status"] == "completed"
    local = server_factory(
        tmp_path / "local", {k: v for k, v in cluster.env.items() if k == "MNIST_DIR"}
    )
    on_local = start(local, **config)
    assert stream(local.url, on_local)[-1].data["status"] == "completed"
    celery_run, local_run = get(celery_server, on_celery), get(local, on_local)
    assert celery_run["history"] == local_run["history"]
    assert len(celery_run["history"]["loss"]) == 700
    assert (celery_run["train_acc"], celery_run["test_acc"]) == (
        local_run["train_acc"],
        local_run["test_acc"],
    )

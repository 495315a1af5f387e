"""The shared store under races, on a real PostgreSQL: claims, cancels, retried writes, the cap.

Each test opens the database as several servers and workers would (one RunStore each)
and makes them collide from threads; the row locks and the numbered writes decide.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.training import events
from app.training.records import Claim, NewEvent
from app.training.store import RunStore
from harness.cluster import Postgres

_names = itertools.count(1)


@pytest.fixture
def stores(postgres: Postgres) -> Iterator[Callable[[], RunStore]]:
    """Open the same fresh database again and again, as separate processes would."""
    url = postgres.create_database(f"races_{next(_names)}")
    opened: list[RunStore] = []

    def open_store() -> RunStore:
        store = RunStore(url)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment from threads; their results in order."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_workers_claiming_one_run_start_it_once(stores: Callable[[], RunStore]) -> None:
    a, b = stores(), stores()
    a.create_run("r", {})
    claims: list[Claim] = together(
        lambda: a.claim("r", "host-a:1", seen=(0, None), max_attempts=2),
        lambda: b.claim("r", "host-b:2", seen=(0, None), max_attempts=2),
    )
    assert sorted(c.attempt or 0 for c in claims) == [0, 1]
    assert sorted(c.reason for c in claims) == ["", "taken"]
    log = a.events_after("r")
    assert [(e.kind, e.data) for e in log] == [("running", '{"attempt": 1}')]


def test_a_cancel_and_a_claim_at_once_never_leave_a_run_training_uncancelled(
    stores: Callable[[], RunStore],
) -> None:
    for i in range(10):
        server, worker = stores(), stores()
        run_id = f"r{i}"
        server.create_run(run_id, {})
        status, claim = together(
            lambda s=server, r=run_id: s.request_cancel(r),
            lambda w=worker, r=run_id: w.claim(r, "w:1", seen=(0, None), max_attempts=2),
        )
        run = server.get_run(run_id)
        assert run is not None
        if claim.attempt is None:  # the cancel came first: the run never started
            assert status == "cancelled" and run.status == "cancelled"
            assert [e.kind for e in server.events_after(run_id)] == ["done"]
        else:  # the claim came first: its worker is told to stop
            assert status == "running" and run.cancel_requested
            assert worker.stop_reason(run_id, claim.attempt) == "cancel"


def test_a_write_retried_after_its_commit_is_recorded_once(stores: Callable[[], RunStore]) -> None:
    store = stores()
    store.create_run("r", {})
    attempt = store.claim("r", "w:1", seen=(0, None), max_attempts=2).attempt
    assert attempt == 1
    batch = [NewEvent("r", "progress", {"iteration": i}, attempt=attempt) for i in (1, 2)]
    store.append(batch, batch=1)
    assert store.append(batch, batch=1) == {}  # the retry of a write that had gone through
    store.append([NewEvent("r", "progress", {"iteration": 3}, attempt=attempt)], batch=2)
    assert [e.seq for e in store.events_after("r")] == [1, 2, 3, 4]


def test_a_lost_attempt_writes_nothing_into_the_next_one(stores: Callable[[], RunStore]) -> None:
    store = stores()
    store.create_run("r", {})
    store.claim("r", "w:1", seen=(0, None), max_attempts=2)
    store.append([NewEvent("r", "epoch", {"epoch": 1}, b"weights-1", attempt=1)], batch=1)
    run = store.get_run("r")
    assert run is not None and run.has_weights
    second = store.claim("r", "w:2", seen=(1, run.heartbeat_at), max_attempts=2)
    assert second.attempt == 2
    # the first worker was not dead after all: what it writes now is dropped
    assert store.append([NewEvent("r", "progress", {"iteration": 9}, attempt=1)], batch=2) == {}
    assert store.stop_reason("r", 1) == "superseded"
    run = store.get_run("r")
    assert run is not None and not run.has_weights  # attempt 1's weights went with it
    kinds = [(e.kind, e.data) for e in store.events_after("r")]
    assert [k for k, _ in kinds] == ["running", "epoch", "running"]
    assert '"attempt": 2' in kinds[-1][1] and "was lost" in kinds[-1][1]
    # and past the attempts, the run fails saying a worker was lost
    run = store.get_run("r")
    assert run is not None
    last = store.claim("r", "w:3", seen=(2, run.heartbeat_at), max_attempts=2)
    assert last.attempt is None and last.reason == "failed"
    done = store.events_after("r")[-1]
    assert done.kind == "done" and "worker was lost" in done.data


def test_the_active_run_cap_holds_across_servers(stores: Callable[[], RunStore]) -> None:
    servers = [stores() for _ in range(4)]
    made = together(
        *(lambda s=servers[i % 4], i=i: s.create_run(f"r{i}", {}, max_active=5) for i in range(20))
    )
    assert sum(r is not None for r in made) == 5
    assert servers[0].count_active() == 5
    done = events.done("cancelled")
    servers[1].append([NewEvent(r.id, "done", done) for r in made if r is not None][:1])
    assert servers[2].create_run("again", {}, max_active=5) is not None

"""Per-client quotas across servers: PostgreSQL counts a client's runs, Redis its rate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.app.sse_client import iter_events, stream
from tests.cluster.conftest import Cluster
from tests.conftest import OPERATOR

EVALUATE = {"nodes": [{"id": "x", "op": "input", "value": 2}], "output": "x"}


def test_a_clients_active_runs_and_request_rate_are_counted_across_two_servers(
    cluster: Cluster,
) -> None:
    # No worker: runs stay queued, and a queued run counts as active.
    env = {
        "BACKPROP_LAB_MAX_ACTIVE_RUNS_PER_CLIENT": "2",
        "BACKPROP_LAB_RATE_LIMIT": "20/minute",
        "BACKPROP_LAB_RATE_LIMIT_STORAGE": cluster.redis.url,
    }
    a, b = cluster.server(**env), cluster.server(**env)
    alice = {"Authorization": "Bearer " + "alice" * 9}

    def post(url: str) -> httpx.Response:
        return httpx.post(f"{url}/train", json={"iterations": 10}, headers=alice, timeout=30)

    # Six at once, three through each server: the locked count lets exactly two in.
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(post, [a.url, b.url] * 3))
    codes = sorted(r.status_code for r in answers)
    assert codes == [202, 202, 429, 429, 429, 429], [r.text for r in answers]
    refused = [r for r in answers if r.status_code == 429]
    assert {r.json()["error"]["code"] for r in refused} == {"too_many_runs_for_you"}
    assert all(int(r.headers["retry-after"]) > 0 for r in refused)
    accepted = [r.json()["id"] for r in answers if r.status_code == 202]
    mine = httpx.get(f"{b.url}/runs", params={"mine": 1}, headers=alice).json()["runs"]
    assert sorted(r["id"] for r in mine) == sorted(accepted)
    # Someone else is not held back by Alice's runs.
    r = httpx.post(f"{a.url}/train", json={"iterations": 10}, timeout=30)
    assert r.status_code == 202, r.text
    accepted.append(r.json()["id"])
    for run_id in accepted:
        assert httpx.delete(f"{a.url}/train/{run_id}", headers=OPERATOR).status_code == 202

    # The rate limit is one count in Redis: 20 requests split over both servers use it up.
    bob = {"Authorization": "Bearer " + "bob" * 15}
    for i in range(20):
        server = (a, b)[i % 2]
        r = httpx.post(f"{server.url}/graphs/evaluate", json=EVALUATE, headers=bob, timeout=30)
        assert r.status_code == 200, r.text
    for server in (a, b):
        r = httpx.post(f"{server.url}/graphs/evaluate", json=EVALUATE, headers=bob, timeout=30)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) > 0


def test_a_celery_worker_stops_a_run_at_the_wall_clock_limit(cluster: Cluster) -> None:
    cluster.worker(BACKPROP_LAB_MAX_RUN_SECONDS="3")
    a = cluster.server(BACKPROP_LAB_MAX_RUN_SECONDS="3")  # the lab's one limit (app/labsettings)
    r = httpx.post(f"{a.url}/train", json={"iterations": 100000}, timeout=30)
    assert r.status_code == 202, r.text
    done = stream(a.url, r.json()["id"])[-1]
    assert done.event == "done" and done.data["status"] == "cancelled"
    assert "3 s" in done.data["message"] and "BACKPROP_LAB_MAX_RUN_SECONDS" in done.data["message"]
    run = httpx.get(f"{a.url}/train/{r.json()['id']}", timeout=30).json()
    assert run["has_weights"] is True and 0 < run["iterations"] < 100000


@pytest.mark.timeout(180)
def test_a_run_deleted_through_one_server_ends_its_streams_on_the_other(cluster: Cluster) -> None:
    cluster.worker()
    a, b = cluster.server(), cluster.server()
    r = httpx.post(f"{a.url}/train", json={"iterations": 100000}, timeout=30)
    run_id, token = r.json()["id"], r.json()["owner_token"]
    seen: list[str] = []
    with httpx.stream("GET", f"{b.url}/train/{run_id}/events", timeout=30) as events:
        for ev in iter_events(events):
            seen.append(ev.event)
            if len(seen) == 3:  # it trains, and B has streamed its events
                deleted = httpx.delete(
                    f"{a.url}/runs/{run_id}", headers={"Authorization": f"Bearer {token}"}
                )
                assert deleted.status_code == 204
    # The stream on B ended (it did not wait for pings forever), and the run is gone everywhere.
    assert seen[0] == "running"
    assert httpx.get(f"{b.url}/train/{run_id}").status_code == 404

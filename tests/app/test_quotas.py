"""What one client may take: its active runs, the lab's, its request rate, the disk, the clock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from tests.app.sse_client import stream, wait_status
from tests.conftest import OPERATOR, Digits, Server

LONG = {"iterations": 100000, "hidden_size": 10}
SHORT = {"iterations": 20, "hidden_size": 4}
EVALUATE = {"nodes": [{"id": "x", "op": "input", "value": 2}], "output": "x"}


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """One worker; 3 runs active in the lab, 2 per client; 6 expensive requests a minute."""
    env = {
        **digits.env,
        "BACKPROP_LAB_WORKERS": "1",
        "BACKPROP_LAB_MAX_ACTIVE_RUNS": "3",
        "BACKPROP_LAB_MAX_ACTIVE_RUNS_PER_CLIENT": "2",
        "BACKPROP_LAB_RATE_LIMIT": "6/minute",
        "BACKPROP_LAB_MAX_RUN_SECONDS": "8",
    }
    srv = Server(tmp_path_factory.mktemp("quota-data"), env).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def budget(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """One worker; runs may store 60,000 bytes together."""
    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1", "BACKPROP_LAB_MAX_STORED_BYTES": "60000"}
    srv = Server(tmp_path_factory.mktemp("budget-data"), env).start()
    yield srv
    srv.stop()


def cancel_all(server: Server, run_ids: list[str]) -> None:
    """Cancel these runs as the operator and wait until they have ended."""
    for run_id in run_ids:
        httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    for run_id in run_ids:
        assert wait_status(server.url, run_id, {"cancelled", "completed"})["status"] != "running"


def test_a_client_past_its_active_runs_then_the_lab_full_get_429_with_retry_after(
    capped: Server,
) -> None:
    started: list[str] = []
    with (
        httpx.Client(base_url=capped.url) as alice,
        httpx.Client(base_url=capped.url) as bob,
        httpx.Client(base_url=capped.url) as carol,
    ):
        try:
            for _ in range(2):
                r = alice.post("/train", json=LONG)
                assert r.status_code == 202, r.text
                started.append(r.json()["id"])
            r = alice.post("/train", json=LONG)
            assert r.status_code == 429
            assert int(r.headers["retry-after"]) > 0
            err = r.json()["error"]
            assert err["code"] == "too_many_runs_for_you"
            assert err["details"]["limit"] == 2 and "2" in err["message"]
            # Someone else may still start one: the lab holds 3.
            r = bob.post("/train", json=LONG)
            assert r.status_code == 202, r.text
            started.append(r.json()["id"])
            r = carol.post("/train", json=LONG)
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            err = r.json()["error"]
            assert err["code"] == "lab_full"
            assert "the lab's limit" in err["message"] and "not this server's" in err["message"]
            # Alice frees one of hers: she may start another.
            assert alice.delete(f"/train/{started[1]}").status_code == 202
            wait_status(capped.url, started[1], {"cancelled"})
            r = alice.post("/train", json=SHORT)
            assert r.status_code == 202, r.text
            started.append(r.json()["id"])
        finally:
            cancel_all(capped, started)


def test_clients_without_a_token_are_counted_by_their_address(capped: Server) -> None:
    # NOTE: the previous test's three first requests were tokenless too: 3 + 3 = the rate of 6.
    started: list[str] = []
    try:
        for _ in range(2):
            r = httpx.post(f"{capped.url}/train", json=LONG)  # no cookie kept: no token sent
            assert r.status_code == 202, r.text
            started.append(r.json()["id"])
        r = httpx.post(f"{capped.url}/train", json=LONG)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "too_many_runs_for_you"
    finally:
        cancel_all(capped, started)


def test_the_expensive_routes_are_rate_limited_per_client(capped: Server) -> None:
    mine = {"Authorization": "Bearer " + "a" * 43}
    other = {"Authorization": "Bearer " + "b" * 43}
    url = f"{capped.url}/graphs/evaluate"
    for _ in range(6):
        assert httpx.post(url, json=EVALUATE, headers=mine).status_code == 200
    r = httpx.post(url, json=EVALUATE, headers=mine)
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 60
    err = r.json()["error"]
    assert err["code"] == "rate_limited" and "6 per 1 minute" in err["message"]
    # The same client's other expensive routes share its budget; cheap ones do not count.
    assert httpx.post(f"{capped.url}/gradcheck", json={}, headers=mine).status_code == 429
    assert httpx.get(f"{capped.url}/graphs/ops", headers=mine).status_code == 200
    assert httpx.get(f"{capped.url}/runs", headers=mine).status_code == 200
    # Another client has its own.
    assert httpx.post(url, json=EVALUATE, headers=other).status_code == 200


def test_a_run_past_the_wall_clock_limit_ends_with_a_message_keeping_what_it_learned(
    capped: Server,
) -> None:
    r = httpx.post(
        f"{capped.url}/train", json=LONG, headers={"Authorization": "Bearer " + "c" * 43}
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    try:
        done = stream(capped.url, run_id)[-1]
    finally:
        cancel_all(capped, [run_id])
    assert done.event == "done" and done.data["status"] == "cancelled"
    assert "BACKPROP_LAB_MAX_RUN_SECONDS" in done.data["message"]
    assert "8 s" in done.data["message"]
    run = httpx.get(f"{capped.url}/train/{run_id}").json()
    assert run["message"] == done.data["message"]
    assert run["has_weights"] is True and len(run["history"]["loss"]) > 0
    assert 0 < run["iterations"] < LONG["iterations"]


def stored(server: Server) -> dict[str, int]:
    """Each run's measured size in the server's database."""
    with sqlite3.connect(server.data_dir / "backprop-lab.sqlite3") as db:
        return dict(db.execute("SELECT id, stored_bytes FROM runs WHERE removed IS NULL"))


def test_the_disk_budget_removes_the_clients_oldest_finished_runs_and_says_so(
    budget: Server,
) -> None:
    with httpx.Client(base_url=budget.url) as alice, httpx.Client(base_url=budget.url) as bob:
        mine: list[str] = []
        removed: list[str] = []
        for _ in range(8):
            r = alice.post("/train", json=SHORT)
            assert r.status_code == 202, r.text
            mine.append(r.json()["id"])
            assert wait_status(budget.url, mine[-1], {"completed"})["status"] == "completed"
            sizes = stored(budget)
            assert sizes[mine[-1]] > 0  # measured as it was stored
            assert sum(sizes.values()) <= 60000
            listed = {r["id"]: r for r in alice.get("/runs", params={"mine": 1}).json()["runs"]}
            removed = [i for i in mine if listed[i]["removed"]]
            if removed:
                break
        assert removed == [mine[0]], "the oldest finished run goes first"
        # Its owner's list and its page say why; its log and weights are gone.
        listed = {r["id"]: r for r in alice.get("/runs").json()["runs"]}
        assert "Removed to free space" in listed[mine[0]]["removed"]
        r = alice.get(f"/train/{mine[0]}")
        assert r.status_code == 410
        err = r.json()["error"]
        assert err["code"] == "run_removed" and "BACKPROP_LAB_MAX_STORED_BYTES" in err["message"]
        assert alice.get(f"/train/{mine[0]}/events").status_code == 410
        with sqlite3.connect(budget.data_dir / "backprop-lab.sqlite3") as db:
            for table in ("events", "weights"):
                count = f"SELECT COUNT(*) FROM {table} WHERE run_id = ?"
                assert db.execute(count, (mine[0],)).fetchone()[0] == 0
        # The newer runs are whole.
        assert alice.get(f"/train/{mine[1]}").json()["has_weights"] is True
        # Bob has no finished run to give back: a run that cannot fit is refused, nothing removed.
        before = stored(budget)
        r = bob.post("/train", json={"iterations": 100000, "hidden_size": 4})
        assert r.status_code == 507
        err = r.json()["error"]
        assert err["code"] == "storage_full" and "60,000 bytes" in err["message"]
        assert stored(budget) == before
        # The owner may delete the tombstone itself.
        assert alice.delete(f"/runs/{mine[0]}").status_code == 204
        assert alice.get(f"/train/{mine[0]}").status_code == 404


def test_a_rate_limit_setting_that_is_not_a_rate_is_refused_naming_it() -> None:
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError, match="BACKPROP_LAB_RATE_LIMIT must be like '60/minute'"):
        Settings(rate_limit="lots")
    assert Settings(rate_limit="5/second;100/hour").rate_limit == "5/second;100/hour"

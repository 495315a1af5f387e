"""Runs belong to who started them: owner tokens, 403 not_owner, the admin token, DELETE /runs."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.app.sse_client import stream, wait_status
from tests.conftest import Digits, Server

ADMIN = "operator-secret-token-for-tests"
LONG = {"iterations": 100000, "hidden_size": 10}
SHORT = {"iterations": 5, "hidden_size": 4}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """One worker; the operator's token set."""
    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1", "BACKPROP_LAB_ADMIN_TOKEN": ADMIN}
    srv = Server(tmp_path_factory.mktemp("owners-data"), env).start()
    yield srv
    srv.stop()


def client(server: Server) -> httpx.Client:
    """A person: a client that keeps its cookies, as a browser does."""
    return httpx.Client(base_url=server.url, timeout=30.0)


def db_rows(server: Server, run_id: str) -> dict[str, int]:
    """How many rows the run has in each table of the server's SQLite file."""
    with sqlite3.connect(server.data_dir / "backprop-lab.sqlite3") as db:
        return {
            table: db.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {col} = ?", (run_id,)
            ).fetchone()[0]
            for table, col in (("runs", "id"), ("events", "run_id"), ("weights", "run_id"))
        }


def test_post_train_answers_a_token_and_keeps_it_in_an_httponly_strict_cookie(
    server: Server,
) -> None:
    with client(server) as alice:
        r = alice.post("/train", json=SHORT)
        assert r.status_code == 202
        token = r.json()["owner_token"]
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"backprop_lab_owner={token}")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Secure" not in cookie  # plain http here
        again = alice.post("/train", json=SHORT).json()
        assert again["owner_token"] == token  # one browser owns all its runs
        # Only the token's hash is stored.
        with sqlite3.connect(server.data_dir / "backprop-lab.sqlite3") as db:
            stored = db.execute(
                "SELECT owner_hash FROM runs WHERE id = ?", (again["id"],)
            ).fetchone()
        assert stored[0] == hashlib.sha256(token.encode()).hexdigest() != token
        wait_status(server.url, again["id"], {"completed"})


def test_others_get_403_not_owner_and_the_owner_changes_it_by_cookie_or_bearer(
    server: Server,
) -> None:
    with client(server) as alice, client(server) as bob:
        started = alice.post("/train", json=LONG).json()
        run_id, token = started["id"], started["owner_token"]
        try:
            for method, path, body in (
                ("PATCH", f"/train/{run_id}", {"name": "mine now"}),
                ("DELETE", f"/train/{run_id}", None),
                ("DELETE", f"/runs/{run_id}", None),
            ):
                r = bob.request(method, path, json=body)
                assert r.status_code == 403, (method, path, r.text)
                err = r.json()["error"]
                assert err["code"] == "not_owner"
                assert "only the browser or script that started it" in err["message"]
                assert "Bearer" in err["message"]
                wrong = {"Authorization": "Bearer " + "x" * 43}
                assert bob.request(method, path, json=body, headers=wrong).status_code == 403
            # Reading stays open to anyone with the id.
            assert bob.get(f"/train/{run_id}").json()["name"] != "mine now"
            assert bob.get("/runs").status_code == 200
            # Bob with Alice's token (a script she gave it to) may.
            r = bob.patch(
                f"/train/{run_id}",
                json={"name": "renamed by bearer"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200 and r.json()["name"] == "renamed by bearer"
            # Alice's own browser, by its cookie.
            assert alice.patch(f"/train/{run_id}", json={"name": "hers"}).json()["name"] == "hers"
            assert alice.delete(f"/train/{run_id}").status_code == 202
        finally:
            httpx.delete(
                f"{server.url}/train/{run_id}", headers={"Authorization": f"Bearer {ADMIN}"}
            )
        assert wait_status(server.url, run_id, {"cancelled"})["status"] == "cancelled"


def test_the_admin_token_changes_any_run_and_is_the_only_way_for_runs_without_owner(
    server: Server,
) -> None:
    with client(server) as alice:
        run_id = alice.post("/train", json=SHORT).json()["id"]
    wait_status(server.url, run_id, {"completed"})
    admin = {"Authorization": f"Bearer {ADMIN}"}
    r = httpx.patch(f"{server.url}/train/{run_id}", json={"name": "by operator"}, headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "by operator"
    # A run from before owners existed (no owner hash): 403 that says only the operator can.
    with sqlite3.connect(server.data_dir / "backprop-lab.sqlite3") as db:
        db.execute(
            "INSERT INTO runs (id, status, config, created_at) "
            "VALUES ('legacy', 'completed', ?, 1.0)",
            (json.dumps(SHORT),),
        )
    with client(server) as anyone:
        anyone.post("/train", json=SHORT)  # has a token of its own
        r = anyone.patch("/train/legacy", json={"name": "x"})
        assert r.status_code == 403
        assert "BACKPROP_LAB_ADMIN_TOKEN" in r.json()["error"]["message"]
        assert r.json()["error"]["details"]["owned"] is False
    wrong = {"Authorization": f"Bearer {ADMIN}x"}
    assert (
        httpx.patch(f"{server.url}/train/legacy", json={"name": "x"}, headers=wrong).status_code
        == 403
    )
    r = httpx.patch(f"{server.url}/train/legacy", json={"name": "kept"}, headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "kept"
    assert httpx.delete(f"{server.url}/runs/legacy", headers=admin).status_code == 204
    assert db_rows(server, "legacy")["runs"] == 0


def test_runs_are_marked_mine_and_mine_1_lists_only_those(server: Server) -> None:
    with client(server) as alice, client(server) as bob:
        a = alice.post("/train", json=SHORT).json()["id"]
        b = bob.post("/train", json=SHORT).json()["id"]
        for who, own, other in ((alice, a, b), (bob, b, a)):
            listed = {r["id"]: r["mine"] for r in who.get("/runs").json()["runs"]}
            assert listed[own] is True and listed[other] is False
            only = [r["id"] for r in who.get("/runs", params={"mine": 1}).json()["runs"]]
            assert own in only and other not in only
            assert all(r["mine"] for r in who.get("/runs", params={"mine": 1}).json()["runs"])
            assert who.get(f"/train/{own}").json()["mine"] is True
        # A client without a token owns nothing.
        assert httpx.get(f"{server.url}/runs", params={"mine": 1}).json()["runs"] == []
        assert not any(r["mine"] for r in httpx.get(f"{server.url}/runs").json()["runs"])
        for run_id in (a, b):
            wait_status(server.url, run_id, {"completed"})


def pages(server: Server) -> int:
    """Pages of the server's SQLite file."""
    with sqlite3.connect(server.data_dir / "backprop-lab.sqlite3") as db:
        return int(db.execute("PRAGMA page_count").fetchone()[0])


def test_delete_runs_removes_the_run_its_events_and_weights(server: Server) -> None:
    with client(server) as alice:
        run_id = alice.post("/train", json={"iterations": 5, "hidden_size": 200}).json()["id"]
        assert wait_status(server.url, run_id, {"completed"})["has_weights"] is True
        before = db_rows(server, run_id)
        assert before["runs"] == 1 and before["events"] >= 3 and before["weights"] == 1
        pages_before = pages(server)
        r = alice.delete(f"/runs/{run_id}")
        assert r.status_code == 204 and r.content == b""
        assert db_rows(server, run_id) == {"runs": 0, "events": 0, "weights": 0}
        assert alice.get(f"/train/{run_id}").status_code == 404
        assert run_id not in [r["id"] for r in alice.get("/runs").json()["runs"]]
        assert alice.delete(f"/runs/{run_id}").status_code == 404
        # The file is made with incremental auto-vacuum: freed pages go back to the disk.
        with sqlite3.connect(server.data_dir / "backprop-lab.sqlite3") as db:
            assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL
            assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
        # The weights of 784x200 float32 alone are 157 pages of 4 KiB.
        assert pages(server) < pages_before - 150


def test_delete_runs_cancels_a_running_run_first(server: Server) -> None:
    with client(server) as alice:
        run_id = alice.post("/train", json=LONG).json()["id"]
        deadline = time.monotonic() + 60
        while alice.get(f"/train/{run_id}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert alice.delete(f"/runs/{run_id}").status_code == 204
        assert db_rows(server, run_id)["runs"] == 0
        # The worker is free again: the next run trains to the end, and nothing of the
        # deleted one comes back.
        after = alice.post("/train", json=SHORT).json()["id"]
        assert wait_status(server.url, after, {"completed"})["status"] == "completed"
        assert db_rows(server, run_id) == {"runs": 0, "events": 0, "weights": 0}
        assert [e.event for e in stream(server.url, after)][-1] == "done"

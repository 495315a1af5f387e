"""Limits of POST /train: a clear 4xx naming field and limit; queued runs start later."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.app.sse_client import iter_events, stream, wait_status
from tests.conftest import OPERATOR, Digits, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """One worker, two active runs at most, small limits."""
    env = {
        **digits.env,
        "BACKPROP_LAB_WORKERS": "1",
        "BACKPROP_LAB_MAX_ACTIVE_RUNS": "2",
        "BACKPROP_LAB_MAX_ITERATIONS": "50000",
        "BACKPROP_LAB_MAX_HIDDEN_SIZE": "200",
        "BACKPROP_LAB_MAX_BATCH_SIZE": "500",
        "BACKPROP_LAB_MAX_SUBSCRIBERS_PER_RUN": "2",
        "BACKPROP_LAB_SSE_PING_INTERVAL": "0.3",
    }
    srv = Server(tmp_path_factory.mktemp("limits-data"), env).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [("iterations", 50001, 50000), ("hidden_size", 201, 200), ("batch_size", 501, 500)],
)
def test_each_size_limit_is_a_413_naming_field_and_limit(
    server: Server, field: str, value: int, limit: int
) -> None:
    r = httpx.post(f"{server.url}/train", json={field: value})
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["code"] == "limit_exceeded"
    assert err["details"]["field"] == field
    assert err["details"]["limit"] == limit
    assert field in err["message"] and str(limit) in err["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"iterations": 0}, "iterations"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"dataset": "cifar"}, "dataset"),
        ({"hidden_size": "many"}, "hidden_size"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_fields_are_422(server: Server, body: dict[str, object], field: str) -> None:
    r = httpx.post(f"{server.url}/train", json=body)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_field"
    assert err["details"]["field"] == field


def test_nan_and_malformed_json_are_4xx_not_500(server: Server) -> None:
    headers = {"content-type": "application/json"}
    r = httpx.post(f"{server.url}/train", content=b'{"learning_rate": NaN}', headers=headers)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "learning_rate"
    r = httpx.post(f"{server.url}/train", content=b'{"iterations": ', headers=headers)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"
    r = httpx.post(f"{server.url}/train", content=b"[1, 2]", headers=headers)
    assert r.status_code == 422


def test_active_run_limit_then_queued_run_starts_when_the_worker_frees(server: Server) -> None:
    a = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    b = httpx.post(f"{server.url}/train", json={"iterations": 200, "seed": 5}).json()["id"]
    assert wait_status(server.url, a, {"running"})["status"] == "running"
    assert httpx.get(f"{server.url}/train/{b}").json()["status"] == "queued"
    r = httpx.post(f"{server.url}/train", json={"iterations": 10})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    err = r.json()["error"]
    assert err["code"] == "lab_full"
    assert "the lab's limit" in err["message"] and "not this server's" in err["message"]
    assert err["details"] == {"field": "active_runs", "limit": 2, "retry_after": 30}
    assert httpx.delete(f"{server.url}/train/{a}", headers=OPERATOR).status_code == 202
    events = stream(server.url, b)
    assert events[-1].data["status"] == "completed"
    assert wait_status(server.url, a, {"cancelled"})["status"] == "cancelled"


def test_cancel_a_queued_run(server: Server) -> None:
    a = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    b = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    assert httpx.get(f"{server.url}/train/{b}").json()["status"] == "queued"
    r = httpx.delete(f"{server.url}/train/{b}", headers=OPERATOR)
    assert r.status_code == 202
    events = stream(server.url, b)
    assert [e.event for e in events] == ["done"]
    assert events[0].data["status"] == "cancelled"
    assert "cancelled" in events[0].data["message"]  # api.md: cancelled/failed carry a message
    run_b = httpx.get(f"{server.url}/train/{b}").json()
    assert run_b["status"] == "cancelled"
    assert run_b["message"] == events[0].data["message"]
    httpx.delete(f"{server.url}/train/{a}", headers=OPERATOR)
    assert wait_status(server.url, a, {"cancelled"})["status"] == "cancelled"


def test_event_streams_per_run_are_limited(server: Server) -> None:
    run_id = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    url = f"{server.url}/train/{run_id}/events"
    try:
        with (
            httpx.stream("GET", url, timeout=30) as one,
            httpx.stream("GET", url, timeout=30) as two,
        ):
            assert one.status_code == two.status_code == 200
            readers = [iter_events(one), iter_events(two)]  # kept: dropping one closes it
            for reader in readers:
                next(reader)
            third = httpx.get(url, timeout=30)
            assert third.status_code == 409
            err = third.json()["error"]
            assert err["code"] == "too_many_subscribers"
            assert err["details"] == {"field": "subscribers", "limit": 2}
    finally:
        httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    assert wait_status(server.url, run_id, {"cancelled"})["status"] == "cancelled"
    assert stream(server.url, run_id)[-1].event == "done"


def test_a_quiet_stream_sends_keep_alive_pings(server: Server) -> None:
    a = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    b = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    try:
        with httpx.stream("GET", f"{server.url}/train/{b}/events", timeout=30) as r:
            lines = r.iter_lines()
            # b is queued behind a: its place in the queue (no id: not from the log; 1 while
            # a waits for the worker, then 0), then nothing to say but pings
            assert next(lines) == "event: queued"
            line = next(lines)
            while line != ": ping":
                assert line in ("", "event: queued") or line.startswith("data: {"), line
                line = next(lines)
    finally:
        for run_id in (b, a):
            httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    assert wait_status(server.url, a, {"cancelled"})["status"] == "cancelled"

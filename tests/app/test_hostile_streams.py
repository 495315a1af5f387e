"""Hostile stream clients: aborted event streams are no error, and one client gets few streams."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.app.sse_client import finished_run
from tests.conftest import OPERATOR, Digits, Server

PER_CLIENT = 3


def start(tmp: pytest.TempPathFactory, digits: Digits, cap: int) -> Server:
    """A server pinging its streams every 0.2 s, with ``cap`` streams per client and run."""
    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1", "BACKPROP_LAB_SSE_PING_INTERVAL": "0.2"}
    env["BACKPROP_LAB_MAX_STREAMS_PER_CLIENT"] = str(cap)
    return Server(tmp.mktemp("hostile-streams"), env).start()


def long_run(server: Server) -> str:
    """A run training long enough for its stream to stay live through a test."""
    config = {"iterations": 100000, "hidden_size": 100, "batch_size": 100}
    r = httpx.post(f"{server.url}/train", json=config)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A server whose clients may open many streams."""
    srv = start(tmp_path_factory, digits, 1000)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A server with a small per-client stream cap."""
    srv = start(tmp_path_factory, digits, PER_CLIENT)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def done_id(server: Server) -> str:
    """A finished run: its stream replays the log, then ends."""
    config = {"iterations": 300, "hidden_size": 5, "batch_size": 5}
    rid = finished_run(server.url, config)
    return rid


def open_stream(server: Server, run_id: str, read: int = 200) -> socket.socket:
    """A raw connection that asks for the run's event stream and reads its first bytes."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    request = f"GET /train/{run_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    sock.sendall(request.encode())
    if read:
        assert sock.recv(read).startswith(b"HTTP/1.1 ")
    return sock


def test_aborted_stream_clients_log_no_error(server: Server, done_id: str) -> None:
    run_id = long_run(server)
    before = len(server.log.read_bytes()) if server.log.exists() else 0
    for i in range(200):
        # NOTE: live and finished runs; leaving at once, after the headers or after some
        # events; half abruptly (a reset), half politely. Before the fix ~5% logged an error.
        sock = open_stream(server, run_id if i % 2 else done_id, read=(0, 100, 5000)[i % 3])
        if i % 4 < 2:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(1.5)  # pings are sent every 0.2 s: each dropped stream has noticed by now
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    log = server.log.read_bytes()[before:].decode(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "unexpected error" not in log, log[-3000:]
    assert "ERROR" not in log, log[-3000:]
    assert httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR).status_code == 202


def test_one_client_gets_a_few_streams_of_a_run_then_429(capped: Server) -> None:
    server, run_id = capped, long_run(capped)
    held = [open_stream(server, run_id) for _ in range(PER_CLIENT)]
    try:
        r = httpx.get(f"{server.url}/train/{run_id}/events", timeout=10)
        assert r.status_code == 429, r.text
        assert int(r.headers["Retry-After"]) > 0
        err = r.json()["error"]
        assert err["code"] == "too_many_streams"
        assert str(PER_CLIENT) in err["message"]
    finally:
        for sock in held:
            sock.close()
    time.sleep(1.0)  # the server notices the closed streams at its next ping
    with httpx.stream("GET", f"{server.url}/train/{run_id}/events", timeout=10) as r:
        assert r.status_code == 200
    assert httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR).status_code == 202

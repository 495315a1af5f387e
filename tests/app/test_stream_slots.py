"""Event-stream slots: reserved when a stream is admitted, freed the moment its client leaves."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.app.sse_client import wait_status
from tests.conftest import OPERATOR, Digits, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """One worker, two streams per run at most, the default (long) ping interval."""
    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1", "BACKPROP_LAB_MAX_SUBSCRIBERS_PER_RUN": "2"}
    srv = Server(tmp_path_factory.mktemp("slots-data"), env).start()
    yield srv
    srv.stop()


def ask(sock: socket.socket, run_id: str) -> None:
    """Ask for the run's event stream on a raw connection."""
    sock.sendall(f"GET /train/{run_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())


def request_stream(server: Server, run_id: str) -> socket.socket:
    """A raw connection that has asked for the run's event stream."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    ask(sock, run_id)
    return sock


def status_of(sock: socket.socket) -> int:
    """The HTTP status the server answered on a raw connection."""
    head = b""
    while b"\r\n" not in head:
        head += sock.recv(4096)
    return int(head.split()[1])


def open_stream(server: Server, run_id: str) -> socket.socket:
    """A raw connection whose event stream has been admitted."""
    sock = request_stream(server, run_id)
    assert status_of(sock) == 200
    return sock


def test_a_client_that_leaves_frees_its_stream_slot_at_once(server: Server) -> None:
    # a queued run (behind a long one) says nothing: only a ping would notice a dead client
    a = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    b = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    url = f"{server.url}/train/{b}/events"
    try:
        first, second = open_stream(server, b), open_stream(server, b)
        assert httpx.get(url, timeout=10).status_code == 409
        first.close()
        deadline = time.monotonic() + 1.0
        admitted = False
        while not admitted and time.monotonic() < deadline:
            with httpx.stream("GET", url, timeout=10) as r:
                admitted = r.status_code == 200
            if not admitted:
                time.sleep(0.05)
        assert admitted, "the slot of the closed stream was not freed within 1 s"
        second.close()
    finally:
        for run_id in (b, a):
            httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    assert wait_status(server.url, a, {"cancelled"})["status"] == "cancelled"


def test_streams_asked_for_at_once_are_admitted_up_to_the_limit(server: Server) -> None:
    """The slot is taken when a stream is admitted, not later when it first sends."""
    a = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    b = httpx.post(f"{server.url}/train", json={"iterations": 50000}).json()["id"]
    try:
        socks = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)
        ]
        for sock in socks:  # all at once: each is admitted or refused before the next
            ask(sock, b)
        statuses = sorted(status_of(s) for s in socks)
        for s in socks:
            s.close()
        assert statuses == [200, 200] + [409] * 18
    finally:
        for run_id in (b, a):
            httpx.delete(f"{server.url}/train/{run_id}", headers=OPERATOR)
    assert wait_status(server.url, a, {"cancelled"})["status"] == "cancelled"

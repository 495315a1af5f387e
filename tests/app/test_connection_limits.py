"""Connections a hostile client holds open: timeouts, a cap on bytes in flight, one per address.

Raw sockets against a real server (``python -m app.serve``, as ``make run`` starts it).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Server

BODY = 7_990_000


def rss(pid: int) -> int:
    """A process's resident memory in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def connect(server: Server, source: str = "127.0.0.1") -> socket.socket:
    """A TCP connection to the server from ``source`` (any 127.x address works on loopback)."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", server.port))
    return sock


def read_all(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout`` passes)."""
    sock.settimeout(timeout)
    out = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            out += chunk
    return out


def head(body_length: int) -> bytes:
    return (
        f"POST /graphs/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {body_length}\r\n\r\n"
    ).encode()


def test_half_sent_request_heads_are_closed_after_the_header_timeout(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(env={"BACKPROP_LAB_HEADER_TIMEOUT": "1"})
    socks = [connect(server) for _ in range(50)]
    for sock in socks:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    idle = connect(server)  # sends nothing at all
    started = time.monotonic()
    for sock in [*socks, idle]:
        answer = read_all(sock, timeout=20)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"code":"request_timeout"' in answer
        sock.close()
    assert time.monotonic() - started < 20  # closed by the server, not by our read timeout


def test_a_stalled_upload_is_cut_after_the_body_timeout(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(env={"BACKPROP_LAB_BODY_TIMEOUT": "2"})
    sock = connect(server)
    sock.sendall(head(BODY) + b" " * (BODY - 1))
    answer = read_all(sock, timeout=30)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request body did not arrive within 2 s" in answer


def test_300_stalled_near_limit_uploads_pin_no_more_than_the_buffer_cap(
    server_factory: Callable[..., Server],
) -> None:
    cap = 64_000_000
    env = {
        "BACKPROP_LAB_MAX_BUFFERED_BYTES": str(cap),
        "BACKPROP_LAB_MAX_CONNECTIONS_PER_CLIENT": "1000",
        "BACKPROP_LAB_BODY_TIMEOUT": "600",
        "BACKPROP_LAB_HEADER_TIMEOUT": "600",
    }
    server = server_factory(env=env)
    assert server.proc is not None
    before = rss(server.proc.pid)
    # What the server may add: the cap, the copies one request's body makes while it is
    # read, and allocator slack; 300 stalled uploads unguarded pin ~2.4 GB.
    bound = before + cap + 200 * 2**20
    socks, refused = [], 0
    body = b" " * (BODY - 1)
    try:
        for _ in range(300):
            sock = connect(server)
            socks.append(sock)
            try:
                sock.sendall(head(BODY) + body)
            except (BrokenPipeError, ConnectionResetError):
                refused += 1
            assert rss(server.proc.pid) < bound, f"{refused} refused so far"
        time.sleep(1.0)  # whatever was sent has been read
        peak = rss(server.proc.pid)
        assert peak < bound, (peak - before) / 2**20
        # Past the cap, a new request is told why (503 in the error shape), then closed.
        late = connect(server)
        late.sendall(head(BODY))
        answer = read_all(late, timeout=10)
        late.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        assert b'"code":"server_busy"' in answer and b"retry-after: 1" in answer
        assert refused > 200, refused
        # A request without a body is still served.
        probe = connect(server)
        probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert read_all(probe, timeout=10).startswith(b"HTTP/1.1 200")
        probe.close()
    finally:
        for sock in socks:
            sock.close()


def test_one_address_cannot_take_more_than_its_connections(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(env={"BACKPROP_LAB_MAX_CONNECTIONS_PER_CLIENT": "5"})
    held = [connect(server) for _ in range(5)]
    time.sleep(0.2)  # all five are accepted and counted
    extra = connect(server)
    answer = read_all(extra, timeout=10)
    extra.close()
    assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
    assert b'"code":"too_many_connections"' in answer
    # Another address still gets in.
    other = connect(server, source="127.0.0.2")
    other.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert read_all(other, timeout=10).startswith(b"HTTP/1.1 200")
    other.close()
    # A slot given back is a slot for the same address again.
    held.pop().close()
    time.sleep(0.2)
    again = connect(server)
    again.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert read_all(again, timeout=10).startswith(b"HTTP/1.1 200")
    for sock in [again, *held]:
        sock.close()

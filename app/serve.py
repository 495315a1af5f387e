"""Start the server: ``python -m app.serve app.main:app [uvicorn options]``.

The same command line as ``uvicorn``, with connection guards uvicorn lacks (its
``limit_concurrency`` is global and it never times out a request that is still arriving):

- a header timeout: a connection that has not sent a whole request head within
  ``BACKPROP_LAB_HEADER_TIMEOUT`` s (a fresh one, or a kept-alive one that started the
  next request) is answered 408 and closed;
- a body timeout: a request whose body has not fully arrived ``BACKPROP_LAB_BODY_TIMEOUT``
  s after its head is answered 408 and closed (a stalled upload pins no memory);
- a cap on the bytes of requests in flight, all connections together
  (``BACKPROP_LAB_MAX_BUFFERED_BYTES``): a request whose body would go over it is answered
  503 with ``Retry-After`` and closed, at its head when its ``Content-Length`` says so
  (requests without a body, such as ``GET /healthz``, are still served);
- a cap on the connections open from one address (``BACKPROP_LAB_MAX_CONNECTIONS_PER_CLIENT``):
  one more is answered 503 and closed.

The guards live in a subclass of uvicorn's HTTP protocol, which uvicorn's ``auto`` then
names: every server process (``--workers N`` included) uses it.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from typing import Any

import uvicorn.config
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.errors import dump_json, error_body
from app.settings import get_settings

#: Bytes of requests in flight in this process, all connections together.
_buffered = 0
#: Open connections of this process by client address.
_per_client: Counter[str] = Counter()

_REASONS = {408: "Request Timeout", 503: "Service Unavailable"}


def raw_error(status: int, code: str, message: str, retry_after: int | None = None) -> bytes:
    """A whole HTTP/1.1 answer in the one error shape, for a connection about to be closed."""
    body = dump_json(error_body(code, message))
    head = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "x-content-type-options: nosniff",
        "connection: close",
    ]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body timeouts and per-client and buffer caps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        s = get_settings()
        self._header_timeout = s.header_timeout
        self._body_timeout = s.body_timeout
        self._max_buffered = s.max_buffered_bytes
        self._max_per_client = s.max_connections_per_client
        self._address: str | None = None
        self._held = 0
        self._timer: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None  # "head" or "body"
        self._seen: Any = None  # the cycle last looked at

    # ---------------------------------------------------------------- connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Count the connection against its address (refused past the cap); time its head."""
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        if address is not None and _per_client[address] >= self._max_per_client:
            self._refuse(
                503,
                "too_many_connections",
                f"This address already has {self._max_per_client} connections open to the "
                "server (max_connections_per_client); close some and try again.",
                retry_after=1,
            )
            return
        self._address = address
        if address is not None:
            _per_client[address] += 1
        self._wait("head")

    def connection_lost(self, exc: Exception | None) -> None:
        """Give back the connection's slot and bytes."""
        self._cancel_timer()
        self._release()
        if self._address is not None:
            _per_client[self._address] -= 1
            if _per_client[self._address] <= 0:
                del _per_client[self._address]
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Count the bytes against the buffer cap, then parse; follow the request's phases."""
        global _buffered
        if self.transport.is_closing():
            return
        # NOTE: only bodies are refused: a request head is small (h11 caps it), so a GET
        # (/healthz) is still served while uploads fill the budget.
        cycle = self.cycle
        in_body = cycle is not None and cycle.more_body and not cycle.response_complete
        if in_body and _buffered + len(data) > self._max_buffered:
            self._over_budget()
            return
        self._held += len(data)
        _buffered += len(data)
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        """The request is answered: its bytes are no longer held."""
        self._release()
        super().on_response_complete()
        self._track()

    # ---------------------------------------------------------------- phases

    def _track(self) -> None:
        """Start or stop the timers as the current request moves from head to body to done."""
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and cycle is not self._seen:  # a new request's head is complete
            self._seen = cycle
            self._cancel_timer()
            declared = dict(self.headers or []).get(b"content-length", b"")
            if declared.isdigit() and _buffered + int(declared) > self._max_buffered:
                self._over_budget()
                return
            if cycle.more_body:
                self._wait("body")
        elif cycle is not None and not cycle.more_body and self._waiting_for == "body":
            self._cancel_timer()
        if (cycle is None or cycle.response_complete) and self._waiting_for is None:
            self._wait("head")  # kept alive: the next request's head must arrive in time

    def _wait(self, phase: str) -> None:
        self._cancel_timer()
        seconds = self._header_timeout if phase == "head" else self._body_timeout
        self._waiting_for = phase
        self._timer = self.loop.call_later(seconds, self._timed_out, phase)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._waiting_for = None, None

    def _timed_out(self, phase: str) -> None:
        self._timer, self._waiting_for = None, None
        if phase == "head" and self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered (the keep-alive wait starts after it)
        seconds = self._header_timeout if phase == "head" else self._body_timeout
        what = "request head" if phase == "head" else "request body"
        self._refuse(
            408,
            "request_timeout",
            f"The {what} did not arrive within {seconds:g} s; the connection was closed. "
            "Send the whole request at once.",
        )

    def _over_budget(self) -> None:
        self._refuse(
            503,
            "server_busy",
            f"The server already holds {self._max_buffered:,} bytes of requests in flight "
            "(max_buffered_bytes); try again in a moment.",
            retry_after=1,
        )

    def _refuse(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        """Answer (unless an answer has started) and close the connection."""
        self._cancel_timer()
        self._release()
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(raw_error(status, code, message, retry_after))
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app stops waiting for the rest of the body
            self.cycle.message_event.set()
        self.transport.close()

    def _release(self) -> None:
        global _buffered
        _buffered -= self._held
        self._held = 0


def main(argv: list[str] | None = None) -> None:
    """uvicorn's command line, with the guarded protocol as its ``auto`` HTTP protocol."""
    uvicorn.main.main(args=argv if argv is not None else sys.argv[1:])


# NOTE: set on import, so that every process uvicorn spawns for --workers (which imports
# this module again as its main module) uses the guarded protocol too.
uvicorn.config.HTTP_PROTOCOLS["auto"] = "app.serve:GuardedH11Protocol"

if __name__ == "__main__":
    main()

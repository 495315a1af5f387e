"""A small server-sent-events reader for the service tests (httpx, no extra packages)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    """One received event with the time it arrived (``id`` None: not from the log)."""

    id: int | None
    event: str
    data: dict[str, Any]
    received: float = field(default_factory=time.monotonic)


def iter_events(response: httpx.Response, unstored: bool = False) -> Iterator[Event]:
    """Parse a text/event-stream response into events (comments and pings skipped).

    Events without an id (``queued``, ``no_worker``: not from the log) only if ``unstored``.
    """
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields and ("id" in fields or unstored):
                event_id = int(fields["id"]) if "id" in fields else None
                yield Event(event_id, fields.get("event", "message"), json.loads(fields["data"]))
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value


def stream(
    url: str, run_id: str, last_event_id: int | None = None, limit: int | None = None
) -> list[Event]:
    """Every event of a run's stream (until it ends, or ``limit`` events)."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    out: list[Event] = []
    with httpx.stream(
        "GET", f"{url}/train/{run_id}/events", headers=headers, timeout=httpx.Timeout(60.0)
    ) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for ev in iter_events(r):
            out.append(ev)
            if limit is not None and len(out) >= limit:
                break
    return out


def read_until(
    url: str, run_id: str, done: Callable[[list[Event]], bool], timeout: float = 60.0
) -> list[Event]:
    """A run's events from the first, read until ``done(events so far)`` holds."""
    out: list[Event] = []
    with httpx.stream("GET", f"{url}/train/{run_id}/events", timeout=timeout) as r:
        assert r.status_code == 200, r.read()
        for ev in iter_events(r):
            out.append(ev)
            if done(out):
                return out
    raise AssertionError(f"the stream ended before the condition held: {out[-3:]}")


def wait_status(url: str, run_id: str, statuses: set[str], timeout: float = 60.0) -> dict[str, Any]:
    """Poll GET /train/{id} until its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = httpx.get(f"{url}/train/{run_id}", timeout=10).json()
        if body["status"] in statuses or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def finished_run(url: str, config: dict[str, Any]) -> str:
    """Start a run with ``config``, read its stream to the end and check it completed; its id."""
    run_id = str(httpx.post(f"{url}/train", json=config).json()["id"])
    assert stream(url, run_id)[-1].data["status"] == "completed"
    return run_id

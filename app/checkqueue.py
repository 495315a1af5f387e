"""The queue of gradient checks: fair between clients, bounded in waiting, costed up front.

Checks run in a few check processes (``gradcheck_workers``). Waiting checks are served
round-robin by client (one check of each client in turn), so one client's big checks delay
another's by at most one check each. Every check carries an estimate of its seconds, from
its shapes; a check whose estimated wait is over ``max_gradcheck_wait`` is answered 429 with
``Retry-After`` before any work. The estimates are worst cases calibrated on one core
(``make bench-gradcheck-worst`` prints how they hold).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.errors import AppError

#: Graph check work (``engine.graph.check_work`` units) one check process does per second,
#: at worst: the default budget of 2e9 units is then about 10 s.
GRAPH_UNITS_PER_SECOND = 200e6
#: Seconds per parameter and image of a full check of the book's network (worst case,
#: measured 1.5e-6 on one shared core, doubled for eps halving).
NETWORK_FULL_SECONDS = 3e-6
#: Seconds per parameter, image and direction of a fast check (measured 2.4e-9, doubled).
NETWORK_FAST_SECONDS = 5e-9
#: Seconds a check process takes to start and load a dataset, charged to every check.
STARTUP_SECONDS = 0.5


def network_params(hidden: int) -> int:
    """Parameters of the book's TwoLayerNet with ``hidden`` units (784 inputs, 10 classes)."""
    return 784 * hidden + hidden + hidden * 10 + 10


def network_seconds(hidden: int, batch: int, mode: str, directions: int) -> float:
    """Worst-case seconds of a network check."""
    params = network_params(hidden)
    if mode == "full":
        return STARTUP_SECONDS + NETWORK_FULL_SECONDS * params * batch
    return STARTUP_SECONDS + NETWORK_FAST_SECONDS * params * batch * directions


def graph_seconds(work: int) -> float:
    """Worst-case seconds of a graph check of ``work`` units."""
    return STARTUP_SECONDS + work / GRAPH_UNITS_PER_SECOND


def _number(ticket: Ticket | None) -> float:
    return math.inf if ticket is None else ticket.number


class ChecksBusy(AppError):
    """The checks queue would make this one wait longer than the server allows (429)."""

    status = 429
    code = "checks_busy"


@dataclass(eq=False)
class Ticket:
    """A check's place: its client, its estimate, and the slot it runs in once its turn comes."""

    client: str
    seconds: float
    gone: Callable[[], Awaitable[bool]] | None = None
    abandoned: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    slot: int = -1
    started: float = 0.0
    number: int = 0


class FairQueue:
    """Fair turns between clients over ``slots`` check processes (used on the event loop).

    The next check to start is the first waiting one of the client whose last turn is the
    oldest (a client with nothing running counts as never served), so clients take turns.
    """

    def __init__(self, slots: int, max_wait: float) -> None:
        self.slots = slots
        self.max_wait = max_wait
        self._waiting: dict[str, deque[Ticket]] = {}
        self._running: dict[int, Ticket] = {}
        self._last_turn: dict[str, int] = {}
        self._turns = itertools.count(1)
        self._numbers = itertools.count(1)

    def wait_estimate(self, client: str, seconds: float) -> float:
        """Seconds a new check of ``client`` would wait before it starts, at worst."""
        now = time.monotonic()
        free = [
            0.0 if t.abandoned else max(0.0, t.started + t.seconds - now)
            for t in self._running.values()
        ]
        free += [0.0] * (self.slots - len(self._running))
        heapq.heapify(free)
        for ticket in self._order(client):
            start = heapq.heappop(free)
            if ticket is None:
                return start
            heapq.heappush(free, start + ticket.seconds)
        raise AssertionError("the new check is always in the order")

    def _order(self, client: str) -> list[Ticket | None]:
        """The waiting checks in the order they will start, a new one of ``client`` as None."""
        queues: dict[str, list[Ticket | None]] = {
            c: [t for t in q if not t.abandoned] for c, q in self._waiting.items()
        }
        queues = {c: q for c, q in queues.items() if q}
        queues.setdefault(client, []).append(None)
        last = dict(self._last_turn)
        turn = max(last.values(), default=0)
        order: list[Ticket | None] = []
        while queues:
            c = min(queues, key=lambda k: (last.get(k, 0), _number(queues[k][0])))
            order.append(queues[c].pop(0))
            turn += 1
            last[c] = turn
            if not queues[c]:
                del queues[c]
        return order

    async def admit(
        self, client: str, seconds: float, gone: Callable[[], Awaitable[bool]] | None = None
    ) -> Ticket:
        """Queue a check (``gone`` tells whether its client has left), or raise 429 if it
        would wait longer than ``max_wait`` behind checks whose clients are still there."""
        if self.wait_estimate(client, seconds) > self.max_wait:
            # NOTE: a client that just hung up is noticed by its own check a moment later;
            # ask now, so that its check does not count against this one.
            for t in [*self._running.values(), *(t for q in self._waiting.values() for t in q)]:
                if not t.abandoned and t.gone is not None and await t.gone():
                    t.abandoned = True
        return self.enter(client, seconds, gone)

    def enter(
        self, client: str, seconds: float, gone: Callable[[], Awaitable[bool]] | None = None
    ) -> Ticket:
        """Queue a check, or raise 429 if it would wait longer than ``max_wait``."""
        wait = self.wait_estimate(client, seconds)
        if wait > self.max_wait:
            retry = max(1, math.ceil(wait - self.max_wait))
            raise ChecksBusy(
                f"The gradient checks already queued would make this one wait about "
                f"{wait:.0f} s, longer than this server's limit of {self.max_wait:g} s "
                "(max_gradcheck_wait). Try again later, or send a smaller check.",
                details={"limit": self.max_wait, "value": round(wait, 1)},
                headers={"Retry-After": str(retry)},
            )
        ticket = Ticket(client, seconds, gone, number=next(self._numbers))
        self._waiting.setdefault(client, deque()).append(ticket)
        self._dispatch()
        return ticket

    def leave(self, ticket: Ticket) -> None:
        """The check is done (or abandoned): free its slot or its place."""
        if self._running.get(ticket.slot) is ticket:
            del self._running[ticket.slot]
        else:
            queue = self._waiting.get(ticket.client)
            if queue is not None and ticket in queue:
                queue.remove(ticket)
                if not queue:
                    del self._waiting[ticket.client]
        busy = set(self._waiting) | {t.client for t in self._running.values()}
        for client in [c for c in self._last_turn if c not in busy]:
            del self._last_turn[client]  # back with nothing running: a new client again
        self._dispatch()

    def _dispatch(self) -> None:
        while self._waiting and len(self._running) < self.slots:
            client = min(
                self._waiting,
                key=lambda c: (self._last_turn.get(c, 0), self._waiting[c][0].number),
            )
            queue = self._waiting[client]
            ticket = queue.popleft()
            if not queue:
                del self._waiting[client]
            self._last_turn[client] = next(self._turns)
            ticket.slot = next(i for i in range(self.slots) if i not in self._running)
            ticket.started = time.monotonic()
            self._running[ticket.slot] = ticket
            ticket.ready.set()

    def snapshot(self) -> dict[str, Any]:
        """What runs and waits now (for logs and tests)."""
        return {
            "running": len(self._running),
            "waiting": sum(len(q) for q in self._waiting.values()),
        }

"""The gradient-check queue alone: turns by client, worst-case waits, refusal past the bound."""

from __future__ import annotations

import pytest

from app.checkqueue import ChecksBusy, FairQueue, Ticket


def started(queue: FairQueue, tickets: list[Ticket]) -> list[str]:
    """Run the queue to its end, one check at a time; the order checks started in (client:n)."""
    order: list[str] = []
    done: set[int] = set()
    while True:
        running = [i for i, t in enumerate(tickets) if t.ready.is_set() and i not in done]
        if not running:
            return order
        i = running[0]
        order.append(f"{tickets[i].client}:{i}")
        done.add(i)
        queue.leave(tickets[i])


def test_clients_take_turns() -> None:
    queue = FairQueue(slots=1, max_wait=10_000)
    tickets = [queue.enter("a", 10) for _ in range(3)]
    tickets += [queue.enter("b", 1), queue.enter("c", 1), queue.enter("b", 1)]
    assert started(queue, tickets) == ["a:0", "b:3", "c:4", "a:1", "b:5", "a:2"]


def test_the_wait_estimate_counts_only_the_checks_served_first() -> None:
    queue = FairQueue(slots=1, max_wait=10_000)
    for _ in range(3):
        queue.enter("a", 100)
    # b waits for the running check of a only; a's next waits for its own two as well.
    assert queue.wait_estimate("b", 1) == pytest.approx(100, abs=1)
    assert queue.wait_estimate("a", 1) == pytest.approx(300, abs=1)


def test_two_slots_halve_the_wait() -> None:
    queue = FairQueue(slots=2, max_wait=10_000)
    queue.enter("a", 100)
    queue.enter("b", 100)
    queue.enter("c", 100)
    assert queue.wait_estimate("d", 1) == pytest.approx(100, abs=1)


def test_a_check_past_the_wait_bound_is_refused_with_retry_after() -> None:
    queue = FairQueue(slots=1, max_wait=30)
    queue.enter("a", 100)
    with pytest.raises(ChecksBusy) as refused:
        queue.enter("b", 1)
    assert refused.value.status == 429
    assert int((refused.value.headers or {})["Retry-After"]) >= 70
    assert refused.value.details["limit"] == 30

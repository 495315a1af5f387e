"""Heavy work of a server process one at a time, with a bounded wait and a 503 for no memory.

The insights of a run (its confusion matrix, misclassified digits, weights, predictions)
each evaluate a network that may be 2048 units wide on the whole test set (~110 MB). Run
side by side, a few dozen of them exhaust memory, and OpenBLAS aborts the process when it
cannot allocate. Here they take one slot per process: a request waits for it at most
``insight_wait`` seconds (then 503 ``busy`` with ``Retry-After``), and a ``MemoryError``
(numpy's allocation failure included) is a 503 ``out_of_memory`` for that request alone.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from app.errors import Unavailable

T = TypeVar("T")


class HeavySlot:
    """``capacity`` pieces of heavy work at a time; a request waits at most ``wait`` s."""

    def __init__(self, wait: float, capacity: int = 1) -> None:
        self.wait = wait
        self._free = asyncio.Semaphore(capacity)

    def _retry_after(self) -> str:
        return str(max(1, math.ceil(self.wait)))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a thread once a slot is free; 503 past the wait or out of memory."""
        try:
            await asyncio.wait_for(self._free.acquire(), self.wait or 1e-3)
        except TimeoutError:
            raise Unavailable(
                f"The server is busy with other heavy requests and this one waited "
                f"{self.wait:g} s for its turn. Try again in a few seconds.",
                code="busy",
                details={"wait_seconds": self.wait},
                headers={"Retry-After": self._retry_after()},
            ) from None
        try:
            return await run_in_threadpool(fn, *args)
        except MemoryError:
            raise Unavailable(
                "The server ran out of memory for this request; nothing else was affected. "
                "Try again in a little while.",
                code="out_of_memory",
                headers={"Retry-After": self._retry_after()},
            ) from None
        finally:
            self._free.release()

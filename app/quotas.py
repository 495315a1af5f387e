"""How much one client may take: its request rate on the expensive routes, its runs, the disk.

The rate limit is the ``limits`` library's moving window, kept in this process's
memory or, when ``BACKPROP_LAB_RATE_LIMIT_STORAGE`` names one, in Redis shared by
every server. The caps on runs and the disk budget are counted in the database (see
``RunStore.create_run``); the errors they answer with are here.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import time
from typing import Any

import anyio.to_thread
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import AppError, TooManyRequests, dump_json, error_body
from app.owners import client_key, presented_token
from app.settings import Settings
from app.training.records import Budget, ClientQuotaFull, StorageFull

log = logging.getLogger("backprop_lab.quotas")

#: The expensive routes: (method, path pattern). Reading a run's log or its list is cheap.
EXPENSIVE = (
    ("POST", re.compile(r"/train")),
    ("POST", re.compile(r"/gradcheck")),
    ("POST", re.compile(r"/graphs/evaluate")),
    ("POST", re.compile(r"/graphs/export/[^/]+")),
    ("POST", re.compile(r"/runs/[^/]+/predict")),
    ("GET", re.compile(r"/runs/[^/]+/(weights|confusion|misclassified)")),
    ("POST", re.compile(r"/experiments/[^/]+")),
)


class QuotaExceeded(TooManyRequests):
    """A quota of the client or of the lab is used up for now (429, with Retry-After)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        retry_after: int,
        details: dict[str, Any] | None = None,
    ) -> None:
        details = {**(details or {}), "retry_after": retry_after}
        super().__init__(message, code=code, details=details)
        self.headers = {"Retry-After": str(retry_after)}


class InsufficientStorage(AppError):
    """The runs' disk budget is used up and the client has no finished run to give back (507)."""

    status = 507
    code = "storage_full"


#: Seconds a client refused for a full lab (or its own full quota) is asked to wait.
RETRY_RUNS_AFTER = 30


def lab_full(limit: int) -> QuotaExceeded:
    """The 429 of a new run while the lab (every server together) has ``limit`` runs active."""
    return QuotaExceeded(
        f"The lab already has {limit} runs queued or training, the lab's limit for all its "
        "servers together (not this server's); wait for one to finish and try again.",
        code="lab_full",
        retry_after=RETRY_RUNS_AFTER,
        details={"field": "active_runs", "limit": limit},
    )


def refusal(s: Settings, e: ClientQuotaFull | StorageFull) -> AppError:
    """The answer to a run the store refused: the client's own cap (429), or no disk (507)."""
    if isinstance(e, ClientQuotaFull):
        return QuotaExceeded(
            f"You already have {e.active} runs queued or training, the most one person may "
            f"have at once ({s.max_active_runs_per_client}); wait for one to finish or "
            "cancel one.",
            code="too_many_runs_for_you",
            retry_after=RETRY_RUNS_AFTER,
            details={"field": "active_runs", "limit": s.max_active_runs_per_client},
        )
    return InsufficientStorage(
        f"The lab's disk budget for runs ({s.max_stored_bytes:,} bytes, "
        f"BACKPROP_LAB_MAX_STORED_BYTES) is used up ({e.stored:,} bytes stored) and you have "
        f"no finished run whose removal would make room for this one (about {e.needed:,} "
        "bytes); delete runs you no longer need, or ask the operator to raise the budget.",
        details={"limit": s.max_stored_bytes, "stored": e.stored, "needed": e.needed},
    )


def run_budget(s: Settings, config: dict[str, Any]) -> Budget:
    """The disk budget a new run is admitted under, and the reason written on runs it removes."""
    return Budget(
        s.max_stored_bytes,
        run_size_estimate(config),
        f"Removed to free space: the lab keeps at most {s.max_stored_bytes:,} bytes of runs "
        "(BACKPROP_LAB_MAX_STORED_BYTES), and your oldest finished runs make room for your "
        "new ones.",
    )


def expensive(method: str, path: str) -> bool:
    """Whether a request goes to one of the rate-limited routes."""
    return any(method == m and p.fullmatch(path) for m, p in EXPENSIVE)


def run_size_estimate(config: dict[str, Any]) -> int:
    """Bytes a run will store, roughly: its weights as an .npz, and ~12 bytes per loss logged."""
    sizes = [784, *(config.get("layers") or [config.get("hidden_size", 50)]), 10]
    params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    return 4 * params + 12 * int(config.get("iterations", 0)) + 4096


class RateLimit:
    """ASGI middleware: 429 ``rate_limited`` past ``rate`` requests per client to EXPENSIVE.

    A client is its owner token (cookie or bearer), else its address. If the storage
    does not answer (Redis is away), requests pass and the failure is logged.
    """

    def __init__(self, app: ASGIApp, rate: str, storage: str) -> None:
        self.app = app
        self.items: list[RateLimitItem] = parse_many(rate)
        self.storage_url = storage
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage))
        self.local = storage.startswith("memory://")

    def _hit(self, key: str) -> int:
        """0 if the request may pass, else seconds until it may (recording the hit)."""
        for item in self.items:
            if not self.limiter.hit(item, "backprop-lab", key):
                reset = self.limiter.get_window_stats(item, "backprop-lab", key).reset_time
                return max(1, math.ceil(reset - time.time()))
        return 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not expensive(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        client = scope.get("client")
        key = client_key(presented_token(headers), client[0] if client else None)
        try:
            wait = self._hit(key) if self.local else await anyio.to_thread.run_sync(self._hit, key)
        except Exception as e:  # the shared storage is away: do not refuse the lab for it
            log.warning("rate limit storage %s failed: %s", self.storage_url, e)
            wait = 0
        if not wait:
            await self.app(scope, receive, send)
            return
        rate = ", ".join(str(i) for i in self.items)
        body = dump_json(
            error_body(
                "rate_limited",
                f"You sent too many requests to the expensive parts of the lab (at most {rate} "
                f"per client); wait {wait} s and try again.",
                {"limit": rate, "retry_after": wait},
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                    (b"retry-after", str(wait).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

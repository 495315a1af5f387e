"""Prometheus metrics of servers and workers (prometheus-client), and the lab's own numbers.

Two kinds. What a process does (requests, event streams, events it wrote, gradient
checks) lives in that process's counters; with ``PROMETHEUS_MULTIPROC_DIR`` set, every
process sharing a port (``uvicorn --workers N``, a Celery worker's pool) writes them to
files there and any of them answers for all. What the lab *is* (runs by status, queue
depth, live workers, stale beats) is read from the database at scrape time by
``LabCollector``, so every server reports the same lab-wide figures.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

log = logging.getLogger("backprop_lab.metrics")

REQUESTS = Counter(
    "backprop_lab_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "backprop_lab_http_request_duration_seconds",
    "Seconds from a request's arrival to the end of its answer (event streams excluded).",
    ["route", "method", "status"],
)
SSE_STREAMS = Gauge(
    "backprop_lab_sse_streams_open",
    "Event streams of training runs open now.",
    multiprocess_mode="livesum",
)
EVENTS_WRITTEN = Counter(
    "backprop_lab_events_written", "Events this process wrote into run logs, by kind.", ["kind"]
)
RUNS_FINISHED = Counter(
    "backprop_lab_worker_runs_finished",
    "Attempts a worker process ended, by the run's status after it.",
    ["status"],
)
GRADCHECKS_WAITING = Gauge(
    "backprop_lab_gradchecks_waiting",
    "Gradient checks accepted and not yet answered (running or waiting for a check process).",
    multiprocess_mode="livesum",
)

#: Event streams are long-lived: their duration says nothing about latency.
_STREAM_SUFFIX = "/events"


class LabCollector(Collector):
    """The lab's numbers read from the database at each scrape (any server reports them)."""

    def __init__(self, read: Callable[[], Any]) -> None:
        from app.logs import Outage

        self.read = read
        self.outage = Outage(log, "The database (for /metrics)")

    def collect(self) -> Iterator[Metric]:
        """One look at the database; ``backprop_lab_database_up`` 0 if it does not answer."""
        up = GaugeMetricFamily(
            "backprop_lab_database_up", "1 if the database answered this scrape, else 0."
        )
        try:
            lab = self.read()
        except Exception as e:
            self.outage.down(e)
            up.add_metric([], 0)
            yield up
            return
        self.outage.up()
        up.add_metric([], 1)
        yield up
        runs = GaugeMetricFamily("backprop_lab_runs", "Runs by status.", labels=["status"])
        for status, n in lab.by_status.items():
            runs.add_metric([status], n)
        yield runs
        yield GaugeMetricFamily(
            "backprop_lab_queue_depth", "Runs waiting for a worker.", value=lab.queue_depth
        )
        age = lab.now - lab.oldest_queued if lab.oldest_queued is not None else 0.0
        yield GaugeMetricFamily(
            "backprop_lab_oldest_queued_seconds",
            "Seconds the oldest queued run has waited (0: none waits).",
            value=age,
        )
        yield GaugeMetricFamily(
            "backprop_lab_live_workers",
            "Training processes that beat for a run within the heartbeat timeout.",
            value=lab.live_workers,
        )
        yield GaugeMetricFamily(
            "backprop_lab_stale_beats",
            "Running runs whose last beat is older than three beat intervals.",
            value=lab.stale_beats,
        )


def process_registry() -> CollectorRegistry:
    """This process's metrics, or every process's of the multiprocess directory if set."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def exposition(lab: CollectorRegistry | None = None) -> bytes:
    """The text a scrape gets: this process's (or its siblings') metrics, then the lab's."""
    text = generate_latest(process_registry())
    return text + generate_latest(lab) if lab is not None else text


def lab_registry(read: Callable[[], Any]) -> CollectorRegistry:
    """A registry holding only the lab's numbers, read through ``read`` at each scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LabCollector(read))
    return registry


def route_of(scope: Scope) -> str:
    """The route template that served a request (``/train/{run_id}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("app_root_path") or scope.get("root_path"):
        root = scope.get("root_path") or ""
        return f"{root}/{{path}}" if root else "unmatched"
    return "unmatched"


class RequestMetrics:
    """ASGI middleware counting every answered request by route template, method and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request and count it once its answer is sent."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_of(scope)
            labels = (route, scope.get("method", ""), str(status))
            REQUESTS.labels(*labels).inc()
            if not route.endswith(_STREAM_SUFFIX):
                LATENCY.labels(*labels).observe(time.perf_counter() - started)

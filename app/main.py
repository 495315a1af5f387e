"""Assemble the app: settings, error handlers, limits and one router per resource."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from app.checks import GradcheckRunner
from app.contract import document_contract
from app.datasets import missing_dataset
from app.db import describe, is_disconnect
from app.errors import install_error_handlers
from app.graphwork import GraphPool
from app.logs import Outage, setup_logging
from app.metrics import RequestMetrics, lab_registry
from app.middleware import BodySizeLimit, QuietDisconnects, SecurityHeaders, TrustedHosts
from app.quotas import RateLimit
from app.routers import (
    datasets,
    experiments,
    gradcheck,
    graphs,
    health,
    insights,
    limits,
    predict,
    train,
)
from app.routers.ui import install_ui
from app.schemas_service import document_limits
from app.settings import Settings, get_settings
from app.training.service import RunService

log = logging.getLogger("backprop_lab.server")
#: Seconds between two tries to reach a database that did not answer at start-up.
RETRY_EVERY = 2.0


async def wait_for_database(app: FastAPI, settings: Settings, error: BaseException) -> RunService:
    """Retry the run service until the database answers (one log line a minute meanwhile)."""
    from starlette.concurrency import run_in_threadpool

    where = describe(settings.database())
    outage = Outage(log, f"The database ({where})")
    while True:
        app.state.waiting_for_database = f"{where} does not answer ({str(error).strip()[:120]})"
        outage.down(error, "the server answers /healthz and pages meanwhile")
        await asyncio.sleep(RETRY_EVERY)
        try:
            runs = await run_in_threadpool(RunService, settings)
        except Exception as e:
            if not is_disconnect(e):
                raise
            error = e
            continue
        runs.start()
        app.state.runs = runs
        outage.up()
        return runs


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI application."""
    settings = settings or get_settings()
    setup_logging(settings.log_format)
    lab_dataset = settings.lab_dataset()
    if settings.executor == "celery" and lab_dataset:
        missing = missing_dataset(lab_dataset)
        if missing:
            raise SystemExit(f"The server does not start: {missing}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # NOTE: each lifespan closes what it opened, not what app.state holds now: a test
        # client and schemathesis may run two lifespans of one app at once.
        gradcheck = app.state.gradcheck = GradcheckRunner(settings)
        runs: RunService | None = None
        waiting: asyncio.Task[RunService] | None = None
        try:
            runs = RunService(settings)
        except Exception as e:
            # NOTE: the database is down at start-up: serve /healthz and pages, and retry.
            if not is_disconnect(e):
                raise
            waiting = asyncio.create_task(wait_for_database(app, settings, e))
        else:
            runs.start()
            app.state.runs = runs
        try:
            yield
        finally:
            if waiting is not None:
                if waiting.done() and not waiting.cancelled() and waiting.exception() is None:
                    runs = waiting.result()
                waiting.cancel()
                with suppress(BaseException):
                    await waiting
            gradcheck.close()
            app.state.graph_pool.close()
            if runs is not None:
                runs.close()

    app = FastAPI(
        title="Backprop Lab",
        version="0.1.0",
        description=(
            "Backpropagation made visible: evaluate computation graphs with every forward "
            "value and upstream gradient, check gradients, and train the book's TwoLayerNet "
            "on MNIST with live metrics. Errors always have the shape "
            '`{"error": {"code", "message", "details"}}`.'
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runs = None

    def read_lab() -> object:
        runs = app.state.runs
        if runs is None:
            raise RuntimeError("the server is waiting for the database")
        return runs.watch.read()

    app.state.lab_metrics = lab_registry(read_lab)
    # Large graph bodies are parsed and evaluated in worker processes, started at first use.
    app.state.graph_pool = GraphPool(
        settings.graph_processes,
        settings.graph_wait,
        settings.max_graph_seconds,
        settings.worker_nice,
    )
    install_error_handlers(app)
    # Outermost last: headers on every answer; the body is read whole (then parsed and
    # checked off the event loop by each route, app/body.py).
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimit, rate=settings.rate_limit, storage=settings.rate_limit_storage)
    app.add_middleware(TrustedHosts, allowed_hosts=settings.allowed_host_names())
    app.add_middleware(SecurityHeaders)
    app.add_middleware(QuietDisconnects)
    app.add_middleware(RequestMetrics)
    # Outermost: every answer over 1 KB that asks for it is gzipped (event streams never are).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    app.include_router(health.router)
    app.include_router(limits.router)
    app.include_router(graphs.router)
    app.include_router(train.router)
    app.include_router(predict.router)
    app.include_router(gradcheck.router)
    app.include_router(datasets.router)
    app.include_router(insights.router)
    app.include_router(experiments.router)
    install_ui(app)
    document_limits(app, settings)
    document_contract(app, settings)
    return app


app = create_app()

"""Assemble the app: settings, error handlers, limits and one router per resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.checks import GradcheckRunner
from app.contract import document_contract
from app.errors import install_error_handlers
from app.guards import QuietDisconnects, SecurityHeaders, TrustedHosts
from app.limits import BodySizeLimit
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
from app.runs import RunService
from app.schemas_service import document_limits
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI application."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runs = RunService(settings)
        runs.start()
        app.state.runs = runs
        app.state.gradcheck = GradcheckRunner(settings)
        try:
            yield
        finally:
            app.state.gradcheck.close()
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
    install_error_handlers(app)
    # Outermost last: headers on every answer; the body is read whole (then parsed and
    # checked off the event loop by each route, app/body.py).
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimit, rate=settings.rate_limit, storage=settings.rate_limit_storage)
    app.add_middleware(TrustedHosts, allowed_hosts=settings.allowed_host_names())
    app.add_middleware(SecurityHeaders)
    app.add_middleware(QuietDisconnects)
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

"""Liveness (``/healthz``), readiness naming the part that is down (``/readyz``), metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.errors import SafeJSONResponse, error_body
from app.metrics import CONTENT_TYPE, exposition

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> SafeJSONResponse:
    """200 while this process serves requests, whatever the database or the broker do."""
    return SafeJSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    responses={503: {"description": "A part (database, broker, workers) is down: the part named."}},
)
def readyz(request: Request) -> SafeJSONResponse:
    """``ready`` with each part's state; 503 naming the parts that are down and what to check."""
    runs = getattr(request.app.state, "runs", None)
    if runs is None:
        waiting = getattr(request.app.state, "waiting_for_database", None) or "not started yet"
        parts = {"database": f"down: {waiting}"}
    else:
        parts = runs.health()
    down = {name: state for name, state in parts.items() if state != "ok"}
    if not down:
        return SafeJSONResponse({"status": "ready", "parts": parts})
    message = "; ".join(f"{name} {state}" for name, state in down.items())
    body = {
        "status": "not_ready",
        "parts": parts,
        **error_body(
            f"{next(iter(down))}_unavailable",
            f"Not ready: {message}. Streams and graphs still work; it recovers by itself "
            "when the part is back.",
            {"down": sorted(down), "parts": parts},
        ),
    }
    return SafeJSONResponse(body, status_code=503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Prometheus text: this server's requests and streams, and the lab's runs, queue, workers."""
    lab = getattr(request.app.state, "lab_metrics", None)
    return Response(exposition(lab), media_type=CONTENT_TYPE)

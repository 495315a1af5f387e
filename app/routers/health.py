"""Liveness, and which part is down when the service is degraded."""

from __future__ import annotations

from fastapi import APIRouter

from app.errors import SafeJSONResponse, error_body
from app.runs import Service

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={503: {"description": "A part (database, broker) is down."}})
def healthz(service: Service) -> SafeJSONResponse:
    """``ok`` with each part's state; 503 naming the part that is down and what to check."""
    parts = service.health()
    down = {name: state for name, state in parts.items() if state != "ok"}
    if not down:
        return SafeJSONResponse({"status": "ok", "parts": parts})
    message = "; ".join(f"{name} {state}" for name, state in down.items())
    body = {
        "status": "degraded",
        "parts": parts,
        **error_body(
            f"{next(iter(down))}_unavailable",
            f"The service is degraded: {message}. Runs cannot be started until it is back; "
            "it recovers by itself.",
            {"down": sorted(down)},
        ),
    }
    return SafeJSONResponse(body, status_code=503)

"""The server's limits, so a form can show them before a request is refused."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.schemas_service import ServerLimits

router = APIRouter(tags=["limits"])


@router.get("/limits", response_model=ServerLimits)
def limits(request: Request) -> dict[str, int]:
    """Every limit of this server: training runs, gradient checks, graphs and bodies."""
    return dict(request.app.state.settings.limits())

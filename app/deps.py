"""FastAPI dependencies shared by the routers: the run service, the run a path names, the
insights' heavy slot."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.db import describe
from app.errors import Unavailable
from app.heavy import HeavySlot
from app.settings import Settings
from app.training.records import RunRecord
from app.training.service import RunService


def get_service(request: Request) -> RunService:
    """The app's RunService (a FastAPI dependency)."""
    service: RunService | None = getattr(request.app.state, "runs", None)
    if service is None:
        settings: Settings = request.app.state.settings
        raise Unavailable(
            f"The server is waiting for the database ({describe(settings.database())}) to "
            "answer; it retries by itself. Try again in a moment.",
            code="database_unavailable",
            details={"part": "database"},
        )
    return service


Service = Annotated[RunService, Depends(get_service)]


def existing_run(run_id: str, service: Service) -> RunRecord:
    """The run named in the path, or 404 (a FastAPI dependency)."""
    return service.get(run_id)


ExistingRun = Annotated[RunRecord, Depends(existing_run)]


def insight_slot(request: Request) -> HeavySlot:
    """The app's one slot for insight work (a FastAPI dependency; made on first use)."""
    state = request.app.state
    if getattr(state, "insight_slot", None) is None:
        state.insight_slot = HeavySlot(state.settings.insight_wait)
    slot: HeavySlot = state.insight_slot
    return slot


Slot = Annotated[HeavySlot, Depends(insight_slot)]

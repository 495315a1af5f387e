"""Gradient checks: backprop against numerical differentiation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app.checks import GradcheckRunner
from app.schemas_service import GradcheckReport, GradcheckRequest, error_responses

router = APIRouter(tags=["gradcheck"])


def get_runner(request: Request) -> GradcheckRunner:
    """The app's gradient-check runner (a FastAPI dependency)."""
    runner: GradcheckRunner = request.app.state.gradcheck
    return runner


@router.post(
    "/gradcheck", response_model=GradcheckReport, responses=error_responses(400, 409, 413, 422)
)
async def gradcheck(
    req: GradcheckRequest, runner: Annotated[GradcheckRunner, Depends(get_runner)]
) -> dict[str, Any]:
    """Compare backprop with central differences for the book's network or a posted graph."""
    return await runner.run(req)

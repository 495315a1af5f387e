"""Gradient checks: backprop against numerical differentiation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app.body import JSONRoute
from app.checks import GradcheckRunner
from app.metrics import GRADCHECKS_WAITING
from app.schemas_gradcheck import GradcheckReport, GradcheckRequest
from app.schemas_service import error_responses

router = APIRouter(tags=["gradcheck"], route_class=JSONRoute)


def get_runner(request: Request) -> GradcheckRunner:
    """The app's gradient-check runner (a FastAPI dependency)."""
    runner: GradcheckRunner = request.app.state.gradcheck
    return runner


@router.post(
    "/gradcheck",
    response_model=GradcheckReport,
    responses=error_responses(400, 409, 413, 422, 429, 503),
)
async def gradcheck(
    req: GradcheckRequest,
    request: Request,
    runner: Annotated[GradcheckRunner, Depends(get_runner)],
) -> dict[str, Any]:
    """Compare backprop with central differences for the book's network or a posted graph.

    A check runs at most ``max_gradcheck_seconds`` (then 413 ``check_time_limit``), and is
    stopped at once if the client closes the connection. Waiting checks take turns by client;
    one that would wait over ``max_gradcheck_wait`` is answered 429 with ``Retry-After``.
    """
    client = request.client.host if request.client else ""
    planned = getattr(request.state, "planned", None)
    with GRADCHECKS_WAITING.track_inprogress():
        return await runner.run(
            req, disconnected=request.is_disconnected, client=client, planned=planned
        )

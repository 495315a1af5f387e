"""Predictions with a finished run's trained weights."""

from __future__ import annotations

from fastapi import APIRouter

from app.body import JSONRoute
from app.deps import ExistingRun, Service, Slot
from app.schemas_service import Prediction, PredictRequest, error_responses

router = APIRouter(tags=["runs"], route_class=JSONRoute)


@router.post(
    "/runs/{run_id}/predict",
    response_model=Prediction,
    responses=error_responses(400, 404, 409, 413, 422, 503),
)
async def predict(
    req: PredictRequest, run: ExistingRun, service: Service, slot: Slot
) -> Prediction:
    """Classify a 28x28 image (values 0..1) with a completed run's network."""
    return Prediction(**await slot.run(service.predictions.predict, run.id, req.image))

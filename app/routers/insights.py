"""What a finished run learned: first-layer weights, confusion matrix, misclassified test digits."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.body import JSONRoute
from app.deps import ExistingRun, Service, Slot
from app.schemas_service import error_responses
from app.training.records import RunRecord
from app.training.service import RunService

router = APIRouter(tags=["runs"], route_class=JSONRoute)


class FirstLayerWeights(BaseModel):
    """Columns of W1: each hidden unit's 784 input weights, to draw as a 28x28 image."""

    shape: list[int] = Field(description="Shape of W1: (784, hidden_size).")
    units: list[int] = Field(description="Index of each hidden unit returned.")
    images: list[list[float]] = Field(description="One list of 784 weights per unit.")
    max_abs: float = Field(description="Largest |weight| over the units returned.")


class Confusion(BaseModel):
    """Counts of true class (rows) against predicted class (columns) on the test set."""

    classes: list[str]
    matrix: list[list[int]]
    accuracy: float
    test_size: int


class Mistake(BaseModel):
    """One misclassified test image."""

    index: int = Field(description="Index in the test set.")
    label: int
    predicted: int
    confidence: float = Field(description="Probability the network gave its (wrong) answer.")
    image: list[float] = Field(description="784 pixels in 0..1, row by row.")


class Misclassified(BaseModel):
    """Misclassified test images, most confidently wrong first."""

    classes: list[str]
    total: int = Field(description="Misclassified test images in all.")
    items: list[Mistake]


def _weights(service: RunService, run_id: str, limit: int) -> FirstLayerWeights:
    w1 = np.asarray(service.predictions.network(run_id).params["W1"], dtype=np.float64)
    n = min(limit, w1.shape[1])
    cols = np.round(w1[:, :n].T, 5)
    return FirstLayerWeights(
        shape=list(w1.shape),
        units=list(range(n)),
        images=cols.tolist(),
        max_abs=float(np.max(np.abs(cols))) if cols.size else 0.0,
    )


def _confusion(run: RunRecord, service: RunService) -> Confusion:
    data, probs = service.predictions.test_softmax(run)
    pred = np.argmax(probs, axis=1)
    t = data.t_test.astype(np.intp)
    k = len(data.classes)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (t, pred), 1)
    return Confusion(
        classes=list(data.classes),
        matrix=matrix.tolist(),
        accuracy=float(np.mean(pred == t)),
        test_size=len(t),
    )


def _misclassified(run: RunRecord, service: RunService, limit: int) -> Misclassified:
    data, probs = service.predictions.test_softmax(run)
    pred = np.argmax(probs, axis=1)
    t = data.t_test.astype(np.intp)
    wrong = np.flatnonzero(pred != t)
    conf = probs[wrong, pred[wrong]]
    order = wrong[np.argsort(-conf, kind="stable")][:limit]
    items = [
        Mistake(
            index=int(i),
            label=int(t[i]),
            predicted=int(pred[i]),
            confidence=float(probs[i, pred[i]]),
            image=np.round(data.x_test[i].astype(np.float64) / 255.0, 3).tolist(),
        )
        for i in order
    ]
    return Misclassified(classes=list(data.classes), total=len(wrong), items=items)


BUSY = error_responses(404, 409, 503)


@router.get("/runs/{run_id}/weights", response_model=FirstLayerWeights, responses=BUSY)
async def first_layer_weights(
    run: ExistingRun,
    service: Service,
    slot: Slot,
    limit: Annotated[int, Query(ge=1, le=256, description="Hidden units to return.")] = 64,
) -> FirstLayerWeights:
    """The first layer's weights of a completed run, one 784-vector per hidden unit."""
    return await slot.run(_weights, service, run.id, limit)


@router.get("/runs/{run_id}/confusion", response_model=Confusion, responses=BUSY)
async def confusion(run: ExistingRun, service: Service, slot: Slot) -> Confusion:
    """Confusion matrix of a completed run on its dataset's test set (computed once)."""
    return await slot.run(_confusion, run, service)


@router.get(
    "/runs/{run_id}/misclassified",
    response_model=Misclassified,
    responses=error_responses(404, 409, 422, 503),
)
async def misclassified(
    run: ExistingRun,
    service: Service,
    slot: Slot,
    limit: Annotated[int, Query(ge=1, le=200, description="Images to return.")] = 24,
) -> Misclassified:
    """Test images a completed run gets wrong, the most confidently wrong first."""
    return await slot.run(_misclassified, run, service, limit)

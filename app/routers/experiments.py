"""The chapter-6 experiments: the optimizer race and the activation histograms."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from app.errors import TooLarge, Unprocessable
from app.schemas_experiments import ActivationsAnswer, ActivationsRequest, RaceAnswer, RaceRequest
from app.schemas_service import error_responses
from engine.experiments import (
    ACTIVATION_LIMITS,
    FUNCTIONS,
    RACE_LIMITS,
    activation_histograms,
    arrivals,
    contours,
    init_scale,
    race,
)
from engine.optimizers import OPTIMIZERS

router = APIRouter(prefix="/experiments", tags=["experiments"])


def _check_limits(values: dict[str, int], limits: dict[str, int]) -> None:
    """Raise a 413 naming the first field over its limit."""
    for field, limit in limits.items():
        value = values[field]
        if value > limit:
            raise TooLarge(
                f"'{field}' is {value}, over this server's limit of {limit}.",
                details={"field": field, "limit": limit, "value": value},
            )


def _race(req: RaceRequest) -> dict[str, Any]:
    lrs = {name: opt.lr for name, opt in req.optimizers.items()}
    paths, traces = race(lrs, (req.start[0], req.start[1]), req.steps, req.function)
    first = arrivals(paths, req.function)
    done = [s for s in first.values() if s is not None]
    fn = FUNCTIONS[req.function]
    c = contours(req.function)
    return {
        "function": req.function,
        "title": fn.title,
        "start": req.start,
        "steps": req.steps,
        "lrs": lrs,
        "paths": {k: [list(p) for p in v] for k, v in paths.items()},
        "trace": {k: [asdict(s) for s in v] for k, v in traces.items()},
        "contours": {
            "x_range": list(c.x_range),
            "y_range": list(c.y_range),
            "minimum": list(fn.minimum),
            "levels": list(c.levels),
            "segments": [[list(s) for s in level] for level in c.segments],
        },
        "arrival": {
            "radius": fn.radius,
            "steps": first,
            "first": [k for k, s in first.items() if done and s == min(done)],
        },
    }


@router.post("/optimizer-race", response_model=RaceAnswer, responses=error_responses(413, 422))
async def optimizer_race(req: RaceRequest) -> dict[str, Any]:
    """Race the book's optimizers on f(x, y) = x²/20 + y², as ``optimizer_compare_naive.py``."""
    if req.function not in FUNCTIONS:
        raise Unprocessable(
            f"Unknown function '{req.function}'; choose one of: {', '.join(FUNCTIONS)}.",
            code="unknown_function",
            details={"field": "function", "value": req.function, "choices": list(FUNCTIONS)},
        )
    for name in req.optimizers:
        if name not in OPTIMIZERS:
            raise Unprocessable(
                f"Unknown optimizer '{name}'; choose among: {', '.join(OPTIMIZERS)}.",
                code="unknown_optimizer",
                details={"field": f"optimizers.{name}", "value": name, "choices": list(OPTIMIZERS)},
            )
    _check_limits({"steps": req.steps}, RACE_LIMITS)
    return await run_in_threadpool(_race, req)


def _activations(req: ActivationsRequest) -> dict[str, Any]:
    layers = activation_histograms(
        layers=req.layers,
        nodes=req.nodes,
        samples=req.samples,
        activation=req.activation,
        init=req.init,
        weight_init_std=req.weight_init_std,
        bins=req.bins,
        seed=req.seed,
        value_range=(req.range[0], req.range[1]),
    )
    return {
        "layers": [asdict(layer) for layer in layers],
        "scale": init_scale(req.init, req.nodes, req.weight_init_std),
        "range": req.range,
    }


@router.post("/activations", response_model=ActivationsAnswer, responses=error_responses(413, 422))
async def activations(req: ActivationsRequest) -> dict[str, Any]:
    """Each layer's activation histogram, as ``weight_init_activation_histogram.py``."""
    _check_limits(req.model_dump(include=set(ACTIVATION_LIMITS)), ACTIVATION_LIMITS)
    return await run_in_threadpool(_activations, req)

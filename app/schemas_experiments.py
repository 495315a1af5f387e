"""Request and answer models of the chapter-6 experiments (defaults and limits: the engine's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.schemas_service import Whole, _Strict
from engine.experiments import (
    ACTIVATION_DEFAULTS,
    ACTIVATION_LIMITS,
    ACTIVATIONS,
    FUNCTIONS,
    INITS,
    RACE_DEFAULTS,
    RACE_LIMITS,
)
from engine.optimizers import OPTIMIZERS

if TYPE_CHECKING:
    ActivationName = str
    InitName = str
else:
    ActivationName = Literal[tuple(ACTIVATIONS)]
    InitName = Literal[INITS]

#: The largest |coordinate| of a start point.
MAX_START = 1000.0


class RaceOptimizer(_Strict):
    """One optimizer of the race: its learning rate (its other settings are the book's)."""

    lr: float = Field(gt=0, le=1000, description="Learning rate.")


class RaceRequest(_Strict):
    """POST /experiments/optimizer-race: the book's race, every field optional."""

    function: str = Field(RACE_DEFAULTS.function, description=f"One of: {', '.join(FUNCTIONS)}.")
    start: list[float] = Field(
        list(RACE_DEFAULTS.start),
        min_length=2,
        max_length=2,
        description=f"Start point [x, y], each within ±{MAX_START:g}.",
    )
    steps: Whole = Field(
        RACE_DEFAULTS.steps,
        ge=1,
        description=f"Updates per optimizer (limit: {RACE_LIMITS['steps']}).",
    )
    optimizers: dict[str, RaceOptimizer] = Field(
        default_factory=lambda: {k: RaceOptimizer(lr=v) for k, v in RACE_DEFAULTS.optimizers},
        min_length=1,
        description=f"Optimizer name (one of: {', '.join(OPTIMIZERS)}) to its settings; "
        "the paths come in this order.",
    )

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, start: list[float]) -> list[float]:
        if any(abs(v) > MAX_START for v in start):
            raise ValueError(f"the start point must be within ±{MAX_START:g} on each axis")
        return start


class RaceStepPublic(BaseModel):
    """One update: the gradient read at the point before it, and the optimizer's state after."""

    grad: list[float | None]
    state: dict[str, Any] = Field(
        description="v (Momentum), h (AdaGrad), m, v, t and lr_t (Adam), as [x, y] pairs."
    )


class ContoursPublic(BaseModel):
    """Level lines of the function: per level, segments [x1, y1, x2, y2] to draw."""

    x_range: list[float]
    y_range: list[float]
    minimum: list[float]
    levels: list[float]
    segments: list[list[list[float]]]


class Arrival(BaseModel):
    """Which optimizer reached the minimum first: the first step within ``radius`` of it."""

    radius: float
    steps: dict[str, int | None]
    first: list[str] = Field(description="The optimizer(s) that arrived first; empty if none.")


class RaceAnswer(BaseModel):
    """Each optimizer's path (steps + 1 points), its updates, the contours and the arrival."""

    function: str
    title: str
    start: list[float]
    steps: int
    lrs: dict[str, float]
    paths: dict[str, list[list[float | None]]]
    trace: dict[str, list[RaceStepPublic]]
    contours: ContoursPublic
    arrival: Arrival


_A = ACTIVATION_DEFAULTS


class ActivationsRequest(_Strict):
    """POST /experiments/activations: the book's histogram experiment, every field optional."""

    layers: Whole = Field(
        _A.layers, ge=1, description=f"Layers (limit: {ACTIVATION_LIMITS['layers']})."
    )
    nodes: Whole = Field(
        _A.nodes, ge=1, description=f"Nodes per layer (limit: {ACTIVATION_LIMITS['nodes']})."
    )
    samples: Whole = Field(
        _A.samples, ge=1, description=f"Input rows (limit: {ACTIVATION_LIMITS['samples']})."
    )
    activation: ActivationName = Field(_A.activation, description="Activation function.")
    init: InitName = Field(
        _A.init, description="std (weight_init_std), xavier sqrt(1/n) or he sqrt(2/n)."
    )
    weight_init_std: float = Field(
        _A.weight_init_std, gt=0, le=1000, description="Std of the weights for init 'std'."
    )
    bins: Whole = Field(
        _A.bins, ge=1, description=f"Histogram bins (limit: {ACTIVATION_LIMITS['bins']})."
    )
    seed: Whole = Field(_A.seed, ge=0, le=2**32 - 1, description="np.random.seed(seed).")
    range: list[float] = Field(
        list(_A.range),
        min_length=2,
        max_length=2,
        description="[lo, hi] of the histograms (the book's (0, 1)).",
    )

    @field_validator("range")
    @classmethod
    def _range_ordered(cls, value: list[float]) -> list[float]:
        lo, hi = value
        if not lo < hi or abs(lo) > 1e6 or abs(hi) > 1e6:
            raise ValueError("write the range as [lo, hi] with lo < hi, each within ±1e6")
        return value


class LayerPublic(BaseModel):
    """One layer's activations."""

    edges: list[float]
    counts: list[int]
    mean: float | None
    std: float | None
    outside: int = Field(description="Activations outside the range, not in any bin.")


class ActivationsAnswer(BaseModel):
    """One histogram per layer, first layer first."""

    layers: list[LayerPublic]
    scale: float = Field(description="The factor the standard normal weights were scaled by.")
    range: list[float]

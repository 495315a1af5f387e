"""Request and response models of training, runs, predictions and datasets (gradient checks:
``app/schemas_gradcheck.py``), and the limits they are held to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from fastapi import FastAPI
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from app.settings import FIXED_LIMITS, LIMIT_PREFIX, Settings
from app.training.events import Status
from engine.data import NAMES
from engine.optimizers import OPTIMIZERS
from engine.trainer import (
    ACTIVATIONS,
    INITS,
    MAX_DROPOUT,
    MAX_HIDDEN_LAYERS,
    MAX_WEIGHT_DECAY,
    TrainConfig,
)

if TYPE_CHECKING:
    DatasetName = str
    OptimizerName = str
    ActivationName = str
    InitName = str
else:
    # The engine's tables are the one list of datasets and of optimizers; the enums are read
    # from them (mypy cannot see a Literal built at run time).
    DatasetName = Literal[NAMES]
    OptimizerName = Literal[tuple(OPTIMIZERS)]
    ActivationName = Literal[tuple(ACTIVATIONS)]
    InitName = Literal[INITS]
#: The engine's defaults: each request field's default is read from here.
_TRAIN = TrainConfig()
#: A run's status (app/training/events.py).
RunStatus = Status


class ErrorDetail(BaseModel):
    """The inside of every error body."""

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


def error_responses(*statuses: int, model: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route may answer with (always JSON).

    ``model=False`` is for routes whose own response is not JSON (the CSV export):
    the error body is then referenced directly, under application/json.
    """
    entry: dict[str, Any] = {"description": "An error in the one error shape."}
    if model:
        entry["model"] = ErrorBody
    else:
        ref = {"$ref": "#/components/schemas/ErrorBody"}
        entry["content"] = {"application/json": {"schema": ref}}
    return {s: dict(entry) for s in statuses}


class _Strict(BaseModel):
    """A request body: no unknown fields, no NaN, and no coercion (a bool is never a number)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    #: JSON values (lists, objects, numbers, strings) a valid body can hold, counted before
    #: it is parsed: a body of millions of values is refused without building them.
    max_json_values: ClassVar[int | None] = 4096


def _whole_number(value: Any) -> Any:
    """A JSON number with no fraction (2.0, 1e4) as an int; anything else as it came."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: An integer field of a strict model: 100, 100.0 and 1e2 are the same JSON number;
#: 100.5, "100" and true are refused.
Whole = Annotated[int, BeforeValidator(_whole_number)]


# --------------------------------------------------------------------------- training


class TrainRequest(_Strict):
    """A training run of the book's TwoLayerNet; upper bounds come from the server's limits."""

    dataset: DatasetName | None = Field(
        None,
        description="Dataset to train on (see GET /datasets); none: the server's default, "
        "MNIST if it is here or can be downloaded, else the offline subset mnist-10k.",
    )
    hidden_size: Whole = Field(
        _TRAIN.hidden_size, ge=1, description="Hidden units (limit: max_hidden_size)."
    )
    learning_rate: float = Field(
        _TRAIN.learning_rate, gt=0, le=1000, description="Step size of the optimizer."
    )
    batch_size: Whole = Field(
        _TRAIN.batch_size, ge=1, description="Images per mini-batch (limit: max_batch_size)."
    )
    iterations: Whole = Field(
        _TRAIN.iterations, ge=1, description="Optimizer steps (limit: max_iterations)."
    )
    seed: Whole = Field(  # type: ignore[assignment]
        _TRAIN.seed, ge=0, le=2**32 - 1, description="Seed of weights and batch sampling."
    )
    optimizer: OptimizerName = Field(
        _TRAIN.optimizer, description="Update rule (the engine's OPTIMIZERS)."
    )
    sampling: Literal["replacement", "shuffle"] = Field(
        _TRAIN.sampling,  # type: ignore[arg-type]
        description="Batches drawn with replacement (the book) or by epoch shuffles.",
    )
    dtype: Literal["float32", "float64"] = _TRAIN.dtype  # type: ignore[assignment]
    weight_init_std: float = Field(
        _TRAIN.weight_init_std, gt=0, le=100, description="Std of the initial weights (init std)."
    )
    layers: list[Annotated[Whole, Field(ge=1)]] | None = Field(
        None if _TRAIN.layers is None else list(_TRAIN.layers),
        min_length=1,
        max_length=MAX_HIDDEN_LAYERS,
        description="Hidden layer sizes, input side first (none: [hidden_size]); limits: "
        "max_layers, max_hidden_size each, max_total_hidden together. Any of the fields "
        "below away from its default trains the book's MultiLayerNetExtend.",
    )
    activation: ActivationName = Field(_TRAIN.activation, description="Hidden activation.")
    init: InitName = Field(
        _TRAIN.init,
        description="Initial weights: std (weight_init_std), xavier sqrt(1/n), he sqrt(2/n).",
    )
    batch_norm: bool = Field(
        _TRAIN.batch_norm, description="BatchNormalization before each activation."
    )
    dropout: float = Field(
        _TRAIN.dropout,
        ge=0,
        le=MAX_DROPOUT,
        description="Dropout ratio after each activation (0: none).",
    )
    weight_decay: float = Field(
        _TRAIN.weight_decay, ge=0, le=MAX_WEIGHT_DECAY, description="Weight decay lambda (L2)."
    )
    train_size: Whole | None = Field(
        _TRAIN.train_size, ge=1, description="Train on the first train_size images (none: all)."
    )
    layer_stats_every: Whole = Field(
        _TRAIN.layer_stats_every,
        ge=0,
        description="A `layers` event (per-layer statistics) at most every this many "
        "iterations, and at every epoch; 0: none. Limit: iterations / it <= max_layer_events.",
    )


#: The longest run name accepted (in characters).
MAX_RUN_NAME = 80


class RunRename(_Strict):
    """The body of PATCH /train/{id}: the run's new name."""

    name: str = Field(
        description=f"1 to {MAX_RUN_NAME} characters, no control characters; "
        "spaces at either end are dropped."
    )


class TrainAccepted(BaseModel):
    """The answer to POST /train: the run's id and where its events stream."""

    id: str
    status: RunStatus
    events: str
    owner_token: str = Field(
        description="The token that changes this run (also set as the HttpOnly cookie "
        "backprop_lab_owner); send it as Authorization: Bearer <token>."
    )


class EpochPoint(BaseModel):
    """Accuracies measured at the end of an epoch (or at the last iteration)."""

    epoch: float
    iteration: int
    train_acc: float
    test_acc: float


class RunHistory(BaseModel):
    """Every recorded metric: the loss of each iteration (index 0 is iteration 1), each epoch."""

    loss: list[float | None]
    epochs: list[EpochPoint]
    layers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each `layers` event without its histograms: {iteration, layers: [{name, "
        "grad_mean_abs, grad_max_abs, grad_to_data, update_to_data, saturated}]}.",
    )
    layers_last: dict[str, Any] | None = Field(
        None, description="The last `layers` event whole (with its histograms); none yet: null."
    )


class RunSummary(BaseModel):
    """A run's state and final metrics."""

    id: str
    status: RunStatus
    config: dict[str, Any]
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    iterations: int | None = Field(None, description="Iterations trained, once finished.")
    train_acc: float | None = None
    test_acc: float | None = None
    elapsed_s: float | None = None
    message: str | None = None
    warning: str | None = Field(
        None,
        description="Set when a run completed but its loss diverged to finite but huge values "
        "(its weights are not usable).",
    )
    name: str = Field(
        description="The run's name: from its settings at first, editable with PATCH /train/{id}."
    )
    named: bool = Field(
        False,
        description="Whether a person named the run (false: the name is built from its settings, "
        "and a page may show that name in its own language).",
    )
    has_weights: bool = Field(
        False,
        description="Whether the run saved weights (a completed run, or a cancelled one that "
        "trained): then its weights, confusion matrix and predictions are available.",
    )
    queue_position: int | None = Field(
        None,
        description="A queued run only: how many queued runs are ahead of it (0: it starts as "
        "soon as a worker is free).",
    )
    no_worker: bool = Field(
        False,
        description="A queued run only: true while runs wait and no worker has taken or beaten "
        "for one within the heartbeat timeout (the message says so).",
    )
    events: str = Field(description="Path of the run's event stream.")
    last_event_id: int = Field(description="Id of the newest recorded event (0: none yet).")
    mine: bool = Field(False, description="Whether the asking client started this run.")
    removed: str | None = Field(
        None, description="Set when the run's log and weights were removed to free space: why."
    )


class RunPublic(RunSummary):
    """A run with its full history."""

    history: RunHistory


class RunList(BaseModel):
    """Runs, newest first."""

    runs: list[RunSummary]


class CancelAccepted(BaseModel):
    """The answer to DELETE /train/{id}."""

    id: str
    status: RunStatus
    cancel_requested: Literal[True] = Field(
        True,
        description="Always true (the cancel was asked for; a queued run is cancelled at once, "
        "a running one stops within a second): kept for the clients that read it.",
    )


# --------------------------------------------------------------------------- predictions


class PredictRequest(BaseModel):
    """A 28x28 grey image, 0 (black) to 1 (white), as 28 rows of 28 numbers."""

    model_config = ConfigDict(extra="forbid", strict=True)
    max_json_values: ClassVar[int | None] = 4096

    image: list[list[float]] = Field(description="28 rows of 28 numbers in 0..1.")


class Prediction(BaseModel):
    """The class a finished run's network gives the image, and every class's probability."""

    label: int
    probabilities: list[float]


# --------------------------------------------------------------------------- datasets


class DatasetPublic(BaseModel):
    """A dataset: here, downloaded on first use, or not available (and how to provide it)."""

    model_config = ConfigDict(extra="allow")

    name: str
    title: str
    description: str
    state: Literal["available", "download", "missing", "broken"]
    available: bool = Field(description="Its files are on this server.")
    downloadable: bool = Field(description="Not here, but downloaded when first used.")
    usable: bool = Field(
        description="A run or check on it is accepted (available or downloadable)."
    )
    source: str | None = Field(None, description="Where it is found (never a server path).")
    sizes: dict[str, int] | None = None
    subset: bool = False
    message: str | None = Field(None, description="What happens on first use, or what to do.")


class DatasetList(BaseModel):
    """Every dataset the server knows, and the one used when a request names none."""

    datasets: list[DatasetPublic]
    default: str


# --------------------------------------------------------------------------- limits in the schema

#: GET /limits: every limit of the server (each ``BACKPROP_LAB_MAX_*`` setting), built from
#: the settings themselves so a new limit is reported without another edit.
ServerLimits = create_model(
    "ServerLimits",
    __doc__="Every limit of this server; a request over one is refused with 413.",
    **{  # type: ignore[call-overload]
        name: (info.annotation, Field(description=info.description))
        for name, info in Settings.model_fields.items()
        if name.startswith(LIMIT_PREFIX)
    },
    **{name: (int, Field(description="Fixed by the graph engine.")) for name in FIXED_LIMITS},
)

#: (model, field) -> the setting that caps it; enforced by the service with a 413.
LIMITED_FIELDS: dict[tuple[str, str], str] = {
    ("TrainRequest", "iterations"): "max_iterations",
    ("TrainRequest", "hidden_size"): "max_hidden_size",
    ("TrainRequest", "batch_size"): "max_batch_size",
    ("ModelSpec", "hidden_size"): "max_hidden_size",
    ("GradcheckRequest", "batch_size"): "max_gradcheck_batch",
}


def check_limited(body: BaseModel, settings: Settings) -> None:
    """Raise a 413 naming the first field of ``body`` over its limit in ``LIMITED_FIELDS``."""
    from app.errors import TooLarge

    model = type(body).__name__
    for (owner, field), name in LIMITED_FIELDS.items():
        value, limit = getattr(body, field, None), getattr(settings, name)
        if owner == model and isinstance(value, int) and value > limit:
            raise TooLarge(
                f"'{field}' is {value}, over this server's limit of {limit}.",
                details={"field": field, "limit": limit, "value": value},
            )


def document_limits(app: FastAPI, settings: Settings) -> None:
    """Show this server's limits in its OpenAPI schema as ``maximum`` of the capped fields."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.get("components", {}).get("schemas", {})
        for (model, field), name in LIMITED_FIELDS.items():
            prop = components.get(model, {}).get("properties", {}).get(field)
            if prop is not None:
                limit = getattr(settings, name)
                prop["maximum"] = limit
                prop["description"] = f"{prop.get('description', '')} At most {limit} here."
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

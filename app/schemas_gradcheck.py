"""Request and response models of the gradient check (``POST /gradcheck``)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas_service import _TRAIN, DatasetName, Whole, _Strict
from app.settings import Settings


class ModelSpec(_Strict):
    """The book's TwoLayerNet (input and output sizes are the dataset's: 784 and 10)."""

    input_size: Literal[784] = 784
    hidden_size: Whole = Field(
        _TRAIN.hidden_size, ge=1, description="Hidden units (limit: max_hidden_size)."
    )
    output_size: Literal[10] = 10
    weight_init_std: float = Field(0.01, gt=0, le=100)


class GradcheckRequest(_Strict):
    """Check the book's network on real images, or a posted graph (every ``input`` node)."""

    #: A body with a "graph" key is bounded by the graph's own limits instead.
    unbounded_with: ClassVar[bytes] = b'"graph"'
    #: Such a body over 128 KB is validated in a graph process (app/graphwork.py).
    offload_large: ClassVar[bool] = True

    def check_in_thread(self, settings: Settings) -> None:
        """Refuse a graph over the limits while the body is still being read (in a thread)."""
        if self.graph is None:
            return
        from app.errors import graph_app_error
        from engine.graph import GraphError, parse_graph

        try:
            parse_graph(self.graph, limits=settings.graph_limits())
        except GraphError as e:
            raise graph_app_error(e) from None

    model: ModelSpec | None = None
    graph: dict[str, Any] | None = Field(
        None, description="A graph as POST /graphs/evaluate takes it; excludes model/dataset."
    )
    dataset: DatasetName | None = Field(
        None, description="Images to check on; none: the server's default (see GET /datasets)."
    )
    batch_size: Whole = Field(3, ge=1, description="Images checked (limit: max_gradcheck_batch).")
    seed: Whole = Field(0, ge=0, le=2**32 - 1)
    mode: Literal["full", "fast"] = "full"
    scope: Literal["inputs", "all"] = Field(
        "inputs",
        description="With a graph: check its input nodes, or every node (each node's value is "
        "nudged and everything downstream of it recomputed; one params entry per node id).",
    )
    eps: float = Field(1e-4, gt=0, le=1)
    atol: float = Field(1e-7, ge=0, le=1)
    rtol: float = Field(1e-5, ge=0, le=1)
    directions: Whole = Field(4, ge=1, le=64, description="Random directions per parameter (fast).")


class UncheckedElement(BaseModel):
    """An element whose numerical gradient could not be computed, and why."""

    index: list[int]
    reason: str


class ParamCheck(BaseModel):
    """How backprop and numerical gradients agree for one parameter or input node."""

    model_config = ConfigDict(extra="allow")

    # NOTE: null when not a finite number (an overflow, e.g. a huge dout): JSON has no inf.
    mean_abs_diff: float | None = Field(description="Mean |backprop - numerical|; null if inf.")
    max_abs_diff: float | None = Field(description="Largest |backprop - numerical|; null if inf.")
    max_rel_error: float | None = Field(description="Largest relative error; null if inf.")
    passed: bool
    size: int
    checked: int
    kinks: int = 0
    undefined: int = Field(
        0,
        description="Elements (or directions) not checked: the loss has no finite value within "
        "eps of them (an overflow, a log of a negative number).",
    )
    unchecked: list[UncheckedElement] = Field(
        default_factory=list, description="The first few elements not checked, and why."
    )
    numerical: Any = Field(
        None,
        description="A graph's full check: the numerical gradient of this node, element by "
        "element, in its shape (null where it could not be computed).",
    )
    central: Any = Field(
        None,
        description="A graph's full check: the plain central difference (f(x+eps) - f(x-eps)) "
        "/ 2eps of each element, in its shape, beside `numerical` (which may be a better "
        "formula, see `formula`); null where it could not be computed.",
    )
    formula: Any = Field(
        None,
        description="A graph's full check: which formula gave each element of `numerical`, in "
        "its shape: 'central' (the central difference at eps), 'central_half' (at eps/2, the "
        "one-sided slopes disagreed at eps) or 'richardson' ((4 D(eps/2) - D(eps)) / 3, the "
        "function curves within eps).",
    )
    formulas: dict[str, int] | None = Field(
        None,
        description="A graph's check: how many estimates each formula gave "
        "(central, central_half, richardson).",
    )


class GradcheckReport(BaseModel):
    """The result of a gradient check."""

    model_config = ConfigDict(extra="allow")

    passed: bool
    mode: Literal["full", "fast"]
    eps: float
    atol: float
    rtol: float
    elapsed_ms: float
    params: dict[str, ParamCheck]
    kinks: int = 0
    undefined: int = Field(0, description="Elements not checked in all (see each param's).")
    notes: list[str] = Field(default_factory=list)
    formulas: dict[str, int] | None = Field(
        None,
        description="A graph's check: how many estimates each formula gave in all "
        "(central, central_half, richardson); the network check uses central differences only.",
    )
    unseen_bugs: list[dict[str, Any]] | None = Field(
        None,
        description="A graph's check: planted bugs (a broken layer, overwritten gradients) that "
        "change no gradient on this graph, so no check can see them here, each {node, variant, "
        "why, reason}; node is null for 'overwrite', why is 'one_row' when the layer's batch "
        "has one row (N = 1), else null.",
    )

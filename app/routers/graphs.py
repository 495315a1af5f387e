"""Computation graphs: the op palette, the chapter's presets, and evaluation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from app.body import is_json_type, read_json
from app.errors import NotFound, Unprocessable
from app.graphwork import PROCESS_THRESHOLD, RENDERERS, GraphPool, parse_body
from app.schemas_graphs import (
    GRAPH_SCHEMA,
    EvaluationPublic,
    OpCodePublic,
    OpsPublic,
    PresetsPublic,
)
from app.schemas_service import error_responses
from app.settings import Settings
from engine.graph import DEFAULT_LIMITS, GraphError, Limits
from engine.graph.code import op_code
from engine.graph.ops import OPS
from engine.graph.presets import PRESETS

router = APIRouter(prefix="/graphs", tags=["graphs"])


EVALUATE_DESCRIPTION = """\
Evaluate a computation graph: validate it, run it forward in topological order, then
backward from `output` seeded with `dout` (default 1, or ones of the output's shape).

The answer has every node's forward `value`, its gradient `grad` (dL/d(node), the **sum**
over every use of the node) and `shape`; every edge's forward `value` and the upstream
`grad` carried back along it into input `port` of node `to`; and the forward and backward
visiting orders. For the step-through, each node's `local` gives its backward rule per
input, with the actual numbers when all its operands are scalars
(e.g. `dx = dout · y = 1.1 · 2 = 2.2`).

**Numbers** are computed in float64 at full precision and rounded to 15 significant digits
for display only, so the book's 100 · 2 · 1.1 shows as `220.0`, not `220.00000000000003`.

**Errors** have the one shape `{{"error": {{"code", "message", "details"}}}}` and name the node,
input or field at fault: `malformed_json` (400); `invalid_body`, `invalid_field`,
`missing_field`, `unknown_op`, `wrong_arity`, `missing_node`, `duplicate_id`, `graph_cycle`,
`shape_mismatch`, `non_numeric_value`, `non_finite_value`, `ragged_tensor`, `empty_tensor`,
`missing_value`, `unexpected_value`, `unknown_param`, `invalid_param`, `bad_labels`,
`missing_output`, `dout_shape`, `non_finite_result` (422); `limit_exceeded`, `response_too_large`,
`body_too_large`, `evaluation_time_limit` (413); `busy`, `out_of_memory` (503, with
`Retry-After`: a body over {process_threshold} is evaluated in one of the server's graph
processes).

**Limits** (the values in force are in `GET /graphs/ops` under `limits`): nodes per graph
({max_graph_nodes}), elements per tensor ({max_tensor_elements}), elements of all the
graph's tensors together ({max_total_elements}), numbers in the answer (every node's and
edge's value and gradient, {max_response_elements}), {max_tensor_dims} dimensions per
tensor, and the request body size ({max_body_bytes}).
"""


def _setting(name: str) -> str:
    """A setting as the description names it: its variable and its default."""
    env = f"{Settings.model_config.get('env_prefix', '')}{name}".upper()
    return f"`{env}`, default {Settings.model_fields[name].default:,}"


EVALUATE_DESCRIPTION = EVALUATE_DESCRIPTION.format(
    process_threshold=f"{PROCESS_THRESHOLD // 1000} KB",
    max_tensor_dims=DEFAULT_LIMITS.max_tensor_dims,
    **{
        name: _setting(name)
        for name in (
            "max_graph_nodes",
            "max_tensor_elements",
            "max_total_elements",
            "max_response_elements",
            "max_body_bytes",
        )
    },
)


def get_limits(request: Request) -> Limits:
    """The graph limits of this app, from its settings."""
    settings: Settings = request.app.state.settings
    return settings.graph_limits()


LimitsDep = Annotated[Limits, Depends(get_limits)]


@router.get("/ops", response_model=OpsPublic)
def list_ops(request: Request, limits: LimitsDep) -> dict[str, Any]:
    """Every node type with its inputs, parameters, formula and doc, and the limits in force."""
    settings: Settings = request.app.state.settings
    return {
        "ops": [op.public() for op in OPS.values()],
        "limits": {**limits.public(), "max_body_bytes": settings.max_body_bytes},
    }


@router.get("/ops/{name}/code", response_model=OpCodePublic, responses=error_responses(404, 422))
def op_code_of(name: str, variant: str | None = None) -> dict[str, Any]:
    """The Python a node of this op runs (the engine's own source) and the lines of its
    ``forward`` and ``backward``: the step-through's code panel."""
    op = OPS.get(name)
    if op is None:
        raise NotFound(
            f"There is no op {name[:40]!r}; the ops are {', '.join(OPS)}.",
            code="unknown_op",
            details={"field": "name", "known": list(OPS)},
        )
    if variant is not None:
        try:
            op = op.with_variant(variant)
        except GraphError as exc:
            raise Unprocessable(
                f"Op {name} {exc.message}.",
                code=exc.code,
                details={"field": "variant", **exc.details},
            ) from None
    code = op_code(op)
    if code is None:
        raise NotFound(
            "An input node runs no code: its value is given.",
            code="no_code",
            details={"field": "name"},
        )
    return code


@router.get("/presets", response_model=PresetsPublic)
def list_presets() -> dict[str, Any]:
    """The chapter's example graphs, each with an id, a title and an explanation."""
    return {"presets": [p.public() for p in PRESETS]}


@router.post(
    "/evaluate",
    response_model=EvaluationPublic,
    responses=error_responses(400, 413, 422, 503),
    description=EVALUATE_DESCRIPTION,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": GRAPH_SCHEMA}}}
    },
)
async def evaluate_graph(request: Request, limits: LimitsDep) -> Response:
    """Run a graph forward and backward; every node's value and gradient, every edge's too."""
    content = await _off_the_loop(request, limits, "evaluate")
    return _answer_of(content, "application/json")


@router.post(
    "/export/python",
    response_class=Response,
    responses={
        200: {
            "description": "A standalone script that needs only NumPy.",
            "content": {"text/x-python": {"schema": {"type": "string"}}},
        },
        **error_responses(400, 413, 422, 503),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": GRAPH_SCHEMA}}}
    },
)
async def export_python(request: Request, limits: LimitsDep) -> Response:
    """The graph as a Python script: the layer classes it uses, forward, backward, printing.

    Run plainly, the script prints each node's value and gradient; with `--json` it prints
    `{"values": {id: value}, "grads": {id: dL/d(node)}}`, what `/graphs/evaluate` answers.
    The graph is validated and evaluated first, so it fails here as it would there.
    """
    content = await _off_the_loop(request, limits, "export")
    disposition = {"Content-Disposition": 'attachment; filename="graph.py"'}
    return _answer_of(content, "text/x-python; charset=utf-8", disposition)


SEND_CHUNK = 256 * 1024
"""Bytes of a large answer handed to the server's transport at a time."""


def _answer_of(content: bytes, media_type: str, headers: dict[str, str] | None = None) -> Response:
    """The answer; a large one is sent a chunk at a time, as the client reads it, so the event
    loop never copies tens of megabytes in one go."""
    if len(content) <= SEND_CHUNK:
        return Response(content, media_type=media_type, headers=headers)
    view = memoryview(content)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(view), SEND_CHUNK):
            yield bytes(view[start : start + SEND_CHUNK])

    length = {"Content-Length": str(len(content))}
    return StreamingResponse(chunks(), media_type=media_type, headers={**(headers or {}), **length})


async def _off_the_loop(request: Request, limits: Limits, kind: str) -> bytes:
    """Parse, then evaluate and render off the loop: a small body with a small answer in a
    thread; a body over 128 KB, or one whose answer is large, in a worker process
    (``app/graphwork.py``), which sends back the answer's bytes.

    A request waiting for a worker holds only its body's bytes: its graph is parsed again
    there, so queued requests cannot pile up parsed tensors.
    """
    render = RENDERERS[kind]

    def light(value: Any) -> bytes | None:
        graph = parse_body(value, limits)
        return None if graph.evaluation_elements > HEAVY_EVALUATION else render(graph, limits)

    body = await request.body()
    if not body:
        raise Unprocessable("The request body is required.", code="missing_field")
    pool: GraphPool = request.app.state.graph_pool
    if len(body) > PROCESS_THRESHOLD and is_json_type(request.headers.get("content-type")):
        return await pool.run(kind, body, limits)
    content: bytes | None = await read_json(request, light)
    if content is not None:
        return content
    return await pool.run(kind, body, limits)


HEAVY_EVALUATION = 200_000
"""Numbers in an answer above which a small body is evaluated in a worker process too."""

"""Request schema and response models of the graph endpoints, and their JSON rendering.

The request body is validated by ``engine.graph.parse_graph`` alone (one place, one set
of error codes); ``GRAPH_SCHEMA`` only documents it in OpenAPI, built from the parser's
own constants (its fields, the id length, the ``accumulate`` modes) and the op table.
Answers are rendered by ``evaluation_json``, a slice of a tensor at a time, as bytes
(``evaluation_public`` is the same body as Python data); every double is rounded to 15
significant digits for display.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.graph import ACCUMULATE, GRAPH_KEYS, MAX_ID_LENGTH, Evaluation, explain
from engine.graph.op_types import Array
from engine.graph.ops import OPS
from engine.graph.presets import PRESETS_BY_ID

TENSOR_SCHEMA: dict[str, Any] = {
    "description": "A number or a rectangular nested list of numbers (a tensor).",
    "anyOf": [{"type": "number"}, {"type": "array", "items": {}}],
}

_GRAPH_PROPERTIES: dict[str, Any] = {
    "nodes": {
        "type": "array",
        "minItems": 1,
        "description": "The nodes; each names its inputs, in order, by id.",
        "items": {
            "type": "object",
            "required": ["id", "op"],
            "properties": {
                "id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
                "op": {"type": "string", "enum": list(OPS)},
                "inputs": {
                    "type": ["array", "null"],
                    "items": {"type": "string"},
                    "description": "Ids of the nodes feeding this one, in the op's order.",
                },
                "value": {**TENSOR_SCHEMA, "description": "The value of an `input` node."},
                "params": {"type": ["object", "null"], "description": "The op's parameters."},
                "variant": {
                    "type": ["string", "null"],
                    "description": "A broken layer for teaching: one of the op's `variants` "
                    "in GET /graphs/ops (same forward, a backward with a classic bug).",
                },
            },
        },
    },
    "accumulate": {
        "type": "string",
        "enum": list(ACCUMULATE),
        "default": ACCUMULATE[0],
        "description": "How a value used several times gets its gradient: the sum of every "
        "use's (right), or only the last one that reaches it (the classic bug).",
    },
    "output": {"type": "string", "description": "Id of the node the backward pass starts at."},
    "dout": {
        "anyOf": [*TENSOR_SCHEMA["anyOf"], {"type": "null"}],
        "description": "Gradient fed into the output: a number or the output's shape "
        "(default 1, or ones of the output's shape).",
    },
}

GRAPH_SCHEMA: dict[str, Any] = {
    "title": "GraphIn",
    "type": "object",
    "required": ["nodes", "output"],
    "additionalProperties": False,
    # NOTE: in the parser's order; it refuses any other field (GRAPH_KEYS).
    "properties": {key: _GRAPH_PROPERTIES[key] for key in GRAPH_KEYS},
    "example": PRESETS_BY_ID["apples"].graph,
}
"""JSON schema of a posted graph, for the OpenAPI document."""

Tensor = float | list[Any]


class ParamPublic(BaseModel):
    """A parameter of an op."""

    name: str
    type: str
    default: Any
    required: bool
    where: str = Field(description="`params` (the node's params object) or `node` (a field).")
    doc: str
    minimum: float | None = Field(None, description="Smallest value (number and int params).")
    maximum: float | None = Field(None, description="Largest value (number and int params).")


class VariantPublic(BaseModel):
    """A broken layer of an op: the bug it plants, and its (wrong) backward rules."""

    name: str
    doc: str = Field(description="The bug, in one line.")
    backward: dict[str, str]


class OpPublic(BaseModel):
    """One node type of the palette."""

    name: str
    inputs: list[str]
    arity: int
    params: list[ParamPublic]
    doc: str
    formula: str
    backward: dict[str, str] = Field(description="Each input's gradient rule, e.g. dx: dout · y.")
    label_inputs: list[str] = Field(description="Inputs that are class labels (gradient 0).")
    variants: list[VariantPublic] = Field(
        description="Broken layers a node of this op may use (`variant` on the node)."
    )


class BookCodePublic(BaseModel):
    """The book's own class for a chapter-5 layer (shorter than the engine's), and its methods."""

    class_: str = Field(alias="class", description="The book's class name.")
    code: str = Field(description="The class as chapter 5 prints it.")
    forward: list[int] | None = Field(description="First and last line of forward (1-based).")
    backward: list[int] | None = Field(description="First and last line of backward (1-based).")


class OpCodePublic(BaseModel):
    """The Python a node of an op runs, from the engine's source, and where its methods are."""

    op: str
    variant: str | None
    class_: str = Field(alias="class", description="The class whose methods a node runs.")
    code: str = Field(description="Its source (and its base class's, for a broken variant).")
    forward: list[int] | None = Field(description="First and last line of forward (1-based).")
    backward: list[int] | None = Field(description="First and last line of backward (1-based).")
    book: BookCodePublic | None = Field(
        default=None,
        description="The book's class for this layer when the engine's does more (else null).",
    )


class LimitsPublic(BaseModel):
    """Limits of this server for graphs."""

    max_graph_nodes: int
    max_tensor_elements: int
    max_total_elements: int
    max_tensor_dims: int
    max_response_elements: int = Field(
        description="Numbers one answer may carry: every node's and edge's value and gradient."
    )
    max_body_bytes: int


class OpsPublic(BaseModel):
    """Every op and the limits in force."""

    ops: list[OpPublic]
    limits: LimitsPublic


class PresetPublic(BaseModel):
    """One of the chapter's example graphs."""

    id: str
    title: str
    description: str
    graph: dict[str, Any]


class PresetsPublic(BaseModel):
    """The chapter's example graphs."""

    presets: list[PresetPublic]


class OutputPublic(BaseModel):
    """The output node and its value."""

    id: str
    value: Tensor
    shape: list[int]


class LocalPortPublic(BaseModel):
    """The backward rule for one input of a node, with numbers when all are scalars."""

    model_config = ConfigDict(populate_by_name=True)

    port: int
    input: str
    from_: str = Field(alias="from")
    rule: str
    numbers: str | None
    text: str = Field(description="e.g. dx = dout · y = 1.1 · 2 = 2.2")
    label: bool = Field(False, description="The input is class labels: data, no gradient.")


class LocalPublic(BaseModel):
    """A node's backward step, for the UI's step-through."""

    rule: str
    scalar: bool
    values: dict[str, float] | None = Field(description="dout, out and inputs when scalars.")
    ports: list[LocalPortPublic]
    text: str
    terms: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Quantities the step shows before its rules (Softmax-with-Loss: y = "
        "softmax(x), t, N and (y − t) / N), each {name, value}.",
    )


class NodePublic(BaseModel):
    """A node's forward value and its gradient dL/d(node), summed over every use."""

    op: str
    inputs: list[str]
    shape: list[int]
    value: Tensor
    grad: Tensor | None = Field(
        description="dL/d(node), summed over every use; null for class labels (data: no gradient)."
    )
    in_backward: bool = Field(description="Whether the output depends on this node.")
    differentiable: bool = Field(description="False for nodes used only as class labels.")
    local: LocalPublic | None
    variant: dict[str, str] | None = Field(
        None, description="The broken layer this node uses, if any: its name and its bug."
    )


class EdgePublic(BaseModel):
    """The value sent forward along an edge and the upstream gradient sent back."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    port: int
    input: str
    value: Tensor
    grad: Tensor | None = Field(
        description="The upstream gradient along the edge; null from class labels."
    )


class EvaluationPublic(BaseModel):
    """Everything the UI needs to animate the forward and backward passes."""

    output: OutputPublic
    dout: Tensor
    nodes: dict[str, NodePublic]
    edges: list[EdgePublic]
    forward_order: list[str]
    backward_order: list[str]
    accumulate: str = Field("sum", description="'sum', or 'overwrite' (the classic bug).")


def round15(v: float) -> float:
    """A double rounded to 15 significant digits (220.00000000000003 -> 220.0)."""
    return float(f"{v:.15g}")


_POWERS_OF_TEN = 10.0 ** np.arange(23)  # exact doubles up to 1e22


def round15_array(a: Array) -> Array:
    """Every element rounded to 15 significant digits, vectorised; equal to ``round15`` each.

    For 1e-8 <= |v| < 1e15 the digits to keep are an exact power of ten p, so
    rint(v · p) / p is the double nearest the 15-digit decimal, unless v · p rounded
    to exactly half an integer (the product's rounding may have made that tie):
    those, and values out of that range, go through ``round15``.
    """
    original = np.asarray(a, dtype=np.float64)
    out = original.copy()
    magnitude = np.abs(out)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = 14.0 - np.floor(np.log10(magnitude))
    fast = np.isfinite(keep) & (keep >= 0) & (keep <= 22)
    p = _POWERS_OF_TEN[keep[fast].astype(np.intp)]
    scaled = out[fast] * p
    rounded = np.rint(scaled)
    out[fast] = rounded / p
    slow = ~fast & (magnitude != 0) & np.isfinite(out)
    slow[fast] = np.abs(scaled - rounded) == 0.5
    flat, source = out.reshape(-1), original.reshape(-1)
    for i in np.flatnonzero(slow):
        flat[i] = round15(float(source[i]))
    return out


def display(a: Array) -> Any:
    """A tensor as JSON numbers rounded to 15 significant digits (a number or nested lists)."""
    if a.dtype == np.bool_:
        return a.tolist()  # a mask stays True/False
    if a.ndim == 0:
        return round15(float(a))
    if a.size <= 64:
        return np.array([round15(v) for v in a.ravel().tolist()]).reshape(a.shape).tolist()
    return round15_array(a).tolist()


def evaluation_public(ev: Evaluation) -> dict[str, Any]:
    """The JSON body of POST /graphs/evaluate, as Python data."""
    shown: dict[int, Any] = {}

    def show(a: Array) -> Any:
        # A gradient sent along a node's only edge is the node's gradient itself: same array,
        # rendered once (every array here lives until the end of this call, so ids are unique).
        key = id(a)
        if key not in shown:
            shown[key] = display(a)
        return shown[key]

    return _evaluation_body(ev, show)


ENCODE_SLICE = 65_536
"""Most numbers encoded in one go: each slice holds the GIL for a few milliseconds only."""

_PLACEHOLDER = re.compile(r'"\\u0000([0-9a-f]{16}):([0-9]+)\\u0000"')


def _dumps(value: Any) -> str:
    # The same options as Starlette's JSONResponse.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode_tensor(a: Array) -> str:
    """``display(a)`` as JSON text, encoded a slice of rows at a time (same text as one go)."""
    if a.ndim == 0 or a.size <= ENCODE_SLICE:
        return _dumps(display(a))
    row = a.size // a.shape[0]
    if row > ENCODE_SLICE:
        return "[" + ",".join(encode_tensor(r) for r in a) + "]"
    step = ENCODE_SLICE // row
    parts = (_dumps(display(a[i : i + step]))[1:-1] for i in range(0, a.shape[0], step))
    return "[" + ",".join(parts) + "]"


def evaluation_json(ev: Evaluation) -> bytes:
    """The JSON body of POST /graphs/evaluate, equal to ``evaluation_public``'s, as bytes.

    Each tensor is encoded once, a slice at a time (see ``ENCODE_SLICE``), so a large
    answer never holds the interpreter long enough to stall the server's other requests;
    the small skeleton around the tensors carries placeholders that are then replaced.
    """
    nonce = secrets.token_hex(8)
    texts: dict[int, str] = {}

    def show(a: Array) -> str:
        key = id(a)
        if key not in texts:
            texts[key] = encode_tensor(a)
        return f"\x00{nonce}:{key}\x00"

    skeleton = _dumps(_evaluation_body(ev, show))
    pieces: list[str] = []
    end = 0
    for match in _PLACEHOLDER.finditer(skeleton):
        if match.group(1) != nonce:
            continue
        pieces += [skeleton[end : match.start()], texts[int(match.group(2))]]
        end = match.end()
    pieces.append(skeleton[end:])
    return "".join(pieces).encode("utf-8")


def _evaluation_body(ev: Evaluation, show: Callable[[Array], Any]) -> dict[str, Any]:
    graph = ev.graph
    backward = set(graph.backward_order)
    nodes: dict[str, Any] = {}
    for n, node in graph.nodes.items():
        local = explain(ev, n)
        if local is not None and local["values"] is not None:
            local["values"] = {k: round15(v) for k, v in local["values"].items()}
        if local is not None:
            local["terms"] = [
                {"name": x["name"], "value": display(x["value"])} for x in local["terms"]
            ]
        nodes[n] = {
            "op": node.op.name,
            "inputs": list(node.inputs),
            "shape": list(node.shape),
            "value": show(ev.values[n]),
            # NOTE: class labels are data: they get no gradient (null), never a 0 that reads
            # like a computed one.
            "grad": None if n in graph.label_nodes else show(ev.grads[n]),
            "in_backward": n in backward,
            "differentiable": n not in graph.label_nodes,
            "local": local,
        }
        if node.op.variant is not None:
            nodes[n]["variant"] = {"name": node.op.variant, "doc": node.op.variant_doc}
    edges = [
        {
            "from": e.source,
            "to": e.target,
            "port": e.port,
            "input": e.input,
            "value": show(ev.values[e.source]),
            "grad": None if e.source in graph.label_nodes else show(ev.edge_grad(e)),
        }
        for e in graph.edges
    ]
    return {
        "output": {
            "id": graph.output,
            "value": show(ev.values[graph.output]),
            "shape": list(graph.nodes[graph.output].shape),
        },
        "dout": show(graph.dout),
        "nodes": nodes,
        "edges": edges,
        "forward_order": list(graph.forward_order),
        "backward_order": list(graph.backward_order),
        "accumulate": graph.accumulate,
    }

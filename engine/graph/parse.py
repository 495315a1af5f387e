"""Parse a graph given as JSON: validate every node, order them, infer every shape.

``parse_graph(body)`` checks a graph once and returns an immutable :class:`Graph`
(nodes in topological order, edges, the backward order, ``dout`` and the element
counts the limits are checked against); nothing heavy is computed here.
"""

from __future__ import annotations

import heapq
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.graph.errors import GraphError, GraphTooLarge, describe
from engine.graph.limits import DEFAULT_LIMITS, Limits
from engine.graph.op_types import Array, Op, Shape, check_params
from engine.graph.op_types import format_shape as _fmt
from engine.graph.ops import INPUT, OPS, label_problem
from engine.graph.tensors import to_tensor

MAX_ID_LENGTH = 100
#: The fields of a graph body; any other is refused (it would only be carried around).
GRAPH_KEYS = ("nodes", "output", "dout", "accumulate")
#: Unicode categories refused in node ids (as in run names): controls, format characters
#: (bidi overrides, zero-width), surrogates and line or paragraph separators.
UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class Node:
    """A validated node: its op, its inputs by id, its parameters and its output shape."""

    id: str
    op: Op
    inputs: tuple[str, ...]
    params: Mapping[str, Any]
    shape: Shape
    index: int


@dataclass(frozen=True)
class Edge:
    """Node ``source`` feeding input ``port`` (named ``input``) of node ``target``."""

    source: str
    target: str
    port: int
    input: str


@dataclass(frozen=True)
class Graph:
    """A validated graph; ``nodes`` is in forward (topological) order."""

    nodes: Mapping[str, Node]
    edges: tuple[Edge, ...]
    output: str
    dout: Array
    forward_order: tuple[str, ...]
    backward_order: tuple[str, ...]
    label_nodes: frozenset[str]
    total_elements: int
    accumulate: str = "sum"

    @property
    def input_ids(self) -> tuple[str, ...]:
        """Ids of the ``input`` nodes, in forward order."""
        return tuple(n for n in self.forward_order if self.nodes[n].op is INPUT)

    @property
    def evaluation_elements(self) -> int:
        """Numbers an evaluation carries: each node's and edge's value and gradient, out, dout.

        Counted from shapes alone, so an answer too large to render is refused before
        any work: an edge carries its source's value and gradient, however many edges
        read the same node.
        """
        size = {n: math.prod(node.shape) for n, node in self.nodes.items()}
        edges = sum(size[e.source] for e in self.edges)
        return 2 * (sum(size.values()) + edges + size[self.output])


def _field_error(field: str, message: str, code: str = "invalid_field") -> GraphError:
    return GraphError(code, message, {"field": field})


def _parse_node(
    raw: Any, i: int, limits: Limits
) -> tuple[str, Op, tuple[str, ...], dict[str, Any]]:
    where = f"nodes.{i}"
    if not isinstance(raw, dict):
        raise _field_error(where, f"Node {where} must be an object, not {describe(raw)}.")
    node_id = raw.get("id")
    if node_id is None:
        raise _field_error(f"{where}.id", f"Node {where} has no 'id'.", "missing_field")
    if not isinstance(node_id, str) or not node_id or len(node_id) > MAX_ID_LENGTH:
        raise _field_error(
            f"{where}.id",
            f"Field '{where}.id' must be a non-empty string of at most {MAX_ID_LENGTH} "
            f"characters, not {describe(node_id)}.",
        )
    bad = next((c for c in node_id if unicodedata.category(c) in UNPRINTABLE), None)
    if bad is not None:
        raise _field_error(
            f"{where}.id",
            f"Node {where}'s id contains a control or direction-changing character "
            f"(U+{ord(bad):04X}), which would print garbled or hidden: use plain text.",
            "bad_id",
        )
    op_name = raw.get("op")
    if not isinstance(op_name, str):
        raise _field_error(
            f"{where}.op", f"Node '{node_id}' needs an 'op' string, not {describe(op_name)}."
        )
    op = OPS.get(op_name)
    if op is None:
        raise GraphError(
            "unknown_op",
            f"Node '{node_id}' has unknown op {op_name!r}; known ops: {', '.join(OPS)}.",
            {"node": node_id, "op": op_name, "field": f"{where}.op", "known": list(OPS)},
        )
    inputs = raw.get("inputs", [])
    if inputs is None:
        inputs = []
    if not isinstance(inputs, list) or not all(isinstance(s, str) for s in inputs):
        raise _field_error(
            f"{where}.inputs",
            f"Field '{where}.inputs' of node '{node_id}' must be a list of node ids.",
        )
    if len(inputs) != op.arity:
        takes = f"{op.arity} input{'s' if op.arity != 1 else ''}"
        names = f" ({', '.join(op.inputs)})" if op.inputs else ""
        raise GraphError(
            "wrong_arity",
            f"Node '{node_id}' ({op.name}) takes {takes}{names} but was given {len(inputs)}.",
            {"node": node_id, "op": op.name, "expected": op.arity, "given": len(inputs)},
        )
    raw_params = raw.get("params") or {}
    if not isinstance(raw_params, dict):
        raise _field_error(f"{where}.params", f"Field '{where}.params' must be an object.")
    try:
        params = check_params(op, raw_params)
    except GraphError as exc:
        raise GraphError(
            exc.code,
            f"Node '{node_id}' ({op.name}) {exc.message}.",
            {"node": node_id, "field": f"{where}.params", **exc.details},
        ) from None
    if op is INPUT:
        if "value" not in raw or raw["value"] is None:
            raise GraphError(
                "missing_value",
                f"Input node '{node_id}' needs a 'value': a number or a nested list of numbers.",
                {"node": node_id, "field": f"{where}.value"},
            )
        try:
            params["value"] = to_tensor(
                raw["value"], who=f"input node '{node_id}'", field=f"{where}.value", limits=limits
            )
        except GraphError as exc:
            exc.details.setdefault("node", node_id)
            raise
    elif "value" in raw:
        raise GraphError(
            "unexpected_value",
            f"Node '{node_id}' ({op.name}) computes its value; only 'input' nodes take a 'value'.",
            {"node": node_id, "field": f"{where}.value"},
        )
    variant = raw.get("variant")
    if variant is not None:
        try:
            op = op.with_variant(variant)  # a broken backward, for teaching
        except GraphError as exc:
            raise GraphError(
                exc.code,
                f"Node '{node_id}' ({op.name}) {exc.message}.",
                {"node": node_id, "field": f"{where}.variant", **exc.details},
            ) from None
    return node_id, op, tuple(inputs), params


def _declares_label(raw: dict[str, Any], node_id: str, op: Op, i: int) -> bool:
    """Whether an input node says it holds class labels (``"label": true``): data, no gradient."""
    flag = raw.get("label", False)
    if not isinstance(flag, bool):
        raise _field_error(
            f"nodes.{i}.label",
            f"Field 'nodes.{i}.label' of node '{node_id}' must be true or false, not "
            f"{describe(flag)}.",
        )
    if flag and op is not INPUT:
        raise GraphError(
            "unexpected_label",
            f"Node '{node_id}' ({op.name}) computes its value; only 'input' nodes can hold "
            'class labels ("label": true).',
            {"node": node_id, "field": f"nodes.{i}.label"},
        )
    return flag


ACCUMULATE = ("sum", "overwrite")
"""How a node used several times gets its gradient: summed (right) or the last one (the bug)."""


def _order(ids: list[str], inputs: dict[str, tuple[str, ...]], index: dict[str, int]) -> list[str]:
    """Kahn's topological order, preferring the order the nodes were listed in."""
    pending = {n: len(inputs[n]) for n in ids}
    consumers: dict[str, list[str]] = {n: [] for n in ids}
    for n in ids:
        for src in inputs[n]:
            consumers[src].append(n)
    ready = [index[n] for n in ids if pending[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        n = ids[heapq.heappop(ready)]
        order.append(n)
        for c in consumers[n]:
            pending[c] -= 1
            if pending[c] == 0:
                heapq.heappush(ready, index[c])
    if len(order) < len(ids):
        raise _cycle_error({n for n in ids if pending[n] > 0}, inputs, index)
    return order


def _cycle_error(
    left: set[str], inputs: dict[str, tuple[str, ...]], index: dict[str, int]
) -> GraphError:
    # Every node left over has an input that is also left over: walking inputs
    # from any of them must come back to a node already seen, closing a cycle.
    walk: list[str] = [min(left, key=index.__getitem__)]
    seen = {walk[0]: 0}
    while True:
        nxt = next(s for s in inputs[walk[-1]] if s in left)
        if nxt in seen:
            cycle = walk[seen[nxt] :]
            break
        seen[nxt] = len(walk)
        walk.append(nxt)
    cycle.reverse()  # data flows from an input to the node using it
    start = min(range(len(cycle)), key=lambda k: index[cycle[k]])
    cycle = cycle[start:] + cycle[:start]
    path = " -> ".join([*cycle, cycle[0]])
    return GraphError(
        "graph_cycle",
        f"The graph has a cycle: node '{cycle[0]}' depends on itself via {path}.",
        {"node": cycle[0], "cycle": cycle},
    )


def parse_graph(body: Any, *, limits: Limits = DEFAULT_LIMITS) -> Graph:
    """Validate a graph given as JSON data (``nodes``, ``output``, optional ``dout``)."""
    if not isinstance(body, dict):
        raise GraphError(
            "invalid_body",
            f"The graph must be a JSON object with 'nodes' and 'output', not {describe(body)}.",
        )
    unknown = next((key for key in body if key not in GRAPH_KEYS), None)
    if unknown is not None:
        shown = unknown if len(unknown) <= 40 else unknown[:40] + "…"
        raise _field_error(
            shown,
            f"Field {shown!r} is unknown: a graph has only {', '.join(GRAPH_KEYS)} (remove it).",
        )
    raw_nodes = body.get("nodes")
    if raw_nodes is None:
        raise _field_error("nodes", "Field 'nodes' is required: a list of nodes.", "missing_field")
    if not isinstance(raw_nodes, list):
        raise _field_error("nodes", f"Field 'nodes' must be a list, not {describe(raw_nodes)}.")
    if not raw_nodes:
        raise _field_error("nodes", "Field 'nodes' is empty: a graph needs at least one node.")
    if len(raw_nodes) > limits.max_graph_nodes:
        raise GraphTooLarge(
            "limit_exceeded",
            f"The graph has {len(raw_nodes)} nodes; the limit is {limits.max_graph_nodes}.",
            {"field": "nodes", "limit": limits.max_graph_nodes, "name": "max_graph_nodes"},
        )

    ids: list[str] = []
    index: dict[str, int] = {}
    ops: dict[str, Op] = {}
    inputs: dict[str, tuple[str, ...]] = {}
    params: dict[str, dict[str, Any]] = {}
    declared: set[str] = set()
    input_elements = 0
    for i, raw in enumerate(raw_nodes):
        node_id, op, node_inputs, node_params = _parse_node(raw, i, limits)
        if op is INPUT:
            input_elements += node_params["value"].size
            _check_total(input_elements, limits)
        if node_id in index:
            raise GraphError(
                "duplicate_id",
                f"Node id '{node_id}' is used twice (nodes.{index[node_id]} and nodes.{i}).",
                {"node": node_id, "field": f"nodes.{i}.id", "indices": [index[node_id], i]},
            )
        ids.append(node_id)
        index[node_id] = i
        ops[node_id], inputs[node_id], params[node_id] = op, node_inputs, node_params
        if _declares_label(raw, node_id, op, i):
            declared.add(node_id)

    for node_id in ids:
        for port, src in enumerate(inputs[node_id]):
            if src not in index:
                name = ops[node_id].inputs[port]
                raise GraphError(
                    "missing_node",
                    f"Node '{node_id}' ({ops[node_id].name}) takes input {name} from '{src}', "
                    "which is not a node of the graph.",
                    {"node": node_id, "input": src, "port": port},
                )

    output = body.get("output")
    if not isinstance(output, str) or output not in index:
        given = "no 'output'" if output is None else f"output {output!r}"
        raise GraphError(
            "missing_output",
            f"The graph has {given}; 'output' must be the id of one of its nodes.",
            {"field": "output", "output": output if isinstance(output, str) else None},
        )

    accumulate = body.get("accumulate", "sum")
    if accumulate not in ACCUMULATE:
        shown = repr(accumulate)[:60] if isinstance(accumulate, str) else describe(accumulate)
        raise _field_error(
            "accumulate",
            f"Field 'accumulate' must be 'sum' (a reused value's gradients add up) or "
            f"'overwrite' (the classic bug: the last one wins), not {shown}.",
        )
    order = _order(ids, inputs, index)
    nodes, total = _infer_shapes(order, ops, inputs, params, index, limits)
    dout = _parse_dout(body.get("dout"), nodes[output].shape, limits)
    total += dout.size
    _check_total(total, limits)

    edges = tuple(
        Edge(src, n, port, ops[n].inputs[port]) for n in order for port, src in enumerate(inputs[n])
    )
    needed = {output}
    for n in reversed(order):
        if n in needed:
            needed.update(inputs[n])
    uses: dict[str, list[bool]] = {}
    for e in edges:
        uses.setdefault(e.source, []).append(e.port in ops[e.target].label_ports)
    # NOTE: labels are the inputs used only as a loss's labels, and the inputs a graph marks
    # "label": true (the primitive Softmax-with-Loss multiplies t in, but t is still data).
    labels = frozenset(n for n, is_label in uses.items() if all(is_label)) | declared
    return Graph(
        nodes=nodes,
        edges=edges,
        output=output,
        dout=dout,
        forward_order=tuple(order),
        backward_order=tuple(n for n in reversed(order) if n in needed),
        label_nodes=labels,
        total_elements=total,
        accumulate=accumulate,
    )


def _check_total(total: int, limits: Limits) -> None:
    if total > limits.max_total_elements:
        raise GraphTooLarge(
            "limit_exceeded",
            f"The graph's tensors hold {total:,} elements together (at least); "
            f"the limit is {limits.max_total_elements:,}.",
            {"limit": limits.max_total_elements, "name": "max_total_elements", "given": total},
        )


def _infer_shapes(
    order: list[str],
    ops: dict[str, Op],
    inputs: dict[str, tuple[str, ...]],
    params: dict[str, dict[str, Any]],
    index: dict[str, int],
    limits: Limits,
) -> tuple[dict[str, Node], int]:
    nodes: dict[str, Node] = {}
    total = 0
    for n in order:
        op = ops[n]
        in_shapes = [nodes[s].shape for s in inputs[n]]
        if op is INPUT:
            shape: Shape = params[n]["value"].shape
        else:
            try:
                shape = op.shape(in_shapes, params[n])
            except GraphError as exc:
                shapes = {name: list(s) for name, s in zip(op.inputs, in_shapes, strict=True)}
                raise GraphError(
                    exc.code,
                    f"Node '{n}' ({op.name}): {exc.message}.",
                    {"node": n, "op": op.name, "shapes": shapes, **exc.details},
                ) from None
            size = math.prod(shape)
            if size > limits.max_tensor_elements:
                raise GraphTooLarge(
                    "limit_exceeded",
                    f"Node '{n}' ({op.name}) would hold {size:,} elements (shape {_fmt(shape)}); "
                    f"the limit per tensor is {limits.max_tensor_elements:,}.",
                    {"node": n, "limit": limits.max_tensor_elements, "name": "max_tensor_elements"},
                )
        for port in op.label_ports:
            src = inputs[n][port]
            if ops[src] is INPUT:
                problem = label_problem(params[src]["value"], in_shapes[0])
                if problem:
                    raise GraphError(
                        "bad_labels",
                        f"Node '{n}' ({op.name}) takes labels from '{src}', but {problem}; "
                        "labels are one-hot rows or class indices.",
                        {"node": n, "input": src},
                    )
        nodes[n] = Node(n, op, inputs[n], params[n], shape, index[n])
        total += math.prod(shape)
    return nodes, total


def _parse_dout(raw: Any, shape: Shape, limits: Limits) -> Array:
    if raw is None:
        arr = np.ones(shape)
        arr.setflags(write=False)
        return arr
    dout = to_tensor(raw, who="dout", field="dout", limits=limits)
    if dout.shape == shape:
        return dout
    if dout.ndim == 0:
        arr = np.full(shape, float(dout))
        arr.setflags(write=False)
        return arr
    raise GraphError(
        "dout_shape",
        f"Field 'dout' has shape {_fmt(dout.shape)} but the output has shape {_fmt(shape)}; "
        "give a number or a tensor of the output's shape.",
        {"field": "dout", "expected": list(shape), "given": list(dout.shape)},
    )

"""Computation graphs: parse and validate, order, run forward, run backward.

``parse_graph(body)`` checks a graph given as JSON-like data once and returns an
immutable :class:`Graph`; ``evaluate(graph)`` runs it forward in topological
order and backward in reverse, seeding the output with ``dout``. A node used by
several others receives the *sum* of the gradients from every use (micrograd's
``+=``), and every edge keeps the upstream gradient it carried. Nothing is
cached between evaluations. Errors are :class:`GraphError` with a stable code.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ops import INPUT, OPS, Array, Op, OpError, Shape, check_params, label_problem
from engine.ops import format_shape as _fmt

MAX_ID_LENGTH = 100


class GraphError(ValueError):
    """A graph that cannot be evaluated; ``code`` is stable, ``status_hint`` the HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        status_hint: int = 422,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status_hint = status_hint


@dataclass(frozen=True)
class Limits:
    """Limits of a shared server, passed in by the caller (the app reads them from settings)."""

    max_graph_nodes: int = 500
    max_tensor_elements: int = 1_000_000
    max_total_elements: int = 5_000_000
    max_tensor_dims: int = 32

    def public(self) -> dict[str, int]:
        """The limits as JSON."""
        return {
            "max_graph_nodes": self.max_graph_nodes,
            "max_tensor_elements": self.max_tensor_elements,
            "max_total_elements": self.max_total_elements,
            "max_tensor_dims": self.max_tensor_dims,
        }


DEFAULT_LIMITS = Limits()


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

    @property
    def input_ids(self) -> tuple[str, ...]:
        """Ids of the ``input`` nodes, in forward order."""
        return tuple(n for n in self.forward_order if self.nodes[n].op is INPUT)


@dataclass(frozen=True)
class Evaluation:
    """Forward value and gradient of every node and edge, at full precision.

    The arrays may be read-only or shared with the graph (an input's value is the
    graph's own array): copy one before writing into it.
    """

    graph: Graph
    values: Mapping[str, Array]
    grads: Mapping[str, Array]
    edge_grads: Mapping[tuple[str, int], Array]

    @property
    def output(self) -> Array:
        """The forward value of the output node."""
        return self.values[self.graph.output]

    def edge_grad(self, edge: Edge) -> Array:
        """The upstream gradient carried back along ``edge``."""
        return self.edge_grads[(edge.target, edge.port)]


# ---------------------------------------------------------------- tensors


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:20] + "…"
        return f"the string {shown!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def _index(path: list[int]) -> str:
    return "".join(f"[{i}]" for i in path)


def to_tensor(value: Any, *, who: str, field: str, limits: Limits = DEFAULT_LIMITS) -> Array:
    """A float64 array from a JSON number or rectangular nested list, or a GraphError."""
    kind = type(value)
    if kind is float or kind is int:
        try:
            arr = np.array(value, dtype=np.float64)
        except OverflowError:
            raise GraphError(
                "non_finite_value",
                f"The value of {who} is too large for a double: {value}.",
                {"field": field},
            ) from None
        return _finite(arr, who=who, field=field)
    if kind is not list:
        raise GraphError(
            "non_numeric_value",
            f"The value of {who} must be a number or a nested list of numbers, "
            f"not {_describe(value)}.",
            {"field": field},
        )
    shape: list[int] = []
    probe: Any = value
    while type(probe) is list:
        if not probe:
            raise GraphError(
                "empty_tensor",
                f"The value of {who} has an empty list at {field}{_index([0] * len(shape))}; "
                "tensors need at least one element along every axis.",
                {"field": field},
            )
        shape.append(len(probe))
        if len(shape) > limits.max_tensor_dims:
            raise GraphError(
                "limit_exceeded",
                f"The value of {who} is nested more than {limits.max_tensor_dims} lists deep; "
                f"the limit is {limits.max_tensor_dims} dimensions.",
                {"field": field, "limit": limits.max_tensor_dims, "name": "max_tensor_dims"},
                413,
            )
        probe = probe[0]
    size = math.prod(shape)
    if size > limits.max_tensor_elements:
        raise GraphError(
            "limit_exceeded",
            f"The value of {who} has {size:,} elements (shape {_fmt(tuple(shape))}); "
            f"the limit per tensor is {limits.max_tensor_elements:,}.",
            {"field": field, "limit": limits.max_tensor_elements, "name": "max_tensor_elements"},
            413,
        )
    _check_nested(value, tuple(shape), [], who=who, field=field)
    try:
        arr = np.array(value, dtype=np.float64)
    except OverflowError:
        raise GraphError(
            "non_finite_value",
            f"The value of {who} holds a number too large for a double.",
            {"field": field},
        ) from None
    return _finite(arr, who=who, field=field)


_NUMBER = {int, float}


def _check_nested(value: list[Any], shape: Shape, path: list[int], *, who: str, field: str) -> None:
    depth = len(path)
    if len(value) != shape[depth]:
        raise GraphError(
            "ragged_tensor",
            f"The value of {who} is ragged: {field}{_index(path)} has {len(value)} elements "
            f"where {shape[depth]} were expected (shape {_fmt(shape)} from the first elements).",
            {"field": field, "index": path},
        )
    if depth == len(shape) - 1:
        if set(map(type, value)) <= _NUMBER:
            return
        for i, item in enumerate(value):
            if type(item) not in _NUMBER:
                code = "ragged_tensor" if isinstance(item, list) else "non_numeric_value"
                what = "a list where a number was expected" if isinstance(item, list) else None
                raise GraphError(
                    code,
                    f"The value of {who} has {what or _describe(item)} at "
                    f"{field}{_index([*path, i])}; only numbers are allowed.",
                    {"field": field, "index": [*path, i]},
                )
        return
    for i, item in enumerate(value):
        if type(item) is not list:
            raise GraphError(
                "ragged_tensor",
                f"The value of {who} is ragged: {field}{_index([*path, i])} is "
                f"{_describe(item)} where a list of {shape[depth + 1]} was expected.",
                {"field": field, "index": [*path, i]},
            )
        _check_nested(item, shape, [*path, i], who=who, field=field)


def _finite(arr: Array, *, who: str, field: str) -> Array:
    bad = ~np.isfinite(arr)
    if bad.any():
        where = [int(i) for i in np.argwhere(bad)[0]]
        raise GraphError(
            "non_finite_value",
            f"The value of {who} is not finite ({arr[tuple(where)]}) at {field}{_index(where)}; "
            "only finite numbers are allowed.",
            {"field": field, "index": where},
        )
    arr.setflags(write=False)
    return arr


# ---------------------------------------------------------------- parsing


def _field_error(field: str, message: str, code: str = "invalid_field") -> GraphError:
    return GraphError(code, message, {"field": field})


def _parse_node(
    raw: Any, i: int, limits: Limits
) -> tuple[str, Op, tuple[str, ...], dict[str, Any]]:
    where = f"nodes.{i}"
    if not isinstance(raw, dict):
        raise _field_error(where, f"Node {where} must be an object, not {_describe(raw)}.")
    node_id = raw.get("id")
    if node_id is None:
        raise _field_error(f"{where}.id", f"Node {where} has no 'id'.", "missing_field")
    if not isinstance(node_id, str) or not node_id or len(node_id) > MAX_ID_LENGTH:
        raise _field_error(
            f"{where}.id",
            f"Field '{where}.id' must be a non-empty string of at most {MAX_ID_LENGTH} "
            f"characters, not {_describe(node_id)}.",
        )
    op_name = raw.get("op")
    if not isinstance(op_name, str):
        raise _field_error(
            f"{where}.op", f"Node '{node_id}' needs an 'op' string, not {_describe(op_name)}."
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
    except OpError as exc:
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
    return node_id, op, tuple(inputs), params


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
            f"The graph must be a JSON object with 'nodes' and 'output', not {_describe(body)}.",
        )
    raw_nodes = body.get("nodes")
    if raw_nodes is None:
        raise _field_error("nodes", "Field 'nodes' is required: a list of nodes.", "missing_field")
    if not isinstance(raw_nodes, list):
        raise _field_error("nodes", f"Field 'nodes' must be a list, not {_describe(raw_nodes)}.")
    if not raw_nodes:
        raise _field_error("nodes", "Field 'nodes' is empty: a graph needs at least one node.")
    if len(raw_nodes) > limits.max_graph_nodes:
        raise GraphError(
            "limit_exceeded",
            f"The graph has {len(raw_nodes)} nodes; the limit is {limits.max_graph_nodes}.",
            {"field": "nodes", "limit": limits.max_graph_nodes, "name": "max_graph_nodes"},
            413,
        )

    ids: list[str] = []
    index: dict[str, int] = {}
    ops: dict[str, Op] = {}
    inputs: dict[str, tuple[str, ...]] = {}
    params: dict[str, dict[str, Any]] = {}
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
    labels = frozenset(n for n, is_label in uses.items() if all(is_label))
    return Graph(
        nodes=nodes,
        edges=edges,
        output=output,
        dout=dout,
        forward_order=tuple(order),
        backward_order=tuple(n for n in reversed(order) if n in needed),
        label_nodes=labels,
        total_elements=total,
    )


def _check_total(total: int, limits: Limits) -> None:
    if total > limits.max_total_elements:
        raise GraphError(
            "limit_exceeded",
            f"The graph's tensors hold {total:,} elements together (at least); "
            f"the limit is {limits.max_total_elements:,}.",
            {"limit": limits.max_total_elements, "name": "max_total_elements", "given": total},
            413,
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
            except OpError as exc:
                shapes = {name: list(s) for name, s in zip(op.inputs, in_shapes, strict=True)}
                raise GraphError(
                    exc.code,
                    f"Node '{n}' ({op.name}): {exc.message}.",
                    {"node": n, "op": op.name, "shapes": shapes, **exc.details},
                ) from None
            size = math.prod(shape)
            if size > limits.max_tensor_elements:
                raise GraphError(
                    "limit_exceeded",
                    f"Node '{n}' ({op.name}) would hold {size:,} elements (shape {_fmt(shape)}); "
                    f"the limit per tensor is {limits.max_tensor_elements:,}.",
                    {"node": n, "limit": limits.max_tensor_elements, "name": "max_tensor_elements"},
                    413,
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


# ---------------------------------------------------------------- evaluation


def _preview(a: Array, limit: int = 12) -> Any:
    flat = [float(v) if np.isfinite(v) else str(v) for v in a.reshape(-1)[:limit]]
    if a.ndim == 0:
        return flat[0]
    return {"shape": list(a.shape), "first": flat}


def _show(a: Array, limit: int = 6) -> str:
    """A short human form of a tensor for messages: 0.5, or [1, -inf, …] (shape (3,))."""
    if a.ndim == 0:
        return f"{float(a):.6g}"
    items = ", ".join(f"{float(v):.6g}" for v in a.reshape(-1)[:limit])
    more = ", …" if a.size > limit else ""
    return f"[{items}{more}] (shape {_fmt(a.shape)})"


def _non_finite(node: Node, phase: str, produced: Array, operands: dict[str, Array]) -> GraphError:
    what = "value" if phase == "forward" else "gradient"
    shown = ", ".join(f"{k} = {_show(v)}" for k, v in operands.items())
    return GraphError(
        "non_finite_result",
        f"Node '{node.id}' ({node.op.name}) produced a non-finite {what} in the {phase} pass, "
        f"{_show(produced)}, from {shown}.",
        {
            "node": node.id,
            "op": node.op.name,
            "phase": phase,
            "result": _preview(produced),
            "operands": {k: _preview(v) for k, v in operands.items()},
        },
    )


def evaluate(
    graph: Graph,
    *,
    overrides: Mapping[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Evaluation:
    """Run ``graph`` forward and backward; ``overrides`` replace values of ``input`` nodes."""
    if (
        len(graph.nodes) > limits.max_graph_nodes
        or graph.total_elements > limits.max_total_elements
    ):
        raise GraphError(
            "limit_exceeded",
            "The graph is larger than these limits allow.",
            {"limits": limits.public()},
            413,
        )
    replaced = _check_overrides(graph, overrides or {})
    values: dict[str, Array] = {}
    steps: dict[str, Any] = {}
    with np.errstate(all="ignore"):
        for n in graph.forward_order:
            node = graph.nodes[n]
            params = node.params
            if n in replaced:
                params = {**params, "value": replaced[n]}
            step = node.op.make(params)
            operands = [values[s] for s in node.inputs]
            try:
                out = np.asarray(step.forward(*operands), dtype=np.float64)
            except OpError as exc:
                raise GraphError(
                    exc.code, f"Node '{n}' ({node.op.name}): {exc.message}.", {"node": n}
                ) from None
            if not np.isfinite(out).all():
                raise _non_finite(
                    node, "forward", out, dict(zip(node.op.inputs, operands, strict=True))
                )
            values[n] = out
            steps[n] = step

        grads: dict[str, Array] = {graph.output: graph.dout}
        edge_grads: dict[tuple[str, int], Array] = {}
        for n in graph.backward_order:
            node = graph.nodes[n]
            if not node.inputs:
                continue
            dout = grads[n]
            local = steps[n].backward(dout)
            for port, (src, grad) in enumerate(zip(node.inputs, local, strict=True)):
                g = np.asarray(grad, dtype=np.float64)
                if not np.isfinite(g).all():
                    seen = {k: values[s] for k, s in zip(node.op.inputs, node.inputs, strict=True)}
                    raise _non_finite(node, "backward", g, {"dout": dout, **seen})
                edge_grads[(n, port)] = g
                # NOTE: a node used several times (or twice by one node, as x in
                # x * x) gets the sum of every use's gradient; `+` makes a new
                # array, so no edge's gradient is changed afterwards.
                grads[src] = g if src not in grads else grads[src] + g

    for n, node in graph.nodes.items():
        if n not in grads:
            grads[n] = np.zeros(node.shape)
    for e in graph.edges:
        if (e.target, e.port) not in edge_grads:
            edge_grads[(e.target, e.port)] = np.zeros(graph.nodes[e.source].shape)
    return Evaluation(graph=graph, values=values, grads=grads, edge_grads=edge_grads)


def _check_overrides(graph: Graph, overrides: Mapping[str, Any]) -> dict[str, Array]:
    replaced: dict[str, Array] = {}
    for n, value in overrides.items():
        node = graph.nodes.get(n)
        if node is None or node.op is not INPUT:
            raise GraphError(
                "missing_node",
                f"Override {n!r} does not name an input node of the graph.",
                {"node": n},
            )
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != node.shape:
            raise GraphError(
                "shape_mismatch",
                f"Override for input node '{n}' has shape {_fmt(arr.shape)}, "
                f"but the node has shape {_fmt(node.shape)}.",
                {"node": n, "expected": list(node.shape), "given": list(arr.shape)},
            )
        if not np.isfinite(arr).all():
            raise GraphError(
                "non_finite_value", f"Override for input node '{n}' is not finite.", {"node": n}
            )
        replaced[n] = arr
    return replaced


# ---------------------------------------------------------------- explanation

_SYMBOL = re.compile(r"(?<![A-Za-z_])(dout|out|x|y|W|b|t)(?![A-Za-z_])")


def _number(v: Array, operand: bool = False) -> str:
    text = f"{float(v):.6g}"
    return f"({text})" if operand and text.startswith("-") else text


def explain(evaluation: Evaluation, node_id: str) -> dict[str, Any] | None:
    """The node's backward rule per input, with the actual numbers when all are scalars."""
    node = evaluation.graph.nodes[node_id]
    if not node.inputs:
        return None
    dout = evaluation.grads[node_id]
    operands = {
        name: evaluation.values[s] for name, s in zip(node.op.inputs, node.inputs, strict=True)
    }
    env = {"dout": dout, "out": evaluation.values[node_id], **operands}
    scalar = all(v.ndim == 0 for v in env.values())
    ports: list[dict[str, Any]] = []
    for port, (name, src, rule) in enumerate(
        zip(node.op.inputs, node.inputs, node.op.grad_rules, strict=True)
    ):
        text = f"d{name} = {rule}"
        numbers = None
        if scalar and port not in node.op.label_ports:
            numbers = _SYMBOL.sub(lambda m: _number(env[m.group(1)], operand=True), rule)
            result = _number(evaluation.edge_grads[(node_id, port)])
            text += f" = {numbers}" + (f" = {result}" if result != numbers else "")
        ports.append(
            {
                "port": port,
                "input": name,
                "from": src,
                "rule": rule,
                "numbers": numbers,
                "text": text,
            }
        )
    return {
        "rule": "; ".join(
            f"d{name} = {rule}"
            for name, rule in zip(node.op.inputs, node.op.grad_rules, strict=True)
        ),
        "scalar": scalar,
        "values": {k: float(v) for k, v in env.items()} if scalar else None,
        "ports": ports,
        "text": "; ".join(p["text"] for p in ports),
    }

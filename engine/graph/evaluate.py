"""Run a parsed graph forward in topological order and backward in reverse.

The backward pass seeds the output with ``dout``; a node used by several others
receives the *sum* of the gradients from every use (micrograd's ``+=``), and every
edge keeps the upstream gradient it carried. Nothing is cached between evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.graph.errors import GraphError, GraphTooLarge
from engine.graph.limits import DEFAULT_LIMITS, Limits
from engine.graph.op_types import Array
from engine.graph.op_types import format_shape as _fmt
from engine.graph.ops import INPUT
from engine.graph.parse import Edge, Graph, Node


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


def _preview(a: Array, limit: int = 12) -> Any:
    flat = [float(v) for v in a.reshape(-1)[:limit]]  # NaN and ±inf stay floats
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


def check_evaluation_size(graph: Graph, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse (GraphTooLarge) a graph whose evaluation would carry too many numbers to send."""
    count = graph.evaluation_elements
    if count > limits.max_response_elements:
        raise GraphTooLarge(
            "response_too_large",
            f"The answer would carry {count:,} numbers (every node's and every edge's value "
            f"and gradient); the limit is {limits.max_response_elements:,}. Use smaller "
            "tensors, or fewer nodes reading a large one (each edge carries its source's "
            "value and gradient).",
            {
                "limit": limits.max_response_elements,
                "name": "max_response_elements",
                "given": count,
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
        raise GraphTooLarge(
            "limit_exceeded",
            "The graph is larger than these limits allow.",
            {"limits": limits.public()},
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
            except GraphError as exc:
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
                # array, so no edge's gradient is changed afterwards. "overwrite"
                # is the classic bug, kept for teaching: the last use's gradient wins.
                if src in grads and graph.accumulate == "sum":
                    grads[src] = grads[src] + g
                else:
                    grads[src] = g

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

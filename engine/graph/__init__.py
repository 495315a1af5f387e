"""Computation graphs: parse and validate, order, run forward, run backward, explain.

``parse_graph(body)`` checks a graph given as JSON-like data once and returns an
immutable :class:`Graph`; ``evaluate(graph)`` runs it forward in topological order
and backward in reverse, seeding the output with ``dout``; ``explain`` gives a
node's backward rule with its numbers; ``check_graph`` compares backprop with central
differences. One job per module: ``errors``, ``limits``, ``tensors`` (JSON to arrays),
``parse``, ``evaluate``, ``explain``, ``check``.
"""

from engine.graph.check import check_graph, check_work
from engine.graph.errors import GraphError, GraphTooLarge
from engine.graph.evaluate import Evaluation, check_evaluation_size, evaluate
from engine.graph.explain import explain
from engine.graph.limits import DEFAULT_LIMITS, Limits
from engine.graph.parse import MAX_ID_LENGTH, Edge, Graph, Node, parse_graph
from engine.graph.tensors import to_tensor

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_ID_LENGTH",
    "Edge",
    "Evaluation",
    "Graph",
    "GraphError",
    "GraphTooLarge",
    "Limits",
    "Node",
    "check_evaluation_size",
    "check_graph",
    "check_work",
    "evaluate",
    "explain",
    "parse_graph",
    "to_tensor",
]

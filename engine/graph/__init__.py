"""Computation graphs, the whole feature: the op table, parsing, evaluation, checks, export.

``ops.py`` is the one table of ops (``OPS``), built from the row types of ``op_types.py``
and the steps of ``steps.py`` that nodes run (the engine's own layers where the book has
one). ``parse_graph(body)`` checks a graph given as JSON-like data once and returns an
immutable :class:`Graph`; ``evaluate(graph)`` runs it forward in topological order and
backward in reverse, seeding the output with ``dout``; ``explain`` gives a node's
backward rule with its numbers; ``check_graph`` compares backprop with central
differences. One job per module: ``errors``, ``limits``, ``tensors`` (JSON to arrays),
``parse``, ``evaluate``, ``explain``, ``check``, ``export`` (a graph as a NumPy script),
``code`` (an op's source for the code panel), ``presets`` (the chapter's graphs).
"""

from engine.graph.check import check_graph, check_work
from engine.graph.errors import GraphError, GraphTooLarge
from engine.graph.evaluate import Evaluation, check_evaluation_size, evaluate
from engine.graph.explain import explain
from engine.graph.limits import DEFAULT_LIMITS, Limits
from engine.graph.parse import ACCUMULATE, GRAPH_KEYS, MAX_ID_LENGTH, Edge, Graph, Node, parse_graph
from engine.graph.tensors import to_tensor

__all__ = [
    "ACCUMULATE",
    "DEFAULT_LIMITS",
    "GRAPH_KEYS",
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

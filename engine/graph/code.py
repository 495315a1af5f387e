"""The Python a node runs, from the engine's own source, for the step-through's code panel.

For a node of an op, the code is the book's layer class it runs (MulLayer, Relu,
Affine, SoftmaxWithLoss, their broken variants after their base) or, for a primitive
op, its own step class, written without type hints as the export writes it; with the
lines of the ``forward`` and ``backward`` methods that run, so a page can light them up.
"""

from __future__ import annotations

import ast
from typing import Any

from engine.graph.export import class_source
from engine.graph.op_types import Op, check_params
from engine.graph.ops import INPUT
from engine.graph.steps import OneInput


def _runs(op: Op) -> type:
    """The class whose forward and backward a node of ``op`` runs (the layer a step wraps)."""
    step = op.make(check_params(op, {}))
    if isinstance(step, OneInput):
        return type(step.layer)
    cls = getattr(step, "cls", None)
    return cls if isinstance(cls, type) else type(step)


def op_code(op: Op) -> dict[str, Any] | None:
    """The code of ``op`` (maybe a variant): its classes' source and the lines that run."""
    if op is INPUT:
        return None
    cls = _runs(op)
    chain = [c for c in reversed(cls.__mro__) if c.__module__.startswith("engine.")]
    code = "\n\n\n".join(class_source(c) for c in chain) + "\n"
    methods: dict[str, list[int]] = {}
    for node in ast.parse(code).body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in ("forward", "backward"):
                    # NOTE: a later class (the variant) overrides its base's method.
                    methods[item.name] = [item.lineno, item.end_lineno or item.lineno]
    return {
        "op": op.name,
        "variant": op.variant,
        "class": cls.__name__,
        "code": code,
        "forward": methods.get("forward"),
        "backward": methods.get("backward"),
    }

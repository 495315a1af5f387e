"""The Python a node runs, from the engine's own source, for the step-through's code panel.

For a node of an op, the code is the book's layer class it runs (MulLayer, Relu,
Affine, SoftmaxWithLoss, their broken variants after their base) or, for a primitive
op, its own step class, written without type hints as the export writes it; with the
lines of the ``forward`` and ``backward`` methods that run, so a page can light them up; and
the book's own shorter class for the chapter's layers (``engine.book_code``), to show beside it.
"""

from __future__ import annotations

from typing import Any

from engine.book_code import book_code, method_lines
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
    methods = method_lines(code)
    return {
        "op": op.name,
        "variant": op.variant,
        "class": cls.__name__,
        "code": code,
        "forward": methods.get("forward"),
        "backward": methods.get("backward"),
        "book": book_code(op.name),
    }

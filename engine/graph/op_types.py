"""The op table's types: an op, its parameters and broken variants; checking a node's params.

``engine/graph/ops.py`` holds the table itself (``OPS``); these are the rows' parts.
A shape rule or a parameter check that refuses its inputs raises
:class:`~engine.graph.errors.GraphError`, which the parser completes with the node at fault.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from numpy.typing import NDArray

from engine.graph.errors import GraphError, describe

Array = NDArray[Any]
"""A float64 NumPy array (any shape, 0-d for a number)."""
Shape = tuple[int, ...]


def format_shape(shape: Shape) -> str:
    """A shape as Python and NumPy write it: (), (3,), (2, 3)."""
    return str(tuple(shape))


@dataclass(frozen=True)
class Param:
    """A parameter of an op (set per node, not an input edge)."""

    name: str
    type: str
    default: Any
    doc: str
    required: bool = False
    where: str = "params"
    #: The smallest and largest values a "number" or "int" parameter may take.
    low: float | None = None
    high: float | None = None

    def public(self) -> dict[str, Any]:
        """The JSON description used by GET /graphs/ops."""
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "required": self.required,
            "where": self.where,
            "doc": self.doc,
            **({"minimum": self.low} if self.low is not None else {}),
            **({"maximum": self.high} if self.high is not None else {}),
        }


Env = Mapping[str, Array]
"""The arrays a step's terms read, by symbol: ``dout``, ``out`` and each input's name."""


@dataclass(frozen=True)
class Variant:
    """A broken layer for teaching: the op's forward, a backward with one classic bug.

    ``doc`` explains the bug in one line; ``make`` builds its step; ``rules`` are its
    (wrong) backward rules, written as the op's own are.
    """

    name: str
    doc: str
    make: Callable[[Mapping[str, Any]], Any]
    rules: tuple[str, ...]

    def public(self, inputs: Sequence[str]) -> dict[str, Any]:
        """The JSON description in GET /graphs/ops."""
        return {
            "name": self.name,
            "doc": self.doc,
            "backward": {f"d{n}": r for n, r in zip(inputs, self.rules, strict=True)},
        }


@dataclass(frozen=True)
class Op:
    """One row of the table: what a node of this kind takes, computes and sends back.

    ``make(params)`` builds a fresh step for one evaluation, in the book's style:
    ``forward(*inputs)`` returns the node's value and ``backward(dout)`` returns
    dL/d(each input), one per input and each of its input's shape. ``rules`` are
    that backward as the chapter writes it, one text per input (``dout · y``), in the
    op's ``symbols``; the step-through puts each symbol's number in its place.
    """

    name: str
    inputs: tuple[str, ...]
    doc: str
    formula: str
    rules: tuple[str, ...]
    shape: Callable[[Sequence[Shape], Mapping[str, Any]], Shape]
    make: Callable[[Mapping[str, Any]], Any]
    params: tuple[Param, ...] = ()
    label_ports: frozenset[int] = field(default_factory=frozenset)
    #: Numbers one forward pass reads and writes, from the shapes (gradient checks' budget).
    work: Callable[[Sequence[Shape], Shape], int] = field(
        default=lambda shapes, out: _touched(shapes, out)
    )
    #: Broken layers a node of this op may use instead (``"variant"`` on the node).
    variants: tuple[Variant, ...] = ()
    #: Named quantities the backward step shows before its rules, e.g. y = softmax(x) and N
    #: for Softmax-with-Loss, computed from the rules' symbols and the node's params.
    terms: Callable[[Env, Mapping[str, Any]], dict[str, Array]] | None = None
    #: The variant this op is, when it is one (see :meth:`with_variant`).
    variant: str | None = None

    def with_variant(self, name: Any) -> Op:
        """This op with the backward of its variant ``name``; a GraphError naming the op's
        variants (``unknown_variant``, the one message for it) if it has none of that name."""
        for v in self.variants:
            if v.name == name:
                return replace(self, make=v.make, rules=v.rules, variant=v.name)
        known = [v.name for v in self.variants]
        offer = f"its variants are {', '.join(known)}" if known else f"{self.name} has no variants"
        shown = repr(name[:60]) if isinstance(name, str) else describe(name)
        raise GraphError(
            "unknown_variant", f"has unknown variant {shown}; {offer}", {"known": known}
        )

    @property
    def variant_doc(self) -> str | None:
        """The bug this op's variant plants, in one line; None for the op itself."""
        return next((v.doc for v in self.variants if v.name == self.variant), None)

    @property
    def arity(self) -> int:
        """Number of inputs."""
        return len(self.inputs)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The names a rule's text may use: upstream ``dout``, the node's ``out``, its inputs."""
        return ("dout", "out", *self.inputs)

    def public(self) -> dict[str, Any]:
        """The JSON description used by GET /graphs/ops and the UI palette."""
        return {
            "name": self.name,
            "inputs": list(self.inputs),
            "arity": self.arity,
            "params": [p.public() for p in self.params],
            "doc": self.doc,
            "formula": self.formula,
            "backward": {
                f"d{name}": rule for name, rule in zip(self.inputs, self.rules, strict=True)
            },
            "label_inputs": [self.inputs[i] for i in sorted(self.label_ports)],
            "variants": [v.public(self.inputs) for v in self.variants],
        }


def _touched(shapes: Sequence[Shape], out: Shape) -> int:
    """Work of an elementwise op or a reduction: every input number and output number once."""
    return sum(math.prod(s) for s in shapes) + math.prod(out)


def check_params(op: Op, params: Mapping[str, Any]) -> dict[str, Any]:
    """The node's parameters with defaults filled in; raises GraphError when one is wrong."""
    known = {p.name: p for p in op.params if p.where == "params"}
    unknown = sorted(set(params) - set(known))
    if unknown:
        names = ", ".join(known) or "none"
        raise GraphError(
            "unknown_param",
            f"has no parameter {unknown[0]!r} (its parameters: {names})",
            {"param": unknown[0]},
        )
    out: dict[str, Any] = {}
    for name, spec in known.items():
        value = params.get(name, spec.default)
        if spec.type == "int|null" and not (
            value is None or (isinstance(value, int) and not isinstance(value, bool))
        ):
            raise GraphError(
                "invalid_param",
                f"parameter {name!r} must be a whole number or null, not {value!r}",
                {"param": name},
            )
        if spec.type in ("number", "int"):
            _check_number(name, spec, value)
        out[name] = value
    return out


def _check_number(name: str, spec: Param, value: Any) -> None:
    """Raise GraphError unless ``value`` is a finite number (whole for "int") within the limits."""
    whole = spec.type == "int"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and whole:
        ok = float(value).is_integer()
    low = -math.inf if spec.low is None else spec.low
    high = math.inf if spec.high is None else spec.high
    if not ok or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        span = (
            f" from {spec.low:g} to {spec.high:g}"
            if spec.low is not None and spec.high is not None
            else ""
        )
        raise GraphError(
            "invalid_param",
            f"parameter {name!r} must be {kind}{span}, not {value!r}",
            {"param": name},
        )

"""The op table's types: an op, its parameters, backward rules and broken variants.

``engine/graph/ops.py`` holds the table itself (``OPS``); these are the rows' parts, kept
here so that ops defined in other modules (``engine/graph/ops_ch6.py``) can build rows too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from numpy.typing import NDArray

Array = NDArray[Any]
"""A float64 NumPy array (any shape, 0-d for a number)."""
Shape = tuple[int, ...]


class OpError(ValueError):
    """An op cannot take these inputs; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


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
"""The arrays a backward rule reads, by symbol: ``dout``, ``out`` and each input's name."""


@dataclass(frozen=True)
class Rule:
    """One input's local backward rule: the text the step-through shows, and the same rule in NumPy.

    ``text`` is written in the op's ``symbols``; the explanation puts each symbol's
    number in its place. ``local(env, params)`` computes the rule from those symbols'
    arrays (summed back to the input's shape where NumPy broadcast it); a test holds it
    equal to the op's ``backward`` at random inputs, and to ``text`` itself at scalars.
    """

    text: str
    local: Callable[[Env, Mapping[str, Any]], Array]


@dataclass(frozen=True)
class Variant:
    """A broken layer for teaching: the op's forward, a backward with one classic bug.

    ``doc`` explains the bug in one line; ``make`` builds its step; ``rules`` are its
    (wrong) backward rules, written and computed as the op's own are.
    """

    name: str
    doc: str
    make: Callable[[Mapping[str, Any]], Any]
    rules: tuple[Rule, ...]

    def public(self, inputs: Sequence[str]) -> dict[str, Any]:
        """The JSON description in GET /graphs/ops."""
        return {
            "name": self.name,
            "doc": self.doc,
            "backward": {f"d{n}": r.text for n, r in zip(inputs, self.rules, strict=True)},
        }


@dataclass(frozen=True)
class Op:
    """One row of the table: what a node of this kind takes, computes and sends back.

    ``make(params)`` builds a fresh step for one evaluation, in the book's style:
    ``forward(*inputs)`` returns the node's value and ``backward(dout)`` returns
    dL/d(each input), one per input and each of its input's shape.
    """

    name: str
    inputs: tuple[str, ...]
    doc: str
    formula: str
    rules: tuple[Rule, ...]
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

    def with_variant(self, name: str) -> Op:
        """This op with the backward of its variant ``name`` (KeyError if it has none)."""
        for v in self.variants:
            if v.name == name:
                return replace(self, make=v.make, rules=v.rules, variant=v.name)
        raise KeyError(name)

    @property
    def variant_doc(self) -> str | None:
        """The bug this op's variant plants, in one line; None for the op itself."""
        return next((v.doc for v in self.variants if v.name == self.variant), None)

    @property
    def arity(self) -> int:
        """Number of inputs."""
        return len(self.inputs)

    @property
    def grad_rules(self) -> tuple[str, ...]:
        """Each input's backward rule as text, e.g. ``dout · y``."""
        return tuple(rule.text for rule in self.rules)

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
                f"d{name}": rule for name, rule in zip(self.inputs, self.grad_rules, strict=True)
            },
            "label_inputs": [self.inputs[i] for i in sorted(self.label_ports)],
            "variants": [v.public(self.inputs) for v in self.variants],
        }


def _touched(shapes: Sequence[Shape], out: Shape) -> int:
    """Work of an elementwise op or a reduction: every input number and output number once."""
    return sum(math.prod(s) for s in shapes) + math.prod(out)

"""Numerical differentiation: the book's central-difference loop and one directional derivative.

``numerical_gradient`` is the book's ``common/gradient.py`` loop, element by element.
``directional_difference`` is the one central difference every gradient check is
made of (an element is the direction of one basis vector): it also says when the
difference cannot be trusted, at a kink within the step or where the function is
undefined, instead of returning a number that only looks like a derivative.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: The step of the central differences (the book's h = 1e-4).
EPS = 1e-4


def numerical_gradient(f: Callable[[Any], Any], x: NDArray[Any], eps: float = EPS) -> Array:
    """Gradient of scalar ``f`` at ``x`` by central differences, one element at a time.

    ``x`` is perturbed in place and restored, as in the book, so ``f`` may read
    it through any reference (e.g. a network's ``params``).
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a float array to be perturbed by eps, not {x.dtype}")
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        tmp = x[idx].copy()
        x[idx] = tmp + eps
        up = float(x[idx])
        fxh1 = float(f(x))
        x[idx] = tmp - eps
        fxh2 = float(f(x))
        # NOTE: divide by the step actually stored: in float32, x + eps is not exact.
        grad[idx] = (fxh1 - fxh2) / (up - float(x[idx]))
        x[idx] = tmp
        it.iternext()
    return grad


def unit_vector(v: Array) -> Array:
    """``v`` scaled to length 1 (a zero vector stays zero)."""
    return v / (np.linalg.norm(v) or 1.0)


class Undefined(ArithmeticError):
    """A function has no finite value at a perturbed point (raised by a check's loss)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Which formula gave a :class:`Difference`'s ``value``.
Formula = Literal["central", "central_half", "richardson"]


@dataclass(frozen=True)
class Difference:
    """One numerical derivative along a direction, the formula that gave it, and whether it
    can be judged.

    ``value`` is the estimate: by ``formula``, the plain central difference
    (f(x + eps·v) - f(x - eps·v)) / 2·eps, the same at eps/2 (``central_half``), or
    Richardson's extrapolation (4·D(eps/2) - D(eps)) / 3 (``richardson``). ``central`` is
    always the plain central difference at eps, so an extrapolation can be shown beside the
    number it corrects. Both are NaN when ``undefined`` says why they could not be computed;
    ``kink`` is true when the one-sided differences disagree, so a kink (ReLU at 0) lies
    within the step and no difference is meaningful.
    """

    value: float
    kink: bool = False
    undefined: str | None = None
    formula: Formula = "central"
    central: float | None = None

    def __post_init__(self) -> None:
        if self.central is None:
            object.__setattr__(self, "central", self.value)


def directional_difference(
    f: Callable[[Array], Any],
    x0: Array,
    v: Array,
    eps: float,
    f0: Any,
    weights: Any = 1.0,
) -> Difference:
    """The central difference of L = sum(f(x) * weights) at ``x0`` along ``v``.

    ``f`` returns a number or an array (``f0`` = f(x0)); the differences f(x + eps·v) - f(x0)
    are taken element by element before they are weighted and summed, so a small change is
    not lost beside a large value elsewhere in the output. Where the one-sided differences
    disagree, the step is halved once: a kink is reported as such (``kink``), while a smooth
    function that only curves within eps gets Richardson's extrapolation of the two steps
    (``formula`` says which; ``central`` keeps the plain central difference at eps).
    ``f`` may raise :class:`Undefined`, or return a non-finite value, where the perturbed
    point lies outside its domain (an overflow, a log of a negative number): the difference
    is then undefined, with the reason, never a number.
    """

    def at(step: float) -> tuple[Any, Any] | Difference:
        outs: list[Any] = []
        for sign in (1.0, -1.0):
            try:
                out = np.asarray(f(x0 + sign * step * v), dtype=np.float64)
            except Undefined as e:
                return Difference(math.nan, undefined=e.reason)
            if not np.isfinite(out).all():
                where = "+" if sign > 0 else "-"
                bad = out[~np.isfinite(out)].flat[0]
                return Difference(math.nan, undefined=f"f(x {where} eps) is {bad}")
            outs.append(out)
        return outs[0], outs[1]

    def slopes(pair: tuple[Any, Any], step: float) -> tuple[float, float]:
        """The central difference and |forward − backward one-sided difference|."""
        plus, minus = pair
        with np.errstate(over="ignore", invalid="ignore"):
            central = float(np.sum((plus - minus) * weights)) / (2 * step)
            ahead = float(np.sum((plus - f0) * weights)) / step
            behind = float(np.sum((f0 - minus) * weights)) / step
        return central, abs(ahead - behind)

    full = at(eps)
    if isinstance(full, Difference):
        return full
    value, gap = slopes(full, eps)
    if not gap > 1e-3 * (1 + 2 * abs(value)):
        return Difference(value)
    # The one-sided slopes disagree: a kink within eps, or only curvature (eps large for the
    # scale of x). Halving the step tells them apart: curvature halves the gap, a kink keeps
    # it, and a kink between eps/2 and eps is left behind (the half step measures cleanly).
    half = at(eps / 2)
    if isinstance(half, Difference):
        return Difference(value, kink=True)
    half_value, half_gap = slopes(half, eps / 2)
    ratio = half_gap / gap
    if ratio < 0.25:
        return Difference(half_value, formula="central_half", central=value)
    if ratio >= 0.75:
        return Difference(value, kink=True)
    # NOTE: curvature: Richardson's extrapolation from eps and eps/2 cancels the eps² error
    # of the central difference (what is left is O(eps⁴)), so a smooth function is judged.
    # The plain central difference goes with it (``central``): a large eps is wrong in it.
    return Difference((4 * half_value - value) / 3, formula="richardson", central=value)

"""The optimizer race of ``ch06/optimizer_compare_naive.py``: four update rules on one bowl.

Each optimizer starts at the same point and takes ``steps`` steps on f(x, y) = x²/20 + y², with
the gradient written out by hand as the book does. The optimizers are the engine's own
(engine/optimizers.py, the book's ``common/optimizer.py``); here they update two 0-d arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from engine.optimizers import OPTIMIZERS, Optimizer


@dataclass(frozen=True)
class TestFunction:
    """A function of two variables with its gradient and the window it is drawn in."""

    __test__ = False  # not a pytest class, despite its name

    title: str
    f: Callable[[float, float], float]
    df: Callable[[float, float], tuple[float, float]]
    minimum: tuple[float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    levels: tuple[float, ...]
    radius: float = 0.5  # a point this close to the minimum has arrived


def _bowl(x: float, y: float) -> float:
    return x**2 / 20.0 + y**2


def _bowl_grad(x: float, y: float) -> tuple[float, float]:
    return x / 10.0, 2.0 * y


#: Every function the race may run on, by the name the API uses.
FUNCTIONS: dict[str, TestFunction] = {
    "x2/20+y2": TestFunction(
        title="f(x, y) = x²/20 + y²",
        f=_bowl,
        df=_bowl_grad,
        minimum=(0.0, 0.0),
        x_range=(-10.0, 10.0),
        y_range=(-5.0, 5.0),
        levels=(0.05, 0.2, 0.5, 1.0, 2.0, 3.5, 5.0, 7.0),
    ),
}


@dataclass(frozen=True)
class RaceSettings:
    """The settings of one race: function, start, steps and each optimizer's learning rate."""

    function: str = "x2/20+y2"
    start: tuple[float, float] = (-7.0, 2.0)
    steps: int = 30
    optimizers: tuple[tuple[str, float], ...] = (
        ("sgd", 0.95),
        ("momentum", 0.1),
        ("adagrad", 1.5),
        ("adam", 0.3),
    )


#: The book's race: its start, its 30 steps and each optimizer's learning rate.
RACE_DEFAULTS = RaceSettings()

#: Upper bounds of a race request (the API answers 413 past them).
RACE_LIMITS: dict[str, int] = {"steps": 1000}


@dataclass
class RaceStep:
    """One update of one optimizer: the gradient it read and its state after the update."""

    grad: tuple[float, float]
    state: dict[str, object] = field(default_factory=dict)


def _pair(d: dict[str, np.ndarray] | None) -> list[float] | None:
    return None if d is None else [float(d["x"]), float(d["y"])]


def _state(opt: Optimizer) -> dict[str, object]:
    """What the optimizer remembers between steps (velocity, squared sums, moments)."""
    state: dict[str, object] = {}
    for name in ("v", "h", "m"):
        value = getattr(opt, name, None)
        if isinstance(value, dict):
            state[name] = _pair(value)
    if hasattr(opt, "iter"):
        t = int(opt.iter)
        b1, b2 = float(opt.beta1), float(opt.beta2)  # type: ignore[attr-defined]
        state["t"] = t
        state["lr_t"] = float(opt.lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t))
    return state


def race(
    optimizers: dict[str, float],
    start: tuple[float, float] = (-7.0, 2.0),
    steps: int = 30,
    function: str = "x2/20+y2",
) -> tuple[dict[str, list[tuple[float, float]]], dict[str, list[RaceStep]]]:
    """Each optimizer's path (``steps + 1`` points from ``start``) and every update it made.

    ``optimizers`` maps a name of ``engine.optimizers.OPTIMIZERS`` to its learning rate.
    """
    fn = FUNCTIONS[function]
    paths: dict[str, list[tuple[float, float]]] = {}
    traces: dict[str, list[RaceStep]] = {}
    for name, lr in optimizers.items():
        opt = OPTIMIZERS[name](lr=lr)
        params = {"x": np.array(float(start[0])), "y": np.array(float(start[1]))}
        path = [(float(params["x"]), float(params["y"]))]
        trace: list[RaceStep] = []
        # NOTE: a learning rate far too large sends the point to infinity; the path then
        # carries inf/nan, which the API writes as null (its one NaN policy).
        with np.errstate(all="ignore"):
            for _ in range(steps):
                gx, gy = fn.df(float(params["x"]), float(params["y"]))
                opt.update(params, {"x": np.array(gx), "y": np.array(gy)})
                path.append((float(params["x"]), float(params["y"])))
                trace.append(RaceStep(grad=(float(gx), float(gy)), state=_state(opt)))
        paths[name] = path
        traces[name] = trace
    return paths, traces


def arrivals(paths: dict[str, list[tuple[float, float]]], function: str) -> dict[str, int | None]:
    """The first step at which each path is within the function's ``radius`` of its minimum."""
    fn = FUNCTIONS[function]
    first: dict[str, int | None] = {}
    for name, path in paths.items():
        near = [
            i
            for i, (x, y) in enumerate(path)
            if np.hypot(x - fn.minimum[0], y - fn.minimum[1]) <= fn.radius
        ]
        first[name] = near[0] if near else None
    return first


@dataclass(frozen=True)
class Contours:
    """Level lines of a function: per level, line segments (x1, y1, x2, y2) to draw."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    levels: tuple[float, ...]
    segments: tuple[tuple[tuple[float, float, float, float], ...], ...]


def _cell_segments(
    xs: tuple[float, float], ys: tuple[float, float], z: np.ndarray, level: float
) -> list[tuple[float, float, float, float]]:
    """Marching squares on one cell: where the level crosses its four edges, joined in pairs."""
    corners = [(xs[0], ys[0]), (xs[1], ys[0]), (xs[1], ys[1]), (xs[0], ys[1])]
    values = [z[0, 0], z[0, 1], z[1, 1], z[1, 0]]
    points: list[tuple[float, float]] = []
    for i in range(4):
        (xa, ya), (xb, yb) = corners[i], corners[(i + 1) % 4]
        va, vb = values[i], values[(i + 1) % 4]
        if (va < level) != (vb < level):
            t = (level - va) / (vb - va)
            points.append((xa + t * (xb - xa), ya + t * (yb - ya)))
    return [(*points[i], *points[i + 1]) for i in range(0, len(points) - 1, 2)]


@lru_cache(maxsize=8)
def contours(function: str = "x2/20+y2", nx: int = 81, ny: int = 41) -> Contours:
    """The level lines of a race function over its window, on an ``nx`` × ``ny`` grid."""
    fn = FUNCTIONS[function]
    xs = np.linspace(*fn.x_range, nx)
    ys = np.linspace(*fn.y_range, ny)
    z = np.array([[fn.f(float(x), float(y)) for x in xs] for y in ys])
    lines = []
    for level in fn.levels:
        segs: list[tuple[float, float, float, float]] = []
        for j in range(ny - 1):
            for i in range(nx - 1):
                cell = z[j : j + 2, i : i + 2]
                if cell.min() < level <= cell.max():
                    xy = ((float(xs[i]), float(xs[i + 1])), (float(ys[j]), float(ys[j + 1])))
                    segs += _cell_segments(xy[0], xy[1], cell, level)
        lines.append(tuple(tuple(round(v, 4) for v in s) for s in segs))
    return Contours(fn.x_range, fn.y_range, fn.levels, tuple(lines))  # type: ignore[arg-type]

"""Gradient checks of a graph: backprop's gradients against central differences.

The loss is L = sum(output * dout), the scalar whose gradient ``evaluate`` computes.
Each checked node's value is nudged (every element in ``full`` mode, along random
unit directions in ``fast`` mode) and only the nodes downstream of it are run
forward again, through :func:`engine.gradient.directional_difference`: the same
central difference the network check uses. Where the nudged graph has no finite
value (an overflow, a log of a negative number) the element is reported as not
checked, with the reason, never as a numerical gradient of 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any, Literal

import numpy as np

from engine.gradcheck import ATOL, RTOL, compare, compare_directions
from engine.gradient import EPS, Difference, Undefined, directional_difference, unit_vector
from engine.graph.errors import GraphError
from engine.graph.evaluate import Evaluation, evaluate
from engine.graph.limits import DEFAULT_LIMITS, Limits
from engine.graph.op_types import Array
from engine.graph.ops import OPS
from engine.graph.parse import Graph

Mode = Literal["full", "fast"]
Scope = Literal["inputs", "all"]

#: Work charged for running one node at all (Python's share), in numbers touched: calibrated
#: on the slowest common op per call (softmax, ~100 us a run, `make bench-gradcheck-worst`),
#: so a fan-out of hundreds of small nodes is not charged as if they cost nothing.
NODE_OVERHEAD = 20_000
#: Evaluations one nudge may take: both sides at eps, and again at eps/2 where the one-sided
#: differences disagree (``directional_difference``), which a crafted graph can force everywhere.
EVALUATIONS_PER_NUDGE = 4


def checked_nodes(graph: Graph, scope: Scope = "inputs") -> tuple[str, ...]:
    """The nodes a check nudges: the inputs, or every node (labels are data, never checked)."""
    ids = graph.input_ids if scope == "inputs" else graph.forward_order
    return tuple(n for n in ids if n not in graph.label_nodes)


def downstream(graph: Graph, node: str) -> tuple[str, ...]:
    """The nodes whose values change when ``node``'s does, in forward order (not ``node``)."""
    readers: dict[str, list[str]] = {}
    for e in graph.edges:
        readers.setdefault(e.source, []).append(e.target)
    seen: set[str] = set()
    todo = [node]
    while todo:
        for reader in readers.get(todo.pop(), ()):
            if reader not in seen:
                seen.add(reader)
                todo.append(reader)
    return tuple(n for n in graph.forward_order if n in seen)


def node_work(graph: Graph, node: str) -> int:
    """Work of running ``node`` forward once (numbers touched, plus a fixed overhead)."""
    n = graph.nodes[node]
    shapes = [graph.nodes[s].shape for s in n.inputs]
    return int(n.op.work(shapes, n.shape)) + NODE_OVERHEAD


def check_work(
    graph: Graph, mode: Mode = "full", directions: int = 4, scope: Scope = "inputs"
) -> int:
    """What a check costs at worst, from shapes alone: for each checked node, its nudges times
    the evaluations of one nudge (eps halving included) times the work of running everything
    downstream of it; plus the first evaluation, and one more per planted bug."""
    base = 2 * sum(node_work(graph, n) for n in graph.forward_order)
    # NOTE: each planted bug is repaired once and the graph evaluated again (``unseen_bugs``).
    repairs = sum(graph.nodes[n].op.variant is not None for n in graph.forward_order)
    total = base * (1 + repairs + (graph.accumulate == "overwrite"))
    for n in checked_nodes(graph, scope):
        size = math.prod(graph.nodes[n].shape)
        nudges = EVALUATIONS_PER_NUDGE * (size if mode == "full" else directions)
        total += nudges * (sum(node_work(graph, d) for d in downstream(graph, n)) + size)
    return total


def _forward_from(graph: Graph, base: Evaluation, node: str, after: tuple[str, ...]) -> Any:
    """The output as a function of ``node``'s value: run the nodes ``after`` it forward."""

    def output(value: Array) -> Array:
        values = dict(base.values)
        values[node] = value
        with np.errstate(all="ignore"):
            for n in after:
                spec = graph.nodes[n]
                try:
                    out = spec.op.make(spec.params).forward(*(values[s] for s in spec.inputs))
                except GraphError as e:
                    raise Undefined(f"node '{n}' ({spec.op.name}): {e.message}") from None
                out = np.asarray(out, dtype=np.float64)
                if not np.isfinite(out).all():
                    bad = out[~np.isfinite(out)].flat[0]
                    raise Undefined(f"node '{n}' ({spec.op.name}) gives {bad} there")
                values[n] = out
        return values[graph.output]

    return output


def check_graph(
    graph: Graph,
    *,
    mode: Mode = "full",
    scope: Scope = "inputs",
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    seed: int | None = None,
    directions: int = 4,
    limits: Limits = DEFAULT_LIMITS,
    stop: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Check backprop's gradient of every checked node of ``graph``; a JSON-ready report.

    ``stop`` is called before each nudge and may raise to end the check early.
    Raises :class:`~engine.graph.GraphError` if the graph itself cannot be evaluated.
    """
    start = time.perf_counter()
    stop = stop or (lambda: None)
    base = evaluate(graph, limits=limits)
    rng = np.random.default_rng(seed)
    dout = np.asarray(graph.dout, dtype=np.float64)
    out0 = base.output
    f0 = float(np.sum(out0 * dout))
    params: dict[str, Any] = {}
    for node in checked_nodes(graph, scope):
        x0 = np.array(base.values[node], dtype=np.float64)
        grad = np.asarray(base.grads[node], dtype=np.float64)
        output = _forward_from(graph, base, node, downstream(graph, node))
        if mode == "full":
            numerical = np.zeros(x0.shape)
            central = np.zeros(x0.shape)
            formula = np.full(x0.shape, "central", dtype=object)
            kink = np.zeros(x0.shape, dtype=bool)
            undefined: dict[tuple[int, ...], str] = {}
            for idx in np.ndindex(*x0.shape):
                stop()
                basis = np.zeros(x0.shape)
                basis[idx] = 1.0
                d = directional_difference(output, x0, basis, eps, out0, dout)
                numerical[idx], kink[idx] = d.value, d.kink
                central[idx], formula[idx] = d.central, d.formula
                if d.undefined is not None:
                    undefined[idx] = d.undefined
            # NOTE: a kink is not judged only where it spoils the agreement.
            with np.errstate(invalid="ignore", over="ignore"):
                bad = ~(np.abs(grad - numerical) <= atol + rtol * np.abs(numerical))
            report = compare(
                grad, numerical, atol=atol, rtol=rtol, skip=kink & bad, undefined=undefined
            )
        else:
            diffs: list[Difference] = []
            projections: list[float] = []
            for _ in range(directions):
                stop()
                v = unit_vector(rng.standard_normal(x0.shape))
                d = directional_difference(output, x0, v, eps, out0, dout)
                projected = float(np.sum(grad * v))
                if d.kink and abs(projected - d.value) <= atol + rtol * abs(d.value):
                    d = replace(d, kink=False)  # a kink that does not spoil the agreement
                diffs.append(d)
                projections.append(projected)
            report = compare_directions(projections, diffs, atol, rtol, x0.size)
            central = np.array([d.central for d in diffs], dtype=np.float64)
            formula = np.array([d.formula for d in diffs], dtype=object)
        params[node] = asdict(report)
        # NOTE: each estimate says which formula gave it, with the plain central difference
        # beside it: where eps is large for the function's curvature, the two differ.
        for w in params[node]["worst"]:
            at = tuple(w["index"])
            w["formula"] = str(formula[at])
            w["central"] = _json_number(central[at])
        params[node]["formulas"] = _formula_counts(formula)
        if mode == "full":
            # Every element's estimate (null where undefined), for drawing beside backprop's,
            # the formula that gave it and the plain central difference at eps.
            params[node]["numerical"] = _json_tensor(numerical)
            params[node]["central"] = _json_tensor(central)
            params[node]["formula"] = formula.tolist()
    summary = _summary(graph, base, params, mode, scope, eps, atol, rtol, directions, f0, start)
    unseen = unseen_bugs(graph, base, scope, atol, rtol, limits)
    summary["unseen_bugs"] = unseen
    for bug in unseen:
        summary["notes"].append(bug["reason"])
    return summary


def unseen_bugs(
    graph: Graph,
    base: Evaluation,
    scope: Scope = "all",
    atol: float = ATOL,
    rtol: float = RTOL,
    limits: Limits = DEFAULT_LIMITS,
) -> list[dict[str, Any]]:
    """The planted bugs that change no checked gradient on this graph, so no check sees them.

    Each broken layer is repaired alone (and overwriting alone turned back into summing); if
    every checked node's gradient stays within the check's tolerance, the bug cannot show
    here: Softmax-with-Loss that forgets to divide by N, on a batch of one row, for example.
    """
    checked = checked_nodes(graph, scope)
    repairs: list[tuple[str | None, str, Graph]] = []
    for n in graph.forward_order:
        spec = graph.nodes[n]
        if spec.op.variant is not None:
            fixed = replace(spec, op=OPS[spec.op.name])
            repairs.append((n, spec.op.variant, replace(graph, nodes={**graph.nodes, n: fixed})))
    if graph.accumulate == "overwrite":
        repairs.append((None, "overwrite", replace(graph, accumulate="sum")))
    found: list[dict[str, Any]] = []
    for node, variant, repaired in repairs:
        right = evaluate(repaired, limits=limits)
        if all(
            np.allclose(base.grads[c], right.grads[c], atol=atol, rtol=rtol, equal_nan=True)
            for c in checked
        ):
            why = "one_row" if node is not None and _one_row(graph, node) else None
            found.append(
                {
                    "node": node,
                    "variant": variant,
                    "why": why,
                    "reason": _unseen_reason(graph, node),
                }
            )
    return found


def _one_row(graph: Graph, node: str) -> bool:
    """Whether the node's first input is a batch of one row (a vector, or a matrix 1 × n)."""
    spec = graph.nodes[node]
    if not spec.inputs:
        return False
    shape = graph.nodes[spec.inputs[0]].shape
    return len(shape) <= 1 or shape[0] == 1


def _unseen_reason(graph: Graph, node: str | None) -> str:
    """Why a planted bug passes every check on this graph, in a sentence."""
    if node is None:
        return (
            "The graph overwrites gradients instead of summing them, but no value here reaches "
            "the output along two paths, so nothing is overwritten: the check agrees, and "
            "cannot see the bug on this graph. Use a value twice to see it."
        )
    spec = graph.nodes[node]
    why = " (the batch has one row, N = 1)" if _one_row(graph, node) else ""
    return (
        f"Node '{node}' is a broken {spec.op.name} ({spec.op.variant}), but on this graph its "
        f"bug changes no gradient{why}: the check agrees, and cannot see the bug here. "
        "Change the graph so the bug matters" + (" (a batch of two rows or more)." if why else ".")
    )


def _json_number(v: Any) -> float | None:
    """A float, or None where it is NaN (undefined)."""
    v = float(v)
    return None if math.isnan(v) else v


def _json_tensor(a: Array) -> Any:
    """Nested lists of floats, None where NaN."""
    shown = a.astype(object)
    shown[np.isnan(a)] = None
    return shown.tolist()


def _formula_counts(formula: Any) -> dict[str, int]:
    """How many estimates each formula gave (an element at a kink counts as central)."""
    counts = {"central": 0, "central_half": 0, "richardson": 0}
    for f in np.asarray(formula, dtype=object).ravel():
        counts[str(f)] += 1
    return counts


def _summary(
    graph: Graph,
    base: Evaluation,
    params: dict[str, Any],
    mode: Mode,
    scope: Scope,
    eps: float,
    atol: float,
    rtol: float,
    directions: int,
    f0: float,
    start: float,
) -> dict[str, Any]:
    kinks = sum(p["kinks"] for p in params.values())
    undefined = sum(p["undefined"] for p in params.values())
    formulas = {
        f: sum(p["formulas"][f] for p in params.values())
        for f in ("central", "central_half", "richardson")
    }
    notes = []
    if formulas["richardson"] or formulas["central_half"]:
        notes.append(
            f"Not every estimate is a plain central difference at eps = {eps:g}: where the "
            "one-sided slopes disagreed (the function curves within eps), "
            f"{formulas['richardson']} came from Richardson's extrapolation (4·D(eps/2) − D(eps))"
            f" / 3 and {formulas['central_half']} from the central difference at eps/2. Each "
            "element's formula and its plain central difference are reported beside it."
        )
    if kinks:
        notes.append(
            "Some elements were not judged: their one-sided differences disagree, so a kink "
            "(such as ReLU at 0) lies within eps and no finite difference is meaningful there."
        )
    if undefined:
        first = next(p["unchecked"][0] for p in params.values() if p["unchecked"])
        notes.append(
            f"{undefined} element(s) could not be checked: the graph has no finite value "
            f"within eps of them (for example, {first['reason']}). Their backprop gradients "
            "are not judged; a smaller eps or other values may check them."
        )
    for n in graph.forward_order:
        op = graph.nodes[n].op
        if op.variant is not None:
            notes.append(f"Node '{n}' is a broken {op.name} ({op.variant}): {op.variant_doc}")
    if graph.accumulate == "overwrite":
        notes.append(
            "The graph overwrites gradients instead of summing them: a value used more than "
            "once keeps only the last gradient that reaches it (the classic bug)."
        )
    labels = sorted(graph.label_nodes & set(graph.forward_order))
    if labels:
        notes.append(
            "Labels (" + ", ".join(labels) + ") are data, not differentiable, and were not checked."
        )
    return {
        "passed": all(p["passed"] for p in params.values()),
        "mode": mode,
        "scope": scope,
        "eps": eps,
        "atol": atol,
        "rtol": rtol,
        "elapsed_ms": (time.perf_counter() - start) * 1000,
        "params": params,
        "directions": directions if mode == "fast" else None,
        "kinks": kinks,
        "undefined": undefined,
        "notes": notes,
        "formulas": formulas,
        "output": {"id": graph.output, "loss": f0},
    }

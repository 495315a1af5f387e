"""Gradient checks off the request path: the book's network on real images, or a posted graph.

Checks run in a small pool of spawned processes (one BLAS thread each, the
dataset loaded once per process), so a long full check never stalls the server.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from typing import Any

import numpy as np

from app.datasets import require_dataset
from app.errors import AppError, TooLarge, Unprocessable
from app.schemas_service import GradcheckRequest
from app.settings import Settings

_datasets: dict[str, Any] = {}


def _init_child() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def network_check(req: dict[str, Any]) -> dict[str, Any]:
    """The book's gradient check (runs in a child process): a fresh TwoLayerNet, first images."""
    from engine.data import load_dataset
    from engine.gradcheck import gradcheck
    from engine.network import TwoLayerNet

    name = req["dataset"]
    if name not in _datasets:
        _datasets[name] = load_dataset(name, download=req["download"], progress=False)
    data = _datasets[name]
    n = req["batch_size"]
    x = data.x_train[:n].reshape(n, -1).astype(np.float64) / 255.0
    t = data.t_train[:n].astype(np.intp)
    model = req["model"]
    net = TwoLayerNet(
        784, model["hidden_size"], 10, model["weight_init_std"], seed=req["seed"], dtype=np.float64
    )
    report = gradcheck(
        net,
        x,
        t,
        mode=req["mode"],
        eps=req["eps"],
        atol=req["atol"],
        rtol=req["rtol"],
        seed=req["seed"],
        directions=req["directions"],
    ).to_dict()
    report["images"] = {"dataset": name, "indices": list(range(n)), "labels": t.tolist()}
    return report


def graph_limits(settings: Settings) -> Any:
    """The graph engine's limits from this server's settings."""
    return settings.graph_limits()


def graph_error(exc: Any) -> AppError:
    """The app error for an engine GraphError: 413 over a limit, else 422 (as /graphs/evaluate)."""
    from engine.graph import GraphTooLarge  # the engine loads lazily here, as in the checks

    cls = TooLarge if isinstance(exc, GraphTooLarge) else Unprocessable
    return cls(exc.message, code=exc.code, details=exc.details)


def graph_check(job: dict[str, Any]) -> dict[str, Any]:
    """Every ``input`` node of a posted graph: backprop vs numerical gradients (child process).

    L = sum(output * dout); its gradient with respect to each input node's
    value is computed by central differences through the graph engine's
    ``overrides`` (full) or along random unit directions (fast). Where the
    forward and backward one-sided differences disagree (a kink such as ReLU
    at 0), a mismatch is reported as a kink, not as a failure.
    """
    from engine.gradcheck import compare
    from engine.graph import GraphError, evaluate, parse_graph

    start = time.perf_counter()
    limits = job["limits"]
    try:
        graph = parse_graph(job["graph"], limits=limits)
        base = evaluate(graph, limits=limits)
    except GraphError as e:
        return {"graph_error": e}
    dout = np.asarray(graph.dout, dtype=np.float64)
    eps, atol, rtol = job["eps"], job["atol"], job["rtol"]
    rng = np.random.default_rng(job["seed"])
    f0 = float(np.sum(base.output * dout))
    undefined = 0

    def loss(node: str, value: np.ndarray) -> float:
        nonlocal undefined
        try:
            out = evaluate(graph, overrides={node: value}, limits=limits).output
        except GraphError:
            undefined += 1
            return float("nan")
        return float(np.sum(out * dout))

    params: dict[str, Any] = {}
    checked = [n for n in graph.input_ids if n not in graph.label_nodes]
    for node in checked:
        x0 = np.array(base.values[node], dtype=np.float64)
        grad = np.asarray(base.grads[node], dtype=np.float64)
        if job["mode"] == "full":
            numerical = np.zeros_like(x0)
            kink = np.zeros(x0.shape, dtype=bool)
            for idx in np.ndindex(*x0.shape):
                x = x0.copy()
                x[idx] = x0[idx] + eps
                plus = loss(node, x)
                x[idx] = x0[idx] - eps
                minus = loss(node, x)
                numerical[idx] = (plus - minus) / (2 * eps)
                ahead, behind = (plus - f0) / eps, (f0 - minus) / eps
                kink[idx] = not np.isfinite(numerical[idx]) or abs(ahead - behind) > 1e-3 * (
                    1 + abs(ahead) + abs(behind)
                )
            bad = np.abs(grad - numerical) > atol + rtol * np.abs(numerical)
            report = compare(grad, np.nan_to_num(numerical), atol=atol, rtol=rtol, skip=kink & bad)
        else:
            k = job["directions"]
            ana, num = np.zeros(k), np.zeros(k)
            kink = np.zeros(k, dtype=bool)
            for i in range(k):
                v = rng.standard_normal(x0.shape)
                v /= np.linalg.norm(v) or 1.0
                plus, minus = loss(node, x0 + eps * v), loss(node, x0 - eps * v)
                num[i] = (plus - minus) / (2 * eps)
                ana[i] = float(np.sum(grad * v))
                ahead, behind = (plus - f0) / eps, (f0 - minus) / eps
                kink[i] = not np.isfinite(num[i]) or abs(ahead - behind) > 1e-3 * (
                    1 + abs(ahead) + abs(behind)
                )
            bad = np.abs(ana - num) > atol + rtol * np.abs(num)
            report = compare(ana, np.nan_to_num(num), atol=atol, rtol=rtol, skip=kink & bad)
            report.size = int(x0.size)
        params[node] = asdict(report)
    notes = []
    if any(p["kinks"] for p in params.values()):
        notes.append(
            "Some elements were not judged: their one-sided differences disagree, so a kink "
            "(such as ReLU at 0) lies within eps and no finite difference is meaningful there."
        )
    if undefined:
        notes.append(f"{undefined} perturbed evaluations were undefined (e.g. outside a domain).")
    if graph.label_nodes & set(graph.input_ids):
        notes.append(
            "Label inputs (" + ", ".join(sorted(graph.label_nodes)) + ") are not differentiable "
            "and were not checked."
        )
    return {
        "passed": all(p["passed"] for p in params.values()),
        "mode": job["mode"],
        "eps": eps,
        "atol": atol,
        "rtol": rtol,
        "elapsed_ms": (time.perf_counter() - start) * 1000,
        "params": params,
        "directions": job["directions"] if job["mode"] == "fast" else None,
        "kinks": sum(p["kinks"] for p in params.values()),
        "notes": notes,
        "output": {"id": graph.output, "loss": f0},
    }


class GradcheckRunner:
    """Validates a check request against the limits and runs it in the check pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.settings.gradcheck_workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_child,
            )
        return self._pool

    def close(self) -> None:
        """Stop the check processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def validate(self, req: GradcheckRequest) -> dict[str, Any]:
        """Raise the 4xx a request deserves; return the plain job for the child."""
        s = self.settings
        job = req.model_dump()
        if req.graph is not None:
            if req.model is not None:
                raise Unprocessable(
                    "Give either 'model' (the book's network) or 'graph', not both.",
                    code="ambiguous_check",
                    details={"field": "graph"},
                )
            from engine.graph import GraphError, parse_graph

            limits = graph_limits(s)
            try:
                graph = parse_graph(req.graph, limits=limits)
            except GraphError as e:
                raise graph_error(e) from None
            elements = sum(
                int(np.prod(graph.nodes[n].shape))
                for n in graph.input_ids
                if n not in graph.label_nodes
            )
            work = elements * max(graph.total_elements, 100)
            if req.mode == "full" and work > s.max_gradcheck_work:
                raise TooLarge(
                    f"A full check of this graph perturbs {elements} input numbers, each "
                    f"evaluating a graph of {graph.total_elements} numbers: over this server's "
                    f"budget of {s.max_gradcheck_work}. Use mode 'fast' or smaller inputs.",
                    details={"field": "graph", "limit": s.max_gradcheck_work, "value": work},
                )
            job["limits"] = limits
            return job
        model = (
            req.model.model_dump()
            if req.model is not None
            else {"input_size": 784, "hidden_size": 50, "output_size": 10, "weight_init_std": 0.01}
        )
        job["model"] = model
        hidden = model["hidden_size"]
        if hidden > s.max_hidden_size:
            raise TooLarge(
                f"'model.hidden_size' is {hidden}, over this server's limit of "
                f"{s.max_hidden_size}.",
                details={"field": "model.hidden_size", "limit": s.max_hidden_size, "value": hidden},
            )
        if req.batch_size > s.max_gradcheck_batch:
            raise TooLarge(
                f"'batch_size' is {req.batch_size}, over this server's limit of "
                f"{s.max_gradcheck_batch} images per gradient check.",
                details={
                    "field": "batch_size",
                    "limit": s.max_gradcheck_batch,
                    "value": req.batch_size,
                },
            )
        params = 784 * hidden + hidden + hidden * 10 + 10
        if req.mode == "full" and params > s.max_gradcheck_params:
            raise TooLarge(
                f"A network with {hidden} hidden units has {params} parameters; a full check "
                f"perturbs at most {s.max_gradcheck_params}. Use mode 'fast' or fewer units.",
                details={
                    "field": "model.hidden_size",
                    "limit": s.max_gradcheck_params,
                    "value": params,
                },
            )
        job["dataset"] = require_dataset(req.dataset, s)
        job["download"] = s.download_datasets
        return job

    async def run(self, req: GradcheckRequest) -> dict[str, Any]:
        """Validate, run in the pool, and return the report."""
        job = await asyncio.to_thread(self.validate, req)
        fn = graph_check if req.graph is not None else network_check
        started = time.perf_counter()
        try:
            report = await asyncio.wrap_future(self._executor().submit(fn, job))
        except BrokenProcessPool:
            self._pool = None
            raise AppError(
                "The gradient-check process stopped unexpectedly; try a smaller check.",
                code="check_failed",
            ) from None
        if "graph_error" in report:
            raise graph_error(report["graph_error"])
        report["total_ms"] = (time.perf_counter() - started) * 1000
        return report

"""Gradient checks off the request path: the book's network on real images, or a posted graph.

The checking itself is the engine's (``engine.gradcheck``, ``engine.graph.check``);
this module validates a request against the server's limits and runs the check in
a small pool of spawned processes (one BLAS thread each, the dataset loaded once per
process), so a long check never stalls the server. A check is stopped when it runs
past ``max_gradcheck_seconds`` or its client goes away; a check process whose server
has died exits by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from app.checkqueue import FairQueue, graph_seconds, network_seconds
from app.datasets import require_dataset
from app.errors import AppError, TooLarge, Unprocessable, graph_app_error
from app.lifeline import exit_with_parent
from app.schemas_gradcheck import GradcheckRequest
from app.settings import Settings

_datasets: dict[str, Any] = {}

#: Seconds past its time limit (at least; a quarter of the limit if more) after which a check
#: that has not stopped itself is killed with its process.
KILL_GRACE = 2.0
#: Seconds more for the first check of a new check process, which starts Python and NumPy
#: (and loads its dataset) before its own clock starts.
STARTUP_ALLOWANCE = 60.0

#: Job ids the server has cancelled, each at its id modulo the length (shared with the pool).
CANCEL_SLOTS = 1024
_cancelled: Any = None


def _init_child(cancelled: Any, parent: int) -> None:
    """Set up a check process: one BLAS thread, the cancel marks, and exit if the server dies."""
    global _cancelled
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    _cancelled = cancelled
    # NOTE: without this, a server killed outright (the OOM killer) leaves the check
    # process, and the resource tracker that waits for it, running forever.
    exit_with_parent(parent)


class CheckStopped(Exception):
    """A check ended before it finished: ``reason`` is ``time_limit`` or ``cancelled``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def run_job(kind: str, job: dict[str, Any]) -> dict[str, Any]:
    """Run a check in a check process, stopping it past its time or once it is cancelled."""
    if "graph_body" in job:  # a large body, sent as its bytes: parsed here, not in the server
        from app.body import parse_json

        job = {**job, "graph": parse_json(job.pop("graph_body"))["graph"]}
    started = time.monotonic()
    deadline = started + job["seconds"]
    job_id = job["job_id"]
    steps = 0

    def stop() -> None:
        nonlocal steps
        steps += 1
        if _cancelled is not None and _cancelled[job_id % CANCEL_SLOTS] == job_id:
            raise CheckStopped("cancelled")
        if time.monotonic() > deadline:
            raise CheckStopped("time_limit")

    fn = graph_check if kind == "graph" else network_check
    try:
        return fn({**job, "stop": stop})
    except CheckStopped as e:
        return {"stopped": e.reason, "steps": steps, "seconds": time.monotonic() - started}


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
        stop=req["stop"],
    ).to_dict()
    report["images"] = {"dataset": name, "indices": list(range(n)), "labels": t.tolist()}
    return report


def graph_check(job: dict[str, Any]) -> dict[str, Any]:
    """Every ``input`` node (or every node) of a posted graph: backprop vs central differences."""
    from engine.graph import GraphError, check_graph, parse_graph

    limits = job["limits"]
    try:
        graph = parse_graph(job["graph"], limits=limits)
        return check_graph(
            graph,
            mode=job["mode"],
            scope=job["scope"],
            eps=job["eps"],
            atol=job["atol"],
            rtol=job["rtol"],
            seed=job["seed"],
            directions=job["directions"],
            limits=limits,
            stop=job["stop"],
        )
    except GraphError as e:
        return {"graph_error": e}


class GradcheckRunner:
    """Validates a check request against the limits and runs it in the check pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # NOTE: one single-process pool per slot, so a check that overruns its time can be
        # killed with its process without breaking the checks of the other slots.
        self._pools: list[ProcessPoolExecutor | None] = [None] * settings.gradcheck_workers
        self._fresh = [True] * settings.gradcheck_workers
        self._context = mp.get_context("spawn")
        self._cancelled = self._context.Array("q", CANCEL_SLOTS, lock=False)
        self._jobs = 0
        self._queue: FairQueue | None = None

    @property
    def queue(self) -> FairQueue:
        """The fair queue of checks (made on the event loop at first use)."""
        if self._queue is None:
            s = self.settings
            self._queue = FairQueue(s.gradcheck_workers, s.max_gradcheck_wait)
        return self._queue

    def _executor(self, slot: int) -> ProcessPoolExecutor:
        pool = self._pools[slot]
        if pool is None:
            self._fresh[slot] = True
            pool = self._pools[slot] = ProcessPoolExecutor(
                1,
                mp_context=self._context,
                initializer=_init_child,
                initargs=(self._cancelled, os.getpid()),
            )
        return pool

    def _kill(self, slot: int) -> None:
        """End the check process of ``slot`` outright (a check past its time limit)."""
        pool, self._pools[slot] = self._pools[slot], None
        if pool is None:
            return
        # NOTE: the pool has no public way to kill its process; its private table does.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def cancel(self, job_id: int) -> None:
        """Mark a job cancelled: its check process stops it before its next nudge."""
        self._cancelled[job_id % CANCEL_SLOTS] = job_id

    def close(self) -> None:
        """Stop the check processes."""
        for i, pool in enumerate(self._pools):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
                self._pools[i] = None

    def validate(self, req: GradcheckRequest) -> dict[str, Any]:
        """Raise the 4xx a request deserves; return the plain job for the child."""
        return plan(req, self.settings)

    async def run(
        self,
        req: GradcheckRequest,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
        poll: float = 0.25,
        client: str = "",
        planned: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Validate, wait for a fair turn, run in a check process and return the report.

        The check is stopped if its client goes; one still running past its time limit (and
        a grace) is killed with its process. A ``planned`` job (a large graph body validated
        in a graph process, ``app/graphwork.py``) carries the body's bytes, not its graph.
        """
        job = dict(planned) if planned is not None else await asyncio.to_thread(self.validate, req)
        ticket = await self.queue.admit(client, job.pop("estimate"), disconnected)
        try:
            while not ticket.ready.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ticket.ready.wait(), poll)
                if disconnected is not None and await disconnected():
                    raise ClientGone()
            return await self._run_in(ticket.slot, job, disconnected, poll)
        finally:
            self.queue.leave(ticket)

    async def _run_in(
        self,
        slot: int,
        job: dict[str, Any],
        disconnected: Callable[[], Awaitable[bool]] | None,
        poll: float,
    ) -> dict[str, Any]:
        self._jobs += 1
        job_id = job["job_id"] = self._jobs
        limit = job["seconds"] = self.settings.max_gradcheck_seconds
        started = time.perf_counter()
        future = self._executor(slot).submit(run_job, "graph" if _is_graph(job) else "network", job)
        waiting = asyncio.wrap_future(future)
        # A check stops itself before each nudge past its limit; one nudge that runs on
        # (a huge evaluation) is cut here, with its process.
        kill_at = started + limit + max(KILL_GRACE, 0.25 * limit)
        if self._fresh[slot]:
            kill_at += STARTUP_ALLOWANCE  # the process starts (and loads its dataset) first
        try:
            while not (await asyncio.wait({waiting}, timeout=poll))[0]:
                if disconnected is not None and await disconnected():
                    raise ClientGone()
                if time.perf_counter() > kill_at:
                    waiting.cancel()  # its BrokenProcessPool is nobody's to read
                    self._kill(slot)
                    raise self._stopped(
                        {"seconds": time.perf_counter() - started, "steps": 0, "killed": True}
                    )
            report = waiting.result()
            self._fresh[slot] = False
        except BrokenProcessPool:
            self._pools[slot] = None
            raise AppError(
                "The gradient-check process stopped unexpectedly; try a smaller check.",
                code="check_failed",
            ) from None
        except (ClientGone, asyncio.CancelledError):
            self.cancel(job_id)
            future.cancel()
            raise
        if "graph_error" in report:
            raise graph_app_error(report["graph_error"])
        if "stopped" in report:
            raise self._stopped(report)
        report["total_ms"] = (time.perf_counter() - started) * 1000
        return report

    def _stopped(self, report: dict[str, Any]) -> AppError:
        """The answer for a check stopped in its process (past its time limit)."""
        limit = self.settings.max_gradcheck_seconds
        how = (
            "killed in the middle of an evaluation"
            if report.get("killed")
            else f"stopped after {report['steps']:,} nudges"
        )
        return TooLarge(
            f"The gradient check ran {report['seconds']:.0f} s, over this server's limit for "
            f"one check (max_gradcheck_seconds = {limit}), and was {how}. "
            "Use mode 'fast', fewer directions or smaller inputs.",
            code="check_time_limit",
            details={"limit": limit, "value": round(report["seconds"], 3)},
        )


def plan(req: GradcheckRequest, s: Settings) -> dict[str, Any]:
    """Raise the 4xx a request deserves; return the plain job for the check process."""
    job = req.model_dump()
    if req.graph is not None:
        if req.model is not None:
            raise Unprocessable(
                "Give either 'model' (the book's network) or 'graph', not both.",
                code="ambiguous_check",
                details={"field": "graph"},
            )
        from engine.graph import GraphError, check_work, parse_graph
        from engine.graph.check import checked_nodes

        limits = s.graph_limits()
        try:
            graph = parse_graph(req.graph, limits=limits)
        except GraphError as e:
            raise graph_app_error(e) from None
        work = check_work(graph, req.mode, req.directions, req.scope)
        if work > s.max_gradcheck_work:
            nodes = checked_nodes(graph, req.scope)
            numbers = sum(int(np.prod(graph.nodes[n].shape)) for n in nodes)
            hint = (
                "Use mode 'fast', smaller inputs or fewer nodes."
                if req.mode == "full"
                else "Use fewer directions, smaller inputs or fewer nodes."
            )
            raise TooLarge(
                f"This check nudges {numbers:,} numbers of {len(nodes)} node(s) "
                f"({req.mode} mode) and runs what lies downstream of each nudge again: "
                f"about {work:,} units of work, over this server's budget of "
                f"{s.max_gradcheck_work:,} (max_gradcheck_work). {hint}",
                details={"field": "graph", "limit": s.max_gradcheck_work, "value": work},
            )
        job["limits"] = limits
        job["estimate"] = graph_seconds(work)
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
            f"'model.hidden_size' is {hidden}, over this server's limit of {s.max_hidden_size}.",
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
    seconds = network_seconds(int(hidden), req.batch_size, req.mode, req.directions)
    if seconds > s.max_gradcheck_seconds:
        raise TooLarge(
            f"A {req.mode} check of a network with {hidden} hidden units on "
            f"{req.batch_size} images would take up to about {seconds:.0f} s, over this "
            f"server's limit of {s.max_gradcheck_seconds} s for one check "
            "(max_gradcheck_seconds). Use mode 'fast', fewer images or fewer units.",
            code="check_too_long",
            details={"limit": s.max_gradcheck_seconds, "value": round(seconds, 1)},
        )
    job["estimate"] = seconds
    job["dataset"] = require_dataset(req.dataset, s)
    job["download"] = s.download_datasets
    return job


def _is_graph(job: dict[str, Any]) -> bool:
    return job.get("graph") is not None or "graph_body" in job


class ClientGone(AppError):
    """The client closed the connection before its check ended (nobody reads this answer)."""

    status = 400
    code = "client_gone"

    def __init__(self) -> None:
        super().__init__("The client closed the connection; the check was stopped.")

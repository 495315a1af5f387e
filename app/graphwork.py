"""Large graph bodies parsed, evaluated and rendered in worker processes, not the server's.

CPython's JSON parser holds the interpreter lock for the whole parse (half a second or more
for 8 MB), so a thread cannot keep a large graph body from freezing the event loop. A body
over ``PROCESS_THRESHOLD`` bytes is handed, as bytes, to one of ``graph_processes`` worker
processes (spawned, one BLAS thread, ending with their server: ``app/lifeline.py``), which
parses, validates, evaluates and serialises it and sends back the answer's bytes, or an
error's status, code, message and details. A request waiting for a process holds only its
body's bytes; one that waits past ``wait`` seconds is a 503 ``busy`` with ``Retry-After``,
and a process whose work runs past ``seconds`` is killed (413 ``evaluation_time_limit``).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from app.body import _collector_paused, parse_json
from app.errors import AppError, TooLarge, Unavailable, graph_app_error
from app.lifeline import exit_with_parent
from engine.graph import Graph, GraphError, Limits, check_evaluation_size, evaluate, parse_graph

#: Bodies larger than this many bytes are parsed and evaluated in a worker process; smaller
#: ones (parsed in a few milliseconds) stay in the server, which answers them sooner.
PROCESS_THRESHOLD = 128_000
#: Seconds more for the first job of a new process, which starts Python and NumPy first.
STARTUP_ALLOWANCE = 30.0
#: Seconds past the time limit before a process that has not answered is killed.
KILL_GRACE = 2.0


def parse_body(body: Any, limits: Limits) -> Graph:
    """A graph from its parsed JSON body, checked against the limits (4xx on failure)."""
    try:
        graph = parse_graph(body, limits=limits)
        check_evaluation_size(graph, limits)
    except GraphError as exc:
        raise graph_app_error(exc) from None
    return graph


def answer(graph: Graph, limits: Limits) -> bytes:
    """The body of POST /graphs/evaluate for a parsed graph."""
    from app.schemas_graphs import evaluation_json

    try:
        return evaluation_json(evaluate(graph, limits=limits))
    except GraphError as exc:
        raise graph_app_error(exc) from None


def script(graph: Graph, limits: Limits) -> bytes:
    """The body of POST /graphs/export/python for a parsed graph (evaluated first)."""
    from engine.graph.export import to_python

    try:
        evaluate(graph, limits=limits)
    except GraphError as exc:
        raise graph_app_error(exc) from None
    return to_python(graph).encode("utf-8")


RENDERERS = {"evaluate": answer, "export": script}


def _init_child(parent: int, nice: int) -> None:
    """Set up a worker process: one BLAS thread, lower priority, exit when the server dies."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    # NOTE: the server's own requests (healthz, small bodies) win the CPU from a worker.
    os.nice(nice)
    exit_with_parent(parent)


def work(kind: str, body: bytes, limits: Limits) -> tuple[bytes | None, tuple[Any, ...] | None]:
    """Parse, validate and render a body (in a worker): the answer, or an error's parts."""
    try:
        with _collector_paused():
            graph = parse_body(parse_json(body), limits)
            return RENDERERS[kind](graph, limits), None
    except AppError as e:
        return None, (e.status, e.code, e.message, e.details, e.headers)
    except MemoryError:
        return None, None


def plan_check(body: bytes, settings: Any) -> tuple[Any, tuple[Any, ...] | None]:
    """Validate a gradient check with a large graph (in a worker): its job without the graph
    (the check process parses the bytes again) and the request without it, or an error's parts.
    """
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    from app.checks import plan
    from app.errors import describe_validation
    from app.schemas_gradcheck import GradcheckRequest

    try:
        with _collector_paused():
            value: Any = parse_json(body)
            try:
                req = GradcheckRequest.model_validate(value)
            except ValidationError as e:
                errors = [{**err, "loc": ("body", *err["loc"])} for err in e.errors()]
                status, code, message, details = describe_validation(RequestValidationError(errors))
                return None, (status, code, message, details, None)
            value = None
            req.check_in_thread(settings)
            job = plan(req, settings)
            job.pop("graph", None)
            job["graph_body"] = body
            return (job, req.model_copy(update={"graph": None})), None
    except AppError as e:
        return None, (e.status, e.code, e.message, e.details, e.headers)
    except MemoryError:
        return None, None


def _error(parts: tuple[Any, ...]) -> AppError:
    status, code, message, details, headers = parts
    error = AppError(message, code=code, details=details, headers=headers)
    error.status = status
    return error


class GraphPool:
    """``processes`` single-process pools; a request waits at most ``wait`` s for one."""

    def __init__(self, processes: int, wait: float, seconds: float, nice: int = 0) -> None:
        self.wait = wait
        self.nice = nice
        self.seconds = seconds
        self._context = mp.get_context("spawn")
        self._pools: list[ProcessPoolExecutor | None] = [None] * processes
        self._fresh = [True] * processes
        self._idle = list(range(processes))
        self._free: asyncio.Semaphore | None = None

    def _executor(self, slot: int) -> ProcessPoolExecutor:
        pool = self._pools[slot]
        if pool is None:
            self._fresh[slot] = True
            pool = self._pools[slot] = ProcessPoolExecutor(
                1,
                mp_context=self._context,
                initializer=_init_child,
                initargs=(os.getpid(), self.nice),
            )
        return pool

    def _kill(self, slot: int) -> None:
        pool, self._pools[slot] = self._pools[slot], None
        if pool is None:
            return
        # NOTE: the pool has no public way to kill its process; its private table does.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker processes."""
        for slot in range(len(self._pools)):
            self._kill(slot)

    def _busy(self, what: str, code: str) -> Unavailable:
        return Unavailable(
            what, code=code, headers={"Retry-After": str(max(1, math.ceil(self.wait)))}
        )

    async def run(self, kind: str, body: bytes, limits: Limits) -> bytes:
        """The rendered answer of a graph body, computed in a worker process."""
        content: bytes = await self.call(work, kind, body, limits)
        return content

    async def call(self, fn: Callable[..., tuple[Any, Any]], *args: Any) -> Any:
        """``fn(*args)`` in a worker process: its result, or the error it describes."""
        if self._free is None:
            self._free = asyncio.Semaphore(len(self._pools))
        try:
            await asyncio.wait_for(self._free.acquire(), self.wait or 1e-3)
        except TimeoutError:
            raise self._busy(
                "The server is busy with other large graphs and this one waited {self.wait:g} s "
                "for its turn. Try again in a few seconds.",
                "busy",
            ) from None
        slot = self._idle.pop()
        try:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self._executor(slot), fn, *args)
            allowance = STARTUP_ALLOWANCE if self._fresh[slot] else 0.0
            try:
                content, error = await asyncio.wait_for(
                    future, self.seconds + KILL_GRACE + allowance
                )
            except TimeoutError:
                self._kill(slot)
                raise TooLarge(
                    f"This graph took longer than {self.seconds:g} s to evaluate and was "
                    "stopped: make its tensors smaller or use fewer nodes.",
                    code="evaluation_time_limit",
                    details={"limit_seconds": self.seconds},
                ) from None
            except BrokenProcessPool:
                self._kill(slot)
                content, error = None, None
            self._fresh[slot] = False
        finally:
            self._idle.append(slot)
            self._free.release()
        if content is not None:
            return content
        if error is not None:
            raise _error(error)
        raise self._busy(
            "The server ran out of memory for this graph; nothing else was affected. "
            "Try again in a little while.",
            "out_of_memory",
        )

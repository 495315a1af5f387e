"""The local executor: a pool of training processes on this machine.

``LocalExecutor`` spawns its worker processes (one BLAS thread each, datasets loaded once
per process and kept). Each worker sends its events over a multiprocessing queue of its
own (a worker killed mid-write spoils only its own queue) and reads its stop flag from
shared memory; a pump thread in the server collects every queue and hands each batch to
the sink (which writes the event log). The attempt itself is ``attempt.train``, shared with
the Celery executor (``celery.py``), which implements the same ``Executor`` protocol.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import multiprocessing.connection
import multiprocessing.util
import os
import queue
import signal
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from app.lifeline import exit_with_parent
from app.training import events
from app.training.attempt import Sink, WorkerMessage, WorkerOptions, train, warm_up

log = logging.getLogger("backprop_lab.executor")

#: Executors started and not yet shut down in this process.
_LIVE: weakref.WeakSet[LocalExecutor] = weakref.WeakSet()


@atexit.register
def _shutdown_live() -> None:
    """Stop what a program left running, before multiprocessing joins its children at exit.

    Workers ignore SIGTERM, so multiprocessing's own exit handler (terminate, then join)
    would wait for them forever; this handler is registered after it, so it runs first.
    """
    for executor in list(_LIVE):
        executor.shutdown()


class _QueueReporter:
    """A worker process's reporter: its results queue, and its stop flag raised by the
    server (or implied once the server is gone)."""

    def __init__(self, index: int, results: Any, flag: Any, parent: int) -> None:
        self.index = index
        self.results = results
        self.flag = flag
        self.parent = parent
        self.next_check = 0.0

    def put(self, msg: WorkerMessage) -> None:
        """Send a message to the server's pump."""
        self.results.put(msg)

    def stop_requested(self) -> bool:
        """True when the run must stop (its stop flag, or the server has died)."""
        if self.flag.value:
            return True
        now = time.monotonic()
        if now >= self.next_check:
            self.next_check = now + 1.0
            return os.getppid() != self.parent
        return False


def worker_main(
    index: int, tasks: Any, results: Any, stop_flag: Any, options: WorkerOptions, parent: int
) -> None:
    """Entry point of a worker process: one BLAS thread, datasets kept, runs one task at a time.

    SIGINT and SIGTERM sent to the whole process group (Ctrl+C, a service manager) are
    left to the server, which stops its workers itself; a worker whose server died exits.
    """
    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A worker outlives its server by at most a second, even one blocked writing its pipe.
    # NOTE: ``parent`` is the server's pid as the server gave it: one read here with
    # getppid() would be init's if the server died while this process started (it then
    # waited on a queue it holds both ends of, forever; seen in CI).
    exit_with_parent(parent)
    if options.nice:
        os.nice(options.nice)
    limits = threadpool_limits(limits=1)
    datasets: dict[str, Any] = {}
    try:
        from engine.data import dataset_status, load_dataset

        for name in options.preload:
            if dataset_status(name, download=False)["available"]:
                datasets[name] = load_dataset(name, download=False, progress=False)
    except Exception:
        log.exception("worker %d could not preload datasets", index)
    try:
        warm_up(datasets)
    except Exception:
        log.exception("worker %d could not warm up", index)
    reporter = _QueueReporter(index, results, stop_flag, parent)
    while os.getppid() == parent:
        try:
            task = tasks.get(timeout=1.0)
        except queue.Empty:
            continue
        if task is None:
            break
        run_id, config = task
        train(run_id, config, reporter, datasets, options, worker=index)
    del limits


# --------------------------------------------------------------------------- server side


@dataclass
class _Worker:
    index: int
    process: Any
    tasks: Any
    results: Any
    stop_flag: Any
    run_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    spawned_at: float = field(default_factory=time.monotonic)


class LocalExecutor:
    """A pool of spawned worker processes on this machine."""

    def __init__(
        self,
        workers: int,
        options: WorkerOptions | None = None,
        attempts: int = 2,
        respawn_backoff: float = 5.0,
    ) -> None:
        # respawn_backoff: a worker that dies sooner than this after it started is restarted
        # only once this has passed (BACKPROP_LAB_RESPAWN_BACKOFF).
        self.size = workers
        self.options = options or WorkerOptions()
        self.attempts = attempts
        self.respawn_backoff = respawn_backoff
        self._started: dict[str, int] = {}
        self._ctx = mp.get_context("spawn")
        self._results: Any = None
        self._workers: list[_Worker] = []
        self._pending: deque[tuple[str, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._sink: Sink | None = None
        self._pump: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self, sink: Sink) -> None:
        """Spawn the workers and the pump thread."""
        self._sink = sink
        # Messages made in this process (a queued run cancelled); workers have their own queues.
        self._results = queue.SimpleQueue()
        self._workers = [self._spawn(i) for i in range(self.size)]
        self._pump = threading.Thread(target=self._pump_loop, name="executor-pump", daemon=True)
        self._pump.start()
        _LIVE.add(self)

    def _spawn(self, index: int) -> _Worker:
        tasks = self._ctx.Queue()
        # NOTE: one results queue per worker: a worker killed while writing holds the
        # queue's lock forever and may leave half a message, so a shared queue would
        # stall every other worker; this one is thrown away with its worker.
        results = self._ctx.Queue()
        stop_flag = self._ctx.RawValue("b", 0)
        proc = self._ctx.Process(
            target=worker_main,
            args=(index, tasks, results, stop_flag, self.options, os.getpid()),
            name=f"backprop-lab-worker-{index}",
            daemon=True,
        )
        proc.start()
        return _Worker(index, proc, tasks, results, stop_flag)

    def submit(self, run_id: str, config: dict[str, Any]) -> None:
        """Queue a run; it is handed to the first free worker."""
        with self._lock:
            self._pending.append((run_id, config))
            self._dispatch()

    def _dispatch(self) -> None:
        for w in self._workers:
            if not self._pending:
                return
            if w.run_id is None and w.process.is_alive():
                run_id, config = self._pending.popleft()
                w.stop_flag.value = 0
                w.run_id, w.config = run_id, config
                self._started[run_id] = self._started.get(run_id, 0) + 1
                w.tasks.put((run_id, config))

    def cancel(self, run_id: str) -> bool:
        """Drop a queued run (reporting it cancelled) or raise the stop flag of its worker."""
        with self._lock:
            for item in self._pending:
                if item[0] == run_id:
                    self._pending.remove(item)
                    self._results.put(
                        WorkerMessage(run_id, events.DONE, events.done("cancelled", iterations=0))
                    )
                    return True
            for w in self._workers:
                if w.run_id == run_id:
                    w.stop_flag.value = 1
                    return True
        return False

    def _pump_loop(self) -> None:
        assert self._sink is not None
        last_check = time.monotonic()
        while not self._stopping.is_set():
            batch = self._collect(timeout=0.2)
            if self._stopping.is_set():
                return
            if time.monotonic() - last_check > 0.5:
                batch.extend(self._reap_dead_workers())
                last_check = time.monotonic()
            if not batch:
                continue
            try:
                self._sink(batch)
            except Exception:
                log.exception("could not record %d worker messages", len(batch))
            with self._lock:
                for msg in batch:
                    if msg.kind == events.DONE and 0 <= msg.worker < len(self._workers):
                        w = self._workers[msg.worker]
                        if w.run_id == msg.run_id:
                            w.run_id = None
                        self._started.pop(msg.run_id, None)
                self._dispatch()

    def _collect(self, timeout: float) -> list[WorkerMessage]:
        """Every message waiting here and in the live workers' queues (waiting up to timeout)."""
        with self._lock:
            # NOTE: a dead worker's queue is never read: it may end in half a message.
            workers = [w for w in self._workers if w.process.is_alive()]
        readers = [w.results._reader for w in workers]
        mp.connection.wait(readers, timeout=timeout)
        batch: list[WorkerMessage] = []
        for w in workers:
            batch.extend(self._drain(w))
        while True:
            try:
                batch.append(self._results.get_nowait())
            except queue.Empty:
                return batch

    def _drain(self, w: _Worker, limit: int = 1000) -> list[WorkerMessage]:
        out: list[WorkerMessage] = []
        try:
            while len(out) < limit:
                out.append(w.results.get_nowait())
        except queue.Empty:
            pass
        return out

    def _reap_dead_workers(self) -> list[WorkerMessage]:
        lost: list[WorkerMessage] = []
        with self._lock:
            for i, w in enumerate(self._workers):
                if self._stopping.is_set() or w.process.is_alive():
                    continue
                code = w.process.exitcode
                if w.run_id is not None:
                    log.error("training worker %d exited with code %s during a run", i, code)
                    attempts = self._started.get(w.run_id, 1)
                    if attempts < self.attempts:
                        # Attempt 2 starts from the beginning: its running event says so.
                        self._pending.appendleft((w.run_id, w.config))
                    else:
                        self._started.pop(w.run_id, None)
                        message = events.worker_lost(attempts, f"worker {i}, exit code {code}")
                        lost.append(
                            WorkerMessage(
                                w.run_id, events.DONE, events.done("failed", message=message)
                            )
                        )
                    w.run_id = None
                if time.monotonic() - w.spawned_at < self.respawn_backoff:
                    continue  # it died young: do not restart it in a tight loop
                log.error("training worker %d exited with code %s; restarting it", i, code)
                w.process.close()
                w.tasks.close()
                w.results.cancel_join_thread()
                w.results.close()
                self._workers[i] = self._spawn(i)
            self._dispatch()
        return lost

    def shutdown(self) -> None:
        """Stop the pump and the workers; queued and running runs are dropped."""
        _LIVE.discard(self)
        self._stopping.set()
        with self._lock:
            self._pending.clear()
            for w in self._workers:
                w.stop_flag.value = 1
                w.tasks.cancel_join_thread()
                if w.process.is_alive():
                    w.process.kill()
        if self._pump is not None:
            self._pump.join(5)
        for w in self._workers:
            w.process.join(5)
            w.process.close()
            w.tasks.close()
            w.results.cancel_join_thread()
            w.results.close()
        # NOTE: dropping the queues now lets their semaphores be released before exit.
        self._workers, self._results = [], None

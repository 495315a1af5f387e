"""Training on Celery workers anywhere: the task, its writer of the event log, the executor.

A run is a Celery task on the broker (Redis) that carries only the run's id. A
worker (``python -m app.worker``) claims the run in the database, trains it with
the same code as a local worker (``attempt.train``: same numbers for the same
seed) and writes its events straight into the shared event log, tagged
with its attempt. The database, not the broker, says what a run is: a message
delivered twice, or for a run cancelled while queued, finds it claimed or
finished and is dropped.

Liveness comes from heartbeats in the log, never from server restarts: the
worker beats for its run; a server that sees no beat for ``heartbeat_timeout``
marks the run ``interrupted``. A worker process killed mid-run is seen by its
worker's main process, which sends the run again at the front of the queue
(``retry_lost``: Redis priorities, ahead of every run still waiting, so it comes
back long before the servers' timeout); the next worker sees the beat stopped,
and starts attempt 2 from the beginning, or, past ``run_attempts``, ends the run
``failed`` saying a worker was lost.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import queue
import socket
import threading
import time
from typing import Any

from app.db import describe, is_disconnect
from app.logs import Outage, set_worker
from app.metrics import RUNS_FINISHED
from app.settings import Settings
from app.training import events
from app.training.attempt import Sink, WorkerMessage, WorkerOptions, train, warm_up
from app.training.records import NewEvent, RunRecord
from app.training.store import RunStore

log = logging.getLogger("backprop_lab.distributed")

TASK = "backprop_lab.train"

#: Redis priorities (kombu: 0 is taken first): a run whose attempt was lost, or that the
#: broker lost, goes ahead of every new run; new runs keep their order of creation.
FRONT, NEW = 0, 9
#: The Redis lists that hold one queue's messages, by priority (kombu's naming).
PRIORITY_SEP = "\x06\x16"


#: Seconds a task may run past the run's own wall-clock limit before Celery stops it (soft)
#: and kills its process (hard): the worker's own stop comes first, these only if it hangs.
SOFT_GRACE, HARD_GRACE = 60, 120


def broker_lists(queue: str) -> list[str]:
    """The Redis lists of a queue, taken first to last (front runs, then new ones)."""
    return [queue, f"{queue}{PRIORITY_SEP}{NEW}"]


def queues(settings: Settings) -> dict[str, str]:
    """The lab's two queues by kind: ``short`` runs and ``long`` ones (see ``route``)."""
    return {"short": settings.queue, "long": f"{settings.queue}.long"}


def cost(config: dict[str, Any]) -> int:
    """A run's expected cost: iterations × batch size × hidden units (time grows with each)."""
    return (
        int(config.get("iterations", 0))
        * int(config.get("batch_size", 0))
        * int(config.get("hidden_size", 0))
    )


def run_kind(settings: Settings, config: dict[str, Any]) -> str:
    """``long`` for a run from ``long_run_cost`` on, else ``short``."""
    return "long" if cost(config) >= settings.long_run_cost else "short"


def route(settings: Settings, config: dict[str, Any]) -> str:
    """The queue a run goes to: the long one from ``long_run_cost`` on, else the short one."""
    return queues(settings)[run_kind(settings, config)]


def visibility_timeout(settings: Settings) -> int:
    """Seconds Redis waits for a taken run's acknowledgement: past the longest allowed run."""
    return max(3600, settings.max_run_seconds + HARD_GRACE + 600)


class RunFailed(Exception):
    """Raised by the task after a run's failure is recorded, so Celery logs the task failed."""


def make_celery(settings: Settings) -> Any:
    """The Celery application of servers and workers, configured from the settings."""
    from celery import Celery

    app = Celery("backprop_lab", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.queue,
        task_ignore_result=True,
        # NOTE: a run is acknowledged when it ends, and put back if its worker process dies,
        # so a killed worker's run is not lost; the database drops duplicate deliveries.
        task_acks_late=True,
        # NOTE: not Celery's requeue on a lost process (kombu puts it at the back of the list,
        # behind every waiting run, and it came back after the timeout): ``retry_lost``.
        task_reject_on_worker_lost=False,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.max_run_seconds + SOFT_GRACE,
        task_time_limit=settings.max_run_seconds + HARD_GRACE,
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={
            "visibility_timeout": visibility_timeout(settings),
            "socket_timeout": 5,
            "priority_steps": [FRONT, NEW],
            "sep": PRIORITY_SEP,
        },
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # NOTE: a run has no result to wait for: a dead training process's run goes back on
        # the queue after 1 s, not Celery's default 10 s (the servers wait while it is there).
        worker_lost_wait=1.0,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    app.task(name=TASK, bind=True, max_retries=None)(_train_task)
    return app


def retry_lost(app: Any, task_id: str, args: Any, queue: str | None) -> None:
    """Send a run whose training process died at the front of its queue (in the worker)."""
    run_id = str(args[0]) if args else task_id
    try:
        app.send_task(TASK, args=[run_id], queue=queue, task_id=run_id, priority=FRONT)
        log.warning(
            "run %s: its training process was lost; sent again ahead of the queue",
            run_id,
            extra={"run_id": run_id},
        )
    except Exception:
        log.exception("run %s: its training process was lost and could not be sent again", run_id)


def ping_broker(url: str, timeout: float = 1.0) -> None:
    """Raise if the broker (Redis) does not answer within ``timeout`` seconds."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def describe_broker(url: str) -> str:
    """Where the broker is, for messages (its password hidden)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}"


# --------------------------------------------------------------------------- worker side

#: Per worker process: the settings, the store, datasets loaded once and kept.
_process: dict[str, Any] = {}


def init_worker_process(settings: Settings) -> None:
    """Prepare a worker process: niceness, one BLAS thread, its own store, preloaded datasets."""
    from threadpoolctl import threadpool_limits

    if settings.worker_nice:
        os.nice(settings.worker_nice)
    _process["limits"] = threadpool_limits(limits=1)
    _process["settings"] = settings
    _process["store"] = RunStore(settings.database())
    _process["outage"] = Outage(log, f"The database ({describe(settings.database())})")
    set_worker(f"{socket.gethostname()}:{os.getpid()}")
    datasets: dict[str, Any] = {}
    try:
        from engine.data import dataset_status, load_dataset

        for name in (n.strip() for n in settings.preload_datasets.split(",")):
            if name and dataset_status(name, download=False)["available"]:
                datasets[name] = load_dataset(name, download=False, progress=False)
    except Exception:
        log.exception("could not preload datasets")
    _process["datasets"] = datasets
    try:
        warm = warm_up(datasets)
        log.info("training process %d warmed up in %.2f s", os.getpid(), warm)
    except Exception:
        log.exception("could not warm up")
    # NOTE: the objects inherited from the worker's main process (Celery, SQLAlchemy, …) are
    # kept out of the garbage collector's way, as a spawned local worker has none of them.
    gc.freeze()
    names = ", ".join(datasets) or "none preloaded"
    log.info("training process %d ready (datasets: %s)", os.getpid(), names)


def _worker_process() -> tuple[Settings, RunStore, dict[str, Any]]:
    if "store" not in _process:
        from app.settings import get_settings

        init_worker_process(get_settings())
    return _process["settings"], _process["store"], _process["datasets"]


def outage() -> Outage:
    """This worker process's notice of a database outage (once, then once a minute)."""
    if "outage" not in _process:
        _process["outage"] = Outage(log, "The database")
    found: Outage = _process["outage"]
    return found


#: Seconds a training process gathers its events before writing them (a ``done`` goes at once).
WRITE_EVERY = 0.2


class LogWriter:
    """Writes one attempt's events into the log from a thread, beats, and watches for a stop.

    Training never waits for the database: events are queued here and written in
    numbered batches; while the database is unreachable a batch is kept and written
    when it answers again (once: the store knows the numbers it has), so nothing
    recorded is lost or doubled. Beats come from a thread of their own, so a slow
    write never makes a live worker look lost.
    """

    def __init__(self, store: RunStore, run_id: str, attempt: int, settings: Settings) -> None:
        self.store = store
        self.run_id = run_id
        self.attempt = attempt
        self.beat_every = settings.heartbeat_interval
        # NOTE: a cancel is seen within half a second (the issue asks for one).
        self.poll_every = min(0.5, settings.heartbeat_interval)
        # NOTE: events wait up to WRITE_EVERY to be written together: a write (its JSON, its
        # transaction, its NOTIFY) holds this process's interpreter lock, which the training
        # loop needs too; a layers event every 100 iterations came ~30 times a second.
        self.write_every = WRITE_EVERY
        self.reason: str | None = None
        self._queue: queue.SimpleQueue[WorkerMessage] = queue.SimpleQueue()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"log-{run_id}", daemon=True)
        self._beats = threading.Thread(target=self._beat, name=f"beat-{run_id}", daemon=True)
        self._thread.start()
        self._beats.start()

    # the attempt's Reporter: put and stop_requested
    def put(self, msg: WorkerMessage) -> None:
        """Queue a message of the trainer (its ``running`` was written by the claim)."""
        if msg.kind != events.RUNNING:
            self._queue.put(msg)

    def stop_requested(self) -> bool:
        """True when the trainer must stop (cancelled, or its attempt superseded or ended).

        A pool process never outlives its worker's main process: Celery's prefork pool
        has the kernel kill it with its parent, and the servers' reaper ends the run.
        """
        return self.reason is not None

    def wait(self) -> None:
        """Block until the attempt's ``done`` is in the log (retrying while it is unreachable)."""
        while not self._finished.wait(10):
            log.warning("run %s: waiting for the database to record its last events", self.run_id)

    def _beat(self) -> None:
        while not self._finished.wait(self.beat_every):
            try:
                self.store.beat(self.run_id, self.attempt)
            except Exception as e:
                if is_disconnect(e):
                    outage().down(e, "the run trains on and its events wait")
                else:
                    log.exception("run %s: could not beat", self.run_id)

    def _loop(self) -> None:
        pending: list[WorkerMessage] = []
        batch: tuple[int, list[WorkerMessage]] | None = None  # written once, retried as is
        number = 0
        next_poll = time.monotonic()
        last_write = -math.inf
        while True:
            now = time.monotonic()
            if batch is not None:
                timeout = 0.2
            elif pending:
                timeout = max(0.0, min(next_poll, last_write + self.write_every) - now)
            else:
                timeout = max(0.0, next_poll - now)
            try:
                pending.append(self._queue.get(timeout=timeout))
                while True:
                    pending.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            try:
                due = time.monotonic() - last_write >= self.write_every
                if batch is None and pending and (due or pending[-1].kind == "done"):
                    number += 1
                    batch, pending = (number, pending), []
                if batch is not None:
                    n, msgs = batch
                    new = [
                        NewEvent(m.run_id, m.kind, m.data, m.weights, self.attempt) for m in msgs
                    ]
                    self.store.append(new, batch=n)
                    last_write = time.monotonic()
                    outage().up()
                    batch = None
                    if any(m.kind == events.DONE for m in msgs):
                        self._finished.set()
                        return
                if time.monotonic() >= next_poll:
                    reason = self.store.stop_reason(self.run_id, self.attempt)
                    if reason and not self.reason:
                        log.info("run %s attempt %d stops: %s", self.run_id, self.attempt, reason)
                    self.reason = reason or self.reason
                    next_poll = time.monotonic() + self.poll_every
            except Exception as e:
                if is_disconnect(e):
                    outage().down(e, "the run trains on and its events wait")
                else:
                    log.exception("run %s: could not write to the log", self.run_id)
                time.sleep(0.5)  # the database is away: keep everything and try again


def claim(store: RunStore, run: RunRecord | None, worker: str, settings: Settings) -> int | None:
    """The attempt this worker starts, or None if the run is not (or no longer) for it.

    A queued run is claimed at once. A run that is already running was put back by
    Celery (its worker died) or delivered twice: the worker watches its beat for
    three intervals; a beat means its worker lives (this delivery is dropped),
    silence means it was lost, and the next attempt starts.
    """
    if run is None or run.finished:
        return None
    run_id = run.id
    seen = (run.attempt, run.heartbeat_at)
    if run.status == "running":
        deadline = time.monotonic() + 3 * settings.heartbeat_interval
        while time.monotonic() < deadline:
            time.sleep(settings.heartbeat_interval / 4)
            now = store.get_run(run_id)
            if now is None or now.finished or (now.attempt, now.heartbeat_at) != seen:
                return None
    result = store.claim(run_id, worker, seen=seen, max_attempts=settings.run_attempts)
    if result.attempt is None:
        log.info("run %s not started here: %s", run_id, result.reason)
    return result.attempt


def _train_task(task: Any, run_id: str) -> None:
    """The Celery task: claim the run, train it, write its events; retried if the db is away."""
    settings, store, datasets = _worker_process()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        run = store.get_run(run_id)
        # NOTE: a run is sent inside the transaction that creates it: its row may show a
        # moment after its message arrives (or never, if that transaction failed).
        deadline = time.monotonic() + 5
        while run is None and time.monotonic() < deadline:
            time.sleep(0.05)
            run = store.get_run(run_id)
        attempt = claim(store, run, worker, settings)
    except Exception as e:
        if is_disconnect(e):
            outage().down(e, f"run {run_id} is tried again in 2 s")
            raise task.retry(countdown=2) from e
        log.exception("run %s could not be started", run_id)
        message = f"The worker could not start this run: {type(e).__name__}: {e}"
        store.append([NewEvent(run_id, events.DONE, events.done("failed", message=message))])
        return
    if attempt is None or run is None:
        return
    writer = LogWriter(store, run_id, attempt, settings)
    options = WorkerOptions(
        progress_interval=settings.progress_interval,
        download=settings.download_datasets,
        max_seconds=settings.max_run_seconds,
    )
    train(run_id, run.config, writer, datasets, options, worker=os.getpid())
    writer.wait()
    finished = _status_after(store, run_id)
    RUNS_FINISHED.labels(finished.status if finished else "unknown").inc()
    if finished is not None and finished.status == "failed" and finished.attempt == attempt:
        # NOTE: recorded first; raised so Celery logs the task failed (no retry: acks_late
        # acknowledges a failed task, and the claim would drop a second delivery anyway).
        raise RunFailed(f"run {run_id} failed: {finished.message or 'no message'}")


def _status_after(store: RunStore, run_id: str) -> RunRecord | None:
    """The run as recorded after its attempt (None if the database does not answer)."""
    try:
        return store.get_run(run_id)
    except Exception as e:
        if not is_disconnect(e):
            raise
        return None


# --------------------------------------------------------------------------- server side


class CeleryExecutor:
    """Sends runs to Celery workers; they write the log themselves, so the sink stays idle."""

    def __init__(self, settings: Settings, store: RunStore) -> None:
        self.settings = settings
        self.store = store
        self.app = make_celery(settings)

    def start(self, sink: Sink) -> None:
        """Nothing to start here: the workers run elsewhere (``python -m app.worker``)."""

    def check(self) -> None:
        """Raise if the broker cannot take a run now."""
        ping_broker(self.settings.broker_url)

    def submit(self, run_id: str, config: dict[str, Any]) -> None:
        """Put the run on the broker's queue."""
        self.send(run_id, config, NEW)

    def send(self, run_id: str, config: dict[str, Any], priority: int) -> None:
        """Put the run on its queue (by cost) with a priority (``FRONT`` or ``NEW``)."""
        queue = route(self.settings, config)
        self.app.send_task(TASK, args=[run_id], queue=queue, task_id=run_id, priority=priority)

    def cancel(self, run_id: str) -> bool:
        """Cancel: a queued run ends now; a running one's worker stops within a second."""
        self.store.request_cancel(run_id)
        return True

    def shutdown(self) -> None:
        """Close the broker connections."""
        self.app.close()

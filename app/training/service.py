"""Training runs as a service: admission and limits, the executor, the log's history and
streams, cancel, rename and remove. Routers call it, never the store."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

from app.datasets import check_train_size, require_dataset
from app.db import describe, is_disconnect
from app.errors import (
    AppError,
    Conflict,
    NotFound,
    TooLarge,
    Unavailable,
)
from app.labstate import LabWatch, queued_message
from app.owners import Caller
from app.predictions import Predictions
from app.quotas import lab_full, refusal, run_budget
from app.schemas_service import TrainRequest, check_limited
from app.settings import Settings
from app.training import events
from app.training.attempt import Executor, WorkerMessage, WorkerOptions
from app.training.celery import run_kind
from app.training.local import LocalExecutor
from app.training.records import ClientQuotaFull, NewEvent, RunRecord, StorageFull, StoredEvent
from app.training.store import RunStore
from app.training.streams import RunStreams


class Gone(AppError):
    """The run existed but its log and weights were removed (410)."""

    status = 410
    code = "run_removed"


def default_name(config: dict[str, Any]) -> str:
    """A run's name from its settings: "SGD lr 0.1 · 50 hidden · 10,000 it." (short, readable)."""
    from engine.optimizers import OPTIMIZERS

    opt = str(config.get("optimizer") or "sgd")
    title = OPTIMIZERS[opt].title if opt in OPTIMIZERS else opt
    lr = config.get("learning_rate")
    lr_text = f"{lr:g}" if isinstance(lr, int | float) else "?"
    hidden = config.get("hidden_size", "?")
    if isinstance(config.get("layers"), list):
        hidden = "-".join(str(n) for n in config["layers"])
    iterations = config.get("iterations")
    it_text = f"{iterations:,}" if isinstance(iterations, int) else "?"
    return f"{title} lr {lr_text} · {hidden} hidden · {it_text} it."


class RunService:
    """Everything about training runs; routes call it and stay thin."""

    def __init__(self, settings: Settings, executor: Executor | None = None) -> None:
        self.settings = settings
        self.celery = settings.executor == "celery"
        self.store = RunStore(settings.database())
        if self.celery and not self.store.postgres:
            raise RuntimeError(
                "BACKPROP_LAB_EXECUTOR=celery needs a database every server and worker shares: "
                "set BACKPROP_LAB_DATABASE_URL=postgresql://user:password@host/db."
            )
        if self.store.postgres:  # several servers: they count against the same caps
            from app.labsettings import SERVER, agree

            agree(self.store.engine, settings, SERVER)  # else it refuses to start, logged
        self.executor: Executor = executor or self._executor()
        self.streams = RunStreams(settings, self.store)
        self.notifier = self.streams.notifier
        self.predictions = Predictions(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._listener: Any = None
        self._reaper: Any = None
        self.watch = LabWatch(self.store, settings)

    def _executor(self) -> Executor:
        s = self.settings
        if self.celery:
            from app.training.celery import CeleryExecutor

            return CeleryExecutor(s, self.store)
        preload = tuple(n.strip() for n in s.preload_datasets.split(",") if n.strip())
        options = WorkerOptions(
            preload, s.progress_interval, s.download_datasets, s.worker_nice, s.max_run_seconds
        )
        return LocalExecutor(
            s.workers, options, attempts=s.run_attempts, respawn_backoff=s.respawn_backoff
        )

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the executor and, with a shared database, the listener and the reaper.

        With the local executor this server owns every run, so runs a previous process
        left unfinished are closed ``interrupted``; with Celery workers, liveness comes
        from their heartbeats, and a server's restart touches no run.
        """
        self._loop = asyncio.get_running_loop()
        if not self.celery:
            self.store.interrupt_unfinished()
        self.executor.start(self._record)
        if self.store.postgres:
            from app.training.listen import LogListener

            self._listener = LogListener(
                self.store,
                self._publish,
                self._resync,
                lambda: set(self.streams.subscribers),
                self._forget,
            )
            self._listener.start()
        if self.celery:
            from app.training.celery import CeleryExecutor
            from app.training.reaper import QueueWatch, Reaper

            s = self.settings
            watch = None
            if isinstance(self.executor, CeleryExecutor):
                watch = QueueWatch(self.store, self.executor)
            self._reaper = Reaper(self.store, s.heartbeat_interval, s.heartbeat_timeout, watch)
            self._reaper.start()
        self._watch_shutdown_signals()

    def _watch_shutdown_signals(self) -> None:
        """End event streams when the server is told to stop (SIGINT, SIGTERM).

        The server waits for open responses to finish before it shuts the app down, and an
        event stream of a long run would otherwise keep it waiting until the run ends. The
        server's own handler still runs after ours.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(signum: int, frame: Any, previous: Any = previous) -> None:
                self.begin_shutdown()
                previous(signum, frame)

            signal.signal(sig, handler)
            self._previous_handlers[sig] = previous

    def begin_shutdown(self) -> None:
        """End every event stream (clients reconnect with Last-Event-ID later)."""
        self.streams.stopping = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.notifier.wake_all)

    def close(self) -> None:
        """Stop the executor; runs still queued or training become ``interrupted``."""
        self.begin_shutdown()
        for sig, previous in self._previous_handlers.items():
            signal.signal(sig, previous)
        self._previous_handlers.clear()
        for part in (self._reaper, self._listener):
            if part is not None:
                part.stop()
        self.executor.shutdown()
        if not self.celery:
            self.store.interrupt_unfinished()
        self.store.close()

    def _record(self, batch: Sequence[WorkerMessage]) -> None:
        """Sink of the executor (pump thread): write a batch in one transaction, wake streams."""
        # A running message starts the run's next attempt: the store numbers it.
        new = [NewEvent(m.run_id, m.kind, m.data, m.weights) for m in batch]
        while True:
            try:
                self._publish(self.store.append(new))
                return
            except Exception as e:
                # NOTE: the database is away: keep the batch (the workers' queues hold the
                # rest meanwhile) and write it when it answers; nothing recorded is lost.
                if not is_disconnect(e) or self.streams.stopping:
                    raise
                time.sleep(0.5)

    def _publish(self, written: dict[str, list[StoredEvent]]) -> None:
        if written and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.notifier.publish, written)

    def _forget(self, run_ids: set[str]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.notifier.forget, run_ids)

    def _resync(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.notifier.resync)

    # ----------------------------------------------------------------- health

    def health(self) -> dict[str, str]:
        """Each part this server needs, "ok" or what is wrong with it."""
        parts: dict[str, str] = {}
        try:
            self.store.ping()
            parts["database"] = "ok"
        except Exception as e:
            parts["database"] = f"down: {describe(self.store.url)} does not answer ({_short(e)})"
        if self.celery:
            from app.training.celery import describe_broker, ping_broker

            try:
                ping_broker(self.settings.broker_url)
                parts["broker"] = "ok"
            except Exception as e:
                where = describe_broker(self.settings.broker_url)
                parts["broker"] = f"down: {where} does not answer ({_short(e)})"
            if parts["database"] == "ok":
                try:
                    parts["workers"] = self.watch.workers()
                except Exception as e:
                    parts["database"] = f"down: {describe(self.store.url)} ({_short(e)})"
        return parts

    def require_broker(self) -> None:
        """Raise 503 if runs cannot be queued now (the broker does not answer)."""
        check = getattr(self.executor, "check", None)
        if check is None:
            return
        try:
            check()
        except Exception as e:
            raise broker_unavailable(self.settings.broker_url, e) from e

    # ----------------------------------------------------------------- runs

    def check_limits(self, req: TrainRequest) -> None:
        """Raise a 413 naming the first field over the server's limit."""
        s = self.settings
        check_limited(req, s)
        sizes = req.layers or []
        for field, value, limit, what in (
            ("layers", len(sizes), s.max_layers, "hidden layers"),
            ("layers", max(sizes, default=0), s.max_hidden_size, "units in one hidden layer"),
            ("layers", sum(sizes), s.max_total_hidden, "hidden units in all"),
        ):
            if value > limit:
                raise TooLarge(
                    f"'layers' asks for {value} {what}, over this server's limit of {limit}.",
                    details={"field": field, "limit": limit, "value": value},
                )
        every, most = req.layer_stats_every, s.max_layer_events
        if every and -(-req.iterations // every) > most:
            least = -(-req.iterations // most)
            raise TooLarge(
                f"'layer_stats_every' {every} would record {-(-req.iterations // every)} layers "
                f"events, over this server's limit of {most}; use at least {least} (or 0: none).",
                details={
                    "field": "layer_stats_every",
                    "limit": most,
                    "value": every,
                    "least": least,
                },
            )

    def create(self, req: TrainRequest, caller: Caller) -> tuple[RunRecord, str]:
        """Validate a request against limits and data, record it queued, submit it.

        Answers the run and its owner token (the caller's own, else a new one).
        """
        self.check_limits(req)
        dataset = require_dataset(req.dataset, self.settings)
        check_train_size(dataset, req.train_size, self.settings)
        req = req.model_copy(update={"dataset": dataset})
        self.require_broker()
        s = self.settings
        token, owner = caller.owner()
        run_id, config = secrets.token_hex(8), req.model_dump()
        # NOTE: with Celery the run is sent inside its admission (see RunStore.create_run), so
        # the broker's order is the order of creation that queue_position counts by.
        send = (lambda: self.executor.submit(run_id, config)) if self.celery else None
        try:
            run = self.store.create_run(
                run_id,
                config,
                max_active=s.max_active_runs,
                owner=owner,
                max_per_client=s.max_active_runs_per_client,
                budget=run_budget(s, config),
                then=send,
                # NOTE: a long run waits only behind long ones (its queue_position says so)
                queue="long" if self.celery and run_kind(s, config) == "long" else None,
            )
        except (ClientQuotaFull, StorageFull) as e:
            raise refusal(s, e) from e
        except Exception as e:
            if send is None or is_disconnect(e):
                raise
            raise broker_unavailable(s.broker_url, e) from e
        finally:
            self._forget_removed()
        if run is None:
            raise lab_full(s.max_active_runs)
        if send is not None:
            return run, token
        try:
            self.executor.submit(run.id, config)
        except Exception:
            self.store.delete_run(run.id)  # never accepted: it leaves no trace
            raise
        return run, token

    def _forget_removed(self) -> None:
        """Drop what memory holds of runs the store removed to free space."""
        removed, self.store.removed[:] = set(self.store.removed), []
        if removed:
            self._forget(removed)
            self.predictions.forget(removed)

    def rename(self, run_id: str, name: str, caller: Caller) -> RunRecord:
        """Give a run a new name (already validated); 404 for an unknown run, 403 not its owner."""
        caller.require_change(self.get(run_id), "rename")
        self.store.rename_run(run_id, name)
        return self.get(run_id)

    def remove(self, run_id: str, caller: Caller) -> None:
        """Delete a run with its events and weights (cancelling it first if it is active)."""
        run = self.store.get_run(run_id) or self.get(run_id)
        caller.require_change(run, "delete")
        if not run.finished and not self.executor.cancel(run_id):
            self.store.request_cancel(run_id)
        self.store.remove_run(run_id)
        self.store.removed.append(run_id)
        self._forget_removed()

    def get(self, run_id: str) -> RunRecord:
        """The run, or a 404 (a 410 if it was removed to free space)."""
        run = self.store.get_run(run_id)
        if run is not None and run.removed:
            raise Gone(run.removed, code="run_removed", details={"run_id": run_id})
        if run is None:
            shown = run_id if len(run_id) <= 40 else run_id[:40] + "…"
            raise NotFound(
                f"There is no run with id '{shown}'.",
                code="run_not_found",
                details={"field": "run_id", "length": len(run_id)},
            )
        return run

    def list(self, limit: int, offset: int, owner_hash: str | None = None) -> list[RunRecord]:
        """Runs, newest first (only those of ``owner_hash`` if given)."""
        return self.store.list_runs(limit, offset, owner_hash=owner_hash)

    def waiting_without_worker(self, run_id: str) -> dict[str, object] | None:
        """The ``no_worker`` event's data while the run is queued and no worker lives, or None."""
        message = self.no_worker_message()
        if message is None:
            return None
        run = self.store.get_run(run_id)
        if run is None or run.status != "queued":
            return None
        return {"message": message, "queue_position": run.queue_position}

    def no_worker_message(self) -> str | None:
        """A queued run's message while the lab has no live worker; None while one lives."""
        if not self.watch.no_worker():
            return None
        return queued_message(self.settings.heartbeat_timeout)

    def cancel(self, run_id: str, caller: Caller) -> RunRecord:
        """Ask a queued or running run to stop; 403 not its owner, 409 already finished."""
        run = self.get(run_id)
        caller.require_change(run, "cancel")
        if run.finished:
            raise Conflict(
                f"Run '{run_id}' has already finished ({run.status}); there is nothing to cancel.",
                code="run_finished",
                details={"run_id": run_id, "status": run.status},
            )
        if not self.executor.cancel(run_id):
            self.store.request_cancel(run_id)
        return self.get(run_id)

    def history(self, run_id: str) -> dict[str, Any]:
        """Every loss, epoch and layers event (histograms: the last one only), from the log."""
        loss: list[float | None] = []
        epochs: list[dict[str, Any]] = []
        layers: list[dict[str, Any]] = []
        last_layers: dict[str, Any] | None = None
        after = 0
        while True:
            batch = self.store.events_after(run_id, after)
            if not batch:
                break
            for ev in batch:
                if ev.kind == events.RUNNING:
                    # NOTE: a new attempt starts from the beginning: its history replaces
                    # the earlier attempt's (which stays in the event log before it).
                    loss, epochs, layers, last_layers = [], [], [], None
                elif ev.kind == events.PROGRESS:
                    loss.extend(json.loads(ev.data).get("losses", []))
                elif ev.kind == events.EPOCH:
                    epochs.append(json.loads(ev.data))
                elif ev.kind == events.LAYERS:
                    last_layers = json.loads(ev.data)
                    layers.append(events.layers_point(last_layers))
            after = batch[-1].seq
        return {"loss": loss, "epochs": epochs, "layers": layers, "layers_last": last_layers}

    def history_csv(self, run_id: str) -> str:
        """The history as CSV: one row per iteration, accuracies on epoch rows."""
        hist = self.history(run_id)
        by_iter = {e["iteration"]: e for e in hist["epochs"]}
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["iteration", "loss", "epoch", "train_acc", "test_acc"])
        for i, loss in enumerate(hist["loss"], start=1):
            e = by_iter.get(i, {})
            writer.writerow(
                [
                    i,
                    "" if loss is None else repr(loss),
                    e.get("epoch", ""),
                    e.get("train_acc", ""),
                    e.get("test_acc", ""),
                ]
            )
        return out.getvalue()


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:160]


def broker_unavailable(url: str, error: BaseException) -> Unavailable:
    """The 503 of a request that needs the broker while it does not answer."""
    from app.training.celery import describe_broker

    where = describe_broker(url)
    return Unavailable(
        f"Runs cannot be queued now: the broker ({where}) does not answer. Check that Redis "
        "is running and reachable (BACKPROP_LAB_BROKER_URL); nothing was recorded, so send "
        "the run again when it is back.",
        code="broker_unavailable",
        details={"part": "broker", "reason": _short(error)},
    )

"""Training runs as a service: limits, the executor, the event log, subscribers, predictions."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import secrets
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app import events
from app.datasets import require_dataset
from app.db import describe, is_disconnect
from app.distributed import run_kind
from app.errors import (
    AppError,
    Conflict,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unavailable,
    Unprocessable,
)
from app.executor import Executor, LocalExecutor, WorkerMessage, WorkerOptions
from app.labstate import LabWatch
from app.metrics import SSE_STREAMS
from app.notifier import RunNotifier
from app.owners import Caller
from app.quotas import lab_full, refusal, run_budget
from app.schemas_service import TrainRequest
from app.settings import Settings
from app.store import (
    ClientQuotaFull,
    NewEvent,
    RunRecord,
    RunStore,
    StorageFull,
    StoredEvent,
)


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
        self.notifier = RunNotifier()
        self.subscribers: dict[str, int] = {}
        self.client_streams: dict[tuple[str, str], int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._networks: OrderedDict[str, Any] = OrderedDict()
        self._networks_lock = threading.Lock()
        self.stopping = False
        self._previous_handlers: dict[int, Any] = {}
        self._listener: Any = None
        self._reaper: Any = None
        self.watch = LabWatch(self.store, settings)

    def _executor(self) -> Executor:
        s = self.settings
        if self.celery:
            from app.distributed import CeleryExecutor

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
            from app.listen import LogListener

            self._listener = LogListener(
                self.store,
                self._publish,
                self._resync,
                lambda: set(self.subscribers),
                self._forget,
            )
            self._listener.start()
        if self.celery:
            from app.distributed import CeleryExecutor, QueueWatch, Reaper

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
        self.stopping = True
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
                if not is_disconnect(e) or self.stopping:
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
            from app.distributed import describe_broker, ping_broker

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
        for field, limit in (
            ("iterations", s.max_iterations),
            ("hidden_size", s.max_hidden_size),
            ("batch_size", s.max_batch_size),
        ):
            value = getattr(req, field)
            if value > limit:
                raise TooLarge(
                    f"'{field}' is {value}, over this server's limit of {limit}.",
                    details={"field": field, "limit": limit, "value": value},
                )
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
        req = req.model_copy(update={"dataset": require_dataset(req.dataset, self.settings)})
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
            with self._networks_lock:
                for run_id in removed:
                    self._networks.pop(run_id, None)

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

    def cancel(self, run_id: str, caller: Caller) -> tuple[RunRecord, bool]:
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
        return self.get(run_id), True

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
                if ev.kind == "running":
                    # NOTE: a new attempt starts from the beginning: its history replaces
                    # the earlier attempt's (which stays in the event log before it).
                    loss, epochs, layers, last_layers = [], [], [], None
                elif ev.kind == "progress":
                    loss.extend(json.loads(ev.data).get("losses", []))
                elif ev.kind == "epoch":
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

    # ----------------------------------------------------------------- streams

    @contextmanager
    def stream_slot(self, run_id: str, client: str = "") -> Iterator[None]:
        """Hold one of the run's event-stream slots while inside; 409 past the per-run limit,
        429 past the per-client one (``client``: the address it comes from).

        Call it on the event loop: the slot is taken when the stream is admitted and
        given back the moment the block ends (the stream ended or its client left).
        """
        mine = self.settings.max_streams_per_client
        key = (run_id, client)
        if self.client_streams.get(key, 0) >= mine:
            raise TooManyRequests(
                f"You already have {mine} event streams open on run '{run_id}', this server's "
                "limit per client: close a tab showing this run, or wait for one to end.",
                code="too_many_streams",
                details={"field": "streams", "limit": mine},
                headers={"Retry-After": "5"},
            )
        limit = self.settings.max_subscribers_per_run
        if self.subscribers.get(run_id, 0) >= limit:
            raise Conflict(
                f"Run '{run_id}' already has {limit} open event streams, this server's limit.",
                code="too_many_subscribers",
                details={"field": "subscribers", "limit": limit},
            )
        self.subscribers[run_id] = self.subscribers.get(run_id, 0) + 1
        self.client_streams[key] = self.client_streams.get(key, 0) + 1
        SSE_STREAMS.inc()
        try:
            yield
        finally:
            SSE_STREAMS.dec()
            self.subscribers[run_id] -= 1
            if not self.subscribers[run_id]:
                del self.subscribers[run_id]
            self.client_streams[key] -= 1
            if not self.client_streams[key]:
                del self.client_streams[key]

    async def stream(self, run_id: str, after: int) -> AsyncIterator[StoredEvent | None]:
        """Events after ``after`` from the log, then live ones until ``done``; None = idle ping.

        Live events come from the notifier's memory of committed events, and the
        notifier wakes the stream at each append; the database is read (in a
        thread) to replay history or to fill a gap.
        """
        ping = self.settings.sse_ping_interval
        while not self.stopping:
            waiter = self.notifier.waiter(run_id)
            batch = self.notifier.since(run_id, after)
            if batch is None:
                try:
                    batch = await run_in_threadpool(self.store.events_after, run_id, after, 2000)
                    if not batch:
                        run = await run_in_threadpool(self.store.get_run, run_id)
                        if run is None or (run.finished and run.last_seq <= after):
                            return
                except Exception as e:
                    if not is_disconnect(e):
                        raise
                    # The database is away: keep the stream open and read again soon.
                    yield None
                    await asyncio.sleep(1.0)
                    continue
            for ev in batch:
                if self.stopping:
                    return
                yield ev
                after = ev.seq
                if ev.kind == "done":
                    return
            if batch:
                continue
            try:
                await asyncio.wait_for(waiter.wait(), timeout=ping)
            except TimeoutError:
                yield None

    # ----------------------------------------------------------------- predictions

    def network(self, run_id: str) -> Any:
        """The trained network of a finished run with saved weights (cached); else 409."""
        with self._networks_lock:
            net = self._networks.get(run_id)
            if net is not None:
                self._networks.move_to_end(run_id)
                return net
        run = self.get(run_id)
        # NOTE: a cancelled run saves the weights it reached; a failed or interrupted one has
        # those of its last epoch's evaluation, if it reached one; without any, this 409.
        blob = self.store.weights(run_id) if run.finished else None
        if blob is None:
            raise Conflict(
                f"Run '{run_id}' is {run.status}; only a completed run, or one that stopped "
                "after it trained, has weights to inspect or predict with.",
                code="run_not_finished" if not run.finished else "no_weights",
                details={"run_id": run_id, "status": run.status},
            )
        from engine.trainer import TrainConfig, build_network

        with np.load(io.BytesIO(blob)) as npz:
            params = {k: npz[k] for k in npz.files}
        w1 = params["W1"]
        last = params[f"W{sum(1 for k in params if k.startswith('W'))}"]
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        config = TrainConfig(**{k: v for k, v in run.config.items() if k in known})
        config.dtype = str(w1.dtype)
        config.hidden_size = int(w1.shape[1])
        net = build_network(config, int(w1.shape[0]), int(last.shape[1]), np.random.default_rng(0))
        for key, value in params.items():
            if key.startswith("running_"):  # BatchNorm's statistics for predictions
                layer = net.layers["BatchNorm" + "".join(c for c in key if c.isdigit())]
                setattr(layer, key.rstrip("0123456789"), value.copy())
            else:
                net.params[key][...] = value
        with self._networks_lock:
            self._networks[run_id] = net
            while len(self._networks) > 16:
                self._networks.popitem(last=False)
        return net

    def predict(self, run_id: str, image: list[list[float]]) -> dict[str, Any]:
        """Classify a 28x28 image in 0..1 with a completed run's network."""
        x = validate_image(image)
        net = self.network(run_id)
        from engine.functions import softmax

        probs = softmax(net.predict(x.reshape(1, -1).astype(net.dtype)).astype(np.float64))[0]
        return {"label": int(np.argmax(probs)), "probabilities": [float(p) for p in probs]}


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:160]


def broker_unavailable(url: str, error: BaseException) -> Unavailable:
    """The 503 of a request that needs the broker while it does not answer."""
    from app.distributed import describe_broker

    where = describe_broker(url)
    return Unavailable(
        f"Runs cannot be queued now: the broker ({where}) does not answer. Check that Redis "
        "is running and reachable (BACKPROP_LAB_BROKER_URL); nothing was recorded, so send "
        "the run again when it is back.",
        code="broker_unavailable",
        details={"part": "broker", "reason": _short(error)},
    )


def validate_image(image: list[list[float]]) -> np.ndarray:
    """A 28x28 float array from rows of numbers, or a 422 naming what is wrong."""
    rows = len(image)
    if rows != 28 or any(len(r) != 28 for r in image):
        bad = next((i for i, r in enumerate(image) if len(r) != 28), None)
        where = f"row {bad} has {len(image[bad])} numbers" if bad is not None else f"{rows} rows"
        raise Unprocessable(
            f"'image' must be 28 rows of 28 numbers; got {where}.",
            code="bad_shape",
            details={"field": "image", "expected": [28, 28], "rows": rows},
        )
    x = np.asarray(image, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        r, c = np.argwhere(~np.isfinite(x))[0]
        raise Unprocessable(
            f"'image' holds a value that is not a finite number at row {r}, column {c}.",
            code="not_finite",
            details={"field": "image", "row": int(r), "column": int(c)},
        )
    if x.min() < 0 or x.max() > 1:
        r, c = np.argwhere((x < 0) | (x > 1))[0]
        raise Unprocessable(
            f"'image' values must be in 0..1; row {r}, column {c} is {x[r, c]}.",
            code="out_of_range",
            details={"field": "image", "row": int(r), "column": int(c), "value": float(x[r, c])},
        )
    return x


def get_service(request: Request) -> RunService:
    """The app's RunService (a FastAPI dependency)."""
    service: RunService | None = getattr(request.app.state, "runs", None)
    if service is None:
        settings: Settings = request.app.state.settings
        raise Unavailable(
            f"The server is waiting for the database ({describe(settings.database())}) to "
            "answer; it retries by itself. Try again in a moment.",
            code="database_unavailable",
            details={"part": "database"},
        )
    return service


Service = Annotated[RunService, Depends(get_service)]


def existing_run(run_id: str, service: Service) -> RunRecord:
    """The run named in the path, or 404 (a FastAPI dependency)."""
    return service.get(run_id)


ExistingRun = Annotated[RunRecord, Depends(existing_run)]

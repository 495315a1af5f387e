"""Training runs as a service: limits, the executor, the event log, subscribers, predictions."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import signal
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app import events
from app.datasets import require_dataset
from app.errors import Conflict, NotFound, TooLarge, Unprocessable
from app.executor import RUNNING, Executor, LocalExecutor, WorkerMessage, WorkerOptions
from app.schemas_service import TrainRequest
from app.settings import Settings
from app.store import NewEvent, RunRecord, RunStore, StoredEvent


def default_name(config: dict[str, Any]) -> str:
    """A run's name from its settings: "SGD lr 0.1 · 50 hidden · 10,000 it." (short, readable)."""
    from engine.optimizers import OPTIMIZERS

    opt = str(config.get("optimizer") or "sgd")
    title = OPTIMIZERS[opt].title if opt in OPTIMIZERS else opt
    lr = config.get("learning_rate")
    lr_text = f"{lr:g}" if isinstance(lr, int | float) else "?"
    hidden = config.get("hidden_size", "?")
    iterations = config.get("iterations")
    it_text = f"{iterations:,}" if isinstance(iterations, int) else "?"
    return f"{title} lr {lr_text} · {hidden} hidden · {it_text} it."


class RunNotifier:
    """Recent events of each run in memory (on the event loop), and a wake-up per append.

    It holds only events already committed to the log, so a stream that reads
    them instead of the database sends exactly what the database holds; a
    stream that falls behind its window reads the database.
    """

    def __init__(self, window: int = 512, runs: int = 64) -> None:
        self.window = window
        self.runs = runs
        self._events: dict[str, asyncio.Event] = {}
        self._recent: OrderedDict[str, list[StoredEvent]] = OrderedDict()

    def waiter(self, run_id: str) -> asyncio.Event:
        """An asyncio.Event set at the next append to the run's log."""
        ev = self._events.get(run_id)
        if ev is None:
            ev = self._events[run_id] = asyncio.Event()
        return ev

    def publish(self, written: dict[str, list[StoredEvent]]) -> None:
        """Remember newly committed events and wake everyone waiting on their runs."""
        for run_id, new in written.items():
            recent = self._recent.pop(run_id, [])
            if recent and new and recent[-1].seq + 1 != new[0].seq:
                recent = []
            recent = (recent + new)[-self.window :]
            self._recent[run_id] = recent
            while len(self._recent) > self.runs:
                self._recent.popitem(last=False)
            ev = self._events.pop(run_id, None)
            if ev is not None:
                ev.set()

    def wake_all(self) -> None:
        """Wake every waiting stream (the server is shutting down)."""
        events, self._events = self._events, {}
        for ev in events.values():
            ev.set()

    def since(self, run_id: str, after: int) -> list[StoredEvent] | None:
        """Events after ``after`` from memory; None if memory cannot say (read the log)."""
        recent = self._recent.get(run_id)
        if not recent or recent[0].seq > after + 1:
            return None
        if recent[-1].kind == "done" and recent[-1].seq <= after:
            return None  # nothing more will come: the log says so, and ends the stream
        return [e for e in recent if e.seq > after]


class RunService:
    """Everything about training runs; routes call it and stay thin."""

    def __init__(self, settings: Settings, executor: Executor | None = None) -> None:
        self.settings = settings
        self.store = RunStore(settings.data_dir / "backprop-lab.sqlite3")
        preload = tuple(n.strip() for n in settings.preload_datasets.split(",") if n.strip())
        self.executor: Executor = executor or LocalExecutor(
            settings.workers,
            WorkerOptions(
                preload,
                settings.progress_interval,
                settings.download_datasets,
                settings.worker_nice,
            ),
        )
        self.notifier = RunNotifier()
        self.subscribers: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._admit = threading.Lock()
        self._networks: OrderedDict[str, Any] = OrderedDict()
        self._networks_lock = threading.Lock()
        self.stopping = False
        self._previous_handlers: dict[int, Any] = {}

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Close runs a previous process left unfinished, then start the executor."""
        self._loop = asyncio.get_running_loop()
        self.store.interrupt_unfinished()
        self.executor.start(self._record)
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
        self.executor.shutdown()
        self.store.interrupt_unfinished()
        self.store.close()

    def _record(self, batch: Sequence[WorkerMessage]) -> None:
        """Sink of the executor (pump thread): write a batch in one transaction, wake streams."""
        new = []
        for m in batch:
            data = m.data
            if m.kind == RUNNING:
                data = events.running(attempt=self.store.attempts(m.run_id) + 1)
            new.append(NewEvent(m.run_id, m.kind, data, m.weights))
        self._publish(self.store.append(new))

    def _publish(self, written: dict[str, list[StoredEvent]]) -> None:
        if written and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.notifier.publish, written)

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

    def create(self, req: TrainRequest) -> RunRecord:
        """Validate a request against limits and data, record it queued, submit it."""
        self.check_limits(req)
        req = req.model_copy(update={"dataset": require_dataset(req.dataset, self.settings)})
        with self._admit:
            limit = self.settings.max_active_runs
            if self.store.count_active() >= limit:
                raise Conflict(
                    f"This server already has {limit} runs queued or training, its limit; "
                    "wait for one to finish or cancel one.",
                    code="too_many_runs",
                    details={"field": "active_runs", "limit": limit},
                )
            run = self.store.create_run(secrets.token_hex(8), req.model_dump())
        self.executor.submit(run.id, req.model_dump())
        return run

    def rename(self, run_id: str, name: str) -> RunRecord:
        """Give a run a new name (already validated); 404 for an unknown run."""
        self.get(run_id)
        self.store.rename_run(run_id, name)
        return self.get(run_id)

    def get(self, run_id: str) -> RunRecord:
        """The run, or a 404."""
        run = self.store.get_run(run_id)
        if run is None:
            shown = run_id if len(run_id) <= 40 else run_id[:40] + "…"
            raise NotFound(
                f"There is no run with id '{shown}'.",
                code="run_not_found",
                details={"field": "run_id", "length": len(run_id)},
            )
        return run

    def cancel(self, run_id: str) -> tuple[RunRecord, bool]:
        """Ask a queued or running run to stop; 409 if it has already finished."""
        run = self.get(run_id)
        if run.finished:
            raise Conflict(
                f"Run '{run_id}' has already finished ({run.status}); there is nothing to cancel.",
                code="run_finished",
                details={"run_id": run_id, "status": run.status},
            )
        if not self.executor.cancel(run_id):
            self._publish(self.store.append([NewEvent(run_id, "done", events.done("cancelled"))]))
        return self.get(run_id), True

    def history(self, run_id: str) -> dict[str, Any]:
        """Every loss (one per iteration) and every epoch's accuracies, from the event log.

        Only the latest attempt's: a run a lost worker left was started again from the start
        (a later ``running`` event), and its log holds the earlier attempts too.
        """
        loss: list[float | None] = []
        epochs: list[dict[str, Any]] = []
        after = 0
        while True:
            batch = self.store.events_after(run_id, after)
            if not batch:
                break
            for ev in batch:
                if ev.kind == "running":
                    loss, epochs = [], []
                elif ev.kind == "progress":
                    loss.extend(json.loads(ev.data).get("losses", []))
                elif ev.kind == "epoch":
                    epochs.append(json.loads(ev.data))
            after = batch[-1].seq
        return {"loss": loss, "epochs": epochs}

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
    def stream_slot(self, run_id: str) -> Iterator[None]:
        """Hold one of the run's event-stream slots while inside; 409 past the per-run limit.

        Call it on the event loop: the slot is taken when the stream is admitted and
        given back the moment the block ends (the stream ended or its client left).
        """
        limit = self.settings.max_subscribers_per_run
        if self.subscribers.get(run_id, 0) >= limit:
            raise Conflict(
                f"Run '{run_id}' already has {limit} open event streams, this server's limit.",
                code="too_many_subscribers",
                details={"field": "subscribers", "limit": limit},
            )
        self.subscribers[run_id] = self.subscribers.get(run_id, 0) + 1
        try:
            yield
        finally:
            self.subscribers[run_id] -= 1
            if not self.subscribers[run_id]:
                del self.subscribers[run_id]

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
                batch = await run_in_threadpool(self.store.events_after, run_id, after, 2000)
                if not batch:
                    run = await run_in_threadpool(self.store.get_run, run_id)
                    if run is None or (run.finished and run.last_seq <= after):
                        return
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
        """The trained TwoLayerNet of a finished run with saved weights (cached); else 409."""
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
        from engine.network import TwoLayerNet

        with np.load(io.BytesIO(blob)) as npz:
            params = {k: npz[k] for k in npz.files}
        w1, w2 = params["W1"], params["W2"]
        net = TwoLayerNet(w1.shape[0], w1.shape[1], w2.shape[1], dtype=w1.dtype, seed=0)
        for key, value in params.items():
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
    service: RunService = request.app.state.runs
    return service


Service = Annotated[RunService, Depends(get_service)]


def existing_run(run_id: str, service: Service) -> RunRecord:
    """The run named in the path, or 404 (a FastAPI dependency)."""
    return service.get(run_id)


ExistingRun = Annotated[RunRecord, Depends(existing_run)]

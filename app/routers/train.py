"""Training runs: start, watch live over server-sent events, inspect, cancel, list, export."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from app.body import JSONRoute
from app.deps import ExistingRun, Service
from app.errors import BadRequest, Unprocessable
from app.owners import Caller, CallerDep, set_owner_cookie
from app.schemas_service import (
    MAX_RUN_NAME,
    CancelAccepted,
    RunHistory,
    RunList,
    RunPublic,
    RunRename,
    RunStatus,
    RunSummary,
    TrainAccepted,
    TrainRequest,
    error_responses,
)
from app.training import events
from app.training.records import RunRecord
from app.training.service import default_name
from app.training.streams import Queued

router = APIRouter(tags=["training"], route_class=JSONRoute)

#: The largest event id a stream can resume after (SQLite's largest integer).
MAX_EVENT_ID = 2**63 - 1
_EVENT_ID = re.compile(r"[0-9]{1,19}")


class CSVResponse(PlainTextResponse):
    """A text/csv body."""

    media_type = "text/csv"


def summary(
    run: RunRecord, caller: Caller | None = None, no_worker: str | None = None
) -> RunSummary:
    """The public view of a run record: ``mine`` for the asking client, and ``no_worker``, the
    message of a queued run while no worker lives."""
    waiting = no_worker is not None and run.status == "queued"
    return RunSummary(
        id=run.id,
        status=cast(RunStatus, run.status),
        config=run.config,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        iterations=run.iterations,
        train_acc=run.train_acc,
        test_acc=run.test_acc,
        elapsed_s=run.elapsed_s,
        message=no_worker if waiting else run.message,
        no_worker=waiting,
        warning=run.warning,
        name=run.name or default_name(run.config),
        named=run.name is not None,
        has_weights=run.has_weights,
        queue_position=run.queue_position,
        events=f"/train/{run.id}/events",
        last_event_id=run.last_seq,
        mine=caller is not None and caller.owns(run),
        removed=run.removed,
    )


@router.post(
    "/train",
    status_code=202,
    response_model=TrainAccepted,
    responses=error_responses(400, 409, 413, 422, 429, 507),
)
def start_training(
    req: TrainRequest, service: Service, caller: CallerDep, request: Request, response: Response
) -> TrainAccepted:
    """Queue a training run and answer at once with its id, event stream and owner token."""
    run, token = service.create(req, caller)
    set_owner_cookie(response, request, token)
    return TrainAccepted(
        id=run.id, status="queued", events=f"/train/{run.id}/events", owner_token=token
    )


@router.get("/train/{run_id}", response_model=RunPublic, responses=error_responses(404, 410, 422))
def get_run(run: ExistingRun, service: Service, caller: CallerDep) -> RunPublic:
    """A run's state, configuration and full history (410 if removed to free space)."""
    history = RunHistory.model_validate(service.history(run.id))
    no_worker = service.no_worker_message() if run.status == "queued" else None
    return RunPublic(**summary(run, caller, no_worker).model_dump(), history=history)


def valid_name(name: str) -> str:
    """A run name as stored (trimmed), or a 422 that says what is wrong with it."""
    text = name.strip()
    details: dict[str, object] = {"field": "name", "limit": MAX_RUN_NAME}
    if not text:
        raise Unprocessable(
            "The name is empty: give the run a name.", code="empty_name", details=details
        )
    if len(text) > MAX_RUN_NAME:
        raise Unprocessable(
            f"The name has {len(text)} characters, over the limit of {MAX_RUN_NAME}.",
            code="name_too_long",
            details={**details, "length": len(text)},
        )
    bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")), None)
    if bad is not None:
        raise Unprocessable(
            f"The name contains a control character (U+{ord(bad):04X}); use plain text.",
            code="bad_name",
            details=details,
        )
    return text


@router.patch(
    "/train/{run_id}",
    response_model=RunSummary,
    responses=error_responses(400, 403, 404, 410, 413, 422),
)
def rename_run(req: RunRename, run: ExistingRun, service: Service, caller: CallerDep) -> RunSummary:
    """Rename a run (its owner or the operator only); the answer is the run as listed."""
    return summary(service.rename(run.id, valid_name(req.name), caller), caller)


async def stream_start(
    request: Request,
    run: ExistingRun,
    service: Service,
    last_event_id: Annotated[
        str | None,
        Header(description="Resume after this event id (sent by a reconnecting browser)."),
    ] = None,
) -> AsyncIterator[int]:
    """The event id a stream starts after, holding a stream slot until the response ends.

    400 for a bad header, 409 past the per-run stream limit, 429 past the per-client one.
    """
    after = 0
    if last_event_id is not None and last_event_id.strip():
        value = last_event_id.strip()
        # NOTE: ASCII digits only (str.isdigit also accepts '²', which int() refuses), and
        # no more than an event id can be (SQLite's 64-bit integers).
        if not _EVENT_ID.fullmatch(value) or int(value) > MAX_EVENT_ID:
            raise BadRequest(
                f"Last-Event-ID must be a whole number (an event id) up to {MAX_EVENT_ID}, "
                f"not '{value[:40]}'.",
                code="bad_last_event_id",
                details={"field": "Last-Event-ID"},
            )
        after = int(value)
    # NOTE: the slot is taken here, at admission (so streams asked for at once cannot all
    # pass the limit), and given back when the response ends, the client's leaving included.
    with service.streams.slot(run.id, request.client.host if request.client else ""):
        yield after


@router.get(
    "/train/{run_id}/events",
    response_class=EventSourceResponse,
    responses=error_responses(400, 404, 409, 422, 429),
)
async def run_events(
    run: ExistingRun, service: Service, after: Annotated[int, Depends(stream_start)]
) -> AsyncIterator[ServerSentEvent]:
    """Stream a run's events (every kind of app/training/events.py), replaying the log, then
    live; while it is queued, its place in the queue (``queued``, no id, not stored)."""
    async for ev in service.streams.follow(run.id, after):
        if ev is None:
            yield ServerSentEvent(comment="ping")
            waiting = await run_in_threadpool(service.waiting_without_worker, run.id)
            if waiting is not None:
                yield ServerSentEvent(event=events.NO_WORKER, data=waiting)
        elif isinstance(ev, Queued):
            yield ServerSentEvent(event=events.QUEUED, data=ev.data())
        else:
            yield ServerSentEvent(id=str(ev.seq), event=ev.kind, raw_data=ev.data)


@router.delete(
    "/train/{run_id}",
    status_code=202,
    response_model=CancelAccepted,
    responses=error_responses(403, 404, 409, 410, 422),
)
def cancel_run(run: ExistingRun, service: Service, caller: CallerDep) -> CancelAccepted:
    """Cancel a queued or running run (its owner or the operator only); its stream ends."""
    current = service.cancel(run.id, caller)
    return CancelAccepted(id=current.id, status=cast(RunStatus, current.status))


@router.get("/runs", response_model=RunList, responses=error_responses(422))
def list_runs(
    service: Service,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Runs to list.")] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9, description="Runs to skip.")] = 0,
    mine: Annotated[bool, Query(description="Only the asking client's runs.")] = False,
) -> RunList:
    """Runs, newest first, with status, final accuracies and whether each is the caller's."""
    if mine and caller.token_hash is None:
        return RunList(runs=[])
    owner = caller.token_hash if mine else None
    runs = service.list(limit, offset, owner_hash=owner)
    no_worker = service.no_worker_message() if any(r.status == "queued" for r in runs) else None
    return RunList(runs=[summary(r, caller, no_worker) for r in runs])


@router.delete("/runs/{run_id}", status_code=204, responses=error_responses(403, 404, 422))
def delete_run(run_id: str, service: Service, caller: CallerDep) -> Response:
    """Remove a run with its events and weights (its owner or the operator only)."""
    service.remove(run_id, caller)
    return Response(status_code=204)


@router.get(
    "/train/{run_id}/history.json", response_model=RunPublic, responses=error_responses(404, 422)
)
def history_json(
    run: ExistingRun, service: Service, response: Response, caller: CallerDep
) -> RunPublic:
    """The run and its history as a JSON download."""
    response.headers["Content-Disposition"] = f'attachment; filename="run-{run.id}.json"'
    return get_run(run, service, caller)


@router.get(
    "/train/{run_id}/history.csv",
    response_class=CSVResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **error_responses(404, 422, model=False),
    },
)
def history_csv(run: ExistingRun, service: Service) -> CSVResponse:
    """Every iteration's loss and each epoch's accuracies as CSV."""
    return CSVResponse(
        service.history_csv(run.id),
        headers={"Content-Disposition": f'attachment; filename="run-{run.id}.csv"'},
    )

"""Request bodies read, parsed, checked and validated in a thread, never on the event loop.

Parsing 8 MB of JSON (and describing what is wrong with it) takes a second or more; on the
event loop that second would freeze every other client. ``JSONRoute`` parses each JSON body
in a bounded pool of threads, refuses non-Unicode text and non-JSON content types, and
validates the body against its route's model there too; FastAPI then reuses the parsed value.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from app.errors import AppError, BadRequest, TooLarge, describe_validation

#: Threads parsing bodies at once: a flood of large bodies queues as bytes, not as objects.
PARSE_THREADS = 2
_parse_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)

# A lone surrogate enters JSON text as an escape \uD800..\uDFFF (raw surrogate bytes are
# refused when the body is decoded): bodies without such an escape skip that check.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


class NotJSON(BadRequest):
    """A body sent as something other than JSON (400)."""

    code = "not_json"


def _limiter() -> anyio.CapacityLimiter:
    """The parsing threads' limiter of the running event loop (one per loop: tests run many)."""
    loop = asyncio.get_running_loop()
    if loop not in _parse_limiters:
        _parse_limiters[loop] = anyio.CapacityLimiter(PARSE_THREADS)
    return _parse_limiters[loop]


def _invalid_unicode(found: str) -> BadRequest:
    return BadRequest(
        f"The request body has a lone surrogate ({found}) in a string, which is not "
        "Unicode: write a character above U+FFFF as a surrogate pair, or as itself.",
        code="invalid_unicode",
        details={"character": found},
    )


def _decode(body: bytes) -> str:
    """The body as text: UTF-8, where a surrogate's bytes (ED A0..BF xx) are not Unicode."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = body[e.start : e.start + 3]
        if len(bad) == 3 and bad[0] == 0xED and 0xA0 <= bad[1] <= 0xBF:
            code = ((bad[1] & 0x3F) << 6 | (bad[2] & 0x3F)) | 0xD000
            raise _invalid_unicode(f"\\u{code:04x}") from None
        raise BadRequest(
            f"The request body is not UTF-8 text (byte {e.start}): send JSON encoded as UTF-8.",
            code="malformed_json",
            details={"position": e.start},
        ) from None


def _lone_surrogate(value: Any) -> str | None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        return f"\\u{ord(e.object[e.start]):04x}"
    return None


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = True


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile (JSON makes no cycles; millions of containers
    would otherwise trigger collections that take several times as long as the parse)."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def parse_json(body: bytes) -> Any:
    """The JSON value of a body, or a 400 that names the real cause (runs in a thread)."""
    text = _decode(body)
    try:
        with _collector_paused():
            value = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadRequest(
            f"The request body is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno}).",
            code="malformed_json",
            details={"position": e.pos},
        ) from None
    except RecursionError:
        raise BadRequest(
            "The request body is nested too deeply to read: no request needs more than a few "
            "dozen levels of lists and objects.",
            code="malformed_json",
        ) from None
    except ValueError as e:
        if "digits" not in str(e):
            raise
        raise BadRequest(
            "The request body has an integer with more than 4300 digits, too large to read: "
            "no field takes such a number.",
            code="number_too_large",
        ) from None
    if _SURROGATE_ESCAPE.search(text):
        found = _lone_surrogate(value)
        if found is not None:
            raise _invalid_unicode(found)
    return value


def is_json_type(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON (none at all counts, as FastAPI reads it so)."""
    if content_type is None:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


async def read_json(
    request: Request, then: Callable[[Any], Any] | None = None, max_values: int | None = None
) -> Any:
    """The request's JSON body, parsed (and passed to ``then``) in a thread; None if empty.

    A body with more than ``max_values`` values is refused (413) before it is parsed.
    """
    body = await request.body()
    if not body:
        return None
    if not is_json_type(request.headers.get("content-type")):
        raise NotJSON(
            "The request body must be JSON, sent with Content-Type: application/json "
            f"(this one is {request.headers.get('content-type', '')[:60]!r}).",
            details={"content_type": request.headers.get("content-type", "")[:60]},
        )

    def work() -> Any:
        # NOTE: the collector stays paused until a refused body is freed: objects made while
        # it is paused wait in its youngest generation, and a collection then would walk all
        # of them. An error is returned without its traceback, whose frames would keep the
        # value alive until the loop freed it.
        if max_values is not None and (count := count_values(body)) > max_values:
            return _too_many_values(count, max_values)
        with _collector_paused():
            value: Any = None
            try:
                value = parse_json(body)
                return then(value) if then is not None else value
            except AppError as error:
                error.__traceback__ = None
                return error
            finally:
                value = None

    result = await anyio.to_thread.run_sync(work, limiter=_limiter())
    if isinstance(result, AppError):
        raise result
    return result


def _validator(route: APIRoute) -> tuple[Callable[..., Any] | None, int | None]:
    """A check of the parsed body against the route's one body model (422 on failure)."""
    field = route.body_field
    if field is None or len(route.dependant.body_params) != 1:
        return None, None
    annotation = field.field_info.annotation
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return None, None

    cap: int | None = getattr(annotation, "max_json_values", None)

    def validate(value: Any, settings: Any) -> Any:
        valid, errors = field.validate(value, {}, loc=("body",))
        if errors:
            status, code, message, details = describe_validation(RequestValidationError(errors))
            error = AppError(message, code=code, details=details)
            error.status = status
            raise error
        check = getattr(valid, "check_in_thread", None)
        if check is not None:
            check(settings)
        # NOTE: the model itself: FastAPI's own validation then passes it through unchanged
        # (an instance is not validated again), so nothing is validated on the loop.
        return valid

    return validate, cap


def count_values(body: bytes) -> int:
    """An upper bound on the JSON values in a body: every value is a list, an object, or
    follows a comma (commas and brackets inside strings only make it larger)."""
    return body.count(b"[") + body.count(b"{") + body.count(b",") + 1


def _too_many_values(count: int, cap: int) -> TooLarge:
    return TooLarge(
        f"The request body holds about {count} JSON values (lists, objects, numbers, "
        f"strings); a valid body of this request has at most {cap}.",
        code="too_many_values",
        details={"limit": cap},
    )


def _to_process(request: Request, body: bytes, model: Any) -> bool:
    """Whether a body is large enough to be validated in a graph process (app/graphwork.py)."""
    from app.graphwork import PROCESS_THRESHOLD

    return (
        getattr(model, "offload_large", False)
        and len(body) > PROCESS_THRESHOLD
        and is_json_type(request.headers.get("content-type"))
    )


class JSONRoute(APIRoute):
    """A route whose JSON body is parsed, checked and validated off the event loop."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, after the body has been read in a thread."""
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler
        validate, cap = _validator(self)
        annotation = self.body_field.field_info.annotation
        open_key: bytes = getattr(annotation, "unbounded_with", b"")

        async def checked(request: Request) -> Response:
            settings = request.app.state.settings
            then = None if validate is None else partial(validate, settings=settings)
            body = await request.body()
            if open_key and open_key in body and _to_process(request, body, annotation):
                from app.graphwork import plan_check

                pool = request.app.state.graph_pool
                job, value = await pool.call(plan_check, body, settings)
                # NOTE: the route gets the request without its graph, and the job the bytes.
                request.state.planned = job
            elif open_key and open_key in body:
                value = await read_json(request, then)
            else:
                value = await read_json(request, then, cap)
            if value is not None:
                # NOTE: Starlette's Request caches the parsed body here; FastAPI's handler
                # gets this same request and so never parses the body on the loop.
                request._json = value
            return await handler(request)

        return checked

"""The one error shape of the API and the exceptions that produce it.

Every error body is ``{"error": {"code", "message", "details"}}``; every
exception here carries its HTTP status, and one handler turns it into that body.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Send

from app.finite import finite

log = logging.getLogger("backprop_lab")


class AppError(Exception):
    """An error a client can act on; ``status`` is its HTTP status."""

    status = 400
    code = "bad_request"
    #: Response headers the error carries (e.g. a 429's Retry-After).
    headers: dict[str, str] | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = public_details(details or {})
        #: Extra response headers (``Retry-After`` of a 429 or 503).
        self.headers = headers


class BadRequest(AppError):
    """The request is malformed or names something impossible (400)."""

    status = 400
    code = "bad_request"


class NotFound(AppError):
    """The thing named does not exist (404)."""

    status = 404
    code = "not_found"


class Conflict(AppError):
    """The request is valid but the state of things forbids it now (409)."""

    status = 409
    code = "conflict"


class TooLarge(AppError):
    """A limit of the shared server was exceeded (413)."""

    status = 413
    code = "limit_exceeded"


class Unprocessable(AppError):
    """Well-formed but invalid content (422)."""

    status = 422
    code = "invalid"


class TooManyRequests(AppError):
    """Too many at once from one client; its Retry-After header says when to retry (429)."""

    status = 429
    code = "too_many_requests"


class Unavailable(AppError):
    """A part the request needs (the database, the broker) does not answer now (503)."""

    status = 503
    code = "unavailable"


def public_details(details: dict[str, Any]) -> dict[str, Any]:
    """An error's details under the one NaN policy (non-finite numbers become null)."""
    return dict(finite(details))


def graph_app_error(exc: Any) -> AppError:
    """The API error for the graph engine's ``GraphError``: 413 over a limit, else 422."""
    from engine.graph import GraphTooLarge

    cls = TooLarge if isinstance(exc, GraphTooLarge) else Unprocessable
    return cls(exc.message, code=exc.code, details=exc.details)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's one error shape."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def dump_json(content: Any) -> bytes:
    """Compact UTF-8 JSON that cannot fail on text a client sent (a lone surrogate included).

    A non-finite number becomes null (the one NaN policy), so the text is strict JSON.
    """
    text = json.dumps(finite(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    # NOTE: a lone surrogate (say U+D800) has no UTF-8 form; "backslashreplace" writes it as
    # the six characters \ud800, which inside a JSON string is exactly its JSON escape.
    return text.encode("utf-8", "backslashreplace")


class SafeJSONResponse(JSONResponse):
    """A JSONResponse rendered with ``dump_json``: echoing odd input never turns into a 500."""

    def render(self, content: Any) -> bytes:
        """The body: compact UTF-8 JSON."""
        return dump_json(content)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSONResponse in the error shape."""
    return SafeJSONResponse(error_body(code, message, details), status_code=status, headers=headers)


async def send_error(
    send: Send, status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> None:
    """Answer in the error shape from ASGI middleware, before any route runs."""
    body = dump_json(error_body(code, message, details))
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


#: The methods a 405's Allow header may list.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this request's path (for a 405's Allow header)."""
    # NOTE: each method is tried against the app's routes as the router itself would try it,
    # so routes of included routers count too, and several routes on one path add up.
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


#: The most characters of what a client sent that an error echoes back (a field, a value).
EXCERPT_CHARS = 200


class _TooLong(Exception):
    pass


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> Any:
    """``value`` (non-finite numbers as null) if its JSON is under ``limit`` characters, else
    a ``_TooLong``; looks at no more than ``limit`` items, however large ``value`` is."""
    budget = limit

    def walk(v: Any) -> Any:
        nonlocal budget
        budget -= 1 + (len(v) if isinstance(v, str) else 0)
        if budget < 0:
            raise _TooLong
        if isinstance(v, dict):
            return {walk(k): walk(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        return finite(v)

    shown = walk(value)
    if len(json.dumps(shown, allow_nan=False)) >= limit:
        raise _TooLong
    return shown


def _short(text: str, limit: int = EXCERPT_CHARS // 2) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [_short(str(p)) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts)


def describe_validation(exc: RequestValidationError) -> tuple[int, str, str, dict[str, Any]]:
    """Status, code, message and details of a validation error; echoes only a short excerpt."""
    errors = exc.errors()
    first: dict[str, Any] = (
        dict(errors[0]) if errors else {"type": "invalid", "loc": (), "msg": "invalid request"}
    )
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx") or {}
        reason = ctx.get("error", "it is not valid JSON")
        return 400, "malformed_json", f"The request body is not valid JSON: {reason}.", {}
    field = _loc_to_field(first.get("loc", ()))
    msg = _short(str(first.get("msg", "is invalid")), 2 * EXCERPT_CHARS)
    given = first.get("input")
    details: dict[str, Any] = {"field": field, "errors": len(errors)}
    if given is not None:
        # NOTE: a NaN the client sent is echoed back as null, the one NaN policy; a large
        # value is not echoed at all (it is the client's own, and could be megabytes).
        with contextlib.suppress(_TooLong, TypeError, ValueError):
            details["value"] = excerpt(given)
    if first.get("type") == "missing":
        text = f"Field '{field}' is required." if field else "The request body is required."
        return 422, "missing_field", text, details
    if first.get("type") == "extra_forbidden":
        text = f"Field '{field}' is unknown: this request has no such field (remove it)."
        return 422, "invalid_field", text, details
    where = f"Field '{field}'" if field else "The request body"
    return 422, "invalid_field", f"{where}: {msg}.", details


def out_of_resources(exc: BaseException) -> bool:
    """Whether an error says the process ran out of memory or could not start a thread."""
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "can't start new thread" in str(exc)
    )


def database_unavailable(request: Request, exc: BaseException) -> JSONResponse:
    """The 503 of a request made while the database does not answer."""
    from app.db import describe

    settings = getattr(request.app.state, "settings", None)
    where = describe(settings.database()) if settings is not None else "the database"
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    return error_response(
        503,
        "database_unavailable",
        f"The database ({where}) does not answer, so this cannot be done now. Check that it "
        "is running and reachable (BACKPROP_LAB_DATABASE_URL); nothing recorded is lost, and "
        "the service recovers by itself when it is back.",
        {"part": "database", "reason": first},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the one shape."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message, details = describe_validation(exc)
        return error_response(status, code, message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(404, "not_found", f"There is no resource at {request.url.path}.")
        if exc.status_code == 405:
            # NOTE: a mounted app (the static files) is not probed; it names its own methods.
            own = (exc.headers or {}).get("Allow", "")
            allowed = allowed_methods(request) or [m.strip() for m in own.split(",") if m.strip()]
            return error_response(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.url.path}; "
                f"allowed: {', '.join(allowed)}.",
                {"allowed": allowed},
                headers={"Allow": ", ".join(allowed)},
            )
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # NOTE: FastAPI's own parse failure, e.g. JSON nested deeper than Python recurses.
            return error_response(
                400,
                "malformed_json",
                "The request body could not be parsed: it is not JSON, or it is nested too "
                "deeply. Send a JSON object with Content-Type: application/json.",
            )
        return error_response(exc.status_code, "http_error", str(exc.detail))

    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        return database_unavailable(request, exc)

    # NOTE: registered by type, so they are answered inside the middleware (with the security
    # headers) and not by the server-error handler, which would also log a traceback.
    from app.db import unavailable_errors

    for error in unavailable_errors():
        app.add_exception_handler(error, _database_down)

    async def _exhausted(request: Request, exc: Exception) -> JSONResponse:
        # NOTE: many heavy requests at once can leave the process no memory or no room for
        # one more thread (a thread's stack is address space too): that request is told to
        # come back, as a full slot would tell it; the server goes on.
        if not out_of_resources(exc):
            return await _unexpected(request, exc)
        log.warning("out of resources on %s %s: %r", request.method, request.url.path, exc)
        return error_response(
            503,
            "out_of_memory",
            "The server has no room for this request now (memory or threads); nothing else "
            "was affected. Try again in a few seconds.",
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(MemoryError, _exhausted)
    app.add_exception_handler(RuntimeError, _exhausted)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        from app.db import is_disconnect

        if is_disconnect(exc):
            return database_unavailable(request, exc)
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_error", "The server failed unexpectedly; it has been logged."
        )

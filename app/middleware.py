"""The ASGI middleware of every exchange: a body read whole and refused over the size limit,
security headers on every answer, the Host check, and a client that leaves mid-answer taken
for what it is (no error). (The rate limit is ``app.quotas.RateLimit``.)"""

from __future__ import annotations

import logging

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import send_error

log = logging.getLogger("backprop_lab")

#: What an answer's writing raises when its client has left (an event stream, mostly).
DISCONNECTS = (anyio.BrokenResourceError, anyio.ClosedResourceError, ClientDisconnect)


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` only says that the client left (alone, or grouped by a task group)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_disconnect(e) for e in exc.exceptions)
    return isinstance(exc, DISCONNECTS)


class QuietDisconnects:
    """Log a client's leaving mid-answer at debug level instead of as a server error.

    FastAPI's event streams raise ``BrokenResourceError`` (in a task group) when their
    client leaves between two events: nothing failed, so no traceback is logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            if scope["type"] != "http" or not is_disconnect(exc):
                raise
            log.debug("client left %s %s mid-answer", scope.get("method"), scope.get("path"))


#: The page loads only its own scripts, styles, images, JSON and event streams.
# NOTE: styles may be inline: the graph drawing sets style attributes (graph-render.js) and
# the "run npm ci" page has a <style>; scripts may not (no inline script, no eval).
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# NOTE: FastAPI's /docs and /redoc load their viewer from a CDN with an inline start-up script.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


class SecurityHeaders:
    """Add a Content-Security-Policy (no framing), nosniff and no referrer to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope.get("path") in DOCS_PATHS else PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, send_with_headers)


_HOST_PASSED = "backprop_lab.host_passed"


class _MarkPassed:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_HOST_PASSED] = True
        await self.app(scope, receive, send)


class TrustedHosts(TrustedHostMiddleware):
    """Starlette's Host check, answering in the one error shape, that also lets through the
    address the server is bound to (so a server reached by its own IP just works).

    A page of another site whose name was made to resolve to this server (DNS rebinding)
    sends its own name as Host, and is refused.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        super().__init__(_MarkPassed(app), allowed_hosts=allowed_hosts, www_redirect=False)
        self.inner = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.allow_any:
            await self.inner(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        bound = (scope.get("server") or ("",))[0]
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if bound and name.strip("[]").lower() == str(bound).lower():
            await self.inner(scope, receive, send)
            return
        refused = False

        async def answer(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and not scope.get(_HOST_PASSED):
                refused = True
                await send_error(
                    send,
                    400,
                    "untrusted_host",
                    f"This server does not answer to the host name {host[:100]!r}: address "
                    "it by a name in BACKPROP_LAB_ALLOWED_HOSTS (by default localhost).",
                    {"host": host[:100]},
                )
                return
            if not refused:
                await send(message)

        await super().__call__(scope, receive, answer)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` in one message, then the client's own messages."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class BodySizeLimit:
    """Answer 413 in the API's error shape when a body is larger than ``max_bytes``.

    The body is read here, whole, before the app runs: a chunked body (no Content-Length)
    over the limit is refused with 413 like any other, not half-read by the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        await send_error(
            send,
            413,
            "body_too_large",
            f"The request body is larger than the limit of {self.max_bytes} bytes.",
            {"limit": self.max_bytes},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: nobody to answer
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay(b"".join(chunks), receive), send)

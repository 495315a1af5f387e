"""ASGI middleware guarding every exchange: Unicode-only JSON in, security headers out."""

from __future__ import annotations

import json
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import send_error
from app.limits import replay

# A lone surrogate can only enter JSON text as an escape \uD800..\uDFFF: raw surrogate
# bytes are not UTF-8 and fail to parse anyway. Bodies without such an escape skip the check.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")

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


def lone_surrogate(body: bytes) -> str | None:
    """The first lone surrogate in the strings of a JSON body, as its escape; None if none."""
    if not _SURROGATE_ESCAPE.search(body):
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route's own parsing answers malformed_json
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        return f"\\u{ord(e.object[e.start]):04x}"
    return None


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse this request's body as JSON (no content type counts)."""
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            return b"json" in value.lower()
    return True


class UnicodeGuard:
    """Refuse (400 ``invalid_unicode``) a JSON body whose strings hold a lone surrogate.

    Such a string is not Unicode: it could not be echoed back, stored or logged as UTF-8.
    Sits inside ``BodySizeLimit``, which has already read the body whole.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        found = lone_surrogate(body)
        if found is not None:
            await send_error(
                send,
                400,
                "invalid_unicode",
                f"The request body has a lone surrogate ({found}) in a string, which is not "
                "Unicode: write a character above U+FFFF as a surrogate pair, or as itself.",
                {"character": found},
            )
            return
        await self.app(scope, replay(body, receive), send)


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

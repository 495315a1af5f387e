"""Who may change a run: owner tokens (cookie or bearer), the operator's token, client keys.

There are no accounts. ``POST /train`` gives its caller a random token (kept by a
browser as an HttpOnly cookie) and stores only its SHA-256; changing a run needs
that token or the operator's ``BACKPROP_LAB_ADMIN_TOKEN``. A client's quotas are
counted by its token, else by its address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import Headers

from app.errors import AppError
from app.settings import Settings
from app.training.records import Owner, RunRecord

COOKIE = "backprop_lab_owner"
#: What a token may look like (ours are 43 URL-safe characters); anything else is ignored.
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,128}")
#: How long a browser keeps its token: a year (its runs stay its own that long).
COOKIE_MAX_AGE = 365 * 24 * 3600


class Forbidden(AppError):
    """The caller may not change this (403)."""

    status = 403
    code = "not_owner"


def new_token() -> str:
    """A new owner token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 of a token, as stored (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


def presented_token(headers: Headers) -> str | None:
    """The token a request carries: ``Authorization: Bearer``, else the cookie; None if none."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    candidates = [value.strip()] if scheme.lower() == "bearer" else []
    cookie = headers.get("cookie", "")
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            candidates.append(value.strip().strip('"'))
    return next((c for c in candidates if _TOKEN.fullmatch(c)), None)


def client_key(token: str | None, address: str | None) -> str:
    """The key a client's quotas are counted by: its token's hash, else its address."""
    if token is not None:
        return "token:" + token_hash(token)
    return "address:" + (address or "unknown")


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the token it carried (if any), its quota key, and if it is the admin."""

    token: str | None
    client: str
    admin: bool

    @property
    def token_hash(self) -> str | None:
        """The hash of the caller's token, as runs store it."""
        return token_hash(self.token) if self.token else None

    def owns(self, run: RunRecord) -> bool:
        """Whether the caller started this run (with the token it carries now)."""
        mine = self.token_hash
        return mine is not None and run.owner_hash is not None and run.owner_hash == mine

    def may_change(self, run: RunRecord) -> bool:
        """Whether the caller may rename, cancel or delete the run."""
        return self.admin or self.owns(run)

    def require_change(self, run: RunRecord, action: str) -> None:
        """Raise 403 ``not_owner`` unless the caller may change the run."""
        if self.may_change(run):
            return
        if run.owner_hash is None:
            why = (
                "it was started before runs had owners, so only the lab's operator "
                "(BACKPROP_LAB_ADMIN_TOKEN) can change it"
            )
        else:
            why = (
                "only the browser or script that started it can (its owner token, sent as the "
                "backprop_lab_owner cookie or Authorization: Bearer <token>), or the lab's operator"
            )
        raise Forbidden(
            f"You cannot {action} run '{run.id}': {why}. You can still watch it, read its "
            "history and use its weights.",
            details={"run_id": run.id, "action": action, "owned": run.owner_hash is not None},
        )

    def owner(self) -> tuple[str, Owner]:
        """The token for a new run (the caller's, else a new one) and the run's owner."""
        token = self.token or new_token()
        return token, Owner(token_hash(token), self.client)


def is_admin(token: str | None, settings: Settings) -> bool:
    """Whether a token is the operator's (compared in constant time)."""
    admin = settings.admin_token.get_secret_value() if settings.admin_token else ""
    return bool(admin and token) and hmac.compare_digest(str(token).encode(), admin.encode())


def caller_of(request: Request) -> Caller:
    """The caller of a request (a FastAPI dependency)."""
    settings: Settings = request.app.state.settings
    token = presented_token(request.headers)
    address = request.client.host if request.client else None
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    admin = scheme.lower() == "bearer" and is_admin(bearer.strip(), settings)
    return Caller(token, client_key(token, address), admin)


CallerDep = Annotated[Caller, Depends(caller_of)]


def set_owner_cookie(response: Response, request: Request, token: str) -> None:
    """Give the browser its owner token: HttpOnly, SameSite=Strict, Secure over https."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )

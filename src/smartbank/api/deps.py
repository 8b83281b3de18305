"""Entry-point plumbing: who is calling, and running a unit of work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from smartbank import db
from smartbank.api.access import authorize
from smartbank.api.schemas import MAX_ID
from smartbank.errors import NotAuthenticated, ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal

T = TypeVar("T")
COOKIE = "sb_session"
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_from(request: Request) -> str | None:
    """The API's credential: a Bearer token. The web session cookie is honoured for reads only, so a
    cross-site form can never make a signed-in browser move money through the API (no CSRF surface)."""
    auth = request.headers.get("authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if request.method in SAFE_METHODS:
        return request.cookies.get(COOKIE)
    return None


async def reject_nul(request: Request) -> None:
    """PostgreSQL text cannot hold NUL: a path or query parameter with one is a client error."""
    if "\x00" in request.url.path or any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
        raise ValidationFailed("the request path or query contains a NUL character")


def _checked(request: Request) -> Principal | None:
    """The principal :class:`smartbank.api.guards.ApiAuthMiddleware` authenticated before the body was read."""
    p = getattr(request.state, "principal", None)
    return p if isinstance(p, Principal) else None


def current_principal(request: Request) -> Principal:
    """The caller (authenticated before the body was read where the middleware did it), admitted to this
    operation by the permission table (403 otherwise)."""
    p = _checked(request)
    if p is None:
        token = token_from(request)
        if not token:
            raise NotAuthenticated("sign in first")
        p = db.run_read(lambda s: security.authenticate(s, token))
    authorize(request, p)
    request.state.principal = p
    return p


def principal_in(session: Session, request: Request) -> Principal:
    """The caller, resolved inside an endpoint's own unit of work (one thread hand-off and one
    connection for authentication and work together, on the hot paths), admitted by the permission table."""
    p = _checked(request)
    if p is None:
        token = token_from(request)
        if not token:
            raise NotAuthenticated("sign in first")
        p = security.authenticate(session, token)
    authorize(request, p)
    request.state.principal = p
    return p


Actor = Annotated[Principal, Depends(current_principal)]


def uow(fn: Callable[[Session], T]) -> T:
    """The request's transaction: commit on success, roll back on error, retry deadlocks."""
    return db.run_in_transaction(fn)


def request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")

"""The API's dependencies: who is calling (authenticated and admitted by the permission table), ids in
paths and queries, and running a unit of work. The session credential, the request id and the permission
check are shared with the web pages (:mod:`smartbank.http`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from smartbank import db
from smartbank.api.schemas import MAX_ID
from smartbank.errors import NotAuthenticated, ValidationFailed
from smartbank.http.access import authorize
from smartbank.http.session import request_id, token_from
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["Actor", "PathId", "QueryId", "current_principal", "principal_in", "reject_nul", "request_id", "token_from",
           "uow"]

T = TypeVar("T")
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


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

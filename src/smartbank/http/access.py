"""The permission table applied to requests: every API operation and web page is looked up in
:data:`smartbank.security.permissions.ROUTES` as soon as the caller is known, before the operation runs
(so a refused caller gets 403 even when the request would also be malformed).

The caller is resolved by :func:`smartbank.api.deps.current_principal` (and ``principal_in``) for the API
and by the web's ``customer_principal`` / ``staff_principal``; each calls :func:`authorize` (so it lives
here, in the plumbing both entry points share, not in either of them). An operation
with no entry in the table is refused (and ``tests/security/test_permission_matrix.py`` fails).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request

from smartbank.errors import Forbidden
from smartbank.security.service import ROUTES, Principal, route_roles

log = logging.getLogger("smartbank.access")

_index: weakref.WeakKeyDictionary[Any, dict[tuple[Callable[..., Any], str], str]] = weakref.WeakKeyDictionary()


def walk_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(method, path template, route) of every operation of an app, included routers flattened; a mount
    (static files) is reported once as ``GET``."""
    for r in routes:
        if type(r).__name__ == "_IncludedRouter":  # FastAPI keeps included routers as a node with a prefix
            ctx = getattr(r, "include_context", None)
            yield from walk_routes(r.original_router.routes, prefix + (getattr(ctx, "prefix", "") or ""))
            continue
        path = prefix + getattr(r, "path", "")
        methods = getattr(r, "methods", None)
        if methods is None:  # a mount
            yield "GET", path, r
            continue
        for m in sorted(methods):
            if m != "HEAD":
                yield m, path, r


def _routes_of(app: Any) -> dict[tuple[Callable[..., Any], str], str]:
    idx = _index.get(app)
    if idx is None:
        idx = {}
        for method, path, route in walk_routes(app.routes):
            endpoint = getattr(route, "endpoint", None)
            if endpoint is not None:
                idx[(endpoint, method)] = f"{method} {path}"
        _index[app] = idx
    return idx


def route_key(request: Request) -> str | None:
    """``"METHOD /path/template"`` of the operation serving ``request``."""
    endpoint = request.scope.get("endpoint")
    method = "GET" if request.method == "HEAD" else request.method
    return _routes_of(request.app).get((endpoint, method)) if endpoint is not None else None


def authorize(request: Request, principal: Principal) -> None:
    """Refuse ``principal`` unless the permission table admits its role to this operation."""
    key = route_key(request)
    access = ROUTES.get(key) if key else None
    if access is None:
        log.error("operation without an entry in the permission table: %s %s", request.method, key)
        raise Forbidden("this operation is not open to anyone yet", details={"operation": key})
    roles = route_roles(access)
    if roles is not None and principal.role not in roles:
        raise Forbidden("your role may not do this", details={"role": principal.role})

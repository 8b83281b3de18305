"""Who is calling: the session credential (a Bearer token for the API, an HttpOnly cookie for the pages),
the caller's address, the request id, and signing in with the throttle's counters committed even when the
attempt fails."""

from __future__ import annotations

from starlette.requests import Request

from smartbank import db
from smartbank.errors import NotAuthenticated, TooManyAttempts
from smartbank.security import service as security

__all__ = ["COOKIE", "PENDING_COOKIE", "SAFE_METHODS", "client_address", "login", "request_id", "token_from",
           "user_agent"]

COOKIE = "sb_session"  # the web session cookie (HttpOnly, SameSite=Lax)
PENDING_COOKIE = "sb_pending"  # a sign-in whose second factor is owed (HttpOnly, five minutes)
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


def client_address(request: Request) -> str | None:
    """The caller's address, as the ASGI server reports it (behind a reverse proxy, list the proxy in the
    server's trusted forwarders - uvicorn's ``FORWARDED_ALLOW_IPS`` - so this is the client, not the proxy)."""
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    """The caller's user agent, as the sessions page shows it (the first 200 characters)."""
    for k, v in request.scope.get("headers") or ():
        if k == b"user-agent":
            return v.decode("latin-1")[:200] or None
    return None


def request_id(request: Request) -> str | None:
    """The request's id (``X-Request-ID``), set by the observability middleware."""
    return request.scope.get("state", {}).get("request_id")


def login(username: str, password: str, staff: bool | None = None, *,
          address: str | None = None, agent: str | None = None) -> security.SignIn:
    """Sign in from ``address``; a failed attempt's counters are committed even though the call raises.
    The answer's ``pending`` says whether a second factor is still owed (``"mfa"``) or must be enrolled
    first (``"enrol"``); its token then only finishes the sign-in."""
    box: dict = {}

    def work(s):
        try:
            box["ok"] = security.sign_in(s, username=username, password=password, staff=staff, address=address,
                                         user_agent=agent)
        except (NotAuthenticated, TooManyAttempts) as exc:
            box["err"] = exc

    db.run_in_transaction(work)
    if "err" in box:
        raise box["err"]
    return box["ok"]

"""CSRF protection for every POST form: a signed double-submit token bound to the session.

A random per-browser seed lives in the HttpOnly cookie ``sb_csrf``. The token put in each form's
hidden ``csrf_token`` field is HMAC-SHA256(secret_key, seed | session token): a cross-site page can
neither read the seed nor compute the token, and a token stops working when the session changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

from smartbank.config import get_settings
from smartbank.http.session import COOKIE as SESSION_COOKIE

COOKIE = "sb_csrf"
FIELD = "csrf_token"


def seed(request: Request) -> str:
    """This browser's seed (from the cookie, or a new one the response will set)."""
    s = getattr(request.state, "csrf_seed", None)
    if s is None:
        s = request.cookies.get(COOKIE) or ""
        if len(s) < 20:
            s = secrets.token_urlsafe(24)
            request.state.csrf_new = True
        request.state.csrf_seed = s
    return s


def token(request: Request, session_token: str | None = None) -> str:
    if session_token is None:
        session_token = request.cookies.get(SESSION_COOKIE, "")
    msg = f"{seed(request)}|{session_token}".encode()
    return hmac.new(get_settings().secret_key.encode(), msg, hashlib.sha256).hexdigest()


def valid(request: Request, submitted: object) -> bool:
    if not isinstance(submitted, str) or not submitted or not request.cookies.get(COOKIE):
        return False
    return hmac.compare_digest(submitted, token(request))


def set_cookie_if_new(request: Request, response) -> None:
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(COOKIE, request.state.csrf_seed, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")

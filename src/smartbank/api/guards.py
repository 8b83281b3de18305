"""What every request passes before a route sees it, as pure ASGI middlewares.

- :class:`BodyLimitMiddleware`: a body larger than ``max_body_bytes`` is refused with 413, by its
  ``Content-Length`` before a byte is read, and by counting the bytes of a body sent without one.
- :class:`ApiAuthMiddleware`: an ``/api/v1`` request outside the public operations (sign-in, sign-up,
  the OpenAPI document) must carry a valid session before its body is read or validated: without one it
  gets 401, never a 422 that tells the caller what a valid body looks like.
- :class:`SecurityHeadersMiddleware`: ``nosniff`` on every response; ``no-store`` on every response that
  is not a static asset (the API's, and the pages, which may show personal data).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request

from smartbank import db
from smartbank.api.deps import token_from
from smartbank.config import get_settings
from smartbank.errors import NotAuthenticated
from smartbank.security import service as security

API_PREFIX = "/api/v1"
# the API operations a caller without a session may use
PUBLIC_API_PATHS = frozenset({f"{API_PREFIX}/auth/login", f"{API_PREFIX}/auth/signup", f"{API_PREFIX}/openapi.json",
                              f"{API_PREFIX}/auth/login/mfa", f"{API_PREFIX}/auth/login/enrol",
                              f"{API_PREFIX}/auth/password-reset", f"{API_PREFIX}/auth/password-reset/confirm",
                              # signed with a shared secret instead (checked by the opinion service)
                              f"{API_PREFIX}/opinion/webhook"})
API_CSP = "default-src 'none'; frame-ancestors 'none'"


async def send_error(send, status: int, code: str, message: str) -> None:
    """The API's one error body, ``{code, message, details}``, sent from a middleware."""
    body = json.dumps({"code": code, "reason": code, "message": message, "details": {}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes the limit (the 413 has been sent already)."""


class BodyLimitMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = get_settings().max_body_bytes
        for k, v in scope.get("headers") or []:
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    return await send_error(send, 400, "bad_request", "the Content-Length header is not a number")
                if declared > limit:
                    return await send_error(send, 413, "payload_too_large",
                                            f"the request body is larger than {limit} bytes")
                break
        state = {"seen": 0, "refused": False, "started": False}

        async def counting_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > limit:
                    if not state["started"]:
                        state["refused"] = True
                        await send_error(send, 413, "payload_too_large",
                                         f"the request body is larger than {limit} bytes")
                    raise BodyTooLarge
            return message

        async def guarded_send(message):
            if state["refused"]:
                return  # the 413 went out already: whatever the app answers after it is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            if not state["refused"]:
                raise


def _authenticate(token: str) -> security.Principal:
    return db.run_read(lambda s: security.authenticate(s, token))


class ApiAuthMiddleware:
    """Authenticate a protected API request before anything reads its body; the principal is kept in the
    request's state, where :func:`smartbank.api.deps.current_principal` and ``principal_in`` find it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")) or path.rstrip("/") in PUBLIC_API_PATHS:
            return await self.app(scope, receive, send)
        token = token_from(Request(scope))
        if not token:
            return await send_error(send, 401, NotAuthenticated.code, "sign in first")
        try:
            principal = await run_in_threadpool(_authenticate, token)
        except NotAuthenticated as exc:
            return await send_error(send, 401, exc.code, exc.message)
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        api = path.startswith("/api/")
        static = path.startswith("/static/")

        async def _send(message: dict[str, Any]):
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h.setdefault("X-Content-Type-Options", "nosniff")
                if not static:
                    h.setdefault("Cache-Control", "no-store")
                if api:
                    h.setdefault("Content-Security-Policy", API_CSP)
                    h.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, _send)

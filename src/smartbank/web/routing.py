"""The route class every web page uses: CSRF check on POST, errors as pages, security headers.

Errors from services become HTML pages here (the app's JSON error handlers are for the API):
``NotAuthenticated`` redirects to the right sign-in page, other ``SmartbankError`` render an error
page with the translated message and the error's HTTP status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from smartbank.db import MAX_ID
from smartbank.errors import NotAuthenticated, SmartbankError
from smartbank.http.session import COOKIE as SESSION_COOKIE
from smartbank.web import csrf
from smartbank.web.forms import message
from smartbank.web.i18n import lang_of, translate
from smartbank.web.render import area_of, error_page, here_of

log = logging.getLogger("smartbank.web")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def login_path(request: Request) -> str:
    return "/console/login" if area_of(request) == "console" else "/login"


def to_login(request: Request) -> Response:
    target = here_of(request)
    url = login_path(request)
    if request.method == "GET" and target not in ("/", "/console"):
        url += "?next=" + quote(target, safe="")
    response = RedirectResponse(url, status_code=303)
    if getattr(request.state, "session_invalid", False):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def secure(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Cache-Control", "no-store")
    return response


def _has_nul(request: Request) -> bool:
    return "\x00" in request.url.path or any("\x00" in k or "\x00" in v
                                              for k, v in request.query_params.multi_items())


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            csrf.seed(request)
            response: Response
            try:
                if _has_nul(request) or (request.method == "POST" and any(
                        isinstance(v, str) and "\x00" in v for v in (await request.form()).values())):
                    # PostgreSQL text cannot hold NUL: refuse such input before it reaches a service
                    response = error_page(request, 400, translate(lang_of(request), "error.bad_request"))
                elif any(isinstance(v, str) and v.isdigit() and int(v) > MAX_ID for v in request.path_params.values()):
                    # an id beyond BIGINT cannot exist (and would overflow the database driver)
                    response = error_page(request, 404, translate(lang_of(request), "error.not_found"))
                elif request.method == "POST" and not csrf.valid(request, (await request.form()).get(csrf.FIELD)):
                    response = error_page(request, 403, translate(lang_of(request), "error.csrf"),
                                          "error.csrf_title")
                else:
                    response = await inner(request)
            except NotAuthenticated:
                response = to_login(request)
            except SmartbankError as exc:
                response = error_page(request, exc.status_code, message(exc, lang_of(request)))
            except RequestValidationError:
                response = error_page(request, 400, translate(lang_of(request), "error.bad_request"))
            except Exception:
                log.exception("web page failed")
                response = error_page(request, 500, translate(lang_of(request), "error.internal"))
            csrf.set_cookie_if_new(request, response)
            return secure(response)

        return handler


def web_router(**kw) -> APIRouter:
    """An APIRouter for pages: kept out of the OpenAPI schema, with :class:`WebRoute`."""
    return APIRouter(route_class=WebRoute, include_in_schema=False, **kw)

"""Display preferences kept in cookies: language (``sb_lang``) and elderly mode (``sb_elder``)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from smartbank.errors import NotFound
from smartbank.web.i18n import COOKIE as LANG_COOKIE
from smartbank.web.i18n import LANGS
from smartbank.web.render import ELDER_COOKIE, safe_next
from smartbank.web.routing import web_router

router = web_router(prefix="/prefs")
YEAR = 365 * 24 * 3600


def _back(request: Request, next: str, name: str, value: str) -> Response:
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    response.set_cookie(name, value, max_age=YEAR, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.get("/lang/{lang}")
def set_lang(request: Request, lang: str, next: str = "/") -> Response:
    if lang not in LANGS:
        raise NotFound("no such language")
    return _back(request, next, LANG_COOKIE, lang)


@router.get("/elder/{state}")
def set_elder(request: Request, state: str, next: str = "/") -> Response:
    if state not in ("on", "off"):
        raise NotFound("no such setting")
    return _back(request, next, ELDER_COOKIE, "1" if state == "on" else "0")

"""Templates: one Jinja2 environment, the context every page gets, and error pages."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from smartbank import pii
from smartbank.security import service as security
from smartbank.web import csrf, fmt, nav
from smartbank.web.i18n import HTML_LANG, has, lang_of, translate

ELDER_COOKIE = "sb_elder"
TEMPLATES = Path(__file__).parent / "templates"

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def money(minor: int | None, currency: str = "CNY") -> str:
    return fmt.money(minor, currency)


def account_number(number: str | None) -> str:
    """Group an account number in fours for reading aloud and copying."""
    n = number or ""
    return " ".join(n[i:i + 4] for i in range(0, len(n), 4))


def mask(value: Any, field: str) -> str:
    """``value`` in the masked format of ``field`` (``id_number``, ``phone``, ``name``...): the masking policy's
    formats, for a page that shows a value its service did not already present."""
    out = security.mask_value(field, value)
    return "" if out is None else str(out)


def redact(value: str | None) -> str:
    """Free text a person typed (a memo, a note, a message) with recognised personal information replaced,
    for a staff page that does not need it (:mod:`smartbank.pii`)."""
    return pii.redact(value or "")


def show_date(value: Any) -> str:
    return fmt.moment(value)


@pass_context
def _pct(ctx: Any, value: Any, digits: int | None = None) -> str:
    return fmt.percent(value, ctx.get("lang", "zh"), digits)


@pass_context
def _num(ctx: Any, value: Any, digits: int = 2) -> str:
    return fmt.number(value, ctx.get("lang", "zh"), digits)


@pass_context
def _day(ctx: Any, value: Any) -> str:
    return fmt.day(value, ctx.get("lang", "zh"))


env.filters.update(money=money, account_number=account_number, mask=mask, redact=redact, show_date=show_date,
                   pct=_pct, num=_num, day=_day)

# Stylesheets every page links, in order: the shell's, then one per area of the product (each area keeps
# its rules in its own file).
STYLESHEETS = ("app.css", "portal.css", "console.css", "elder.css", "payments.css", "lending.css", "wealth.css",
               "risk.css", "assistant.css", "marketing.css", "loyalty.css", "opinion.css")


def is_elder(request: Request) -> bool:
    return request.cookies.get(ELDER_COOKIE) == "1"


def area_of(request: Request) -> str:
    return "console" if request.url.path.startswith("/console") else "portal"


def here_of(request: Request) -> str:
    """Where a preference toggle should come back to: this page if it can be fetched again."""
    if request.method == "GET":
        q = request.url.query
        return request.url.path + (f"?{q}" if q else "")
    return "/console" if area_of(request) == "console" else "/"


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site absolute paths: never ``//host`` or ``http://...`` (no open redirects)."""
    t = (target or "").strip()
    if not t.startswith("/") or t.startswith("//") or "\\" in t or any(ord(c) < 32 for c in t):
        return default
    return t


def csrf_input(request: Request) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(csrf.FIELD, csrf.token(request))


def translate_value(lang: str, prefix: str, value: Any) -> str:
    """A code from the data (an account kind, a status) in words, or the code itself if unknown."""
    key = f"{prefix}.{value}"
    return translate(lang, key) if has(lang, key) else str(value)


def page_context(request: Request, **ctx: Any) -> dict[str, Any]:
    lang = lang_of(request)
    principal = getattr(request.state, "principal", None)
    area = ctx.pop("area", None) or area_of(request)
    here = ctx.pop("here", None) or here_of(request)
    base = {
        "request": request, "lang": lang, "html_lang": HTML_LANG[lang], "t": partial(translate, lang),
        "tv": partial(translate_value, lang),
        "elder": is_elder(request), "area": area, "principal": principal, "here": here,
        "here_q": quote(here, safe=""), "csrf_input": csrf_input(request),
        "nav": nav.items(area, principal), "current_path": request.url.path, "urlencode": urlencode,
        "error": None, "notice": None, "error_field": None, "stylesheets": STYLESHEETS,
    }
    notice = request.query_params.get("notice", "")
    if re.fullmatch(r"[a-z_]{1,40}", notice) and has(lang, f"notice.{notice}"):
        base["notice"] = f"notice.{notice}"
    base.update(ctx)
    return base


def render(request: Request, template: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    html = env.get_template(template).render(page_context(request, **ctx))
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status_code: int, message: str, title_key: str | None = None) -> HTMLResponse:
    title_key = title_key or {403: "error.forbidden", 404: "error.not_found"}.get(status_code, "error.title")
    return render(request, "error.html", status_code=status_code, title_key=title_key, message=message)

"""The shell every page sits in: the portal's tabs and its "me" page, the console's grouped side bar, the
template functions the base template calls (``portal_tabs``, ``current_tab``, ``me_items``, ``icon_of``,
``console_groups``) and the HTML error page for errors raised outside a page (an unknown path or method)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import HTMLResponse, Response

from smartbank.web import nav
from smartbank.web.auth import Customer
from smartbank.web.i18n import has, lang_of, translate
from smartbank.web.render import env, error_page, render
from smartbank.web.routing import web_router

router = web_router()

# the icon (templates/_icons.html) of each portal page the "me" page and the wide screen's side bar list
ICONS = {"/": "home", "/transfer": "transfer", "/payees": "payees", "/scheduled": "scheduled", "/bills": "bills",
         "/topup": "topup", "/insights": "insights", "/for-you": "for_you", "/loans": "loans",
         "/loans/apply": "apply", "/wealth": "wealth", "/wealth/robo": "robo", "/notifications": "notifications",
         "/security": "security", "/privacy": "privacy", "/assistant": "assistant", "/me": "me"}


def icon_of(path: str) -> str:
    return ICONS.get(path, "dot")


def account_label(account: dict, lang: str) -> str:
    """An account's name for people: the name the customer gave it, or its kind in the page's language (an account
    opened with its kind's Chinese name as its name, as most are, reads as its kind on an English page too)."""
    name = (account.get("name") or "").strip()
    kind = account.get("kind")
    default = {translate(code, f"kind.{kind}") for code in ("zh", "en") if has(code, f"kind.{kind}")}
    if name and name not in default:
        return name
    key = f"kind.{kind}"
    return translate(lang, key) if has(lang, key) else name or str(kind)


env.globals.update(portal_tabs=nav.PORTAL_TABS, current_tab=nav.current_tab, me_items=nav.me_items,
                   icon_of=icon_of, account_label=account_label, console_groups=nav.console_groups)


@router.get("/me")
def me(request: Request, actor: Customer) -> Response:
    """Every portal page the tab bar does not show, the display preferences, and signing out."""
    return render(request, "portal/me.html", items=nav.me_items(actor))


def http_error_page(request: Request, status_code: int, detail: str = "") -> HTMLResponse:
    """The page for an error the framework raised (no such path, method not allowed): its words come from the
    catalogue by status, never from the framework's English ``detail``."""
    lang = lang_of(request)
    key = f"error.generic_{status_code}"
    text = translate(lang, key if has(lang, key) else "error.generic")
    return error_page(request, status_code, text)

"""Loyalty pages: the portal's ``/loyalty`` (points, what expires soon, rewards to redeem, vouchers, history) and
the console's ``/console/loyalty`` (the rules and their editor, the liability and its reconciliation, a customer's
points by customer number). Every page calls :mod:`smartbank.loyalty.service`, which checks who may do what."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import SmartbankError, ValidationFailed
from smartbank.loyalty import service as loyalty
from smartbank.web import forms
from smartbank.web.auth import Customer, Staff
from smartbank.web.console import require_page
from smartbank.web.forms import message
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_console_page, register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

PORTAL = "/loyalty"
PAGE = "/console/loyalty"
register_portal_page(PORTAL, "nav.portal.loyalty", order=47)
register_console_page(PAGE, "nav.console.loyalty", order=72)

Text = Annotated[str, Form()]


def _portal(request: Request, actor: Any, *, error: str | None = None, status_code: int = 200) -> Response:
    pts = db.run_in_transaction(lambda s: loyalty.customer_points(s, actor))
    return render(request, "portal/loyalty.html", pts=pts, error=error, status_code=status_code,
                  lang=lang_of(request), new_key=forms.new_key)


@router.get(PORTAL)
def portal_page(request: Request, actor: Customer) -> Response:
    return _portal(request, actor)


@router.post(PORTAL + "/redeem")
def portal_redeem(request: Request, actor: Customer, reward_code: Text = "", idempotency_key: Text = "") -> Response:
    key = forms.key_or_new(idempotency_key)  # made when the page was drawn: a second click redeems nothing more
    try:
        db.run_in_transaction(lambda s: loyalty.redeem(s, actor, reward_code[:32], idempotency_key=key))
    except SmartbankError as exc:
        if exc.status_code not in (404, 409, 422):
            raise
        return _portal(request, actor, error=message(exc, lang_of(request)), status_code=exc.status_code)
    return RedirectResponse(PORTAL + "?notice=loyalty_redeemed", status_code=303)


def _bars(summary: dict[str, Any]) -> dict[str, Any]:
    """Points earned, redeemed, expired and outstanding as horizontal bars (server-side SVG)."""
    k = summary["points_by_kind"]
    rows = [("earned", k["earn"] + max(k["adjust"], 0)), ("redeemed", -k["redeem"]), ("expired", -k["expire"]),
            ("outstanding", sum(k.values()))]
    top = max([v for _, v in rows] + [1])
    return {"bars": [{"key": key, "value": v, "y": 6 + i * 26, "w": round(200.0 * max(v, 0) / top, 1)}
                     for i, (key, v) in enumerate(rows)], "height": 12 + 26 * len(rows)}


def _console(request: Request, actor: Any, *, number: str = "", error: str | None = None,
             form: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    lang = lang_of(request)
    lookup_error = None

    def work(s: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return loyalty.list_rules(s, actor), loyalty.reconciliation(s, actor)

    rules, rec = db.run_in_transaction(work)
    pts = None
    if number:
        try:
            pts = db.run_in_transaction(lambda s: loyalty.points_by_number(s, actor, number[:40]))
        except SmartbankError as exc:
            if exc.status_code != 404:
                raise
            lookup_error = message(exc, lang)
    return render(request, "console/loyalty/index.html", rules=rules, rec=rec, chart=_bars(rec["summary"]),
                  pts=pts, number=number[:40], lookup_error=lookup_error, error=error, status_code=status_code,
                  can_manage=actor.can("loyalty.manage"), behaviours=loyalty.BEHAVIOURS,
                  form=form or {"code": "", "behaviour": "bill_payment", "points": "", "cap": "", "name_zh": "",
                                "name_en": "", "once": ""})


@router.get(PAGE)
def console_page(request: Request, actor: Staff, number: str = "") -> Response:
    require_page(actor, PAGE)
    return _console(request, actor, number=number.strip())


def _int(raw: str, field: str, *, optional: bool = False) -> int | None:
    raw = (raw or "").strip()
    if optional and not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise ValidationFailed("a whole number", reason="loyalty.bad_number", details={"field": field})
    return int(raw)


@router.post(PAGE + "/rules")
def console_rule(request: Request, actor: Staff, code: Text = "", behaviour: Text = "", points: Text = "",
                 cap: Text = "", once: Text = "", name_zh: Text = "", name_en: Text = "") -> Response:
    require_page(actor, PAGE)
    form = {"code": code[:40], "behaviour": behaviour[:32], "points": points[:12], "cap": cap[:12],
            "name_zh": name_zh[:80], "name_en": name_en[:80], "once": once[:2]}
    try:
        pts = _int(points, "points")
        cap_n = _int(cap, "cap", optional=True)
        db.run_in_transaction(lambda s: loyalty.set_rule(
            s, actor, code, behaviour=behaviour, points=int(pts or 0), cap_per_month=cap_n,
            once_per_customer=once == "1", name_zh=name_zh[:80], name_en=name_en[:80]))
    except SmartbankError as exc:
        if exc.status_code not in (409, 422):
            raise
        return _console(request, actor, error=message(exc, lang_of(request)), form=form, status_code=exc.status_code)
    return RedirectResponse(PAGE + "?notice=loyalty_rule_saved", status_code=303)

"""Pages of the contact policy: why a customer was (not) contacted, the do-not-disturb list, the policy (caps,
quiet hours, costs); the click tracker (``/m/<token>``) and the portal's banners (shown on the home page,
dismissed by the customer). Every page calls ``smartbank.marketing``, which checks who may do what."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.errors import Forbidden, SmartbankError
from smartbank.marketing import service as marketing
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.web import forms
from smartbank.web.auth import Customer, Staff
from smartbank.web.console import require_page
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_console_page
from smartbank.web.render import env, render, safe_next
from smartbank.web.routing import web_router

router = web_router()

PAGE = "/console/marketing/contacts"
POLICY = "/console/marketing/contacts/policy"
register_console_page(PAGE, "nav.console.marketing_contacts", roles=security.roles_for("marketing.contacts.read"),
                      order=112)
register_console_page(POLICY, "nav.console.marketing_policy", roles=security.roles_for("marketing.contacts.read"),
                      order=113)

F = Annotated[str, Form()]
SCOPES = marketing.POLICY_SCOPES


def _banners(principal: Principal | None) -> list[dict[str, Any]]:
    """The signed-in customer's banners for the portal home (an impression each); none for anyone else."""
    if principal is None or principal.customer_id is None or principal.role != "customer":
        return []
    try:
        return db.run_in_transaction(lambda s: marketing.active_banners(s, principal))
    except SmartbankError:
        return []


env.globals["marketing_banners"] = _banners


# ----------------------------------------------------------------------------------------------
# the customer's side

@router.get("/m/{token}")
def click(request: Request, token: str, to: str = "/") -> Response:
    """A tracked link: records the click, then goes to the page. A token not signed for this page is 404."""
    target = safe_next(to)
    dest = db.run_in_transaction(lambda s: marketing.record_click(s, token[:64], target))
    return RedirectResponse(dest, status_code=303)


@router.post("/banners/{message_id}/dismiss")
def dismiss(request: Request, message_id: int, actor: Customer) -> Response:
    db.run_in_transaction(lambda s: marketing.dismiss_banner(s, actor, message_id))
    return RedirectResponse("/", status_code=303)


# ----------------------------------------------------------------------------------------------
# why (not) contacted, do-not-disturb

def _contacts(request: Request, actor: Principal, number: str, *, error: str | None = None,
              error_field: str | None = None, form: dict[str, str] | None = None, status_code: int = 200,
              campaign: str = "") -> Response:
    out = summary = None
    campaign = (campaign or "").strip()[:19]
    if campaign:
        if not campaign.isascii() or not campaign.isdigit() or not 1 <= int(campaign) < 2**63:
            error, error_field, status_code = forms.message(forms.FormError("mcontact.bad_number", field="campaign"),
                                                            lang_of(request)), "campaign", 422
        else:
            summary = db.run_in_transaction(lambda s: marketing.contact_report(s, actor, int(campaign)))
    number = (number or "").strip()[:20]
    if number:
        try:
            out = db.run_in_transaction(lambda s: marketing.why_not_contacted(s, actor, number))
        except Forbidden:
            raise
        except SmartbankError as exc:
            error, error_field, status_code = forms.message(exc, lang_of(request)), "number", exc.status_code
    return render(request, "console/marketing/contact/contacts.html", status_code=status_code, out=out,
                  number=number, channels=("all", *marketing.CHANNELS), reasons=marketing.CONTACT_REASONS,
                  may_suppress=actor.can("marketing.suppress"), error=error, error_field=error_field,
                  summary=summary, campaign=campaign, may_report=actor.can("marketing.reports.read"),
                  form=form or {"channel": "all", "reason": "", "until": ""})


@router.get(PAGE)
def contacts_page(request: Request, actor: Staff, number: str = "", campaign: str = "") -> Response:
    require_page(actor, PAGE)
    return _contacts(request, actor, number, campaign=campaign if actor.can("marketing.reports.read") else "")


def _until(raw: str) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        d = date.fromisoformat(raw)
    except ValueError:
        raise forms.FormError("form.bad_date") from None
    return datetime.combine(d, time(23, 59, 59), tzinfo=clock.BANK_TZ)


@router.post(PAGE + "/dnd")
def add_dnd(request: Request, actor: Staff, number: F = "", channel: F = "all", reason: F = "",
            until: F = "") -> Response:
    if not actor.can("marketing.suppress"):
        raise Forbidden("your role may not do this")
    number = number.strip()[:20]
    form = {"channel": channel, "reason": reason, "until": until}
    try:
        when = _until(until)
        text = forms.short_text(reason, 300)

        def work(s: Any) -> None:
            c = marketing.why_not_contacted(s, actor, number)["customer"]
            marketing.add_do_not_disturb(s, actor, c["id"], channel=channel, reason=text, until=when)

        db.run_in_transaction(work)
    except Forbidden:
        raise
    except SmartbankError as exc:
        field = "until" if isinstance(exc, forms.FormError) and exc.key == "form.bad_date" else "reason"
        return _contacts(request, actor, number, error=forms.message(exc, lang_of(request)), error_field=field,
                         form=form, status_code=exc.status_code)
    return RedirectResponse(f"{PAGE}?number={number}&notice=mkt_dnd_added", status_code=303)


@router.post(PAGE + "/dnd/{dnd_id}/remove")
def remove_dnd(request: Request, dnd_id: int, actor: Staff, number: F = "") -> Response:
    if not actor.can("marketing.suppress"):
        raise Forbidden("your role may not do this")
    db.run_in_transaction(lambda s: marketing.remove_do_not_disturb(s, actor, dnd_id))
    return RedirectResponse(f"{PAGE}?number={number.strip()[:20]}&notice=mkt_dnd_removed", status_code=303)


# ----------------------------------------------------------------------------------------------
# the policy

def _policy(request: Request, actor: Principal, *, error: str | None = None, error_field: str | None = None,
            status_code: int = 200) -> Response:
    pol = db.run_in_transaction(lambda s: marketing.contact_policy(s))
    rows = [dict(p, cost_yuan=Decimal(p["cost_micro"]) / Decimal(1_000_000)) for p in pol.values()]
    return render(request, "console/marketing/contact/policy.html", status_code=status_code, rows=rows,
                  may_manage=actor.can("marketing.policy.manage"), error=error, error_field=error_field)


@router.get(POLICY)
def policy_page(request: Request, actor: Staff) -> Response:
    require_page(actor, POLICY)
    return _policy(request, actor)


def _int_or_none(raw: str, field: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise forms.FormError("mcontact.bad_number", field=field)
    return int(raw)


@router.post(POLICY + "/{channel}")
def set_policy(request: Request, channel: str, actor: Staff, max_count: F = "", period_days: F = "7",
               quiet_start: F = "", quiet_end: F = "", cost_yuan: F = "0") -> Response:
    if not actor.can("marketing.policy.manage"):
        raise Forbidden("your role may not do this")
    try:
        try:
            cost = Decimal((cost_yuan or "0").strip())
            if not cost.is_finite() or not cost.as_tuple().exponent >= -6:  # type: ignore[operator]
                raise InvalidOperation
        except InvalidOperation:
            raise forms.FormError("mcontact.bad_number", field="cost_yuan") from None
        period = _int_or_none(period_days, "period_days")
        changes = {"max_count": _int_or_none(max_count, "max_count"), "period_days": period or 0,
                   "quiet_start": quiet_start.strip() or None, "quiet_end": quiet_end.strip() or None,
                   "cost_micro": int(cost * 1_000_000)}
        db.run_in_transaction(lambda s: marketing.set_contact_policy(s, actor, channel[:12], **changes))
    except Forbidden:
        raise
    except SmartbankError as exc:
        return _policy(request, actor, error=forms.message(exc, lang_of(request)), status_code=exc.status_code)
    return RedirectResponse(f"{POLICY}?notice=mkt_policy_saved", status_code=303)

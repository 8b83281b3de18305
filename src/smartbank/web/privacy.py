"""Privacy and consent (隐私与授权): the customer's consents with their history, a copy of their data, correction
and deletion requests; in the console, the correction requests tellers resolve. Consents shown read-only on the
console's customer page come from :mod:`smartbank.web.console`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.customers import service as customers
from smartbank.errors import Conflict, Forbidden, SmartbankError, ValidationFailed
from smartbank.privacy import service as privacy
from smartbank.web import forms
from smartbank.web.auth import Customer, Staff, me
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_console_page, register_portal_page
from smartbank.web.render import env, render
from smartbank.web.routing import web_router

router = web_router()

register_portal_page("/privacy", "nav.portal_privacy", order=90)
QUEUE = "/console/privacy/corrections"
register_console_page(QUEUE, "nav.console_privacy", order=95)

F = Annotated[str, Form()]
# the sign-up form names the privacy notice the customer accepts (auth/signup.html)
env.globals["privacy_notice_version"] = customers.PRIVACY_NOTICE_VERSION


def _page(request: Request, actor: Any, *, values: dict[str, str] | None = None, error: str | None = None,
          status_code: int = 200) -> Response:
    cid = me(actor)

    def work(s):
        return (customers.list_consents(s, actor, cid), customers.consent_history(s, actor, cid)[:30],
                privacy.list_requests(s, actor), privacy.deletion_check(s, actor))

    consents, history, requests, deletion = db.run_in_transaction(work)
    return render(request, "portal/privacy.html", status_code=status_code, consents=consents, history=history,
                  requests=requests, deletion=deletion, fields=privacy.CORRECTABLE_FIELDS,
                  notice_version=customers.PRIVACY_NOTICE_VERSION,
                  values=values or {"field": "", "value": "", "note": ""}, error=error)


@router.get("/privacy")
def privacy_page(request: Request, actor: Customer) -> Response:
    return _page(request, actor)


@router.post("/privacy/consents")
def save_consents(request: Request, actor: Customer, consent_form: F = "", consent_marketing_sms: F = "",
                  consent_marketing_email: F = "", consent_marketing_push: F = "", consent_marketing_phone: F = "",
                  consent_personalised_recommendation: F = "", consent_partner_sharing: F = "",
                  consent_analytics: F = "") -> Response:
    """One form with a checkbox per purpose: each purpose whose box differs from its state now is granted or
    withdrawn (channel ``web``); the others are left as they are (a default stays a default)."""
    if consent_form != "1":  # not the consent form: change nothing (an empty form is not "all off")
        return _page(request, actor, error=forms.message(forms.FormError("error.bad_request"), lang_of(request)),
                     status_code=422)
    boxes = {"marketing_sms": consent_marketing_sms, "marketing_email": consent_marketing_email,
             "marketing_push": consent_marketing_push, "marketing_phone": consent_marketing_phone,
             "personalised_recommendation": consent_personalised_recommendation,
             "partner_sharing": consent_partner_sharing, "analytics": consent_analytics}
    cid = me(actor)

    def work(s):
        now = {c["purpose"]: c["granted"] for c in customers.list_consents(s, actor, cid)}
        for purpose, box in boxes.items():  # a purpose the form does not show is left as it is
            wanted = box == "on"
            if wanted != now[purpose]:
                customers.set_consent(s, actor, cid, purpose=purpose, granted=wanted, given_via="web")

    db.run_in_transaction(work)
    return RedirectResponse("/privacy?notice=consents_saved", status_code=303)


@router.get("/privacy/export")
def export(request: Request, actor: Customer, format: str = "json") -> Response:
    fmt = format if format in privacy.EXPORT_FORMATS else "json"
    body, name, media = db.run_in_transaction(lambda s: privacy.export_own(s, actor, fmt=fmt))
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/privacy/corrections")
def request_correction(request: Request, actor: Customer, field: F = "", value: F = "", note: F = "") -> Response:
    values = {"field": field, "value": value, "note": note}
    try:
        text = forms.short_text(note, privacy.MAX_NOTE)
        db.run_in_transaction(lambda s: privacy.request_correction(s, actor, field=field, value=value,
                                                                   note=text or None))
    except Conflict as exc:
        return _page(request, actor, values=values, error=forms.message(exc, lang_of(request)), status_code=409)
    except forms.FormError as exc:
        return _page(request, actor, values=values, error=forms.message(exc, lang_of(request)), status_code=422)
    except ValidationFailed:
        return _page(request, actor, values=values, error=forms.message(forms.FormError("form.bad_correction"),
                                                                        lang_of(request)), status_code=422)
    return RedirectResponse("/privacy?notice=correction_sent", status_code=303)


@router.post("/privacy/deletion")
def request_deletion(request: Request, actor: Customer, confirm: F = "") -> Response:
    if confirm != "yes":
        return _page(request, actor, error=forms.message(forms.FormError("form.confirm_deletion"), lang_of(request)),
                     status_code=422)
    try:
        done = db.run_in_transaction(lambda s: privacy.request_deletion(s, actor, confirm=True))
    except SmartbankError as exc:
        return _page(request, actor, error=forms.message(exc, lang_of(request)), status_code=exc.status_code)
    response = render(request, "portal/privacy_deleted.html", outcome=done["outcome"])
    response.delete_cookie("sb_session")
    return response


# ----------------------------------------------------------------------------------------------
# the console: correction requests


def _queue(request: Request, actor: Any, *, error: str | None = None, status_code: int = 200) -> Response:
    if not actor.can("privacy.requests.resolve"):
        raise Forbidden("your role may not do this")
    items = db.run_in_transaction(lambda s: privacy.correction_queue(s, actor))
    return render(request, "console/privacy_corrections.html", status_code=status_code, items=items, error=error)


@router.get(QUEUE)
def correction_queue(request: Request, actor: Staff) -> Response:
    return _queue(request, actor)


@router.post(QUEUE + "/{request_id}/resolve")
def resolve(request: Request, request_id: int, actor: Staff, decision: F = "", note: F = "") -> Response:
    if not actor.can("privacy.requests.resolve"):
        raise Forbidden("your role may not do this")
    if decision not in ("accept", "reject"):
        raise forms.FormError("error.bad_request")
    try:
        text = forms.short_text(note, privacy.MAX_NOTE)
        db.run_in_transaction(lambda s: privacy.resolve_correction(s, actor, request_id, accept=decision == "accept",
                                                                   note=text or None))
    except Forbidden:
        raise
    except SmartbankError as exc:
        return _queue(request, actor, error=forms.message(exc, lang_of(request)), status_code=exc.status_code)
    notice = "correction_accepted" if decision == "accept" else "correction_rejected"
    return RedirectResponse(f"{QUEUE}?notice={notice}", status_code=303)

"""Bill payment (biller by category, bills by customer reference number) and mobile top-up."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import SmartbankError
from smartbank.payments import service as payments
from smartbank.payments.service import BILL_CATEGORIES
from smartbank.web import forms, views
from smartbank.web import risk as risk_pages
from smartbank.web.auth import Customer
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()
register_portal_page("/bills", "nav.bills", order=40)
register_portal_page("/topup", "nav.topup", order=50)

F = Annotated[str, Form()]
TOP_UP_YUAN = ("10", "20", "30", "50", "100", "200", "300", "500")


def _biller(b) -> dict[str, Any]:
    return {"code": b.code, "name_zh": b.name_zh, "name_en": b.name_en, "category": b.category, "city": b.city,
            "requires_bill": bool(b.requires_bill)}


def _bill(b) -> dict[str, Any]:
    return {"id": b.id, "period": b.period, "amount_minor": b.amount_minor, "currency": b.currency,
            "due_date": b.due_date, "status": b.status, "reference": b.reference}


def _accounts(s, actor) -> list[dict[str, Any]]:
    return views.payable([views.account(a) for a in payments.list_accounts(s, actor)])


@router.get("/bills")
def bills_home(request: Request, actor: Customer, category: str = "") -> Response:
    category = category if category in BILL_CATEGORIES else ""
    billers = db.run_in_transaction(lambda s: [_biller(b) for b in payments.list_billers(s, category or None)])
    return render(request, "portal/bills.html", categories=BILL_CATEGORIES, category=category, billers=billers)


def _biller_page(request: Request, actor, code: str, reference: str, *, error: str | None = None,
                 status_code: int = 200) -> Response:
    lang = lang_of(request)
    reference = reference.strip()

    def work(s):
        biller = _biller(payments.get_biller(s, code))
        bills, err = None, None
        if reference:
            try:
                bills = [_bill(b) for b in payments.lookup_bills(s, code, reference)]
            except SmartbankError as exc:
                err = forms.message(exc, lang)
        return biller, bills, err, _accounts(s, actor)

    biller, bills, lookup_error, accounts = db.run_in_transaction(work)
    if not biller["requires_bill"]:
        return RedirectResponse(f"/topup?biller={biller['code']}", status_code=303)
    keys = {b["id"]: forms.new_key() for b in bills or []}
    return render(request, "portal/biller.html", status_code=422 if lookup_error else status_code, biller=biller,
                  reference=reference, bills=bills, accounts=accounts, keys=keys, error=error or lookup_error)


@router.get("/bills/{code}")
def biller_page(request: Request, code: str, actor: Customer, reference: str = "") -> Response:
    return _biller_page(request, actor, code, reference[:40])


@router.post("/bills/pay")
def bill_pay(request: Request, actor: Customer, biller: F = "", reference: F = "", bill_id: F = "",
             from_account: F = "", idempotency_key: F = "", challenge_id: F = "", otp: F = "") -> Response:
    key = forms.key_or_new(idempotency_key)
    try:
        _, res = db.run_in_transaction(lambda s: payments.pay_bill(
            s, actor, from_account_id=forms.int_id(from_account), bill_id=forms.int_id(bill_id, "bills.bad_bill"),
            idempotency_key=key, channel="web", challenge_id=risk_pages.challenge_id_of(challenge_id),
            otp=otp.strip() or None))
    except SmartbankError as exc:
        values = {"biller": biller, "reference": reference, "bill_id": bill_id, "from_account": from_account,
                  "idempotency_key": key}
        page = risk_pages.handle(request, exc, action="/bills/pay", values=values, challenge_id=challenge_id)
        if isinstance(page, str):
            return _biller_page(request, actor, biller, reference[:40], error=page, status_code=422)
        return page
    notice = "transfer_held" if res.transfer.get("risk") is not None else "bill_paid"
    return RedirectResponse(f"/transfers/{res.id}?notice={notice}", status_code=303)


def _topup_page(request: Request, actor, values: dict[str, str], *, error: str | None = None,
                status_code: int = 200) -> Response:
    def work(s):
        return [_biller(b) for b in payments.list_billers(s) if not b.requires_bill], _accounts(s, actor)

    billers, accounts = db.run_in_transaction(work)
    if not values.get("from_account") and accounts:
        values["from_account"] = str(accounts[0]["id"])
    return render(request, "portal/topup.html", status_code=status_code, billers=billers, accounts=accounts,
                  amounts=TOP_UP_YUAN, values=values, error=error,
                  here=None if request.method == "GET" else "/topup")


@router.get("/topup")
def topup_form(request: Request, actor: Customer, biller: str = "") -> Response:
    values = {"biller": biller[:32], "phone": "", "amount": "50", "from_account": "",
              "idempotency_key": forms.new_key()}
    return _topup_page(request, actor, values)


@router.post("/topup")
def topup(request: Request, actor: Customer, biller: F = "", phone: F = "", amount: F = "",
          from_account: F = "", idempotency_key: F = "", challenge_id: F = "", otp: F = "") -> Response:
    values = {"biller": biller, "phone": phone, "amount": amount, "from_account": from_account,
              "idempotency_key": forms.key_or_new(idempotency_key)}
    try:
        if not biller:
            raise forms.FormError("topup.choose_operator")
        res = db.run_in_transaction(lambda s: payments.top_up(
            s, actor, from_account_id=forms.int_id(from_account), biller_code=biller, phone=phone,
            amount_minor=forms.amount(amount), idempotency_key=values["idempotency_key"], channel="web",
            challenge_id=risk_pages.challenge_id_of(challenge_id), otp=otp.strip() or None))
    except SmartbankError as exc:
        page = risk_pages.handle(request, exc, action="/topup", values=values, challenge_id=challenge_id)
        if isinstance(page, str):
            return _topup_page(request, actor, values, error=page, status_code=422)
        return page
    notice = "transfer_held" if res.transfer.get("risk") is not None else "topup_done"
    return RedirectResponse(f"/transfers/{res.id}?notice={notice}", status_code=303)

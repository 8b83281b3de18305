"""Transfers with a confirmation step, saved payees, scheduled and recurring transfers."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.errors import SmartbankError
from smartbank.ledger import service as ledger
from smartbank.payments import service as payments
from smartbank.payments.service import FREQUENCIES
from smartbank.web import forms, views
from smartbank.web import risk as risk_pages
from smartbank.web.auth import Customer, me
from smartbank.web.i18n import lang_of, register_messages
from smartbank.web.nav import register_portal_page
from smartbank.web.render import money, render
from smartbank.web.routing import web_router

router = web_router()
register_portal_page("/transfer", "nav.transfer", order=10)
register_portal_page("/payees", "nav.payees", order=20)
register_portal_page("/scheduled", "nav.scheduled", order=30)
register_messages("en", {"transfer": {
    "otp_title": "Confirm with a one-time code",
    "otp_sent": "We sent a one-time code by text message to your phone. Enter it to make this payment.",
    "otp_sent_to": "We sent a one-time code by text message to {phone}. Enter it to make this payment.",
    "otp_label": "One-time code", "otp_submit": "Confirm payment", "otp_why": "Why we ask",
    "otp_left": "Attempts left: {n}"},
    "notice": {"transfer_held": "Your payment is held for a quick security check; the money is reserved, not "
                                "sent. We will notify you of the outcome."}})
register_messages("zh", {"transfer": {
    "otp_title": "请输入动态验证码",
    "otp_sent": "我们已通过短信将动态验证码发送到您的手机，输入后即可完成付款。",
    "otp_sent_to": "我们已通过短信将动态验证码发送至 {phone}，输入后即可完成付款。",
    "otp_label": "动态验证码", "otp_submit": "确认付款", "otp_why": "为什么需要验证", "otp_left": "剩余尝试次数：{n}"},
    "notice": {"transfer_held": "您的付款正在进行安全审核，款项已冻结、尚未转出，审核结果将通知您。"}})

F = Annotated[str, Form()]


def _payee(p) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "nickname": p.nickname, "account_number": p.account_number}


def _choices(s, actor) -> tuple[list[dict], list[dict]]:
    accounts = views.payable([views.account(a) for a in payments.list_accounts(s, actor)])
    payees = [_payee(p) for p in payments.list_payees(s, actor, me(actor))]
    return accounts, payees


# ----------------------------------------------------------------------------------------------
# transfer: form -> confirm -> submit


def _transfer_form(request: Request, actor, values: dict[str, str], *, error: str | None = None,
                   error_field: str | None = None, status_code: int = 200) -> Response:
    def work(s):
        accounts, payees = _choices(s, actor)
        if not values.get("from_account") and accounts:
            values["from_account"] = str(accounts[0]["id"])
        chosen = next((a for a in accounts if str(a["id"]) == values.get("from_account")), None)
        currency = chosen["currency"] if chosen else "CNY"
        return accounts, payees, payments.daily_allowance(s, actor, currency=currency)

    accounts, payees, allowance = db.run_in_transaction(work)
    return render(request, "portal/transfer.html", status_code=status_code, accounts=accounts, payees=payees,
                  values=values, error=error, error_field=error_field, allowance=allowance,
                  here=None if request.method == "GET" else "/transfer")


@router.get("/transfer")
def transfer_form(request: Request, actor: Customer, payee: int | None = None, to: str = "",
                  from_account: int | None = None) -> Response:
    to_account = to[:40]
    if payee is not None:
        to_account = db.run_in_transaction(lambda s: payments.get_payee(s, actor, payee).account_number)
    values = {"from_account": str(from_account or ""), "to_account": to_account, "amount": "", "memo": "",
              "idempotency_key": forms.new_key()}
    return _transfer_form(request, actor, values)


class FieldRefusal(Exception):
    """A service or form refusal of the first step and the form field it concerns (shown beside that field)."""

    def __init__(self, exc: SmartbankError, field: str | None):
        super().__init__(exc.message)
        self.exc = exc
        self.field = field


# which field a refusal of the first step concerns
_FIELD_OF = {"form.choose_account": "from_account", "form.account_number_required": "to_account",
             "form.bad_account_number": "to_account", "transfer.same_account": "to_account",
             "form.amount_required": "amount", "form.bad_amount": "amount", "form.amount_positive": "amount",
             "form.too_long": "memo", "payments.over_daily_limit": "amount", "insufficient_funds": "amount",
             "daily_limit_exceeded": "amount", "not_found": "to_account", "account_not_open": "from_account"}


def _checked(s, actor, values: dict[str, str]) -> dict[str, Any]:
    """Everything the confirm page shows, validated through the payments service (the rules a payment made now
    would meet: accounts, amount, what is left of today's limit, balance); raises FieldRefusal."""
    try:
        src = payments.owned_account(s, actor, forms.int_id(values["from_account"]))
        to_number = forms.account_number(values["to_account"])
        if to_number == src.number:
            raise forms.FormError("transfer.same_account")
        minor = forms.amount(values["amount"], src.currency)
        memo = forms.short_text(values["memo"], 100)
        # refused here, at the first step, rather than after the customer has confirmed
        payments.check_payment(s, actor, payments.PaymentRequest(
            from_account_id=src.id, to_account_number=to_number, amount_minor=minor, currency=src.currency,
            idempotency_key=values["idempotency_key"], memo=memo, channel="web"))
    except SmartbankError as exc:
        field = _FIELD_OF.get(exc.reason) or _FIELD_OF.get(exc.code)
        if exc.code == "not_found" and "account_id" in exc.details:
            field = "from_account"
        raise FieldRefusal(exc, field) from exc
    payee = next((p for p in payments.list_payees(s, actor, me(actor)) if p.account_number == to_number),
                 None)
    return {"from": views.account(src), "to_account": to_number, "payee": _payee(payee) if payee else None,
            "amount_minor": minor, "currency": src.currency, "memo": memo}


def _values(from_account: str, to_account: str, amount: str, memo: str, idempotency_key: str) -> dict[str, str]:
    return {"from_account": from_account, "to_account": to_account, "amount": amount, "memo": memo,
            "idempotency_key": forms.key_or_new(idempotency_key)}


@router.get("/transfer/confirm")
def transfer_confirm_get() -> Response:
    return RedirectResponse("/transfer", status_code=303)


@router.post("/transfer/confirm")
def transfer_confirm(request: Request, actor: Customer, from_account: F = "", to_account: F = "",
                     amount: F = "", memo: F = "", idempotency_key: F = "") -> Response:
    values = _values(from_account, to_account, amount, memo, idempotency_key)
    try:
        checked = db.run_in_transaction(lambda s: _checked(s, actor, values))
    except FieldRefusal as exc:
        return _transfer_form(request, actor, values, error=forms.message(exc.exc, lang_of(request)),
                              error_field=exc.field, status_code=422)
    values["amount"] = forms.plain_amount(checked["amount_minor"], checked["currency"])
    return render(request, "portal/transfer_confirm.html", c=checked, values=values, here="/transfer")


@router.post("/transfer/edit")
def transfer_edit(request: Request, actor: Customer, from_account: F = "", to_account: F = "", amount: F = "",
                  memo: F = "", idempotency_key: F = "") -> Response:
    return _transfer_form(request, actor, _values(from_account, to_account, amount, memo, idempotency_key))


@router.post("/transfer/submit")
def transfer_submit(request: Request, actor: Customer, from_account: F = "", to_account: F = "",
                    amount: F = "", memo: F = "", idempotency_key: F = "", challenge_id: F = "",
                    otp: F = "") -> Response:
    """Make the payment. The risk checks may ask for a one-time code first (the code step posts here again
    with ``challenge_id`` and ``otp``), hold it for a review, or stop it."""
    values = _values(from_account, to_account, amount, memo, idempotency_key)

    def work(s):
        c = _checked(s, actor, values)
        req = payments.PaymentRequest(from_account_id=c["from"]["id"], to_account_number=c["to_account"],
                                      amount_minor=c["amount_minor"], currency=c["currency"],
                                      idempotency_key=values["idempotency_key"], memo=c["memo"], channel="web",
                                      challenge_id=risk_pages.challenge_id_of(challenge_id),
                                      otp=otp.strip() or None)
        return payments.pay(s, actor, req)

    try:
        res = db.run_in_transaction(work)
    except FieldRefusal as exc:
        return _transfer_form(request, actor, values, error=forms.message(exc.exc, lang_of(request)),
                              error_field=exc.field, status_code=422)
    except SmartbankError as exc:
        page = risk_pages.handle(request, exc, action="/transfer/submit", values=values, challenge_id=challenge_id)
        if isinstance(page, str):
            return _transfer_form(request, actor, values, error=page,
                                  status_code=403 if exc.status_code == 403 else 422)
        return page
    notice = "transfer_held" if res.transfer.get("risk") is not None else "transfer_done"
    return RedirectResponse(f"/transfers/{res.id}?notice={notice}", status_code=303)


# ----------------------------------------------------------------------------------------------
# payees


def _payees_page(request: Request, actor, values: dict[str, str] | None = None, *, error: str | None = None,
                 status_code: int = 200) -> Response:
    payees = db.run_in_transaction(
        lambda s: [_payee(p) for p in payments.list_payees(s, actor, me(actor))])
    return render(request, "portal/payees.html", status_code=status_code, payees=payees, error=error,
                  values=values or {"name": "", "account_number": "", "nickname": ""}, here="/payees")


@router.get("/payees")
def payees_page(request: Request, actor: Customer) -> Response:
    return _payees_page(request, actor)


@router.post("/payees")
def payee_add(request: Request, actor: Customer, name: F = "", account_number: F = "",
              nickname: F = "") -> Response:
    values = {"name": name, "account_number": account_number, "nickname": nickname}
    try:
        number = forms.account_number(account_number)
        nick = forms.short_text(nickname, 64) or None
        db.run_in_transaction(lambda s: payments.add_payee(s, actor, me(actor), name=name,
                                                           account_number=number, nickname=nick))
    except SmartbankError as exc:
        return _payees_page(request, actor, values, error=forms.message(exc, lang_of(request)), status_code=422)
    return RedirectResponse("/payees?notice=payee_added", status_code=303)


@router.post("/payees/{payee_id}/delete")
def payee_delete(request: Request, payee_id: int, actor: Customer) -> Response:
    db.run_in_transaction(lambda s: payments.delete_payee(s, actor, payee_id))
    return RedirectResponse("/payees?notice=payee_deleted", status_code=303)


# ----------------------------------------------------------------------------------------------
# scheduled and recurring transfers


def _warning(w: payments.PaymentWarning, currency: str) -> dict[str, Any]:
    """A scheduling warning as the page shows it: its catalogue key and its figures formatted."""
    d = w.details
    return {"key": f"scheduled.warn_{w.code}",
            "kw": {"available": money(d.get("available_minor"), currency),
                   "amount": money(d.get("amount_minor"), currency),
                   "remaining": money(d.get("remaining_minor"), currency), "date": d.get("next_run", "")}}


def _scheduled(s, actor) -> list[dict[str, Any]]:
    out = []
    for x in payments.list_scheduled(s, actor, me(actor)):
        out.append({"id": x.id, "from": ledger.get_account(s, x.from_account_id).number,
                    "to": ledger.get_account(s, x.to_account_id).number, "amount_minor": x.amount_minor,
                    "currency": x.currency, "frequency": x.frequency, "start_date": x.start_date,
                    "end_date": x.end_date, "next_run": x.next_run, "runs": x.runs, "failures": x.failures,
                    "last_error": x.last_error, "status": x.status, "memo": x.memo,
                    "warnings": [_warning(w, x.currency) for w in payments.scheduling_warnings(s, x)]})
    return out


def _scheduled_page(request: Request, actor, values: dict[str, str] | None = None, *, error: str | None = None,
                    status_code: int = 200) -> Response:
    def work(s):
        accounts, payees = _choices(s, actor)
        return accounts, payees, _scheduled(s, actor)

    accounts, payees, items = db.run_in_transaction(work)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    values = values or {"from_account": str(accounts[0]["id"]) if accounts else "", "to_account": "",
                        "amount": "", "frequency": "monthly", "start_date": tomorrow, "end_date": "", "memo": ""}
    return render(request, "portal/scheduled.html", status_code=status_code, accounts=accounts, payees=payees,
                  items=items, values=values, frequencies=FREQUENCIES, error=error, here="/scheduled")


@router.get("/scheduled")
def scheduled_page(request: Request, actor: Customer) -> Response:
    return _scheduled_page(request, actor)


@router.post("/scheduled")
def scheduled_create(request: Request, actor: Customer, from_account: F = "", to_account: F = "",
                     amount: F = "", frequency: F = "", start_date: F = "", end_date: F = "",
                     memo: F = "") -> Response:
    values = {"from_account": from_account, "to_account": to_account, "amount": amount, "frequency": frequency,
              "start_date": start_date, "end_date": end_date, "memo": memo}

    def work(s):
        src = payments.owned_account(s, actor, forms.int_id(from_account))
        if frequency not in FREQUENCIES:
            raise forms.FormError("scheduled.bad_frequency")
        x = payments.schedule_transfer(
            s, actor, from_account_id=src.id, to_account_number=forms.account_number(to_account),
            amount_minor=forms.amount(amount, src.currency), currency=src.currency, frequency=frequency,
            start_date=forms.required_date(start_date), end_date=forms.optional_date(end_date),
            memo=forms.short_text(memo, 100))
        return payments.scheduling_warnings(s, x)

    try:
        warnings = db.run_in_transaction(work)
    except SmartbankError as exc:
        return _scheduled_page(request, actor, values, error=forms.message(exc, lang_of(request)),
                               status_code=422)
    # created; what stands in its way (the account holds too little now) is shown next to it in the list
    notice = "scheduled_added_warning" if warnings else "scheduled_added"
    return RedirectResponse(f"/scheduled?notice={notice}", status_code=303)


@router.post("/scheduled/{scheduled_id}/cancel")
def scheduled_cancel(request: Request, scheduled_id: int, actor: Customer) -> Response:
    db.run_in_transaction(lambda s: payments.cancel_scheduled(s, actor, scheduled_id))
    return RedirectResponse("/scheduled?notice=scheduled_cancelled", status_code=303)

"""Portal loan pages: choose a product, apply with a prefilled form (with the indicative monthly payment),
follow the application (progress line, decision and reasons in plain words) and accept or withdraw.

Every page calls :mod:`smartbank.lending.applications`, which checks who may see what; every action is a
CSRF-protected form whose request is one transaction (a refused action writes nothing).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import clock, db
from smartbank.errors import SmartbankError
from smartbank.lending import service as lending
from smartbank.lending.service import EMPLOYMENT
from smartbank.web import forms
from smartbank.web.auth import Customer
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_portal_page
from smartbank.web.render import env, page_context
from smartbank.web.routing import web_router

router = web_router()
register_portal_page("/loans/apply", "nav.loans_apply", order=60)


_APPLY = "portal/loan_apply.html"

_APP = "portal/loan_application.html"

F = Annotated[str, Form()]


def _html(request: Request, tpl: Any, status_code: int = 200, **ctx: Any) -> Response:
    from starlette.responses import HTMLResponse

    return HTMLResponse(env.get_template(tpl).render(page_context(request, **ctx)), status_code=status_code)


def _yuan(minor: int | None) -> str:
    return "" if minor is None else forms.plain_amount(minor)


def _values_from_prefill(p: dict[str, Any]) -> dict[str, str]:
    v = p["values"]
    return {"idempotency_key": forms.new_key(), "amount": _yuan(v["amount_minor"]),
            "term_months": str(v["term_months"]), "method": v["method"], "purpose": v["purpose"] or "",
            "income": _yuan(v["monthly_income_minor"]), "employment": v["employment"] or "employed",
            "employer": v["employer"] or "", "years_employed": "" if v["years_employed"] is None
            else str(v["years_employed"]), "dependents": str(v["dependents"] or 0),
            "debt": _yuan(v["existing_debt_minor"]), "repay": _yuan(v["existing_monthly_repayment_minor"]),
            "card_balance": _yuan(v["revolving_balance_minor"]), "card_limit": _yuan(v["revolving_limit_minor"]),
            "collateral_value": _yuan(v["collateral_value_minor"]),
            "collateral_description": v["collateral_description"] or "",
            "account_id": str(v["account_id"] or "")}


# the form field a refusal concerns, so that it is shown once, beside that field
_FIELD_OF_REASON = {"lending.amount_out_of_range": "amount", "lending.term_out_of_range": "term_months"}
_FIELD_OF_DETAIL = {"purpose": "purpose", "monthly_income_minor": "income", "employment": "employment",
                    "employer": "employer", "years_employed": "years_employed", "dependents": "dependents",
                    "existing_debt_minor": "debt", "existing_monthly_repayment_minor": "repay",
                    "revolving_balance_minor": "card_balance", "revolving_limit_minor": "card_limit",
                    "collateral_value_minor": "collateral_value", "collateral_description": "collateral_description"}


def _field_of(exc: SmartbankError) -> str | None:
    if exc.reason in _FIELD_OF_REASON:
        return _FIELD_OF_REASON[exc.reason]
    return _FIELD_OF_DETAIL.get(str((exc.details or {}).get("field", "")))


def _estimate(pre: dict[str, Any], v: dict[str, str]) -> dict[str, Any]:
    """The indicative payment for the typed amount and term: the service checks them against the product's
    range, so a refusal shows here, at the first step, not after the whole form."""
    try:
        amount = forms.amount(v.get("amount"))
    except forms.FormError as exc:
        exc.field = "amount"  # type: ignore[attr-defined]
        raise
    t = (v.get("term_months") or "").strip()
    if not t.isdigit() or len(t) > 4:
        exc2 = forms.FormError("loanapp.bad_number")
        exc2.field = "term_months"  # type: ignore[attr-defined]
        raise exc2
    return db.run_in_transaction(lambda s: lending.quote(
        s, product_code=pre["product"]["code"], amount_minor=amount, term_months=int(t),
        method=v.get("method") or "equal_installment", day=clock.today()))


def _page(request: Request, actor: Any, code: str, values: dict[str, str] | None = None, *,
          error: str | None = None, error_field: str | None = None, status_code: int = 200,
          estimate: bool = False) -> Response:
    def work(s):
        items = [lending.product_dict(p) for p in lending.list_products(s)]
        chosen = code if any(p["code"] == code for p in items) else (items[0]["code"] if items else "")
        pre = lending.prefill(s, actor, chosen) if chosen else None
        mine = [{"id": a.id, "number": a.number, "amount_minor": a.amount_minor, "status": a.status}
                for a in lending.list_applications(s, actor, limit=20)]
        return items, pre, mine

    items, pre, mine = db.run_in_transaction(work)
    if pre is None:
        return _html(request, _APPLY, products=[], product={"code": ""}, accounts=[], v={}, employment=EMPLOYMENT,
                     mine=mine, quote=None, here="/loans/apply")
    v = values or _values_from_prefill(pre)
    quote = None
    if error is None:
        try:
            quote = _estimate(pre, v)
        except SmartbankError as exc:
            if estimate:  # the customer asked: say what is wrong, beside the field
                error, status_code = forms.message(exc, lang_of(request)), 422
                error_field = getattr(exc, "field", None) or _field_of(exc)
    return _html(request, _APPLY, status_code=status_code, products=items, product=pre["product"],
                 accounts=pre["accounts"], v=v, employment=EMPLOYMENT, mine=mine, quote=quote, error=error,
                 error_field=error_field, here="/loans/apply")


@router.get("/loans/apply")
def apply_page(request: Request, actor: Customer, product: str = "") -> Response:
    return _page(request, actor, product[:32].upper())


def _opt_int(text: str, key: str = "loanapp.bad_number") -> int | None:
    t = (text or "").strip()
    if not t:
        return None
    if not t.isdigit() or len(t) > 4:
        raise forms.FormError(key, reason=key)
    return int(t)


@router.post("/loans/apply")
def apply_submit(request: Request, actor: Customer, product: F = "", amount: F = "", term_months: F = "",
                 method: F = "", purpose: F = "", income: F = "", employment: F = "", employer: F = "",
                 years_employed: F = "", dependents: F = "", debt: F = "", repay: F = "", card_balance: F = "",
                 card_limit: F = "", collateral_value: F = "", collateral_description: F = "", account_id: F = "",
                 idempotency_key: F = "", action: F = "submit") -> Response:
    values = {"idempotency_key": forms.key_or_new(idempotency_key), "amount": amount, "term_months": term_months,
              "method": method, "purpose": purpose, "income": income, "employment": employment, "employer": employer,
              "years_employed": years_employed, "dependents": dependents, "debt": debt, "repay": repay,
              "card_balance": card_balance, "card_limit": card_limit, "collateral_value": collateral_value,
              "collateral_description": collateral_description, "account_id": account_id}
    code = product[:32].upper()
    if action == "estimate":
        return _page(request, actor, code, values, estimate=True)

    def work(s):
        p = lending.get_product(s, code)
        secured = lending.collateral_kind(p)
        cmd = lending.ApplicationIn(
            product=code, account_id=forms.int_id(account_id), amount_minor=forms.amount(amount),
            term_months=_opt_int(term_months) or 0, method=method, purpose=forms.short_text(purpose, 200),
            monthly_income_minor=forms.optional_amount(income) or 0, employment=employment,
            employer=forms.short_text(employer, 200) or None, years_employed=_opt_int(years_employed),
            dependents=_opt_int(dependents) or 0, existing_debt_minor=forms.optional_amount(debt) or 0,
            existing_monthly_repayment_minor=forms.optional_amount(repay) or 0,
            revolving_balance_minor=forms.optional_amount(card_balance),
            revolving_limit_minor=forms.optional_amount(card_limit),
            collateral_kind=secured, collateral_value_minor=forms.optional_amount(collateral_value) if secured
            else None, collateral_description=forms.short_text(collateral_description, 300) or None if secured
            else None)
        app, _created = lending.submit(s, actor, cmd, idempotency_key=values["idempotency_key"], channel="web")
        return app.id

    try:
        app_id = db.run_in_transaction(work)
    except SmartbankError as exc:
        return _page(request, actor, code, values, error=forms.message(exc, lang_of(request)), status_code=422,
                     error_field=_field_of(exc))
    return RedirectResponse(f"/loans/applications/{app_id}?notice=loan_submitted", status_code=303)


@router.get("/loans/applications/{application_id}")
def application_page(request: Request, application_id: int, actor: Customer) -> Response:
    a = db.run_in_transaction(lambda s: lending.application_view(
        s, lending.get_application(s, actor, application_id)))
    return _html(request, _APP, a=a, here="/loans/apply")


@router.post("/loans/applications/{application_id}/accept")
def accept(request: Request, application_id: int, actor: Customer) -> Response:
    db.run_in_transaction(lambda s: lending.accept(s, actor, application_id))
    return RedirectResponse(f"/loans/applications/{application_id}?notice=loan_accepted", status_code=303)


@router.post("/loans/applications/{application_id}/withdraw")
def withdraw(request: Request, application_id: int, actor: Customer) -> Response:
    db.run_in_transaction(lambda s: lending.withdraw(s, actor, application_id))
    return RedirectResponse(f"/loans/applications/{application_id}?notice=loan_withdrawn", status_code=303)

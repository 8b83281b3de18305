"""Loan pages: the customer's "My loans" (schedule, next payment, repay and pay-off forms) and the
console's loan book (summary by classification and bucket, the loans, one loan's detail).

Every page calls :mod:`smartbank.lending.servicing`, which checks who may see or pay what; every form is
CSRF-protected and one transaction (a refused repayment writes nothing and shows the loan again).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.errors import Forbidden, NotFound, SmartbankError
from smartbank.lending import service as lending
from smartbank.security.service import Principal
from smartbank.web import forms
from smartbank.web.auth import Customer, Staff
from smartbank.web.console import require_page
from smartbank.web.i18n import lang_of
from smartbank.web.nav import register_console_page, register_portal_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router()

BOOK = "/console/lending/book"
register_portal_page("/loans", "nav.portal.loans", order=45)
register_console_page(BOOK, "nav.console.loan_book", roles=lending.BOOK_READERS, order=62)


F = Annotated[str, Form()]


@router.get("/loans")
def my_loans(request: Request, actor: Customer) -> Response:
    loans = db.run_in_transaction(lambda s: lending.list_loans(s, actor))
    return render(request, "portal/loans.html", loans=loans)


def _loan_page(request: Request, actor: Principal, loan_id: int, *, error: str | None = None,
               status_code: int = 200, values: dict[str, str] | None = None,
               error_field: str | None = None) -> Response:
    lang = lang_of(request)
    loan = db.run_in_transaction(lambda s: lending.loan_view(s, actor, loan_id, lang=lang))
    v = {"amount": "", "early_amount": "", "recalc": "reduce_payment", "idempotency_key": forms.new_key()}
    v.update(values or {})
    return render(request, "portal/loan.html", status_code=status_code, loan=loan, error=error, values=v,
                  error_field=error_field, here="/loans")


@router.get("/loans/{loan_id}")
def my_loan(request: Request, loan_id: int, actor: Customer) -> Response:
    return _loan_page(request, actor, loan_id)


def _pay(request: Request, actor: Principal, loan_id: int, fn: Any, values: dict[str, str],
         field: str | None = None) -> Response:
    """Run a repayment; a refusal shows the loan again with the refusal beside the form's amount field."""
    try:
        db.run_in_transaction(fn)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        return _loan_page(request, actor, loan_id, error=forms.message(exc, lang_of(request)), status_code=422,
                          values=values, error_field=field)
    return RedirectResponse(f"/loans/{loan_id}?notice=loan_repaid", status_code=303)


@router.post("/loans/{loan_id}/repay")
def repay(request: Request, loan_id: int, actor: Customer, amount: F = "", idempotency_key: F = "") -> Response:
    key = forms.key_or_new(idempotency_key)
    values = {"amount": amount, "idempotency_key": key}
    return _pay(request, actor, loan_id, lambda s: lending.repay(
        s, actor, loan_id, amount_minor=forms.optional_amount(amount), key=key), values, "amount")


@router.post("/loans/{loan_id}/early")
def repay_early(request: Request, loan_id: int, actor: Customer, early_amount: F = "", recalc: F = "reduce_payment",
                payoff: F = "", idempotency_key: F = "") -> Response:
    key = forms.key_or_new(idempotency_key)
    values = {"early_amount": early_amount, "recalc": recalc, "idempotency_key": key}

    def work(s: Any) -> Any:
        amount = None if payoff else forms.amount(early_amount)
        return lending.repay_early(s, actor, loan_id, amount_minor=amount, recalc=recalc, key=key)

    return _pay(request, actor, loan_id, work, values, None if payoff else "early_amount")


@router.get(BOOK)
def loan_book(request: Request, actor: Staff, bucket: str = "", classification: str = "") -> Response:
    require_page(actor, BOOK)
    b = bucket if bucket in [x[0] for x in lending.BUCKET_TABLE] else None
    c = classification if classification in [x[0] for x in lending.CLASSIFICATION_TABLE] else None

    def work(s: Any) -> Any:
        return (lending.portfolio_summary(s, actor),
                lending.loan_book(s, actor, bucket=b, classification=c, limit=500))

    summary, loans = db.run_in_transaction(work)
    lang = lang_of(request)
    names = [x[0] for x in lending.BUCKET_TABLE] + [x[0] for x in lending.CLASSIFICATION_TABLE]
    labels = {n: lending.classification_label(n, lang) for n in names}
    return render(request, "console/lending/book.html", summary=summary, loans=loans, bucket=b or "",
                  classification=c or "", labels=labels, buckets=[x[0] for x in lending.BUCKET_TABLE],
                  classes=[x[0] for x in lending.CLASSIFICATION_TABLE])


def _book_loan_page(request: Request, actor: Principal, loan_id: int, *, error: str | None = None,
                    status_code: int = 200, reason: str = "", collection: dict[str, str] | None = None,
                    error_field: str | None = None) -> Response:
    require_page(actor, BOOK)
    lang = lang_of(request)
    loan = db.run_in_transaction(lambda s: lending.loan_view(s, actor, loan_id, lang=lang))
    writer = actor.role in (*lending.WRITERS, "admin")
    can_write_off = writer and loan["status"] == "active" and loan["classification"] == "loss"
    can_collect = writer and loan["status"] == "written_off" and bool(loan["still_owed_minor"])
    collection = collection or {"amount": "", "reference": "", "idempotency_key": forms.key_or_new(None)}
    return render(request, "console/lending/book_loan.html", status_code=status_code, loan=loan, error=error,
                  reason=reason, can_write_off=can_write_off, can_collect=can_collect, collection=collection,
                  error_field=error_field, here=BOOK)


@router.get(BOOK + "/{loan_id}")
def book_loan(request: Request, loan_id: int, actor: Staff) -> Response:
    return _book_loan_page(request, actor, loan_id)


def _staff_action(request: Request, actor: Principal, loan_id: int, work: Any, notice: str,
                  field_of: dict[str, str] | None = None, **form: Any) -> Response:
    """Run a staff action on a loan in one transaction: back to the loan with a notice, or the loan page again
    with the refusal and what was typed (403 and 404 go to the error page)."""
    require_page(actor, BOOK)
    try:
        db.run_in_transaction(work)
    except (Forbidden, NotFound):
        raise
    except SmartbankError as exc:
        code = exc.status_code if exc.status_code in (409, 422) else 422
        field = (field_of or {}).get(exc.reason) or (field_of or {}).get(exc.message)
        return _book_loan_page(request, actor, loan_id, error=forms.message(exc, lang_of(request)), status_code=code,
                               error_field=field, **form)
    return RedirectResponse(f"{BOOK}/{loan_id}?notice={notice}", status_code=303)


_WRITE_OFF_FIELDS = {"a reason for the write-off is required": "reason",
                     "the reason is longer than 200 characters": "reason", "errors.lending.writeoff_confirm": "confirm"}


@router.post(BOOK + "/{loan_id}/write-off")
def write_off(request: Request, loan_id: int, actor: Staff, reason: F = "", confirm: F = "") -> Response:
    """Risk officers and administrators write off a loan classified loss (audited, one transaction): a confirm
    step (the ticked confirmation) and a reason, which the service requires and records in the audit."""

    def work(s: Any) -> Any:
        if confirm != "1" and actor.role in (*lending.WRITERS, "admin"):  # others: the service's refusal
            raise forms.FormError("errors.lending.writeoff_confirm")
        return lending.write_off(s, actor, loan_id, reason=reason)

    return _staff_action(request, actor, loan_id, work, "loan_written_off", field_of=_WRITE_OFF_FIELDS, reason=reason)


@router.post(BOOK + "/{loan_id}/collections")
def record_collection(request: Request, loan_id: int, actor: Staff, amount: F = "", reference: F = "",
                      idempotency_key: F = "") -> Response:
    """Risk officers and administrators record money received for a written-off loan (audited)."""
    values = {"amount": amount, "reference": reference, "idempotency_key": forms.key_or_new(idempotency_key)}
    return _staff_action(request, actor, loan_id, lambda s: lending.record_collection(
        s, actor, loan_id, amount_minor=forms.amount(amount), reference=reference, key=values["idempotency_key"]),
        "loan_collected", collection=values)

"""Operator console: a shell whose navigation comes from the page registry, customer search, the
customer page (accounts and recent history) and account freeze/unfreeze (audited by the service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.backoffice import service as backoffice
from smartbank.customers import service as customers
from smartbank.errors import Forbidden, SmartbankError
from smartbank.http.session import request_id
from smartbank.payments import service as payments
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.statements import service as statements
from smartbank.web import forms, views
from smartbank.web.auth import Staff
from smartbank.web.i18n import lang_of
from smartbank.web.nav import console_page, register_console_page
from smartbank.web.render import render
from smartbank.web.routing import web_router

router = web_router(prefix="/console")

# Who sees these pages, and who may freeze an account, is the permission table's (customer.search,
# customer.read, account.status): marketers work on segments, not on individual customers' records.
register_console_page("/console", "nav.console.home", order=0)
register_console_page("/console/customers", "nav.console.customers", order=10)


def require_page(actor: Principal, path: str) -> None:
    page = console_page(path)
    if page is not None and not page.allows(actor):
        raise Forbidden("your role may not do this")


def can_change_status(actor: Principal) -> bool:
    return actor.can("account.status")


@router.get("")
def console_home(request: Request, actor: Staff) -> Response:
    return render(request, "console/home.html")


@router.get("/customers")
def customer_search(request: Request, actor: Staff, q: str = "") -> Response:
    """Search (masked and audited like the API's: :func:`customers.find_customers`)."""
    require_page(actor, "/console/customers")
    q = q.strip()[:64]
    results = db.run_in_transaction(lambda s: customers.find_customers(s, actor, q, limit=50)) if q else None
    return render(request, "console/search.html", q=q, results=results)


def _customer_page(request: Request, actor: Principal, customer_id: int, *, error: str | None = None,
                   status_code: int = 200, revealed: dict | None = None) -> Response:
    require_page(actor, "/console/customers")

    def work(s):
        c = customers.view_customer(s, actor, customer_id)  # as the masking policy shows it to the role
        history = actor.can("account.history.read")
        accounts = []
        for a in payments.list_accounts(s, actor, customer_id):
            v = views.account(a)
            v["recent"] = statements.history(s, a, statements.HistoryFilter(limit=10))["items"] if history else []
            accounts.append(v)
        if history and accounts:
            security.audit_reads(s, actor, action="account.history.read", customer_ids=[customer_id],
                                 shown={"accounts": [a["id"] for a in accounts], "recent": 10})
        consents = customers.list_consents(s, actor, customer_id)  # read-only here, audited
        return c, accounts, consents

    customer, accounts, consents = db.run_in_transaction(work)
    return render(request, "console/customer.html", status_code=status_code, customer=customer,
                  accounts=accounts, consents=consents, can_change_status=can_change_status(actor), error=error,
                  can_set_limit=actor.can("customer.limit.set"), here=f"/console/customers/{customer_id}",
                  revealed=revealed,
                  reveal_fields=security.REVEAL_FIELDS if actor.role in security.REVEAL_ROLES else ())


@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: int, actor: Staff) -> Response:
    return _customer_page(request, actor, customer_id)


@router.post("/customers/{customer_id}/reveal")
def reveal_field(request: Request, customer_id: int, actor: Staff, field: Annotated[str, Form()] = "",
                 reason: Annotated[str, Form()] = "") -> Response:
    """Break-glass at the counter or on a case: one field in full, with a reason (audited by the service). The
    value is drawn on the page answered, never put in a URL."""
    require_page(actor, "/console/customers")
    try:
        shown = db.run_in_transaction(lambda s: customers.reveal_field(s, actor, customer_id, field=field,
                                                                      reason=reason))
    except Forbidden:
        raise
    except SmartbankError as exc:
        return _customer_page(request, actor, customer_id, error=forms.message(exc, lang_of(request)),
                              status_code=422)
    return _customer_page(request, actor, customer_id, revealed=shown)
@router.post("/customers/{customer_id}/daily-limit")
def daily_limit(request: Request, customer_id: int, actor: Staff, limit: Annotated[str, Form()] = "",
                reason: Annotated[str, Form()] = "") -> Response:
    """Propose the customer's new daily limit (blank: the bank's default); it applies once a second staff
    member allowed to set limits approves it on the change approvals page."""
    require_page(actor, "/console/customers")
    try:
        minor = forms.optional_amount(limit)
        db.run_in_transaction(lambda s: backoffice.propose_change(
            s, actor, kind="customer.daily_limit", target=customer_id, payload={"daily_limit_minor": minor},
            reason=reason, rid=request_id(request)))
    except Forbidden:
        raise
    except SmartbankError as exc:
        if exc.status_code == 404:
            raise
        return _customer_page(request, actor, customer_id, error=forms.message(exc, lang_of(request)),
                              status_code=exc.status_code if exc.status_code in (409, 422) else 422)
    return RedirectResponse("/console/changes?notice=change_proposed", status_code=303)


@router.post("/accounts/{account_id}/status")
def account_status(request: Request, account_id: int, actor: Staff, status: Annotated[str, Form()] = "",
                   reason: Annotated[str, Form()] = "", customer_id: Annotated[str, Form()] = "") -> Response:
    require_page(actor, "/console/customers")
    if status not in ("frozen", "open"):
        raise forms.FormError("console.bad_status")
    try:
        note = forms.short_text(reason, 200)
        acct = db.run_in_transaction(lambda s: views.account(backoffice.set_account_status(
            s, actor, account_id, status, reason=note, rid=request_id(request))))
    except Forbidden:
        raise
    except SmartbankError as exc:
        cid = forms.int_id(customer_id, "error.bad_request")
        return _customer_page(request, actor, cid, error=forms.message(exc, lang_of(request)), status_code=422)
    notice = "account_frozen" if status == "frozen" else "account_unfrozen"
    back = f"/console/customers/{acct['customer_id']}" if acct["customer_id"] else "/console/customers"
    return RedirectResponse(f"{back}?notice={notice}", status_code=303)

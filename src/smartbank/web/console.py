"""Operator console: a shell whose navigation comes from the page registry, customer search, the
customer page (accounts and recent history) and account freeze/unfreeze (audited by the service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import RedirectResponse, Response

from smartbank import db
from smartbank.assistant import service as assistant
from smartbank.backoffice import service as backoffice
from smartbank.customers import service as customers
from smartbank.errors import Forbidden, SmartbankError
from smartbank.http.session import request_id
from smartbank.payments import service as payments
from smartbank.privacy import service as privacy
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.statements import service as statements
from smartbank.web import forms, postings, views
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


def _may_open(actor: Principal, path: str) -> bool:
    page = console_page(path)
    return page is not None and page.allows(actor)


def can_change_status(actor: Principal) -> bool:
    return actor.can("account.status")


def _workbench(s, actor: Principal) -> dict:
    """The counter's desk: recent customers and the tasks waiting for this role, each through its service."""
    out: dict = {"search": actor.can("customer.search"), "recent": [], "tasks": [], "kyc": None}
    if actor.can("customer.search"):
        out["recent"] = customers.recent_customers(s, actor, limit=8)
    if actor.can("customer.kyc.verify"):
        n, rows = customers.pending_identities(s, actor, limit=5)
        out["kyc"] = {"count": n, "rows": rows}
        out["tasks"].append({"key": "kyc", "count": n, "href": "#kyc"})
    if actor.can("privacy.requests.resolve"):
        n = len(privacy.correction_queue(s, actor, status="open", limit=500))
        out["tasks"].append({"key": "corrections", "count": n, "href": "/console/privacy/corrections"})
    if _may_open(actor, "/console/changes"):  # others' proposals this role may approve (not one's own)
        pending = backoffice.list_changes(s, actor, status="pending", limit=500)
        n = sum(1 for c in pending if c.requested_by != actor.user_id)
        out["tasks"].append({"key": "changes", "count": n, "href": "/console/changes"})
    if actor.can("transfer.reverse"):
        n = len(backoffice.list_reversals(s, actor, status="requested", limit=500))
        out["tasks"].append({"key": "reversals", "count": n, "href": "/console/reversals"})
    if actor.role in assistant.AGENT_ROLES:  # the assistant's hand-offs waiting for a person
        n = assistant.handoff_counts(s, actor).get("waiting", 0)
        out["tasks"].append({"key": "handoffs", "count": n, "href": "/console/assistant/queue"})
    return out


@router.get("")
def console_home(request: Request, actor: Staff) -> Response:
    bench = db.run_in_transaction(lambda s: _workbench(s, actor))
    return render(request, "console/home.html", bench=bench)


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
    lang = lang_of(request)

    def work(s):
        c = customers.view_customer(s, actor, customer_id)  # as the masking policy shows it to the role
        history = actor.can("account.history.read")
        accounts = []
        for a in payments.list_accounts(s, actor, customer_id):
            v = views.account(a)
            recent = statements.history(s, a, statements.HistoryFilter(limit=10))["items"] if history else []
            v["recent"] = postings.add_text(payments.describe_postings(s, recent), lang)
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


def _status_page(request: Request, actor: Principal, account_id: int, status: str, *, reason: str = "",
                 error: str | None = None, status_code: int = 200) -> Response:
    """The confirm step of a freeze or unfreeze: the account, what will happen, and a required reason."""
    require_page(actor, "/console/customers")
    if status not in ("frozen", "open"):
        raise forms.FormError("console.bad_status")

    def work(s):
        a = views.account(payments.owned_account(s, actor, account_id))
        c = customers.view_customer(s, actor, a["customer_id"]) if a["customer_id"] else None
        return a, c

    account, customer = db.run_in_transaction(work)
    return render(request, "console/account_status.html", status_code=status_code, account=account,
                  customer=customer, to=status, reason=reason, error=error,
                  error_field="reason" if error else None,
                  here=f"/console/customers/{customer['id']}" if customer else "/console/customers")


@router.get("/accounts/{account_id}/status")
def account_status_confirm(request: Request, account_id: int, actor: Staff, to: str = "") -> Response:
    if not can_change_status(actor):
        raise Forbidden("your role may not do this")
    return _status_page(request, actor, account_id, to)


@router.post("/accounts/{account_id}/status")
def account_status(request: Request, account_id: int, actor: Staff, status: Annotated[str, Form()] = "",
                   reason: Annotated[str, Form()] = "") -> Response:
    """Freeze or unfreeze, from the confirm step; the service refuses an empty reason and records it."""
    require_page(actor, "/console/customers")
    if status not in ("frozen", "open"):
        raise forms.FormError("console.bad_status")
    try:
        acct = db.run_in_transaction(lambda s: views.account(backoffice.set_account_status(
            s, actor, account_id, status, reason=reason, rid=request_id(request))))
    except Forbidden:
        raise
    except SmartbankError as exc:
        if exc.status_code == 404:
            raise
        return _status_page(request, actor, account_id, status, reason=reason[:200],
                            error=forms.message(exc, lang_of(request)), status_code=422)
    notice = "account_frozen" if status == "frozen" else "account_unfrozen"
    back = f"/console/customers/{acct['customer_id']}" if acct["customer_id"] else "/console/customers"
    return RedirectResponse(f"{back}?notice={notice}", status_code=303)

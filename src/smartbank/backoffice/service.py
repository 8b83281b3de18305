"""Staff operations. Each one checks its permission (the permission table, through
:mod:`smartbank.security.service`) and writes an audit record (who, what, before/after). This module is the
back office's front door (:data:`__all__`).

Reversals are maker-checker (the ledger's ``request_reversal`` and ``approve_reversal``): one officer asks, a
different one approves (the reversal posts) or rejects. Sensitive configuration is maker-checker in the same
style (:mod:`.changes`): risk rules and limits, reference rates, loan and wealth products, a customer's daily
limit and staff roles are *proposed* (:func:`propose_change`) and take effect when a different staff member
with the right role approves them (:func:`approve_change`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from smartbank.backoffice import changes as _changes
from smartbank.backoffice.changes import CHANGE_STATUSES, ChangeRequest, SameMaker, StaleChange
from smartbank.backoffice.changes import KINDS as CHANGE_KINDS
from smartbank.customers import service as customers
from smartbank.customers.service import Customer
from smartbank.errors import NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account, ReversalRequest
from smartbank.money import check_currency
from smartbank.payments import service as payments
from smartbank.risk import service as risk
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.text import clean_text

__all__ = [
    "ACCOUNT_ADMINS", "approve_reversal", "cash", "create_customer", "create_staff_user", "get_reversal", "hold",
    "list_reversals", "open_account", "reject_reversal", "request_reversal", "resolve_hold", "set_account_status",
    "verify_identity",
    # maker-checker for sensitive configuration
    "CHANGE_KINDS", "CHANGE_STATUSES", "ChangeRequest", "SameMaker", "StaleChange", "approve_change",
    "change_as_dict", "get_change", "list_changes", "propose_change", "reject_change", "withdraw_change",
]

propose_change = _changes.propose
approve_change = _changes.approve
reject_change = _changes.reject
withdraw_change = _changes.withdraw
list_changes = _changes.listing
get_change = _changes.get
change_as_dict = _changes.as_dict

ACCOUNT_ADMINS = security.roles_for("account.status")


def _acct_state(a: Account) -> dict[str, Any]:
    return {"status": a.status, "balance_minor": a.balance_minor, "overdraft_limit_minor": a.overdraft_limit_minor}


def _cust_state(c: Customer) -> dict[str, Any]:
    # the audit trail keeps the phone masked (the number itself is encrypted in the customer's record)
    return {"name": c.name, "phone": security.mask_phone(c.phone), "daily_limit_minor": c.daily_limit_minor,
            "status": c.status}


def _kyc_state(c: Customer) -> dict[str, Any]:
    return {"kyc_status": c.kyc_status, "kyc_method": c.kyc_method}


def create_customer(session: Session, actor: Principal, cmd: customers.CustomerCreate, *,
                    document_checked: bool = False, rid: str | None = None):
    """A customer opened at a branch. ``document_checked``: the teller examined the original identity
    document with its holder, which verifies the identity (recorded as this teller's verification)."""
    actor.require("customer.create")
    if document_checked:
        # seeing the original document with its holder is a teller's job: no other role (admin included)
        actor.require("customer.kyc.verify")
    c = customers.create_customer(session, cmd)
    security.audit(session, actor, action="customer.create", object_type="customer", object_id=c.id,
                   after=_cust_state(c) | _kyc_state(c), request_id=rid)
    if document_checked:
        _verify(session, actor, c, "verified", note="", rid=rid)
    return c


def verify_identity(session: Session, actor: Principal, customer_id: int, *, outcome: str, note: str = "",
                    rid: str | None = None) -> Customer:
    """A teller's KYC decision on a customer whose identity is pending: ``verified`` after examining the
    original document with its holder, or ``rejected``. Audited with who, when and the status before."""
    actor.require("customer.kyc.verify")
    if outcome not in ("verified", "rejected"):
        raise ValidationFailed("the outcome is verified or rejected", details={"outcome": outcome})
    return _verify(session, actor, customers.get_customer(session, customer_id), outcome, note=note, rid=rid)


def _verify(session: Session, actor: Principal, c: Customer, outcome: str, *, note: str, rid: str | None) -> Customer:
    before = _kyc_state(c)
    if outcome == "verified":
        customers.record_verification(session, c, method="branch_document_check", verified_by=actor.user_id)
    else:
        customers.record_rejection(session, c, rejected_by=actor.user_id)
    security.audit(session, actor, action=f"customer.kyc.{outcome}", object_type="customer", object_id=c.id,
                   before=before, after=_kyc_state(c), request_id=rid, note=note or None)
    return c


def open_account(session: Session, actor: Principal, customer_id: int, *, kind: str, currency: str, name: str,
                 interest_rate: float | None, overdraft_limit_minor: int, rid: str | None = None) -> Account:
    actor.require("account.open")
    customers.get_customer(session, customer_id)
    if kind == "savings" and interest_rate is None:
        interest_rate = 0.0135
    a = ledger.open_account(session, customer_id=customer_id, kind=kind, currency=check_currency(currency),
                            name=name, overdraft_limit_minor=overdraft_limit_minor,
                            interest_rate=Decimal(str(interest_rate)) if interest_rate is not None else None)
    security.audit(session, actor, action="account.open", object_type="account", object_id=a.id,
                   after=_acct_state(a) | {"kind": kind, "currency": a.currency}, request_id=rid)
    return a


def set_account_status(session: Session, actor: Principal, account_id: int, status: str, *, reason: str = "",
                       rid: str | None = None) -> Account:
    """Freeze, unfreeze or close an account, audited with the account's state before and after. A freeze or an
    unfreeze stops or restarts the customer's money: it needs a reason, recorded in the audit trail."""
    actor.require("account.status")
    a = ledger.get_account(session, account_id)
    if a.kind == "internal" and actor.role != "admin":
        raise NotFound("account not found")
    if status in ("frozen", "open") and not (reason or "").strip():
        raise ValidationFailed("a reason is required to freeze or unfreeze an account",
                               reason="backoffice.status_reason_required",
                               details={"account_id": a.id, "status": status})
    note = clean_text(reason, "reason", 200, required=False) or None
    before = _acct_state(a)
    ledger.set_account_status(session, a, status)
    security.audit(session, actor, action=f"account.{status}", object_type="account", object_id=a.id,
                   before=before, after=_acct_state(a), request_id=rid, note=note)
    return a


def cash(session: Session, actor: Principal, *, account_id: int, amount_minor: int, currency: str, key: str,
         deposit: bool, memo: str = "", rid: str | None = None) -> ledger.TransferResult:
    """Cash over the counter: the bank's settlement (cash) account is the other side."""
    actor.require("cash.handle")
    a = ledger.get_account(session, account_id)
    if a.kind == "internal":
        raise ValidationFailed("cash goes to customer accounts")
    if a.kind == "loan":
        raise ValidationFailed("a loan account is repaid through the loan, not with cash over the counter")
    till = ledger.internal_account(session, "settlement", check_currency(currency))
    before = _acct_state(a)
    cmd = ledger.TransferCommand(
        key=f"u{actor.user_id}:{key}", debit_account_id=till.id if deposit else a.id,
        credit_account_id=a.id if deposit else till.id, amount_minor=amount_minor, currency=currency,
        kind="deposit" if deposit else "withdrawal", memo=memo or ("cash deposit" if deposit else "cash withdrawal"),
        initiated_by=actor.user_id,
    )
    res = ledger.transfer(session, cmd)
    if not res.replayed:
        session.refresh(a)
        security.audit(session, actor, action="cash.deposit" if deposit else "cash.withdrawal",
                       object_type="transfer", object_id=res.id, before=before, after=_acct_state(a),
                       request_id=rid)
    return res


def hold(session: Session, actor: Principal, *, from_account_id: int, to_account_id: int, amount_minor: int,
         currency: str, key: str, memo: str = "", rid: str | None = None) -> ledger.TransferResult:
    """A pending transfer: funds reserved now, posted or voided later, exactly once."""
    actor.require("hold.manage")
    res = ledger.transfer(session, ledger.TransferCommand(
        key=f"u{actor.user_id}:{key}", debit_account_id=from_account_id, credit_account_id=to_account_id,
        amount_minor=amount_minor, currency=check_currency(currency), pending=True, memo=memo,
        initiated_by=actor.user_id))
    if not res.replayed:
        security.audit(session, actor, action="hold.create", object_type="transfer", object_id=res.id,
                       after={"amount_minor": amount_minor, "from": from_account_id, "to": to_account_id},
                       request_id=rid)
    return res


def resolve_hold(session: Session, actor: Principal, *, pending_id: int, post: bool, key: str, memo: str = "",
                 rid: str | None = None) -> ledger.TransferResult:
    actor.require("hold.manage")
    res = ledger.resolve_pending(session, pending_id=pending_id, post=post, key=f"u{actor.user_id}:{key}",
                                 initiated_by=actor.user_id, memo=memo)
    if not res.replayed:
        security.audit(session, actor, action="hold.post" if post else "hold.void", object_type="transfer",
                       object_id=pending_id, before={"state": "pending"},
                       after={"state": "posted" if post else "voided", "by_transfer": res.id}, request_id=rid)
    return res


def request_reversal(session: Session, actor: Principal, *, transfer_id: int, key: str, memo: str = "",
                     overdraw: bool = False, rid: str | None = None) -> tuple[ReversalRequest, bool]:
    """Ask for a reversal (the maker). Nothing moves until a different officer approves it. Returns the request
    and whether it replays an earlier call with the same key."""
    actor.require("transfer.reverse")
    memo = clean_text(memo, "the reason", ledger.MAX_REVERSAL_REASON, required=False)
    if not memo:  # undoing a customer's payment is asked for with its reason, which the approver reads
        raise ValidationFailed("a reversal needs its reason", reason="backoffice.reversal_reason_required")
    req, replayed = ledger.request_reversal(session, transfer_id=transfer_id, key=f"u{actor.user_id}:{key}",
                                            requested_by=actor.user_id, reason=memo, overdraw=overdraw)
    if not replayed:
        security.audit(session, actor, action="transfer.reverse_request", object_type="transfer",
                       object_id=transfer_id, after={"reversal_request_id": req.id, "overdraw": bool(overdraw)},
                       request_id=rid, note=memo or None)
    return req, replayed


def approve_reversal(session: Session, actor: Principal, request_id: int, *, note: str = "",
                     rid: str | None = None) -> ReversalRequest:
    """The checker (not the maker) approves: the reversal posts. A reversed bill payment reopens its bill; a
    reversal asked for by a risk case completes the case; an overdrawn account is recorded as an exception."""
    actor.require("transfer.reverse")
    req, res = ledger.approve_reversal(session, request_id=request_id, checker_id=actor.user_id, note=note)
    reopened = payments.reopen_bill_paid_by(session, req.transfer_id)
    if req.alert_id is not None:
        risk.reversal_decided(session, actor, req.alert_id, executed=True, reversal_id=res.id, note=note)
    security.audit(session, actor, action="transfer.reverse", object_type="transfer", object_id=req.transfer_id,
                   before={"reversal_request_id": req.id, "requested_by": req.requested_by},
                   after={"reversal_id": res.id, "bills_reopened": reopened,
                          "shortfall_account_id": req.shortfall_account_id, "shortfall_minor": req.shortfall_minor},
                   request_id=rid, note=note or None)
    return req


def reject_reversal(session: Session, actor: Principal, request_id: int, *, note: str,
                    rid: str | None = None) -> ReversalRequest:
    actor.require("transfer.reverse")
    req = ledger.reject_reversal(session, request_id=request_id, checker_id=actor.user_id, note=note)
    if req.alert_id is not None:
        risk.reversal_decided(session, actor, req.alert_id, executed=False, note=note)
    security.audit(session, actor, action="transfer.reverse_reject", object_type="transfer",
                   object_id=req.transfer_id, before={"reversal_request_id": req.id, "status": "requested"},
                   after={"status": req.status}, request_id=rid, note=note)
    return req


def list_reversals(session: Session, actor: Principal, *, status: str | None = None,
                   overdrawn: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    """Reversal requests (the waiting ones are the checkers' queue); ``overdrawn``: the executed ones that left
    an account below its overdraft limit, for collections."""
    actor.require("transfer.reverse")
    rows = (ledger.reversal_exceptions(session, limit=limit) if overdrawn
            else ledger.reversal_listing(session, status=status, limit=limit))
    return [ledger.reversal_as_dict(session, r) for r in rows]


def get_reversal(session: Session, actor: Principal, request_id: int) -> dict[str, Any]:
    actor.require("transfer.reverse")
    return ledger.reversal_as_dict(session, ledger.get_reversal(session, request_id))


def create_staff_user(session: Session, actor: Principal, *, username: str, password: str, role: str,
                      display_name: str = "", reason: str = "", rid: str | None = None
                      ) -> tuple[security.User, ChangeRequest]:
    """A new staff sign-in, created inactive with its activation proposed: it can sign in once a second
    administrator approves (otherwise one administrator could create the second person of every check)."""
    actor.require("user.manage")
    if role not in security.STAFF_ROLES:
        raise ValidationFailed("a staff user has a staff role", details={"roles": list(security.STAFF_ROLES)})
    u = security.create_user(session, username=username, password=password, role=role, display_name=display_name)
    security.set_user_active(session, u.id, False)
    security.audit(session, actor, action="user.create", object_type="user", object_id=u.id,
                   after={"username": u.username, "role": u.role, "is_active": False}, request_id=rid)
    req = _changes.propose(session, actor, kind="user.active", target=u.id, payload={"active": True},
                           reason=reason or f"new staff user {u.username} ({u.role})", rid=rid)
    return u, req

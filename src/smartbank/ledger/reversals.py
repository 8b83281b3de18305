"""Reversals under maker-checker, and what a reversal may do to the account the money comes back from.

A posted transfer is corrected by a reversing transfer (:func:`smartbank.ledger.transfers.reverse`), never an
edit. Staff do not post reversals directly: one person *requests* the reversal (:func:`request`), a
different person *approves* it, which posts it (:func:`approve`), or *rejects* it (:func:`reject`).

Overdraft policy: a reversal takes money back from the account that received it. When that account no longer
holds it (the customer spent it), the reversal is refused (422 ``insufficient_funds``, naming the shortfall)
unless the request says ``overdraw`` with a reason. An approved overdrawing reversal posts, and the request
records the account and the amount it ended below its overdraft limit: the negative-balance exception
collections recovers (listed by :func:`exceptions`). The checker sees the shortfall before approving.

Roles and the audit trail are the callers' (the back office); this module keeps the ledger's rules: one
open request per transfer, maker and checker distinct, each request executed at most once (its ledger
idempotency key derives from the request id).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import (
    Conflict,
    IdempotencyConflict,
    InsufficientFunds,
    NotFound,
    PendingAlreadyResolved,
    ValidationFailed,
)
from smartbank.ledger import transfers as ledger
from smartbank.ledger.models import REVERSAL_STATUSES, Account, ReversalRequest, Transfer
from smartbank.money import format_minor

__all__ = [
    "REVERSAL_STATUSES", "ReversalRequest", "SameOfficer", "approve", "as_dict", "exceptions", "get", "listing",
    "reject", "request", "shortfall",
]

MAX_REASON = 500


class SameOfficer(Conflict):
    """The person who asked for a reversal cannot also approve it."""

    code = "same_officer"


def _reversible(session: Session, transfer_id: int) -> dict[str, Any]:
    t = ledger.get_transfer(session, transfer_id)
    if t["flags"] not in ("posted", "post_pending"):
        raise ValidationFailed("only posted transfers can be reversed", details={"transfer_id": transfer_id})
    if t["kind"] == "reversal":
        raise ValidationFailed("a reversal cannot itself be reversed; post a new transfer")
    done = session.scalars(select(Transfer.id).where(Transfer.reverses_id == transfer_id)).first()
    if done is not None:
        raise PendingAlreadyResolved("transfer already reversed", details={"reversal_id": done})
    return t


def shortfall(session: Session, transfer: dict[str, Any]) -> tuple[int, int]:
    """(account, amount): how far below its overdraft limit reversing ``transfer`` now would take the account
    the money comes back from; 0 when it holds enough (or has no limit, as the bank's internal accounts)."""
    acct = session.get(Account, transfer["credit_account_id"], populate_existing=True)
    assert acct is not None
    if acct.overdraft_limit_minor is None:
        return acct.id, 0
    after = acct.available_minor - int(transfer["amount_minor"])
    return acct.id, max(0, -after - acct.overdraft_limit_minor)


def _clean(text: str | None, what: str) -> str:
    v = " ".join((text or "").split())
    if len(v) > MAX_REASON:
        raise ValidationFailed(f"{what} is longer than {MAX_REASON} characters", reason="ledger.reason_too_long",
                               details={"limit": MAX_REASON})
    return v


def request(session: Session, *, transfer_id: int, key: str, requested_by: int | None, reason: str = "",
            overdraw: bool = False, alert_id: int | None = None) -> tuple[ReversalRequest, bool]:
    """Ask for a reversal (the maker). Returns the request and whether it is a replay of the same key.

    Refused (nothing written) when the transfer cannot be reversed, is already reversed (409), already has a
    request waiting (409), or when the reversal would overdraw the account and ``overdraw`` was not asked
    for (422 ``insufficient_funds``). ``overdraw`` needs a reason."""
    reason = _clean(reason, "the reason")
    prior = session.scalars(select(ReversalRequest).where(ReversalRequest.idempotency_key == key)).first()
    if prior is not None:
        if prior.transfer_id != transfer_id or bool(prior.overdraw) != bool(overdraw):
            raise IdempotencyConflict("this idempotency key was already used for a different request",
                                      details={"reversal_request_id": prior.id})
        return prior, True
    t = _reversible(session, transfer_id)
    waiting = session.scalars(select(ReversalRequest.id).where(
        ReversalRequest.transfer_id == transfer_id, ReversalRequest.status == "requested")).first()
    if waiting is not None:
        raise Conflict("a reversal of this transfer is already waiting for approval",
                       details={"reversal_request_id": waiting})
    if overdraw and not reason:
        raise ValidationFailed("a reversal that may overdraw the account needs a reason")
    acct_id, short = shortfall(session, t)
    if short and not overdraw:
        raise InsufficientFunds(
            f"the reversal would overdraw the account by {format_minor(short, t['currency'])}: recover the money"
            " first, or ask for the reversal with overdraw and a reason",
            details={"account_id": acct_id, "shortfall_minor": short})
    req = ReversalRequest(transfer_id=transfer_id, status="requested", idempotency_key=key, reason=reason,
                          overdraw=bool(overdraw), alert_id=alert_id, requested_by=requested_by or None,
                          requested_at=clock.now())
    session.add(req)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # the same transfer asked for concurrently, after the check above
        raise Conflict("a reversal of this transfer is already waiting for approval",
                       details={"transfer_id": transfer_id}) from exc
    return req, False


def _load(session: Session, request_id: int, *, lock: bool = False) -> ReversalRequest:
    stmt = select(ReversalRequest).where(ReversalRequest.id == request_id)
    if lock:  # serialise the deciders of one request (FOR UPDATE on PostgreSQL; SQLite has one writer)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    req = session.scalars(stmt).first()
    if req is None:
        raise NotFound("reversal request not found", details={"reversal_request_id": request_id})
    return req


def get(session: Session, request_id: int) -> ReversalRequest:
    return _load(session, request_id)


def _open(req: ReversalRequest) -> None:
    if req.status != "requested":
        raise Conflict(f"this reversal request is already {req.status}", reason="ledger.reversal_request_closed",
                       details={"reversal_request_id": req.id, "status": req.status})


def approve(session: Session, *, request_id: int, checker_id: int | None, note: str = ""
            ) -> tuple[ReversalRequest, ledger.TransferResult]:
    """The checker approves: the reversal posts now (once). The maker cannot approve their own request (409
    ``same_officer``); a request that did not ask to overdraw is refused if the money is no longer there."""
    note = _clean(note, "the note")
    req = _load(session, request_id, lock=True)
    _open(req)
    if checker_id is not None and req.requested_by is not None and checker_id == req.requested_by:
        raise SameOfficer("a second, different person must approve this reversal",
                          details={"requested_by": req.requested_by})
    t = ledger.get_transfer(session, req.transfer_id)
    memo = f"reversal of #{req.transfer_id} (request #{req.id})"
    res = ledger.reverse(session, transfer_id=req.transfer_id, key=f"reversal-request:{req.id}",
                         initiated_by=req.requested_by, memo=memo, allow_overdraft=bool(req.overdraw))
    acct = session.get(Account, t["credit_account_id"], populate_existing=True)
    assert acct is not None
    if acct.overdraft_limit_minor is not None and acct.available_minor < -acct.overdraft_limit_minor:
        req.shortfall_account_id = acct.id
        req.shortfall_minor = -acct.available_minor - acct.overdraft_limit_minor
    req.status = "executed"
    req.decided_by = checker_id or None
    req.decided_at = clock.now()
    req.decision_note = note or None
    req.reversal_id = res.id
    session.flush()
    return req, res


def reject(session: Session, *, request_id: int, checker_id: int | None, note: str) -> ReversalRequest:
    """Turn a request down (nothing moves). Anyone entitled may, the maker withdrawing their own included;
    a note saying why is required."""
    note = _clean(note, "the note")
    if not note:
        raise ValidationFailed("a note saying why is required")
    req = _load(session, request_id, lock=True)
    _open(req)
    req.status = "rejected"
    req.decided_by = checker_id or None
    req.decided_at = clock.now()
    req.decision_note = note
    session.flush()
    return req


def listing(session: Session, *, status: str | None = None, limit: int = 100) -> list[ReversalRequest]:
    """Requests, the waiting ones oldest first (the checkers' queue); others most recent first."""
    if status is not None and status not in REVERSAL_STATUSES:
        raise ValidationFailed("unknown status", details={"status": status, "allowed": list(REVERSAL_STATUSES)})
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500")
    stmt = select(ReversalRequest)
    if status is not None:
        stmt = stmt.where(ReversalRequest.status == status)
    if status == "requested":
        stmt = stmt.order_by(ReversalRequest.requested_at, ReversalRequest.id)
    else:
        stmt = stmt.order_by(ReversalRequest.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def exceptions(session: Session, *, limit: int = 100) -> list[ReversalRequest]:
    """Executed reversals that left an account below its overdraft limit (for collections), newest first."""
    return list(session.scalars(select(ReversalRequest).where(
        ReversalRequest.status == "executed", ReversalRequest.shortfall_minor.is_not(None))
        .order_by(ReversalRequest.id.desc()).limit(limit)))


def as_dict(session: Session, req: ReversalRequest) -> dict[str, Any]:
    t = ledger.get_transfer(session, req.transfer_id)
    out: dict[str, Any] = {
        "id": req.id, "transfer_id": req.transfer_id, "status": req.status, "reason": req.reason,
        "overdraw": bool(req.overdraw), "alert_id": req.alert_id, "requested_by": req.requested_by,
        "requested_at": req.requested_at, "decided_by": req.decided_by, "decided_at": req.decided_at,
        "decision_note": req.decision_note, "reversal_id": req.reversal_id,
        "shortfall_account_id": req.shortfall_account_id, "shortfall_minor": req.shortfall_minor,
        "amount_minor": int(t["amount_minor"]), "currency": t["currency"], "kind": t["kind"],
        "debit_account_id": int(t["debit_account_id"]), "credit_account_id": int(t["credit_account_id"]),
        "memo": t["memo"],
    }
    if req.status == "requested":  # what approving now would do to the account the money comes back from
        _, short = shortfall(session, t)
        out["shortfall_if_approved_minor"] = short
    return out

"""Staff endpoints (operator console API). Every write is audited by the service."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response

from smartbank.api.deps import Actor, PathId, request_id, uow
from smartbank.api.routers.changes import AWAITS, proposed
from smartbank.api.schemas import (
    AccountOut,
    AuditOut,
    CashIn,
    CustomerIn,
    CustomerOut,
    DailyLimitIn,
    DecisionNoteIn,
    HoldIn,
    KeyIn,
    KycIn,
    OpenAccountIn,
    RejectIn,
    RevealIn,
    RevealOut,
    ReversalOut,
    ReverseIn,
    StatusIn,
    TransferOut,
    UserActiveIn,
    UserIn,
    UserRoleIn,
)
from smartbank.backoffice import service as backoffice
from smartbank.customers import service as customers
from smartbank.ledger import service as ledger
from smartbank.security import service as security

router = APIRouter(tags=["back office"])


def _replay_status(res, response: Response) -> TransferOut:
    if res.replayed:
        response.status_code = 200
    return TransferOut.of(res.transfer)


def _customer_out(c, actor) -> CustomerOut:
    """A customer record returned by a staff operation, as the masking policy shows it to the caller's role."""
    return CustomerOut.model_validate(customers.customer_record(c, role=actor.role,
                                                                purpose=customers.purpose_of(actor)))


@router.get("/customers", response_model=list[CustomerOut])
def search_customers(actor: Actor, q: str = Query("", max_length=64), limit: int = Query(50, ge=1, le=200)):
    """Staff search. Identity details are masked by the masking policy (a marketer may not search); every customer
    listed is recorded in the audit log as read by the caller."""
    return uow(lambda s: [CustomerOut.model_validate(c) for c in customers.find_customers(s, actor, q, limit=limit)])


@router.get("/customers/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: PathId, actor: Actor) -> CustomerOut:
    """A customer's own record, or (staff) any record, masked and audited as for the search."""
    return uow(lambda s: CustomerOut.model_validate(customers.view_customer(s, actor, customer_id)))


@router.post("/customers/{customer_id}/reveal", response_model=RevealOut)
def reveal_field(customer_id: PathId, body: RevealIn, actor: Actor) -> RevealOut:
    """Break-glass: one field of one customer in full, for a teller at the counter or an officer on a case, with
    a stated reason; audited (who, customer, field, reason, request id). Other roles: 403."""
    return uow(lambda s: RevealOut.model_validate(customers.reveal_field(s, actor, customer_id, field=body.field,
                                                                         reason=body.reason)))


@router.post("/customers", response_model=CustomerOut, status_code=201)
def create_customer(body: CustomerIn, actor: Actor, request: Request) -> CustomerOut:
    cmd = customers.CustomerCreate(**body.model_dump(exclude={"document_checked"}))
    return uow(lambda s: _customer_out(backoffice.create_customer(
        s, actor, cmd, document_checked=body.document_checked, rid=request_id(request)), actor))


@router.post("/customers/{customer_id}/kyc", response_model=CustomerOut)
def verify_identity(customer_id: PathId, body: KycIn, actor: Actor, request: Request) -> CustomerOut:
    """A teller's identity verification (the original document examined with its holder) or rejection."""
    return uow(lambda s: _customer_out(backoffice.verify_identity(
        s, actor, customer_id, outcome=body.outcome, note=body.note, rid=request_id(request)), actor))


@router.post("/customers/{customer_id}/accounts", response_model=AccountOut, status_code=201)
def open_account(customer_id: PathId, body: OpenAccountIn, actor: Actor, request: Request) -> AccountOut:
    return uow(lambda s: AccountOut.of(backoffice.open_account(
        s, actor, customer_id, kind=body.kind, currency=body.currency, name=body.name,
        interest_rate=body.interest_rate, overdraft_limit_minor=body.overdraft_limit_minor,
        rid=request_id(request))))


@router.put("/customers/{customer_id}/daily-limit", status_code=202)
def set_daily_limit(customer_id: PathId, body: DailyLimitIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose a customer's new daily limit (``null``: the bank's default); it applies once a second staff
    member allowed to set limits approves it."""
    return uow(lambda s: proposed(s, actor, request, kind="customer.daily_limit", target=customer_id,
                                  payload={"daily_limit_minor": body.daily_limit_minor}, reason=body.reason))


def _status(account_id: int, status: str, body: StatusIn, actor, request) -> AccountOut:
    return uow(lambda s: AccountOut.of(backoffice.set_account_status(
        s, actor, account_id, status, reason=body.reason, rid=request_id(request))))


@router.post("/accounts/{account_id}/freeze", response_model=AccountOut)
def freeze(account_id: PathId, body: StatusIn, actor: Actor, request: Request) -> AccountOut:
    return _status(account_id, "frozen", body, actor, request)


@router.post("/accounts/{account_id}/unfreeze", response_model=AccountOut)
def unfreeze(account_id: PathId, body: StatusIn, actor: Actor, request: Request) -> AccountOut:
    return _status(account_id, "open", body, actor, request)


@router.post("/accounts/{account_id}/close", response_model=AccountOut)
def close(account_id: PathId, body: StatusIn, actor: Actor, request: Request) -> AccountOut:
    return _status(account_id, "closed", body, actor, request)


@router.post("/cash/deposits", response_model=TransferOut, status_code=201)
def cash_deposit(body: CashIn, actor: Actor, request: Request, response: Response) -> TransferOut:
    res = uow(lambda s: backoffice.cash(s, actor, account_id=body.account_id, amount_minor=body.amount_minor,
                                        currency=body.currency.upper(), key=body.idempotency_key, deposit=True,
                                        memo=body.memo, rid=request_id(request)))
    return _replay_status(res, response)


@router.post("/cash/withdrawals", response_model=TransferOut, status_code=201)
def cash_withdrawal(body: CashIn, actor: Actor, request: Request, response: Response) -> TransferOut:
    res = uow(lambda s: backoffice.cash(s, actor, account_id=body.account_id, amount_minor=body.amount_minor,
                                        currency=body.currency.upper(), key=body.idempotency_key, deposit=False,
                                        memo=body.memo, rid=request_id(request)))
    return _replay_status(res, response)


@router.post("/holds", response_model=TransferOut, status_code=201)
def create_hold(body: HoldIn, actor: Actor, request: Request, response: Response) -> TransferOut:
    res = uow(lambda s: backoffice.hold(s, actor, from_account_id=body.from_account_id,
                                        to_account_id=body.to_account_id, amount_minor=body.amount_minor,
                                        currency=body.currency.upper(), key=body.idempotency_key, memo=body.memo,
                                        rid=request_id(request)))
    return _replay_status(res, response)


@router.post("/holds/{transfer_id}/post", response_model=TransferOut, status_code=201)
def post_hold(transfer_id: PathId, body: KeyIn, actor: Actor, request: Request, response: Response) -> TransferOut:
    res = uow(lambda s: backoffice.resolve_hold(s, actor, pending_id=transfer_id, post=True,
                                                key=body.idempotency_key, memo=body.memo, rid=request_id(request)))
    return _replay_status(res, response)


@router.post("/holds/{transfer_id}/void", response_model=TransferOut, status_code=201)
def void_hold(transfer_id: PathId, body: KeyIn, actor: Actor, request: Request, response: Response) -> TransferOut:
    res = uow(lambda s: backoffice.resolve_hold(s, actor, pending_id=transfer_id, post=False,
                                                key=body.idempotency_key, memo=body.memo, rid=request_id(request)))
    return _replay_status(res, response)


@router.post("/transfers/{transfer_id}/reverse", response_model=ReversalOut, status_code=201)
def reverse(transfer_id: PathId, body: ReverseIn, actor: Actor, request: Request, response: Response) -> ReversalOut:
    """Ask for a reversal (maker-checker): nothing moves until a different officer approves it at
    ``POST /reversals/{id}/approve``. A replay of the same key answers 200 with the same request."""
    def work(s):
        req, replayed = backoffice.request_reversal(s, actor, transfer_id=transfer_id, key=body.idempotency_key,
                                                    memo=body.memo, overdraw=body.overdraw, rid=request_id(request))
        return backoffice.get_reversal(s, actor, req.id), replayed

    out, replayed = uow(work)
    if replayed:
        response.status_code = 200
    return ReversalOut(**out)


@router.get("/reversals", response_model=list[ReversalOut])
def reversal_queue(actor: Actor, status: Literal["requested", "executed", "rejected"] | None = "requested",
                   overdrawn: bool = False, limit: int = Query(100, ge=1, le=500)) -> list[ReversalOut]:
    """Reversal requests: by default those waiting for a checker, oldest first; ``overdrawn=true``: the
    executed reversals that left an account below its overdraft limit (negative-balance exceptions)."""
    return uow(lambda s: [ReversalOut(**r) for r in backoffice.list_reversals(
        s, actor, status=status, overdrawn=overdrawn, limit=limit)])


@router.get("/reversals/{reversal_request_id}", response_model=ReversalOut)
def reversal(reversal_request_id: PathId, actor: Actor) -> ReversalOut:
    return uow(lambda s: ReversalOut(**backoffice.get_reversal(s, actor, reversal_request_id)))


@router.post("/reversals/{reversal_request_id}/approve", response_model=ReversalOut)
def approve_reversal(reversal_request_id: PathId, actor: Actor, request: Request,
                     body: DecisionNoteIn | None = None) -> ReversalOut:
    """The checker approves (409 ``same_officer`` for the officer who asked): the reversal posts, once."""
    note = body.note if body is not None else ""

    def work(s):
        req = backoffice.approve_reversal(s, actor, reversal_request_id, note=note, rid=request_id(request))
        return backoffice.get_reversal(s, actor, req.id)

    return ReversalOut(**uow(work))


@router.post("/reversals/{reversal_request_id}/reject", response_model=ReversalOut)
def reject_reversal(reversal_request_id: PathId, body: RejectIn, actor: Actor, request: Request) -> ReversalOut:
    def work(s):
        req = backoffice.reject_reversal(s, actor, reversal_request_id, note=body.note, rid=request_id(request))
        return backoffice.get_reversal(s, actor, req.id)

    return ReversalOut(**uow(work))


@router.post("/users", status_code=201)
def create_user(body: UserIn, actor: Actor, request: Request) -> dict:
    """A new staff sign-in, inactive until a second administrator approves its activation (``change``)."""
    def work(s):
        u, req = backoffice.create_staff_user(s, actor, username=body.username, password=body.password,
                                              role=body.role, display_name=body.display_name, reason=body.reason,
                                              rid=request_id(request))
        return {"id": u.id, "username": u.username, "role": u.role, "is_active": False,
                "status": "pending_approval", "message": AWAITS.format(id=req.id),
                "change": backoffice.change_as_dict(s, req)}

    return uow(work)


@router.put("/users/{user_id}/role", status_code=202)
def set_user_role(user_id: PathId, body: UserRoleIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose a staff member's new role; it applies once a second administrator approves it."""
    return uow(lambda s: proposed(s, actor, request, kind="user.role", target=user_id,
                                  payload={"role": body.role}, reason=body.reason))


@router.put("/users/{user_id}/active", status_code=202)
def set_user_active(user_id: PathId, body: UserActiveIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose activating or deactivating a staff sign-in; it applies once a second administrator approves it."""
    return uow(lambda s: proposed(s, actor, request, kind="user.active", target=user_id,
                                  payload={"active": body.active}, reason=body.reason))


@router.get("/audit", response_model=list[AuditOut])
def audit_log(actor: Actor, object_type: str | None = Query(None, max_length=64),
              object_id: str | None = Query(None, max_length=64), limit: int = Query(200, ge=1, le=1000)):
    actor.require("audit.read")
    return uow(lambda s: [AuditOut.model_validate(a) for a in security.audit_trail(
        s, object_type=object_type, object_id=object_id, limit=limit)])


@router.get("/ledger/verify")
def verify(actor: Actor) -> dict:
    actor.require("ledger.verify")
    return uow(lambda s: ledger.verify(s).as_dict())

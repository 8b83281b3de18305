from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request, Response

from smartbank import db
from smartbank.api.deps import Actor, PathId, QueryId, principal_in, uow
from smartbank.api.observability import TRANSFERS
from smartbank.api.schemas import (
    BillerOut,
    BillOut,
    BillPaymentIn,
    PayeeIn,
    PayeeOut,
    PaymentWarningOut,
    ScheduledIn,
    ScheduledOut,
    TopUpIn,
    TransferIn,
    TransferOut,
)
from smartbank.errors import SmartbankError, ValidationFailed
from smartbank.payments import service as payments

router = APIRouter(tags=["payments"])


def _key(body_key: str | None, header_key: str | None) -> str:
    if body_key and header_key and body_key != header_key:
        raise ValidationFailed("Idempotency-Key header and body idempotency_key differ")
    key = body_key or header_key
    if not key:
        raise ValidationFailed("an idempotency key is required (Idempotency-Key header or idempotency_key)")
    return key


def _me(actor) -> int:
    if actor.customer_id is None:
        raise ValidationFailed("this is a customer operation")
    return actor.customer_id


@router.post("/transfers", response_model=TransferOut, status_code=201,
             responses={200: {"description": "idempotent replay: the original transfer"},
                        202: {"description": "held for a risk review (status pending, see risk)"},
                        403: {"description": "challenge_required (send the request again with challenge_id and "
                                             "otp), otp_invalid, or payment_blocked; nothing moved"}})
def create_transfer(body: TransferIn, request: Request,
                    idempotency_key: str | None = Header(None, max_length=128)) -> Response:
    def work(s):
        actor = principal_in(s, request)
        req = payments.PaymentRequest(
            from_account_id=body.from_account_id, to_account_number=body.to_account_number,
            amount_minor=body.amount_minor, currency=body.currency.upper(),
            idempotency_key=_key(body.idempotency_key, idempotency_key), memo=body.memo, channel="api",
            challenge_id=body.challenge_id, otp=body.otp)
        return payments.pay(s, actor, req)

    try:
        # sign-in check and payment in one thread hand-off and one connection; the payment's only
        # write is the ledger's one transfer statement (the sign-in check may slide the session's
        # expiry, a write that commits on its own as on every request)
        res = db.run_single_write(work)
    except SmartbankError as exc:
        TRANSFERS.labels("transfer", exc.code).inc()
        raise
    held = res.transfer.get("risk") is not None
    TRANSFERS.labels("transfer", "replayed" if res.replayed else "held" if held else "posted").inc()
    # serialised once here (the response model is the documented shape, not validated again); a payment
    # held for a risk review is accepted, not done: 202
    return Response(TransferOut.of(res.transfer).model_dump_json(),
                    status_code=200 if res.replayed else 202 if held else 201, media_type="application/json")


@router.get("/transfers/{transfer_id}", response_model=TransferOut)
def get_transfer(transfer_id: PathId, actor: Actor) -> TransferOut:
    return uow(lambda s: TransferOut.of(payments.get_transfer(s, actor, transfer_id)))


@router.get("/payees", response_model=list[PayeeOut])
def list_payees(actor: Actor, customer_id: QueryId = None) -> list[PayeeOut]:
    cid = customer_id if customer_id is not None else _me(actor)
    return uow(lambda s: [PayeeOut.model_validate(p) for p in payments.list_payees(s, actor, cid)])


@router.post("/payees", response_model=PayeeOut, status_code=201)
def add_payee(body: PayeeIn, actor: Actor) -> PayeeOut:
    return uow(lambda s: PayeeOut.model_validate(payments.add_payee(
        s, actor, _me(actor), name=body.name, account_number=body.account_number, nickname=body.nickname)))


@router.delete("/payees/{payee_id}", status_code=204)
def delete_payee(payee_id: PathId, actor: Actor) -> None:
    uow(lambda s: payments.delete_payee(s, actor, payee_id))


def _scheduled_out(s, x) -> ScheduledOut:
    out = ScheduledOut.model_validate(x)
    out.warnings = [PaymentWarningOut(code=w.code, message=w.message, details=w.details)
                    for w in payments.scheduling_warnings(s, x)]
    return out


@router.get("/scheduled-transfers", response_model=list[ScheduledOut])
def list_scheduled(actor: Actor, customer_id: QueryId = None) -> list[ScheduledOut]:
    cid = customer_id if customer_id is not None else _me(actor)
    return uow(lambda s: [_scheduled_out(s, x) for x in payments.list_scheduled(s, actor, cid)])


@router.post("/scheduled-transfers", response_model=ScheduledOut, status_code=201,
             responses={422: {"description": "invalid, or above the daily transfer limit (it could never run)"}})
def create_scheduled(body: ScheduledIn, actor: Actor) -> ScheduledOut:
    """Schedule a transfer. Its amount is checked as an immediate transfer's is (bounds, and the daily limit
    for a transfer to another customer); a paying account that holds too little now is a warning in
    ``warnings``, not a refusal."""
    return uow(lambda s: _scheduled_out(s, payments.schedule_transfer(
        s, actor, from_account_id=body.from_account_id, to_account_number=body.to_account_number,
        amount_minor=body.amount_minor, currency=body.currency.upper(), frequency=body.frequency,
        start_date=body.start_date, end_date=body.end_date, memo=body.memo)))


@router.delete("/scheduled-transfers/{scheduled_id}", response_model=ScheduledOut)
def cancel_scheduled(scheduled_id: PathId, actor: Actor) -> ScheduledOut:
    return uow(lambda s: ScheduledOut.model_validate(payments.cancel_scheduled(s, actor, scheduled_id)))


@router.get("/billers", response_model=list[BillerOut])
def list_billers(actor: Actor, category: str | None = Query(None, max_length=16)) -> list[BillerOut]:
    return uow(lambda s: [BillerOut(code=b.code, name_zh=b.name_zh, name_en=b.name_en, category=b.category,
                                    city=b.city, requires_bill=bool(b.requires_bill))
                          for b in payments.list_billers(s, category)])


@router.get("/billers/{code}/bills", response_model=list[BillOut])
def lookup_bills(code: str, actor: Actor, reference: str = Query(..., min_length=1, max_length=40)) -> list[BillOut]:
    return uow(lambda s: [BillOut.model_validate(b) for b in payments.lookup_bills(s, code, reference)])


@router.post("/bill-payments", response_model=TransferOut, status_code=201)
def pay_bill(body: BillPaymentIn, actor: Actor, response: Response,
             idempotency_key: str | None = Header(None, max_length=128)) -> TransferOut:
    key = _key(body.idempotency_key, idempotency_key)
    _, res = uow(lambda s: payments.pay_bill(s, actor, from_account_id=body.from_account_id, bill_id=body.bill_id,
                                             idempotency_key=key, channel="api", challenge_id=body.challenge_id,
                                             otp=body.otp))
    if res.replayed:
        response.status_code = 200
    elif res.transfer.get("risk") is not None:
        response.status_code = 202
    return TransferOut.of(res.transfer)


@router.post("/top-ups", response_model=TransferOut, status_code=201)
def top_up(body: TopUpIn, actor: Actor, response: Response,
           idempotency_key: str | None = Header(None, max_length=128)) -> TransferOut:
    key = _key(body.idempotency_key, idempotency_key)
    res = uow(lambda s: payments.top_up(s, actor, from_account_id=body.from_account_id, biller_code=body.biller_code,
                                        phone=body.phone, amount_minor=body.amount_minor, idempotency_key=key,
                                        channel="api", challenge_id=body.challenge_id, otp=body.otp))
    if res.replayed:
        response.status_code = 200
    elif res.transfer.get("risk") is not None:
        response.status_code = 202
    return TransferOut.of(res.transfer)

"""Loans after disbursement: a customer's loans, schedule and repayments; the staff loan book.

Authorisation and every rule are in :mod:`smartbank.lending.servicing` (a customer's request for another
customer's loan is "not found"); each request is one transaction, so a refused repayment writes nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import Field

from smartbank.api.deps import Actor, PathId, QueryId, uow
from smartbank.api.schemas import In
from smartbank.errors import ValidationFailed
from smartbank.lending import service as lending
from smartbank.money import MAX_MINOR

router = APIRouter(prefix="/lending", tags=["lending"])

Lang = Literal["en", "zh"]
Bucket = Literal["current", "M1", "M2", "M3+"]
Classification = Literal["normal", "special_mention", "substandard", "doubtful", "loss"]


class RepaymentIn(In):
    amount_minor: int | None = Field(None, ge=1, le=MAX_MINOR, strict=True,
                                     description="omit: everything due now (early: pay the loan off)")
    early: bool = Field(False, description="pay ahead of the schedule (partial or full)")
    recalc: Literal["reduce_payment", "shorten_term"] = Field(
        "reduce_payment", description="after an early partial repayment: lower payment or shorter term")
    idempotency_key: str | None = Field(None, min_length=1, max_length=128)


class WriteOffIn(In):
    reason: str = Field(..., min_length=1, max_length=200, description="why the loan is written off (audited)")


class CollectionIn(In):
    amount_minor: int = Field(..., ge=1, le=MAX_MINOR, strict=True, description="received, in fen")
    reference: str = Field(..., min_length=1, max_length=lending.MAX_REFERENCE,
                           description="the incoming payment's reference (a collection agency's, a court's)")
    idempotency_key: str | None = Field(None, min_length=1, max_length=128)


def _key(body_key: str | None, header_key: str | None) -> str:
    if body_key and header_key and body_key != header_key:
        raise ValidationFailed("Idempotency-Key header and body idempotency_key differ")
    key = body_key or header_key
    if not key:
        raise ValidationFailed("an idempotency key is required (Idempotency-Key header or idempotency_key)")
    return key


@router.get("/loans")
def list_loans(actor: Actor, customer_id: QueryId = None) -> list[dict[str, Any]]:
    """Your loans (staff: name the customer), newest first, with the next payment."""
    return uow(lambda s: lending.list_loans(s, actor, customer_id))


@router.get("/loans/{loan_id}")
def get_loan(loan_id: PathId, actor: Actor, lang: Lang = "en") -> dict[str, Any]:
    """One loan: schedule with statuses, repayments, due now, next payment, payoff amount today, bucket and
    classification, and a sentence in plain words."""
    return uow(lambda s: lending.loan_view(s, actor, loan_id, lang=lang))


@router.get("/loans/{loan_id}/schedule")
def get_schedule(loan_id: PathId, actor: Actor, include_superseded: bool = False) -> list[dict[str, Any]]:
    return uow(lambda s: lending.loan_schedule(s, actor, loan_id, include_superseded=include_superseded))


@router.post("/loans/{loan_id}/repayments", status_code=201,
             responses={200: {"description": "idempotent replay: the original repayment"}})
def repay(loan_id: PathId, body: RepaymentIn, actor: Actor,
          idempotency_key: str | None = Header(None, max_length=128)) -> JSONResponse:
    """Repay from the loan's deposit account: what is due now (or a part of it), or, with ``early``, ahead of
    the schedule (no amount: pay off). On a written-off loan everything still owed is due: the payment is a
    recovery (``kind`` ``recovery``); ``early`` is refused (409)."""
    key = _key(body.idempotency_key, idempotency_key)
    if body.early:
        res = uow(lambda s: lending.repay_early(s, actor, loan_id, amount_minor=body.amount_minor,
                                                  recalc=body.recalc, key=key))
    else:
        res = uow(lambda s: lending.repay(s, actor, loan_id, amount_minor=body.amount_minor, key=key))
    return JSONResponse(jsonable_encoder(res), status_code=200 if res.get("replayed") else 201)


@router.post("/loans/{loan_id}/write-off")
def write_off(loan_id: PathId, body: WriteOffIn, actor: Actor) -> dict[str, Any]:
    """Staff (risk officers, administrators): write off an active loan classified loss; the allowance is used
    up against the loan's account (409 for any other loan)."""
    return uow(lambda s: lending.write_off(s, actor, loan_id, reason=body.reason))


@router.post("/loans/{loan_id}/collections", status_code=201,
             responses={200: {"description": "idempotent replay: the original record"}})
def record_collection(loan_id: PathId, body: CollectionIn, actor: Actor,
                      idempotency_key: str | None = Header(None, max_length=128)) -> JSONResponse:
    """Staff (risk officers, administrators): money received for a written-off loan outside the customer's
    accounts, through the settlement account; allocated and posted like a recovery (409 for a loan that is
    not written off or owes nothing; 422 for more than is still owed)."""
    key = _key(body.idempotency_key, idempotency_key)
    res = uow(lambda s: lending.record_collection(s, actor, loan_id, amount_minor=body.amount_minor,
                                                   reference=body.reference, key=key))
    return JSONResponse(jsonable_encoder(res), status_code=200 if res.get("replayed") else 201)


@router.get("/book")
def loan_book(actor: Actor, bucket: Bucket | None = None, classification: Classification | None = None,
              status: Literal["active", "closed", "written_off", "all"] = "active",
              limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Staff (loan officers, risk officers): loans, most days past due first."""
    return uow(lambda s: lending.loan_book(s, actor, bucket=bucket, classification=classification, status=status,
                                             limit=limit))


@router.get("/book/summary")
def book_summary(actor: Actor) -> dict[str, Any]:
    """Staff: outstanding and provisions by classification, outstanding by bucket, delinquency rate."""
    return uow(lambda s: lending.portfolio_summary(s, actor))

"""Robo-advice: propose a plan for the caller's grade and horizon, read plans, check drift, follow a plan.

Authorisation and every rule are in :mod:`smartbank.wealth.robo` (another customer's plan is "not found");
each request is one transaction, so a refused proposal or purchase writes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import Field

from smartbank.api.deps import Actor, PathId, QueryId, uow
from smartbank.api.schemas import MAX_ID, In
from smartbank.errors import ValidationFailed
from smartbank.money import MAX_MINOR
from smartbank.wealth import service as wealth

router = APIRouter(prefix="/wealth/robo", tags=["wealth"])


class PlanIn(In):
    amount_minor: int = Field(..., ge=1, le=MAX_MINOR, strict=True, description="the amount to invest, in fen")
    horizon_months: int = Field(..., ge=wealth.MIN_HORIZON, le=wealth.MAX_HORIZON, strict=True,
                                description="how long the money can stay invested")
    customer_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True,
                                    description="staff advisers: the customer the plan is for")


class FollowIn(In):
    account_id: int = Field(..., ge=1, le=MAX_ID, strict=True, description="the cash account that pays")
    idempotency_key: str | None = Field(None, min_length=1, max_length=100)


@router.post("/plans", status_code=201)
def propose(body: PlanIn, actor: Actor) -> dict[str, Any]:
    """An optimised allocation for the caller's grade in force and the horizon (weights, amounts in fen,
    the out-of-sample backtest against equal weight). Supersedes the caller's older proposed plans."""
    return uow(lambda s: wealth.plan_view(s, wealth.propose_plan(s, actor, amount_minor=body.amount_minor,
                                                        horizon_months=body.horizon_months,
                                                        customer_id=body.customer_id)))


@router.get("/plans")
def list_plans(actor: Actor, customer_id: QueryId = None) -> list[dict[str, Any]]:
    """Your plans, newest first (staff advisers: name the customer); without the backtest curves."""
    return uow(lambda s: wealth.list_plans(s, actor, customer_id))


@router.get("/plans/{plan_id}")
def get_plan(plan_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: wealth.get_plan(s, actor, plan_id))


@router.get("/plans/{plan_id}/drift")
def get_drift(plan_id: PathId, actor: Actor) -> dict[str, Any]:
    """Holdings in the plan's products against its weights; trades with reasons when a weight is outside
    the band."""
    return uow(lambda s: wealth.plan_drift(s, actor, plan_id))


@router.post("/plans/{plan_id}/follow", status_code=201,
             responses={200: {"description": "idempotent replay: the orders placed by the first request"}})
def follow(plan_id: PathId, body: FollowIn, actor: Actor,
           idempotency_key: str | None = Header(None, max_length=100)) -> JSONResponse:
    """Buy the plan's amounts from your account (one purchase per product, through the wealth orders)."""
    if body.idempotency_key and idempotency_key and body.idempotency_key != idempotency_key:
        raise ValidationFailed("Idempotency-Key header and body idempotency_key differ")
    key = body.idempotency_key or idempotency_key
    if not key:
        raise ValidationFailed("an idempotency key is required (Idempotency-Key header or idempotency_key)")
    res = uow(lambda s: wealth.follow_plan(s, actor, plan_id, account_id=body.account_id, idempotency_key=key))
    return JSONResponse(jsonable_encoder(res), status_code=200 if res.get("replayed") else 201)

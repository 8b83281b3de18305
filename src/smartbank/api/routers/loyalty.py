"""Loyalty (客户激励): a customer's points and redemptions; the staff's rules, figures and reconciliation.

``GET /loyalty/me`` (the signed-in customer's balance, lots, history, vouchers and the rewards),
``POST /loyalty/redemptions`` (spend points on a reward), ``POST /loyalty/vouchers/use`` (a payment consumes a
voucher); staff: ``GET /loyalty/customers/{customer_id}`` (``loyalty.read``), ``GET /loyalty/rules``,
``POST /loyalty/rules`` (``loyalty.manage``), ``GET /loyalty/reconcile`` (``loyalty.read``). Authorisation lives
in ``smartbank.loyalty``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.schemas import MAX_ID, In
from smartbank.loyalty import service as loyalty

router = APIRouter(prefix="/loyalty", tags=["loyalty"])


class RedeemIn(In):
    reward_code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")
    account_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True)
    # the same key again answers the first redemption and spends nothing (a request sent twice)
    idempotency_key: str | None = Field(None, min_length=8, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")


class VoucherIn(In):
    voucher_code: str = Field(min_length=4, max_length=24, pattern=r"^[A-Za-z0-9]+$")
    used_ref: str = Field(min_length=1, max_length=80)


class RuleIn(In):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")
    behaviour: Literal["bill_payment", "salary_credit", "first_wealth_purchase", "scheduled_transfer"]
    points: int = Field(ge=1, le=100_000, strict=True)
    cap_per_month: int | None = Field(None, ge=1, le=10_000_000, strict=True)
    once_per_customer: bool = False
    active: bool = True
    name_zh: str = Field("", max_length=80)
    name_en: str = Field("", max_length=80)


@router.get("/me")
def my_points(actor: Actor) -> dict[str, Any]:
    """The signed-in customer's points (1 point = 1 fen), what expires soon, the history and the rewards."""
    return uow(lambda s: loyalty.customer_points(s, actor))


@router.post("/redemptions", status_code=201)
def redeem(body: RedeemIn, actor: Actor) -> dict[str, Any]:
    """Spend points on a reward: a voucher with a code and an expiry, or cash-back into the customer's account."""
    return uow(lambda s: loyalty.redeem(s, actor, body.reward_code, account_id=body.account_id,
                                            idempotency_key=body.idempotency_key))


@router.post("/vouchers/use")
def use_voucher(body: VoucherIn, actor: Actor) -> dict[str, Any]:
    """A later payment consumes one of the customer's vouchers (once, before its expiry)."""
    return uow(lambda s: loyalty.use_voucher(s, actor, body.voucher_code, used_ref=body.used_ref))


@router.get("/customers/{customer_id}")
def customer_points(customer_id: PathId, actor: Actor) -> dict[str, Any]:
    """Staff: a customer's points (the read is audited)."""
    return uow(lambda s: loyalty.customer_points(s, actor, customer_id))


@router.get("/rules")
def rules(actor: Actor, history: bool = False) -> list[dict[str, Any]]:
    """The earning rules in force (every version with ``history``)."""
    return uow(lambda s: loyalty.list_rules(s, actor, history=history))


@router.post("/rules", status_code=201)
def set_rule(body: RuleIn, actor: Actor) -> dict[str, Any]:
    """Create a rule or write its next version (audited)."""
    return uow(lambda s: loyalty.set_rule(s, actor, body.code, behaviour=body.behaviour, points=body.points,
                                        cap_per_month=body.cap_per_month, once_per_customer=body.once_per_customer,
                                        active=body.active, name_zh=body.name_zh, name_en=body.name_en))


@router.get("/reconcile")
def reconcile(actor: Actor) -> dict[str, Any]:
    """Outstanding points x value against the liability account, and the lots against the entries."""
    return uow(lambda s: loyalty.reconciliation(s, actor))

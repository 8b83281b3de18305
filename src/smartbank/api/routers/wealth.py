"""Wealth: the risk questionnaire and assessment, the catalogue with NAVs and figures, purchases and
redemptions, orders and holdings; staff manage products and read the suitability log.

Every rule and authorisation check is in :mod:`smartbank.wealth` (another customer's order or holdings are
"not found"); each request is one transaction, except that a refused purchase keeps its suitability check
(403 ``unsuitable_product``, the reason in zh and en in ``details``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import Field

from smartbank.api.deps import Actor, PathId, QueryId, uow
from smartbank.api.routers.changes import proposed
from smartbank.api.schemas import MAX_ID, In
from smartbank.errors import ValidationFailed
from smartbank.money import MAX_MINOR
from smartbank.wealth import service as wealth

router = APIRouter(prefix="/wealth", tags=["wealth"])

Kind = Literal["time_deposit", "wmp", "fund", "insurance"]
Risk = Literal["R1", "R2", "R3", "R4", "R5"]
Code = str


def _key(body_key: str | None, header_key: str | None) -> str:
    if body_key and header_key and body_key != header_key:
        raise ValidationFailed("Idempotency-Key header and body idempotency_key differ")
    key = body_key or header_key
    if not key:
        raise ValidationFailed("an idempotency key is required (Idempotency-Key header or idempotency_key)")
    return key


# --- questionnaire and assessment ---------------------------------------------------------------------------


class AnswersIn(In):
    answers: dict[str, int] = Field(description="question id -> index of the chosen option")


class QuestionnaireIn(In):
    questions: list[dict[str, Any]]
    bands: list[dict[str, Any]]
    valid_days: int = Field(365, ge=1, le=3650, strict=True)


@router.get("/questionnaire")
def get_questionnaire(actor: Actor) -> dict[str, Any]:
    """The questionnaire in force: questions and options in zh and en, score bands, validity in days."""
    return uow(lambda s: wealth.questionnaire_view(wealth.ensure_questionnaire(s)))


@router.post("/questionnaires", status_code=201)
def publish_questionnaire(body: QuestionnaireIn, actor: Actor) -> dict[str, Any]:
    """Administrators: publish a new version (assessments already taken keep theirs)."""
    return uow(lambda s: wealth.questionnaire_view(wealth.publish_questionnaire(
        s, actor, questions=body.questions, bands=body.bands, valid_days=body.valid_days)))


@router.post("/assessments", status_code=201)
def take_assessment(body: AnswersIn, actor: Actor) -> dict[str, Any]:
    """Answer every question; the grade (C1-C5) is in force until ``expires_at``. Refused, and kept on record:
    an age answer that contradicts your ID (422 ``assessment_age_mismatch``), a retake within a day of the last
    assessment (429 ``assessment_cooling_off``) or beyond 2 retakes in 30 days (429 ``assessment_retake_limit``)."""
    def work(s: Any) -> dict[str, Any]:
        wealth.ensure_questionnaire(s)
        wealth.take_assessment(s, actor, body.answers, channel="api")
        return wealth.assessment_status(s, actor)
    return uow(work)


@router.get("/assessment")
def assessment_status(actor: Actor) -> dict[str, Any]:
    """Your grade in force, when it lapses, whether it has lapsed, the days left and, when a retake must wait
    (cooling-off or the retake limit), from when it is possible (``next_retake_at``)."""
    return uow(lambda s: wealth.assessment_status(s, actor))


@router.get("/assessments")
def assessment_history(actor: Actor) -> list[dict[str, Any]]:
    """Every assessment you took, newest first, accepted and refused (with the reason code)."""
    return uow(lambda s: wealth.assessment_history(s, actor))


# --- catalogue ----------------------------------------------------------------------------------------------


class ProductIn(In):
    code: str = Field(min_length=1, max_length=32)
    name_en: str = Field(min_length=1, max_length=160)
    name_zh: str = Field(min_length=1, max_length=160)
    kind: Kind
    risk_level: Risk
    asset_class: Literal["cash", "bond", "mixed", "equity", "alternative"]
    currency: str = "CNY"
    min_amount_minor: int = Field(ge=1, le=MAX_MINOR, strict=True)
    step_minor: int = Field(1, ge=1, le=MAX_MINOR, strict=True)
    term_days: int | None = Field(None, ge=1, le=3660, strict=True)
    rate_bps: int | None = Field(None, ge=0, le=2000, strict=True)
    subscription_fee_bps: int = Field(0, ge=0, le=1000, strict=True)
    redemption_fee_bps: int = Field(0, ge=0, le=1000, strict=True)
    management_fee_bps: int = Field(0, ge=0, le=1000, strict=True)
    settlement_days: int = Field(1, ge=0, le=10, strict=True)
    issuer: str = Field("", max_length=120)
    description_en: str = Field("", max_length=4000)
    description_zh: str = Field("", max_length=4000)
    tags: list[str] | None = None
    launched_on: date | None = None
    money_market: bool = Field(False, description="a money-market product: NAV fixed at 1.000000, 万份收益 and "
                                                  "七日年化 published daily, income accrued as units")
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class ProductPatch(In):
    name_en: str | None = Field(None, min_length=1, max_length=160)
    name_zh: str | None = Field(None, min_length=1, max_length=160)
    min_amount_minor: int | None = Field(None, ge=1, le=MAX_MINOR, strict=True)
    step_minor: int | None = Field(None, ge=1, le=MAX_MINOR, strict=True)
    subscription_fee_bps: int | None = Field(None, ge=0, le=1000, strict=True)
    redemption_fee_bps: int | None = Field(None, ge=0, le=1000, strict=True)
    management_fee_bps: int | None = Field(None, ge=0, le=1000, strict=True)
    settlement_days: int | None = Field(None, ge=0, le=10, strict=True)
    issuer: str | None = Field(None, max_length=120)
    description_en: str | None = Field(None, max_length=4000)
    description_zh: str | None = Field(None, max_length=4000)
    tags: list[str] | None = None
    risk_level: Risk | None = None
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class NavIn(In):
    day: date
    nav_micro: int | None = Field(None, ge=1, le=10**12, strict=True,
                                  description="NAV x 1,000,000 (a money-market product: 1,000,000 or omitted)")
    income_per_10k_micro: int | None = Field(None, ge=0, le=10**8, strict=True,
                                             description="money-market products: 万份收益, yuan per 10,000 units "
                                                         "x 1,000,000")


@router.get("/products")
def list_products(actor: Actor, kind: Kind | None = None, risk_level: Risk | None = None,
                  status: Literal["active", "closed", "all"] = "active") -> list[dict[str, Any]]:
    """The catalogue with each product's latest NAV."""
    return uow(lambda s: wealth.list_products(s, kind=kind, risk_level=risk_level,
                                                status=None if status == "all" else status))


@router.post("/products", status_code=202)
def create_product(body: ProductIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Product managers (marketers) and administrators: propose a new product; it is launched once a second
    product manager or administrator approves it (audited)."""
    fields = body.model_dump(exclude={"code", "reason"})
    return uow(lambda s: proposed(s, actor, request, kind="wealth.product.create", target=body.code,
                                  payload=fields, reason=body.reason))


@router.get("/products/{code}")
def get_product(code: Code, actor: Actor) -> dict[str, Any]:
    """One product: risk, fees, returns (1M/3M/1Y/since launch), annualised return and volatility, maximum
    drawdown, Sharpe ratio and a chart series of ``[day, nav_micro]``."""
    return uow(lambda s: wealth.product_page(s, code))


@router.patch("/products/{code}", status_code=202)
def update_product(code: Code, body: ProductPatch, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose changing a product's parameters, applied once a second product manager approves it."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    return uow(lambda s: proposed(s, actor, request, kind="wealth.product.edit", target=code, payload=changes,
                                  reason=body.reason))


class CloseIn(In):
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


@router.post("/products/{code}/close", status_code=202)
def close_product(code: Code, actor: Actor, request: Request, body: CloseIn | None = None) -> dict[str, Any]:
    """Propose closing a product (no new purchases; holders may still redeem), applied once approved."""
    return uow(lambda s: proposed(s, actor, request, kind="wealth.product.close", target=code, payload={},
                                  reason=body.reason if body is not None else ""))


@router.get("/products/{code}/navs")
def product_navs(code: Code, actor: Actor, start: date | None = None, end: date | None = None) -> list[Any]:
    """``[[day, nav_micro], ...]`` oldest first; a money-market product's rows are
    ``[day, nav_micro, income_per_10k_micro, yield_7d_ppm]`` (万份收益 and 七日年化, its NAV is always 1,000,000)."""
    def work(s: Any) -> list[Any]:
        p = wealth.get_product(s, code)
        if p.money_market:
            return [[d.isoformat(), wealth.STABLE_NAV, income, y]
                    for d, income, y in wealth.money_market_rows(s, p.id, start=start, end=end)]
        return [[d.isoformat(), n] for d, n in wealth.nav_history(s, p.id, start=start, end=end)]
    return uow(work)


@router.post("/products/{code}/navs", status_code=201)
def publish_nav(code: Code, body: NavIn, actor: Actor) -> dict[str, Any]:
    """Product managers and administrators: publish a NAV by hand (never rewrites one)."""
    def work(s: Any) -> dict[str, Any]:
        row = wealth.publish_nav(s, actor, code, day=body.day, nav_micro=body.nav_micro,
                                   income_per_10k_micro=body.income_per_10k_micro)
        return {"product": code.upper(), "day": row.day, "nav_micro": row.nav_micro,
                "income_per_10k_micro": row.income_per_10k_micro, "yield_7d_ppm": row.yield_7d_ppm}
    return uow(work)


# --- orders -------------------------------------------------------------------------------------------------


class PurchaseIn(In):
    product_code: str = Field(min_length=1, max_length=32)
    account_id: int = Field(ge=1, le=MAX_ID, strict=True)
    amount_minor: int = Field(ge=1, le=MAX_MINOR, strict=True)
    acknowledgement: str | None = Field(None, max_length=1000,
                                        description="the exact warning text, when buying a fund above your grade")
    recommendation_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True)
    idempotency_key: str | None = Field(None, min_length=1, max_length=128)


class RedeemIn(In):
    product_code: str = Field(min_length=1, max_length=32)
    account_id: int = Field(ge=1, le=MAX_ID, strict=True)
    units_micro: int | None = Field(None, ge=1, le=10**18, strict=True, description="omit: every unit")
    idempotency_key: str | None = Field(None, min_length=1, max_length=128)


def _order_response(session: Any, order: Any) -> JSONResponse:
    view = wealth.order_view(order, wealth.get_product_by_id(session, order.product_id))
    replayed = wealth.was_replayed(order)
    return JSONResponse(jsonable_encoder(view | {"replayed": replayed}), status_code=200 if replayed else 201)


@router.post("/orders/purchase", status_code=201,
             responses={200: {"description": "idempotent replay: the original order"},
                        403: {"description": "unsuitable_product: refused by suitability (the check is kept)"},
                        409: {"description": "acknowledgement_required: confirm the text in details"}})
def purchase(body: PurchaseIn, actor: Actor,
             idempotency_key: str | None = Header(None, max_length=128)) -> JSONResponse:
    """Buy a product from your deposit account: suitability first, then the cash moves to the product at once;
    the units arrive at settlement (trade date + the product's settlement days)."""
    key = _key(body.idempotency_key, idempotency_key)
    return uow(lambda s: _order_response(s, wealth.purchase(
        s, actor, product_code=body.product_code, account_id=body.account_id, amount_minor=body.amount_minor,
        idempotency_key=key, acknowledgement=body.acknowledgement, channel="api",
        recommendation_id=body.recommendation_id)))


@router.post("/orders/redeem", status_code=201, responses={200: {"description": "idempotent replay"}})
def redeem(body: RedeemIn, actor: Actor, idempotency_key: str | None = Header(None, max_length=128)) -> JSONResponse:
    """Sell units (all of them when ``units_micro`` is omitted); the cash arrives at settlement."""
    key = _key(body.idempotency_key, idempotency_key)
    return uow(lambda s: _order_response(s, wealth.redeem(
        s, actor, product_code=body.product_code, units_micro=body.units_micro, account_id=body.account_id,
        idempotency_key=key, channel="api")))


@router.get("/orders")
def list_orders(actor: Actor, customer_id: QueryId = None,
                status: Literal["pending", "settled", "cancelled", "failed"] | None = None,
                limit: int = Query(100, ge=1, le=500)) -> list[dict[str, Any]]:
    """Your orders, newest first (staff readers name the customer)."""
    return uow(lambda s: wealth.list_orders(s, actor, customer_id, status=status, limit=limit))


@router.get("/orders/{order_id}")
def get_order(order_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: wealth.get_order(s, actor, order_id))


@router.post("/orders/{order_id}/cancel")
def cancel_order(order_id: PathId, actor: Actor) -> dict[str, Any]:
    """Cancel a pending order on its trade date."""
    return uow(lambda s: wealth.order_view(o := wealth.cancel_order(s, actor, order_id),
                                           wealth.get_product_by_id(s, o.product_id)))


@router.get("/holdings")
def get_holdings(actor: Actor, customer_id: QueryId = None, analytics: bool = True) -> dict[str, Any]:
    """Holdings with units, NAV, market value, cost, P&L, return, and (``analytics``) annualised return and
    volatility, maximum drawdown and Sharpe ratio per holding and for the portfolio."""
    return uow(lambda s: wealth.customer_holdings(s, actor, customer_id=customer_id, with_analytics=analytics))


@router.get("/suitability-checks")
def suitability_checks(actor: Actor, outcome: Literal["pass", "refused", "acknowledged"] | None = None,
                       limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Risk officers and administrators: every suitability check, newest first."""
    return uow(lambda s: wealth.suitability_log(s, actor, outcome=outcome, limit=limit))

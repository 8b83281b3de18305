"""Lending API: products and rates, quotes, applications (customers) and the loan officers' reviews.

Authorisation and every rule are in :mod:`smartbank.lending` (applications, review, products); each
request is one transaction, so a refused request writes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import Field

from smartbank import clock
from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.routers.changes import proposed
from smartbank.api.schemas import MAX_ID, In
from smartbank.lending import service as lending
from smartbank.lending.service import EMPLOYMENT

router = APIRouter(prefix="/lending", tags=["lending"])

Money = Field(ge=0, le=10**13, strict=True, description="integer minor units (fen)")
Method = Literal["equal_installment", "equal_principal"]
Employment = Literal[EMPLOYMENT]  # type: ignore[valid-type]


class ApplicationIn(In):
    product: str = Field(min_length=1, max_length=32)
    account_id: int = Field(ge=1, le=MAX_ID, strict=True, description="your open current account")
    amount_minor: int = Field(gt=0, le=10**13, strict=True)
    term_months: int = Field(ge=1, le=360, strict=True)
    method: Method
    purpose: str = Field(min_length=1, max_length=200)
    monthly_income_minor: int = Money
    employment: Employment
    employer: str | None = Field(None, max_length=200)
    years_employed: int | None = Field(None, ge=0, le=70, strict=True)
    dependents: int = Field(0, ge=0, le=20, strict=True)
    existing_debt_minor: int = Money
    existing_monthly_repayment_minor: int = Money
    revolving_balance_minor: int | None = Field(None, ge=0, le=10**13, strict=True)
    revolving_limit_minor: int | None = Field(None, ge=1, le=10**13, strict=True)
    open_credit_lines: int | None = Field(None, ge=0, le=200, strict=True)
    real_estate_loans: int | None = Field(None, ge=0, le=50, strict=True)
    collateral_kind: Literal["property", "vehicle"] | None = None
    collateral_value_minor: int | None = Field(None, ge=1, le=10**13, strict=True)
    collateral_description: str | None = Field(None, max_length=300)
    idempotency_key: str | None = Field(None, min_length=1, max_length=128,
                                        description="or send the Idempotency-Key header")


class WithdrawIn(In):
    note: str = Field("", max_length=500)


class ClaimIn(In):
    user_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True, description="a loan officer; default: you")


class NoteIn(In):
    note: str = Field(min_length=1, max_length=lending.MAX_REVIEW_NOTE)


class DecisionIn(In):
    outcome: Literal["approve", "decline", "return"]
    amount_minor: int | None = Field(None, gt=0, le=10**13, strict=True, description="approve: at most the amount "
                                     "applied for")
    rate_bps: int | None = Field(None, ge=0, le=lending.MAX_RATE_BPS, strict=True)
    reason_code: Literal[tuple(lending.DECLINE_REASONS)] | None = None  # type: ignore[valid-type]
    note: str = Field("", max_length=lending.MAX_REVIEW_NOTE)
    version: int | None = Field(None, ge=1, le=2**31 - 1, strict=True,
                                description="the version you decided on: a concurrent change is a 409")


class ProductIn(In):
    code: str = Field(min_length=1, max_length=32)
    name_en: str = Field(min_length=1, max_length=120)
    name_zh: str = Field(min_length=1, max_length=120)
    kind: Literal["consumer", "business", "secured"]
    min_amount_minor: int = Field(gt=0, le=10**13, strict=True)
    max_amount_minor: int = Field(gt=0, le=10**13, strict=True)
    min_term_months: int = Field(ge=1, le=360, strict=True)
    max_term_months: int = Field(ge=1, le=360, strict=True)
    methods: list[Method] = Field(min_length=1, max_length=2)
    reference_rate: Literal["LPR1Y", "LPR5Y"]
    spreads_bps: dict[str, int]
    grade_limits_minor: dict[str, int]
    income_multiple: float = Field(12.0, ge=0.5, le=1000)
    max_dti: float = Field(0.55, ge=0.05, le=1.0)
    max_ltv: float | None = Field(None, ge=0.05, le=1.0)
    collateral_kind: Literal["property", "vehicle"] | None = None
    penalty_markup: float = Field(0.5, ge=0, le=1.0)
    maker_checker_minor: int | None = Field(None, gt=0, le=10**13, strict=True)
    min_age: int = Field(18, ge=18, le=100, strict=True)
    max_age: int = Field(65, ge=18, le=100, strict=True)
    description_en: str = Field("", max_length=2000)
    description_zh: str = Field("", max_length=2000)
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class ProductEditIn(In):
    name_en: str | None = Field(None, min_length=1, max_length=120)
    name_zh: str | None = Field(None, min_length=1, max_length=120)
    min_amount_minor: int | None = Field(None, gt=0, le=10**13, strict=True)
    max_amount_minor: int | None = Field(None, gt=0, le=10**13, strict=True)
    min_term_months: int | None = Field(None, ge=1, le=360, strict=True)
    max_term_months: int | None = Field(None, ge=1, le=360, strict=True)
    methods: list[Method] | None = Field(None, min_length=1, max_length=2)
    spreads_bps: dict[str, int] | None = None
    grade_limits_minor: dict[str, int] | None = None
    income_multiple: float | None = Field(None, ge=0.5, le=1000)
    max_dti: float | None = Field(None, ge=0.05, le=1.0)
    max_ltv: float | None = Field(None, ge=0.05, le=1.0)
    maker_checker_minor: int | None = Field(None, gt=0, le=10**13, strict=True)
    min_age: int | None = Field(None, ge=18, le=100, strict=True)
    max_age: int | None = Field(None, ge=18, le=100, strict=True)
    status: Literal["active", "retired"] | None = None
    description_en: str | None = Field(None, max_length=2000)
    description_zh: str | None = Field(None, max_length=2000)
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


class RateIn(In):
    name: Literal["LPR1Y", "LPR5Y"]
    rate_bps: int = Field(ge=1, le=lending.MAX_RATE_BPS, strict=True)
    effective_date: date
    reason: str = Field("", max_length=500, description="why (the change waits for a second staff member)")


# ------------------------------------------------------------------------------------------------
# products, rates, quotes


@router.get("/products")
def list_products(actor: Actor, include_retired: bool = False) -> dict[str, Any]:
    """The loan products on offer (staff may include retired ones)."""
    return uow(lambda s: {"items": [lending.product_dict(p) for p in lending.list_products(
        s, include_retired=include_retired and actor.is_staff)]})


@router.post("/products", status_code=202)
def create_product(body: ProductIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose a new product (administrators); it exists once a second administrator approves it."""
    fields = body.model_dump(exclude={"code", "reason"})
    return uow(lambda s: proposed(s, actor, request, kind="lending.product.create", target=body.code,
                                  payload=fields, reason=body.reason))


@router.patch("/products/{code}", status_code=202)
def edit_product(code: str, body: ProductEditIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose changing a product (spreads, limits, retiring it...); applied once a second administrator
    approves it, audited with before and after."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    return uow(lambda s: proposed(s, actor, request, kind="lending.product.edit", target=code, payload=changes,
                                  reason=body.reason))


@router.get("/rates")
def list_rates(actor: Actor, name: Literal["LPR1Y", "LPR5Y"] | None = None,
               on: date | None = Query(None, description="also: the rate in force on this day")) -> dict[str, Any]:
    def work(s):
        out: dict[str, Any] = {"items": lending.list_rates(s, name)}
        if on is not None:
            out["in_force"] = {n: lending.rate_on(s, n, on) for n in ([name] if name else lending.RATE_NAMES)}
        return out

    return uow(work)


@router.post("/rates", status_code=202)
def set_rate(body: RateIn, actor: Actor, request: Request) -> dict[str, Any]:
    """Propose publishing a reference rate from a date (administrators); it is published once a second
    administrator approves it."""
    return uow(lambda s: proposed(s, actor, request, kind="lending.rate.set", target=body.name,
                                  payload={"rate_bps": body.rate_bps,
                                           "effective_date": body.effective_date.isoformat()},
                                  reason=body.reason))


@router.get("/quote")
def quote(actor: Actor, product: str = Query(min_length=1, max_length=32),
          amount_minor: int = Query(gt=0, le=10**13), term_months: int = Query(ge=1, le=360),
          method: Method = "equal_installment") -> dict[str, Any]:
    """An indicative schedule head at the product's best and worst rate today. Nothing is written."""
    return uow(lambda s: lending.quote(s, product_code=product, amount_minor=amount_minor,
                                        term_months=term_months, method=method, day=clock.today()))


# ------------------------------------------------------------------------------------------------
# applications (customers)


@router.get("/applications/prefill")
def prefill(actor: Actor, product: str = Query(min_length=1, max_length=32)) -> dict[str, Any]:
    """Suggested values for an application form from the customer's profile, KYC and last application."""
    return uow(lambda s: lending.prefill(s, actor, product))


@router.post("/applications", status_code=201)
def submit(body: ApplicationIn, actor: Actor, response: Response,
           idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=128)) -> dict[str, Any]:
    """Apply; the automatic decision is made at once (approved, declined or manual review). A retry with the
    same key and body returns the same application (200); the same key with another body is a 409."""
    data = body.model_dump()
    key = data.pop("idempotency_key") or idempotency_key
    cmd = lending.ApplicationIn(**data)

    def work(s):
        app, created = lending.submit(s, actor, cmd, idempotency_key=key, channel="api")
        return lending.application_view(s, app), created

    view, created = uow(work)
    if not created:
        response.status_code = 200
    return view


@router.get("/applications")
def list_applications(actor: Actor, status: str | None = Query(None, max_length=16),
                      limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Your applications, newest first."""
    return uow(lambda s: {"items": [lending.application_view(s, a, staff=actor.is_staff)
                                    for a in lending.list_applications(s, actor, status=status, limit=limit)]})


@router.get("/applications/{application_id}")
def get_application(application_id: PathId, actor: Actor) -> dict[str, Any]:
    """One application: progress line with times, the decision with its main reasons, the offer."""
    return uow(lambda s: lending.application_view(
        s, lending.get_application(s, actor, application_id), staff=actor.is_staff))


@router.post("/applications/{application_id}/accept")
def accept(application_id: PathId, actor: Actor) -> dict[str, Any]:
    """Take an approved offer before it expires (the loan is then paid into your account)."""
    return uow(lambda s: lending.application_view(s, lending.accept(s, actor, application_id)))


@router.post("/applications/{application_id}/withdraw")
def withdraw(application_id: PathId, actor: Actor, body: WithdrawIn | None = None) -> dict[str, Any]:
    note = body.note if body is not None else ""
    return uow(lambda s: lending.application_view(s, lending.withdraw(s, actor, application_id,
                                                                                  note=note or None)))


# ------------------------------------------------------------------------------------------------
# reviews (loan officers)


@router.get("/reviews")
def review_queue(actor: Actor, mine: bool = False, awaiting_checker: bool = False,
                 limit: int = Query(100, ge=1, le=500)) -> dict[str, Any]:
    """Applications in manual review, oldest first, with the count waiting and yours."""
    def work(s):
        items = lending.review_queue(s, actor, assigned_to=actor.user_id if mine else None, limit=limit)
        if awaiting_checker:
            items = [i for i in items if i["maker_id"]]
        return {"items": items, "counts": lending.review_counts(s, actor)}

    return uow(work)


@router.get("/reviews/{application_id}")
def review_case(application_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: lending.get_review_case(s, actor, application_id))


@router.post("/reviews/{application_id}/claim")
def claim(application_id: PathId, actor: Actor, body: ClaimIn | None = None) -> dict[str, Any]:
    user_id = body.user_id if body is not None else None
    return uow(lambda s: lending.claim_review(s, actor, application_id, user_id=user_id))


@router.post("/reviews/{application_id}/notes", status_code=201)
def add_note(application_id: PathId, body: NoteIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: lending.add_review_note(s, actor, application_id, body.note))


@router.post("/reviews/{application_id}/decision")
def decide(application_id: PathId, body: DecisionIn, actor: Actor) -> dict[str, Any]:
    """Approve (amount and rate within bounds), decline (reason code and note) or, as checker, send back.
    At or above the product's maker-checker amount a second, different officer must confirm."""
    return uow(lambda s: lending.decide_review(s, actor, application_id, outcome=body.outcome,
                                       amount_minor=body.amount_minor, rate_bps=body.rate_bps,
                                       reason_code=body.reason_code, note=body.note, version=body.version))

"""Loan products and pricing.

Products are data (``loan_products``): amount and term bounds, repayment methods, the reference rate
they price from (LPR1Y / LPR5Y), a spread and a largest amount per risk grade, an income multiple, the
largest debt-service ratio, for secured products the largest loan-to-value, and the amount from which
an approval needs two loan officers (maker-checker).

Pricing of an application with grade ``g`` on day ``d``::

    rate  = reference rate in force on d (latest effective on or before d) + spread[g]
    limit = min(product max, grade_limits[g], income_multiple x monthly income,
                max_ltv x collateral value (secured products))

Grades come from the credit model's probability of default (:data:`GRADE_THRESHOLDS`).
Administrators create and edit products and publish new reference rates; every change is audited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.lending import schedule
from smartbank.lending.models import GRADES, PRODUCT_KINDS, REPAYMENT_METHODS, LoanProduct, ReferenceRate
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = [
    "GRADE_THRESHOLDS", "PRODUCT_ADMIN_ROLES", "RATE_NAMES", "RATE_SETTER_ROLES", "Pricing", "create_product",
    "edit_product", "first_payment", "get_product", "get_product_by_id", "grade_for", "limit_for", "list_products",
    "list_rates", "price", "product_dict", "quote", "rate_on", "set_rate",
]

# probability of default -> grade: A below 2%, B below 4%, C below 8%, D below 15%, E from 15%
GRADE_THRESHOLDS: tuple[tuple[str, float], ...] = (("A", 0.02), ("B", 0.04), ("C", 0.08), ("D", 0.15))
RATE_NAMES = ("LPR1Y", "LPR5Y")
PRODUCT_ADMIN_ROLES = security.roles_for("lending.products.manage")
RATE_SETTER_ROLES = security.roles_for("lending.rates.set")  # published centrally, not by a loan officer
MAX_RATE_BPS = 2400  # 24% a year: no product prices above it
EDITABLE = (
    "name_en", "name_zh", "min_amount_minor", "max_amount_minor", "min_term_months", "max_term_months", "methods",
    "reference_rate", "spreads_bps", "grade_limits_minor", "income_multiple", "max_dti", "max_ltv",
    "penalty_markup", "maker_checker_minor", "min_age", "max_age", "status", "description_en", "description_zh",
    "collateral_kind",
)
COLLATERAL_KINDS = ("property", "vehicle")


def grade_for(pd: float) -> str:
    """The risk grade of a probability of default."""
    for grade, upper in GRADE_THRESHOLDS:
        if pd < upper:
            return grade
    return "E"


# ------------------------------------------------------------------------------------------------
# products


def product_dict(p: LoanProduct) -> dict[str, Any]:
    return {
        "id": p.id, "code": p.code, "name_en": p.name_en, "name_zh": p.name_zh, "kind": p.kind, "currency": p.currency,
        "min_amount_minor": p.min_amount_minor, "max_amount_minor": p.max_amount_minor,
        "min_term_months": p.min_term_months, "max_term_months": p.max_term_months, "methods": list(p.methods or []),
        "reference_rate": p.reference_rate, "spreads_bps": dict(p.spreads_bps or {}),
        "grade_limits_minor": dict(p.grade_limits_minor or {}), "income_multiple": p.income_multiple,
        "max_dti": p.max_dti, "max_ltv": p.max_ltv, "penalty_markup": p.penalty_markup,
        "maker_checker_minor": p.maker_checker_minor, "min_age": p.min_age, "max_age": p.max_age,
        "status": p.status, "description_en": p.description_en, "description_zh": p.description_zh,
        "collateral": collateral_kind(p), "collateral_kind": p.collateral_kind,
    }


def collateral_kind(p: LoanProduct) -> str | None:
    """The collateral a secured product takes (``property`` when a secured product does not say)."""
    if p.kind != "secured":
        return None
    return p.collateral_kind or "property"


def list_products(session: Session, *, include_retired: bool = False) -> list[LoanProduct]:
    stmt = select(LoanProduct).order_by(LoanProduct.id)
    if not include_retired:
        stmt = stmt.where(LoanProduct.status == "active")
    return list(session.scalars(stmt))


def get_product(session: Session, code: str) -> LoanProduct:
    p = session.scalars(select(LoanProduct).where(LoanProduct.code == (code or "").strip().upper())).first()
    if p is None:
        raise NotFound("loan product not found", details={"product": code})
    return p


def get_product_by_id(session: Session, product_id: int) -> LoanProduct:
    p = session.get(LoanProduct, product_id)
    if p is None:
        raise NotFound("loan product not found", details={"product_id": product_id})
    return p


def _int(name: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValidationFailed(f"{name} must be a whole number from {lo} to {hi}", reason="lending.whole_number",
                               details={"field": name, "value": v, "low": lo, "high": hi})
    return v


def _num(name: str, v: Any, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise ValidationFailed(f"{name} must be a number from {lo} to {hi}", reason="lending.number",
                               details={"field": name, "value": v, "low": lo, "high": hi})
    return float(v)


def _per_grade(name: str, v: Any, lo: int, hi: int) -> dict[str, int]:
    if not isinstance(v, dict) or set(v) != set(GRADES):
        raise ValidationFailed(f"{name} needs one value for each grade {', '.join(GRADES)}", reason="lending.per_grade",
                               details={"field": name, "grades": list(GRADES)})
    return {g: _int(f"{name}.{g}", v[g], lo, hi) for g in GRADES}


def _text(name: str, v: Any, limit: int, *, required: bool = False) -> str:
    s = " ".join(str(v or "").split()) if isinstance(v, str) or v is None else None
    if s is None or len(s) > limit or (required and not s) or "\x00" in s:
        raise ValidationFailed(f"{name} is text of {'1' if required else '0'}-{limit} characters",
                               reason="lending.text_length",
                               details={"field": name, "low": 1 if required else 0, "limit": limit})
    return s


def _check_product(f: dict[str, Any]) -> dict[str, Any]:
    """Validated product fields (all of them), or ValidationFailed."""
    out: dict[str, Any] = {}
    code = str(f.get("code") or "").strip().upper()
    if not code or len(code) > 32 or not all(c.isalnum() or c in "_-" for c in code) or not code.isascii():
        raise ValidationFailed("a product code is 1-32 letters, digits, - or _", details={"code": f.get("code")})
    out["code"] = code
    out["name_en"] = _text("name_en", f.get("name_en"), 120, required=True)
    out["name_zh"] = _text("name_zh", f.get("name_zh"), 120, required=True)
    if f.get("kind") not in PRODUCT_KINDS:
        raise ValidationFailed("kind is consumer, business or secured", details={"kind": f.get("kind")})
    out["kind"] = f["kind"]
    out["currency"] = "CNY"
    out["min_amount_minor"] = _int("min_amount_minor", f.get("min_amount_minor"), 1, 10**13)
    out["max_amount_minor"] = _int("max_amount_minor", f.get("max_amount_minor"), 1, 10**13)
    if out["min_amount_minor"] > out["max_amount_minor"]:
        raise ValidationFailed("the smallest amount is above the largest")
    out["min_term_months"] = _int("min_term_months", f.get("min_term_months"), 1, 360)
    out["max_term_months"] = _int("max_term_months", f.get("max_term_months"), 1, 360)
    if out["min_term_months"] > out["max_term_months"]:
        raise ValidationFailed("the shortest term is above the longest")
    methods = f.get("methods")
    if not isinstance(methods, list | tuple) or not methods or any(m not in REPAYMENT_METHODS for m in methods):
        raise ValidationFailed("methods is a list of equal_installment / equal_principal", details={"methods": methods})
    out["methods"] = list(dict.fromkeys(methods))
    if f.get("reference_rate") not in RATE_NAMES:
        raise ValidationFailed("reference_rate is LPR1Y or LPR5Y", details={"reference_rate": f.get("reference_rate")})
    out["reference_rate"] = f["reference_rate"]
    out["spreads_bps"] = _per_grade("spreads_bps", f.get("spreads_bps"), -500, MAX_RATE_BPS)
    out["grade_limits_minor"] = _per_grade("grade_limits_minor", f.get("grade_limits_minor"), 0, 10**13)
    out["income_multiple"] = _num("income_multiple", f.get("income_multiple", 12.0), 0.5, 1000)
    out["max_dti"] = _num("max_dti", f.get("max_dti", 0.55), 0.05, 1.0)
    ltv = f.get("max_ltv")
    out["max_ltv"] = None if ltv is None else _num("max_ltv", ltv, 0.05, 1.0)
    if out["kind"] == "secured" and out["max_ltv"] is None:
        raise ValidationFailed("a secured product needs max_ltv")
    ck = f.get("collateral_kind")
    if out["kind"] == "secured":
        if ck not in COLLATERAL_KINDS:
            raise ValidationFailed("a secured product takes property or vehicle as collateral",
                                   details={"collateral_kind": ck})
        out["collateral_kind"] = ck
    elif ck is not None:
        raise ValidationFailed("only secured products take collateral", details={"collateral_kind": ck})
    else:
        out["collateral_kind"] = None
    out["penalty_markup"] = _num("penalty_markup", f.get("penalty_markup", 0.5), 0, 1.0)
    mc = f.get("maker_checker_minor")
    out["maker_checker_minor"] = None if mc is None else _int("maker_checker_minor", mc, 1, 10**13)
    out["min_age"] = _int("min_age", f.get("min_age", 18), 18, 100)
    out["max_age"] = _int("max_age", f.get("max_age", 65), 18, 100)
    if out["min_age"] >= out["max_age"]:
        raise ValidationFailed("min_age must be below max_age")
    if f.get("status", "active") not in ("active", "retired"):
        raise ValidationFailed("status is active or retired", details={"status": f.get("status")})
    out["status"] = f.get("status", "active")
    out["description_en"] = _text("description_en", f.get("description_en", ""), 2000)
    out["description_zh"] = _text("description_zh", f.get("description_zh", ""), 2000)
    return out


def create_product(session: Session, actor: Principal, **fields: Any) -> LoanProduct:
    """A new product (administrators), audited."""
    actor.require_role(*PRODUCT_ADMIN_ROLES)
    clean = _check_product(fields)
    if session.scalars(select(LoanProduct.id).where(LoanProduct.code == clean["code"])).first() is not None:
        raise Conflict("a product with this code exists", details={"code": clean["code"]})
    p = LoanProduct(**clean)
    session.add(p)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict("a product with this code exists", details={"code": clean["code"]}) from exc
    security.audit(session, actor, action="loan_product.create", object_type="loan_product", object_id=p.code,
                   after=product_dict(p))
    return p


def edit_product(session: Session, actor: Principal, code: str, **changes: Any) -> LoanProduct:
    """Change some fields of a product (administrators), audited with before and after."""
    actor.require_role(*PRODUCT_ADMIN_ROLES)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed("these fields cannot be changed", details={"fields": sorted(unknown)})
    p = session.scalars(select(LoanProduct).where(LoanProduct.code == (code or "").strip().upper())
                        .with_for_update()).first()
    if p is None:
        raise NotFound("loan product not found", details={"product": code})
    before = product_dict(p)
    merged = {k: before[k] for k in ("code", "kind", *EDITABLE)}
    merged.update(changes)
    clean = _check_product(merged)
    for k in EDITABLE:
        setattr(p, k, clean[k])
    session.flush()
    after = product_dict(p)
    security.audit(session, actor, action="loan_product.edit", object_type="loan_product", object_id=p.code,
                   before={k: before[k] for k in changes}, after={k: after[k] for k in changes})
    return p


# ------------------------------------------------------------------------------------------------
# reference rates


def _rate_name(name: str) -> str:
    n = (name or "").strip().upper()
    if n not in RATE_NAMES:
        raise ValidationFailed("the reference rate is LPR1Y or LPR5Y", details={"name": name})
    return n


def rate_on(session: Session, name: str, day: date) -> int:
    """The reference rate ``name`` in force on ``day`` (the latest effective on or before it), in bps."""
    n = _rate_name(name)
    r = session.scalars(select(ReferenceRate.rate_bps).where(ReferenceRate.name == n,
                                                             ReferenceRate.effective_date <= day)
                        .order_by(ReferenceRate.effective_date.desc()).limit(1)).first()
    if r is None:
        raise NotFound("no reference rate is in force on that day (run `smartbank lending seed`)",
                       details={"name": n, "day": day.isoformat()})
    return int(r)


def list_rates(session: Session, name: str | None = None) -> list[dict[str, Any]]:
    stmt = select(ReferenceRate).order_by(ReferenceRate.name, ReferenceRate.effective_date)
    if name:
        stmt = stmt.where(ReferenceRate.name == _rate_name(name))
    return [{"name": r.name, "effective_date": r.effective_date.isoformat(), "rate_bps": r.rate_bps,
             "created_by": r.created_by} for r in session.scalars(stmt)]


def set_rate(session: Session, actor: Principal, name: str, rate_bps: int, effective_date: date) -> ReferenceRate:
    """Publish a reference rate from ``effective_date`` (administrators), audited. A second rate for the
    same name and day is a 409 (a published rate is corrected by a later one)."""
    actor.require_role(*RATE_SETTER_ROLES)
    n = _rate_name(name)
    _int("rate_bps", rate_bps, 1, MAX_RATE_BPS)
    if not isinstance(effective_date, date):
        raise ValidationFailed("effective_date is a date")
    dup = select(ReferenceRate.id).where(ReferenceRate.name == n, ReferenceRate.effective_date == effective_date)
    if session.scalars(dup).first() is not None:
        raise Conflict("a rate is already published for that day", details={"name": n,
                                                                           "day": effective_date.isoformat()})
    r = ReferenceRate(name=n, effective_date=effective_date, rate_bps=rate_bps, created_by=actor.user_id or None)
    session.add(r)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict("a rate is already published for that day", details={"name": n}) from exc
    security.audit(session, actor, action="reference_rate.set", object_type="reference_rate",
                   object_id=f"{n}:{effective_date.isoformat()}",
                   after={"name": n, "effective_date": effective_date.isoformat(), "rate_bps": rate_bps})
    return r


# ------------------------------------------------------------------------------------------------
# pricing


@dataclass(frozen=True)
class Pricing:
    grade: str
    reference_rate: str
    reference_rate_bps: int
    spread_bps: int
    rate_bps: int
    limit_minor: int
    limit_parts: dict[str, int]  # each bound of the limit, for the case page and the customer's reasons


def limit_for(product: LoanProduct, grade: str, *, monthly_income_minor: int,
              collateral_value_minor: int | None = None) -> tuple[int, dict[str, int]]:
    """The largest amount for ``grade``: the smallest of the product's bounds, and each bound."""
    parts = {
        "product": int(product.max_amount_minor),
        "grade": int((product.grade_limits_minor or {}).get(grade, 0)),
        "income": int(Decimal(str(product.income_multiple)) * max(0, monthly_income_minor)),
    }
    if product.max_ltv is not None:
        parts["collateral"] = int(Decimal(str(product.max_ltv)) * max(0, collateral_value_minor or 0))
    return min(parts.values()), parts


def price(session: Session, product: LoanProduct, grade: str, *, monthly_income_minor: int,
          collateral_value_minor: int | None = None, day: date) -> Pricing:
    if grade not in GRADES:
        raise ValidationFailed("unknown grade", details={"grade": grade})
    ref = rate_on(session, product.reference_rate, day)
    spread = int((product.spreads_bps or {}).get(grade, 0))
    limit, parts = limit_for(product, grade, monthly_income_minor=monthly_income_minor,
                             collateral_value_minor=collateral_value_minor)
    return Pricing(grade=grade, reference_rate=product.reference_rate, reference_rate_bps=ref, spread_bps=spread,
                   rate_bps=ref + spread, limit_minor=limit, limit_parts=parts)


def rate_bounds(session: Session, product: LoanProduct, day: date) -> tuple[int, int]:
    """The product's best and worst rate on ``day`` (reference + smallest / largest spread)."""
    ref = rate_on(session, product.reference_rate, day)
    spreads = [int(v) for v in (product.spreads_bps or {}).values()] or [0]
    return ref + min(spreads), ref + max(spreads)


def schedule_head(principal: int, rate_bps: int, term: int, method: str, start: date, n: int = 3
                  ) -> list[dict[str, Any]]:
    """The first ``n`` instalments of the repayment schedule (:func:`smartbank.lending.schedule.build`)."""
    rows = schedule.build(principal, rate_bps, term, method, start)
    return [{"seq": r.seq, "due_date": r.due_date.isoformat(), "payment_minor": r.payment_minor,
             "principal_minor": r.principal_minor, "interest_minor": r.interest_minor} for r in rows[:n]]


def first_payment(principal: int, rate_bps: int, term: int, method: str, start: date) -> int:
    """The first monthly payment (the largest for equal principal): what the debt-service ratio uses."""
    return int(schedule_head(principal, rate_bps, term, method, start, 1)[0]["payment_minor"])


def check_terms(product: LoanProduct, *, amount_minor: int, term_months: int, method: str) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationFailed("the amount is a whole number of fen")
    if not product.min_amount_minor <= amount_minor <= product.max_amount_minor:
        raise ValidationFailed("the amount is outside this product's range", reason="lending.amount_out_of_range",
                               details={"amount_minor": amount_minor, "min_minor": product.min_amount_minor,
                                        "max_minor": product.max_amount_minor, "min": product.min_amount_minor,
                                        "max": product.max_amount_minor}, code="amount_out_of_range")
    if isinstance(term_months, bool) or not isinstance(term_months, int) \
            or not product.min_term_months <= term_months <= product.max_term_months:
        raise ValidationFailed("the term is outside this product's range", reason="lending.term_out_of_range",
                               details={"term_months": term_months, "min": product.min_term_months,
                                        "max": product.max_term_months}, code="term_out_of_range")
    if method not in (product.methods or []):
        raise ValidationFailed("this product does not offer that repayment method",
                               details={"method": method, "allowed": list(product.methods or [])})


def quote(session: Session, *, product_code: str, amount_minor: int, term_months: int, method: str,
          day: date) -> dict[str, Any]:
    """An indicative schedule head at the product's best and worst rate (nothing is written)."""
    p = get_product(session, product_code)
    if p.status != "active":
        raise NotFound("loan product not found", details={"product": product_code})
    check_terms(p, amount_minor=amount_minor, term_months=term_months, method=method)
    best, worst = rate_bounds(session, p, day)
    return {
        "product": p.code, "amount_minor": amount_minor, "currency": p.currency, "term_months": term_months,
        "method": method, "best_rate_bps": best, "worst_rate_bps": worst,
        "best": schedule_head(amount_minor, best, term_months, method, day),
        "worst": schedule_head(amount_minor, worst, term_months, method, day),
        "indicative": True,
    }

"""The wealth catalogue: products as data, their daily NAV, and the staff who manage them.

NAV (``product_navs.nav_micro``): the value of one unit in major units of the product's currency, times
1,000,000 (a fund at 1.0234 yuan per unit is 1023400). NAVs exist for weekdays (Monday-Friday; public
holidays are not modelled); :func:`nav_on` answers with the latest NAV on or before a day.

Daily publication (close of day, :func:`publish_day`), for every active product without a NAV that day:

- products with a fixed rate (``rate_bps``: time deposits, the annuity) follow a closed form,
  ``round(1e6 * (1 + rate / 365) ** days since launch)`` (daily compounding, calendar days) - so a time
  deposit's value grows by its rate whatever day it is read;
- the others continue from their latest NAV with one step of a geometric Brownian motion: annual drift by
  asset class (:data:`DRIFT`) and the volatility of the product's own last 60 daily returns, the normal draw
  from a generator seeded with the product code and the day - the same day always publishes the same NAV.

Money-market products (``money_market``: money-market funds 货币基金 and cash-management products 现金管理类理财)
are valued at amortised cost: their NAV stays 1.000000 and what they earn is published each NAV day as the
income per 10,000 units for the calendar days since the previous publication (万份收益, a Monday's covers the
weekend) with the 7-day annualised yield (七日年化, compounded: ``prod(1 + R_i / 10000) ** (365 / 7) - 1`` over the
publications of the last 7 calendar days). Close of day credits each holding its income as additional units
(:func:`smartbank.wealth.orders.accrue_income`). Their figures (returns, volatility, robo-advice) read the
value of a unit with the income reinvested (:func:`value_history`), never the flat NAV. Published by close of day
(:func:`publish_day`): the annual yield moves a little each day, mean-reverting to the asset class's drift.

Who manages the catalogue: product managers (role ``marketer``) and administrators create, edit and close
products and publish NAVs by hand; every such change is audited. Anyone signed in reads the catalogue.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.money import MAX_MINOR, check_currency
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import analytics
from smartbank.wealth.models import ASSET_CLASSES, PRODUCT_KINDS, RISK_LEVELS, UNIT, ProductNav, WealthProduct

__all__ = ["DRIFT", "PRODUCT_MANAGERS", "STABLE_NAV", "close_product", "create_product", "custody_account",
           "fixed_nav", "get_product", "get_product_by_id", "income_for_days", "is_money_market", "is_nav_day",
           "list_products", "money_market_rows", "nav_history", "nav_on", "nav_point", "product_page", "product_view",
           "publish_day", "publish_nav", "seven_day_yield", "update_product", "value_history"]

PRODUCT_MANAGERS = security.roles_for("wealth.products.manage")
DRIFT = {"cash": 0.018, "bond": 0.03, "mixed": 0.045, "equity": 0.06, "alternative": 0.05}  # annual, continuation
DEFAULT_VOL = {"cash": 0.001, "bond": 0.02, "mixed": 0.08, "equity": 0.18, "alternative": 0.25}
EDITABLE = ("name_en", "name_zh", "min_amount_minor", "step_minor", "subscription_fee_bps", "redemption_fee_bps",
            "management_fee_bps", "settlement_days", "issuer", "description_en", "description_zh", "tags",
            "risk_level", "asset_class")


STABLE_NAV = UNIT  # a money-market product's NAV: 1.000000
TEN_K = 10_000
MMF_YIELD_BOUNDS = (0.0005, 0.08)  # the annual yield a money-market product publishes stays within these
MMF_YIELD_STEP = 0.0004  # daily volatility of the published annual yield
MMF_YIELD_PULL = 0.05  # how fast it returns to the asset class's drift


def income_for_days(annual_yield: float, days: int) -> int:
    """万份收益 (yuan x 1e6 per 10,000 units) of ``days`` calendar days at an annual yield, compounded daily."""
    growth = (Decimal(1) + Decimal(repr(annual_yield)) / Decimal(365)) ** max(1, days) - 1
    return int((Decimal(TEN_K * UNIT) * growth).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def seven_day_yield(incomes: list[int], days: int = 7) -> int:
    """七日年化 (x 1e6) from the 万份收益 published over the last 7 calendar days (which cover exactly those days):
    ``prod(1 + R / 10000) ** (365 / 7) - 1`` (``days``: fewer in a product's first week)."""
    growth = 1.0
    for r in incomes:
        growth *= 1 + r / (TEN_K * UNIT)
    return round((growth ** (365 / max(1, days)) - 1) * UNIT)


def is_nav_day(d: date) -> bool:
    return d.weekday() < 5


def fixed_nav(rate_bps: int, launched_on: date, day: date) -> int:
    """NAV of a fixed-rate product: 1.000000 at launch, compounded daily at ``rate / 365`` (half-even)."""
    days = max(0, (day - launched_on).days)
    growth = (Decimal(1) + Decimal(rate_bps) / Decimal(3_650_000)) ** days
    return int((Decimal(UNIT) * growth).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# ------------------------------------------------------------------------------------------------
# reading


def get_product(session: Session, code: str) -> WealthProduct:
    p = session.scalars(select(WealthProduct).where(WealthProduct.code == (code or "").strip().upper())).first()
    if p is None:
        raise NotFound("product not found", reason="wealth.product_not_found", details={"code": code})
    return p


def get_product_by_id(session: Session, product_id: int) -> WealthProduct:
    p = session.get(WealthProduct, product_id)
    if p is None:
        raise NotFound("product not found", reason="wealth.product_not_found", details={"product_id": product_id})
    return p


def all_products(session: Session) -> list[WealthProduct]:
    """Every product, closed ones included, in the order they were added."""
    return list(session.scalars(select(WealthProduct).order_by(WealthProduct.id)))


def product_facts(session: Session, product_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """``{id: (status, kind, risk level)}`` of the given products, read now (what a suitability filter judges)."""
    if not product_ids:
        return {}
    return {int(i): (str(s), str(k), str(r)) for i, s, k, r in session.execute(
        select(WealthProduct.id, WealthProduct.status, WealthProduct.kind, WealthProduct.risk_level)
        .where(WealthProduct.id.in_(product_ids)))}


DEFAULT_RISK_FREE = 0.0095


def risk_free_rate(session: Session) -> float:
    """The risk-free rate of the Sharpe ratio: the one-year time deposit's rate in the catalogue (0.95% without
    one)."""
    bps = session.scalar(select(WealthProduct.rate_bps).where(WealthProduct.code == "TD1Y"))
    return bps / 10_000 if bps is not None else DEFAULT_RISK_FREE


Latest = tuple[date, int, int | None, int | None]  # day, nav_micro, income_per_10k_micro, yield_7d_ppm


def _latest_navs(session: Session, product_ids: list[int] | None = None) -> dict[int, Latest]:
    last = select(ProductNav.product_id, func.max(ProductNav.day).label("d")).group_by(ProductNav.product_id)
    if product_ids is not None:
        last = last.where(ProductNav.product_id.in_(product_ids))
    sub = last.subquery()
    rows = session.execute(select(ProductNav.product_id, ProductNav.day, ProductNav.nav_micro,
                                  ProductNav.income_per_10k_micro, ProductNav.yield_7d_ppm).join(
        sub, (sub.c.product_id == ProductNav.product_id) & (sub.c.d == ProductNav.day))).all()
    return {int(r[0]): (r[1], int(r[2]), r[3], r[4]) for r in rows}


def product_view(p: WealthProduct, latest: tuple[Any, ...] | None = None) -> dict[str, Any]:
    """A product as the entry points show it, with its latest NAV; a money-market product also with its latest
    万份收益 (``income_per_10k_micro``) and 七日年化 (``yield_7d_ppm``)."""
    mm = bool(p.money_market)
    return {"money_market": mm,
            "income_per_10k_micro": latest[2] if mm and latest and len(latest) > 2 else None,
            "yield_7d_ppm": latest[3] if mm and latest and len(latest) > 3 else None,
            "id": p.id, "code": p.code, "name_en": p.name_en, "name_zh": p.name_zh, "kind": p.kind,
            "risk_level": p.risk_level, "asset_class": p.asset_class, "currency": p.currency,
            "min_amount_minor": p.min_amount_minor, "step_minor": p.step_minor, "term_days": p.term_days,
            "rate_bps": p.rate_bps, "subscription_fee_bps": p.subscription_fee_bps,
            "redemption_fee_bps": p.redemption_fee_bps, "management_fee_bps": p.management_fee_bps,
            "settlement_days": p.settlement_days, "issuer": p.issuer, "status": p.status,
            "description_en": p.description_en, "description_zh": p.description_zh, "tags": list(p.tags or []),
            "launched_on": p.launched_on, "custody_account_id": p.custody_account_id,
            "nav_day": latest[0] if latest else None, "nav_micro": latest[1] if latest else None}


def list_products(session: Session, *, kind: str | None = None, risk_level: str | None = None,
                  status: str | None = "active") -> list[dict[str, Any]]:
    """The catalogue (``status`` None: every product), ordered by kind, risk and code, each with its latest
    NAV (``nav_day``, ``nav_micro``)."""
    if kind is not None and kind not in PRODUCT_KINDS:
        raise ValidationFailed("unknown product kind", reason="wealth.unknown_kind",
                               details={"kind": kind, "kinds": list(PRODUCT_KINDS)})
    if risk_level is not None and risk_level not in RISK_LEVELS:
        raise ValidationFailed("unknown risk level", reason="wealth.unknown_risk_level",
                               details={"risk_level": risk_level})
    stmt = select(WealthProduct)
    if kind:
        stmt = stmt.where(WealthProduct.kind == kind)
    if risk_level:
        stmt = stmt.where(WealthProduct.risk_level == risk_level)
    if status:
        stmt = stmt.where(WealthProduct.status == status)
    order = {k: i for i, k in enumerate(PRODUCT_KINDS)}
    rows = sorted(session.scalars(stmt), key=lambda p: (order.get(p.kind, 9), p.risk_level, p.code))
    latest = _latest_navs(session, [p.id for p in rows]) if rows else {}
    return [product_view(p, latest.get(p.id)) for p in rows]


def nav_history(session: Session, product_id: int, *, start: date | None = None,
                end: date | None = None) -> list[tuple[date, int]]:
    """``[(day, nav_micro)]`` oldest first, within ``[start, end]`` when given."""
    stmt = select(ProductNav.day, ProductNav.nav_micro).where(ProductNav.product_id == product_id)
    if start is not None:
        stmt = stmt.where(ProductNav.day >= start)
    if end is not None:
        stmt = stmt.where(ProductNav.day <= end)
    return [(r[0], int(r[1])) for r in session.execute(stmt.order_by(ProductNav.day))]


def is_money_market(session: Session, product_id: int) -> bool:
    p = session.get(WealthProduct, product_id)
    return bool(p is not None and p.money_market)


def money_market_rows(session: Session, product_id: int, *, start: date | None = None,
                      end: date | None = None) -> list[tuple[date, int, int | None]]:
    """``[(day, income_per_10k_micro, yield_7d_ppm)]`` of a money-market product, oldest first."""
    stmt = select(ProductNav.day, ProductNav.income_per_10k_micro, ProductNav.yield_7d_ppm).where(
        ProductNav.product_id == product_id)
    if start is not None:
        stmt = stmt.where(ProductNav.day >= start)
    if end is not None:
        stmt = stmt.where(ProductNav.day <= end)
    return [(r[0], int(r[1] or 0), r[2]) for r in session.execute(stmt.order_by(ProductNav.day))]


def value_history(session: Session, product_id: int, *, start: date | None = None,
                  end: date | None = None) -> list[tuple[date, int]]:
    """``[(day, value_micro)]``: what one unit is worth with its income reinvested - the NAV for most products;
    for a money-market product (NAV 1) the units its income added, compounded from its first publication
    (1.000000 then). Returns, volatility and robo-advice read this, not the flat NAV."""
    p = session.get(WealthProduct, product_id)
    if p is None or not p.money_market:
        return nav_history(session, product_id, start=start, end=end)
    out, value = [], Decimal(UNIT)
    for d, income, _ in money_market_rows(session, product_id, end=end):
        value = value * (1 + Decimal(income) / (TEN_K * UNIT))
        if start is None or d >= start:
            out.append((d, int(value.to_integral_value(rounding=ROUND_HALF_EVEN))))
    return out


def nav_point(session: Session, product_id: int, day: date) -> tuple[date, int] | None:
    """The latest ``(day, nav_micro)`` on or before ``day``."""
    r = session.execute(select(ProductNav.day, ProductNav.nav_micro).where(
        ProductNav.product_id == product_id, ProductNav.day <= day).order_by(ProductNav.day.desc()).limit(1)).first()
    return (r[0], int(r[1])) if r is not None else None


def nav_on(session: Session, product_id: int, day: date) -> int | None:
    """The latest NAV (micro) on or before ``day``, None before the first one."""
    p = nav_point(session, product_id, day)
    return p[1] if p else None


def _downsample(series: list[tuple[date, int]], points: int) -> list[tuple[date, int]]:
    if len(series) <= points:
        return series
    step = (len(series) - 1) / (points - 1)
    return [series[round(i * step)] for i in range(points)]


def product_page(session: Session, code: str, *, risk_free: float | None = None, years: int = 3,
                 chart_points: int = 160) -> dict[str, Any]:
    """A product with its figures: returns over 1M/3M/1Y/since launch, annualised return and volatility,
    maximum drawdown and Sharpe ratio over the last ``years`` years (see :mod:`analytics`, on
    :func:`value_history`), and a chart series (``chart_kind``: ``nav``, or ``yield_7d`` - 七日年化 x 1e6 - for a
    money-market product)."""
    p = get_product(session, code)
    series = value_history(session, p.id)
    v = product_view(p, _latest_navs(session, [p.id]).get(p.id))
    rf = risk_free if risk_free is not None else risk_free_rate(session)
    window = series
    if series:
        cut = series[-1][0] - timedelta(days=365 * years)
        window = [x for x in series if x[0] >= cut]
    values = [n for _, n in window]
    v["returns"] = {"1m": analytics.period_return(series, 30), "3m": analytics.period_return(series, 91),
                    "1y": analytics.period_return(series, 365), "since_launch": analytics.period_return(series, None)}
    v["metrics"] = analytics.summary(values, rf)
    if p.money_market:  # the chart a money-market product shows is its 7-day annualised yield (七日年化)
        rows = [(d, int(y)) for d, _, y in money_market_rows(session, p.id, start=window[0][0] if window else None)
                if y is not None]
        v["chart_kind"] = "yield_7d"
        v["chart"] = [(d.isoformat(), y) for d, y in _downsample(rows, chart_points)]
    else:
        v["chart_kind"] = "nav"
        v["chart"] = [(d.isoformat(), n) for d, n in _downsample(window, chart_points)]
    return v


# ------------------------------------------------------------------------------------------------
# staff: the catalogue


def _manager(actor: Principal) -> None:
    actor.require_role(*PRODUCT_MANAGERS)


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValidationFailed(f"{name} must be a whole number from {lo} to {hi}", reason="wealth.number_out_of_range",
                               details={name: value, "field": name, "low": lo, "high": hi})
    return value


def _check_fields(f: dict[str, Any]) -> None:
    if f.get("kind") not in PRODUCT_KINDS:
        raise ValidationFailed("unknown product kind", reason="wealth.unknown_kind", details={"kind": f.get("kind")})
    if f.get("risk_level") not in RISK_LEVELS:
        raise ValidationFailed("unknown risk level", reason="wealth.unknown_risk_level",
                               details={"risk_level": f.get("risk_level")})
    if f.get("asset_class") not in ASSET_CLASSES:
        raise ValidationFailed("unknown asset class", reason="wealth.unknown_asset_class",
                               details={"asset_class": f.get("asset_class")})
    for name in ("name_en", "name_zh"):
        if not isinstance(f.get(name), str) or not f[name].strip() or len(f[name]) > 160:
            raise ValidationFailed(f"{name} is required (up to 160 characters)", reason="wealth.name_required",
                                   details={"field": name, "limit": 160})
    _int("min_amount_minor", f.get("min_amount_minor"), 1, MAX_MINOR)
    _int("step_minor", f.get("step_minor", 1), 1, MAX_MINOR)
    for name in ("subscription_fee_bps", "redemption_fee_bps", "management_fee_bps"):
        _int(name, f.get(name, 0), 0, 1000)
    _int("settlement_days", f.get("settlement_days", 1), 0, 10)
    if f.get("term_days") is not None:
        _int("term_days", f["term_days"], 1, 3660)
    if f.get("rate_bps") is not None:
        _int("rate_bps", f["rate_bps"], 0, 2000)
    if f.get("kind") == "time_deposit" and (f.get("term_days") is None or f.get("rate_bps") is None):
        raise ValidationFailed("a time deposit needs a term and a rate", reason="wealth.time_deposit_terms")
    tags = f.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags)):
        raise ValidationFailed("tags are a list of words", reason="wealth.bad_tags")
    if f.get("money_market") and (f.get("kind") not in ("fund", "wmp") or f.get("asset_class") != "cash"
                                  or f.get("rate_bps") is not None or f.get("term_days") is not None):
        raise ValidationFailed("a money-market product is an open-ended fund or wealth product in the cash class, "
                               "without a fixed rate or term", code="bad_money_market",
                               reason="wealth.bad_money_market")


def custody_account(session: Session, product: WealthProduct) -> int:
    """The product's custody account in the ledger (internal, purpose ``wealth_custody``), opened once."""
    if product.custody_account_id is None:
        acct = ledger.open_account(session, customer_id=None, kind="internal", purpose="wealth_custody",
                                   currency=product.currency, name=f"wealth custody {product.code}"[:120],
                                   overdraft_limit_minor=None)
        product.custody_account_id = acct.id
        session.flush()
    return int(product.custody_account_id)


def add_product(session: Session, fields: dict[str, Any]) -> WealthProduct:
    """Insert a product (no role check: seeding and tests); validates and opens its custody account."""
    f = dict(fields)
    f["code"] = str(f.get("code", "")).strip().upper()
    if not f["code"] or len(f["code"]) > 32 or not all(c.isalnum() or c in "-_" for c in f["code"]):
        raise ValidationFailed("a product code is 1-32 letters, digits, '-' or '_'", reason="wealth.bad_product_code",
                               details={"code": f["code"]})
    f.setdefault("currency", "CNY")
    check_currency(f["currency"])
    _check_fields(f)
    if session.scalars(select(WealthProduct.id).where(WealthProduct.code == f["code"])).first() is not None:
        raise Conflict("a product with this code exists", reason="wealth.product_exists", details={"code": f["code"]})
    known = {c.key for c in WealthProduct.__table__.columns} - {"id", "created_at", "custody_account_id"}
    unknown = set(f) - known
    if unknown:
        raise ValidationFailed("unknown product fields", reason="wealth.unknown_fields",
                               details={"fields": sorted(unknown)})
    p = WealthProduct(**f)
    p.status = f.get("status", "active")
    session.add(p)
    session.flush()
    custody_account(session, p)
    return p


def create_product(session: Session, actor: Principal, fields: dict[str, Any]) -> WealthProduct:
    _manager(actor)
    p = add_product(session, fields)
    security.audit(session, actor, action="wealth.product.create", object_type="wealth_product", object_id=p.code,
                   after=product_view(p) | {"launched_on": str(p.launched_on)})
    session.flush()
    return p


def update_product(session: Session, actor: Principal, code: str, changes: dict[str, Any]) -> WealthProduct:
    _manager(actor)
    p = get_product(session, code)
    bad = set(changes) - set(EDITABLE)
    if bad:
        raise ValidationFailed("these fields cannot be changed", reason="wealth.fields_not_editable",
                               details={"fields": sorted(bad),
                                                                          "editable": list(EDITABLE)})
    before = {k: getattr(p, k) for k in changes}
    merged = {c.key: getattr(p, c.key) for c in WealthProduct.__table__.columns} | changes
    _check_fields(merged)
    for k, v in changes.items():
        setattr(p, k, v)
    security.audit(session, actor, action="wealth.product.update", object_type="wealth_product", object_id=p.code,
                   before=before, after=dict(changes))
    session.flush()
    return p


def close_product(session: Session, actor: Principal, code: str) -> WealthProduct:
    """No new purchases; holders may still redeem and NAVs are still published."""
    _manager(actor)
    p = get_product(session, code)
    if p.status == "closed":
        return p
    p.status = "closed"
    security.audit(session, actor, action="wealth.product.close", object_type="wealth_product", object_id=p.code,
                   before={"status": "active"}, after={"status": "closed"})
    session.flush()
    return p


def _previous_day(session: Session, product_id: int, day: date) -> date | None:
    return session.scalar(select(func.max(ProductNav.day)).where(ProductNav.product_id == product_id,
                                                                 ProductNav.day < day))


def _money_market_row(session: Session, p: WealthProduct, day: date, income: int) -> ProductNav:
    """The day's row of a money-market product: NAV 1, its 万份收益 and the 七日年化 it makes with the
    publications of the 6 calendar days before."""
    week = [r for _, r, _ in money_market_rows(session, p.id, start=day - timedelta(days=6),
                                               end=day - timedelta(days=1))]
    first = session.scalar(select(func.min(ProductNav.day)).where(ProductNav.product_id == p.id)) or day
    return ProductNav(product_id=p.id, day=day, nav_micro=STABLE_NAV, income_per_10k_micro=income,
                      yield_7d_ppm=seven_day_yield([*week, income], min(7, (day - min(first, day)).days + 1)))


def publish_nav(session: Session, actor: Principal, code: str, *, day: date, nav_micro: int | None = None,
                income_per_10k_micro: int | None = None) -> ProductNav:
    """A NAV published by hand (the issuer's figure). The same value again is a no-op; another value for a
    day that has one is a 409 (NAVs are never rewritten: orders were filled at them). A money-market product
    publishes its 万份收益 (``income_per_10k_micro``) instead; its NAV is 1.000000 and may not be anything else."""
    _manager(actor)
    p = get_product(session, code)
    if p.money_market:
        if nav_micro is not None and nav_micro != STABLE_NAV:
            raise ValidationFailed("a money-market product's NAV stays 1.000000: publish its income per 10,000 "
                                   "units instead", code="money_market_nav_fixed",
                                   reason="wealth.money_market_nav_fixed",
                                   details={"nav_micro": nav_micro})
        if income_per_10k_micro is None:
            raise ValidationFailed("a money-market product publishes its income per 10,000 units",
                                   code="money_market_income_required",
                                   reason="wealth.money_market_income_required")
        _int("income_per_10k_micro", income_per_10k_micro, 0, TEN_K * UNIT // 100)  # at most 100 yuan a day
        nav_micro = STABLE_NAV
    else:
        if income_per_10k_micro is not None:
            raise ValidationFailed("only a money-market product publishes an income per 10,000 units",
                                   reason="wealth.income_only_money_market",
                                   details={"code": p.code})
        if nav_micro is None:
            raise ValidationFailed("nav_micro is required", reason="wealth.nav_required",
                                   details={"field": "nav_micro"})
        _int("nav_micro", nav_micro, 1, 10**12)
    old = session.scalars(select(ProductNav).where(ProductNav.product_id == p.id, ProductNav.day == day)).first()
    if old is not None:
        if old.nav_micro == nav_micro and old.income_per_10k_micro == income_per_10k_micro:
            return old
        raise Conflict("this product already has a NAV for that day", reason="wealth.nav_exists",
                       details={"day": day.isoformat(),
                                                                               "nav_micro": old.nav_micro})
    if p.money_market:
        last = session.scalar(select(func.max(ProductNav.day)).where(ProductNav.product_id == p.id))
        if last is not None and last > day:  # the 7-day yields after it would be wrong
            raise Conflict("a money-market income is published in order: a later day is already published",
                           reason="wealth.income_out_of_order",
                           details={"day": day.isoformat(), "latest": last.isoformat()})
        row = _money_market_row(session, p, day, int(income_per_10k_micro or 0))
    else:
        row = ProductNav(product_id=p.id, day=day, nav_micro=nav_micro)
    session.add(row)
    session.flush()
    security.audit(session, actor, action="wealth.nav.publish", object_type="wealth_product", object_id=p.code,
                   after={"day": day.isoformat(), "nav_micro": nav_micro, "income_per_10k_micro": income_per_10k_micro,
                          "yield_7d_ppm": row.yield_7d_ppm})
    session.flush()
    return row


# ------------------------------------------------------------------------------------------------
# close of day


@dataclass
class _Step:
    drift: float
    vol: float


def _rng(code: str, day: date) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{code}:{day.isoformat()}".encode()))


def _step_params(session: Session, p: WealthProduct, before: date) -> _Step:
    navs = [n for _, n in reversed(session.execute(
        select(ProductNav.day, ProductNav.nav_micro).where(ProductNav.product_id == p.id, ProductNav.day < before)
        .order_by(ProductNav.day.desc()).limit(61)).all())]
    vol = analytics.annualised_volatility(navs) if len(navs) > 2 else None
    return _Step(DRIFT.get(p.asset_class, 0.03), vol if vol is not None else DEFAULT_VOL.get(p.asset_class, 0.1))


def next_nav(p: WealthProduct, prev_nav: int, step: _Step, day: date) -> int:
    z = float(_rng(p.code, day).standard_normal())
    dt = 1 / analytics.PERIODS
    factor = math.exp((step.drift - step.vol ** 2 / 2) * dt + step.vol * math.sqrt(dt) * z)
    return max(1, round(prev_nav * factor))


def next_yield(code: str, previous: float | None, target: float, day: date) -> float:
    """The annual yield a money-market product earns on ``day``: the previous one pulled towards ``target`` plus
    a small deterministic shock (seeded with the code and the day), within :data:`MMF_YIELD_BOUNDS`."""
    y = target if previous is None else previous
    y += MMF_YIELD_PULL * (target - y) + MMF_YIELD_STEP * float(_rng(code, day).standard_normal())
    return min(max(y, MMF_YIELD_BOUNDS[0]), MMF_YIELD_BOUNDS[1])


def _next_income(session: Session, p: WealthProduct, day: date) -> int:
    """The day's 万份收益: the calendar days since the previous publication at the next annual yield (the
    previous yield is read back from the previous publication)."""
    prev_day = _previous_day(session, p.id, day)
    days = (day - prev_day).days if prev_day else 1
    previous = None
    if prev_day is not None:
        prev_income = session.scalar(select(ProductNav.income_per_10k_micro).where(
            ProductNav.product_id == p.id, ProductNav.day == prev_day))
        before = _previous_day(session, p.id, prev_day)
        span = (prev_day - before).days if before else 1
        if prev_income is not None:
            previous = ((1 + prev_income / (TEN_K * UNIT)) ** (1 / span) - 1) * 365
    return income_for_days(next_yield(p.code, previous, DRIFT.get(p.asset_class, 0.018), day), days)


def publish_day(session: Session, day: date) -> dict[str, int]:
    """Publish ``day``'s NAV for every active or closed product that has none (weekdays only). Rerunning the
    day publishes nothing new."""
    out = {"navs_published": 0}
    if not is_nav_day(day):
        return out
    products = list(session.scalars(select(WealthProduct).order_by(WealthProduct.id)))
    have = set(session.scalars(select(ProductNav.product_id).where(ProductNav.day == day)))
    for p in products:
        if p.id in have or (p.launched_on is not None and p.launched_on > day):
            continue
        if p.money_market:
            session.add(_money_market_row(session, p, day, _next_income(session, p, day)))
            out["navs_published"] += 1
            continue
        if p.rate_bps is not None and p.kind in ("time_deposit", "insurance"):
            nav = fixed_nav(p.rate_bps, p.launched_on or day, day)
        else:
            prev = nav_point(session, p.id, day - timedelta(days=1))
            nav = UNIT if prev is None else next_nav(p, prev[1], _step_params(session, p, day), day)
        session.add(ProductNav(product_id=p.id, day=day, nav_micro=nav))
        out["navs_published"] += 1
    session.flush()
    return out

"""Tables of the wealth domain.

- ``risk_questionnaires``: versioned risk-tolerance questionnaires (questions, options and their
  scores, the score bands of the grades C1-C5, how long a result stays valid).
- ``risk_assessments``: every assessment a customer took - answers, score, grade, the date it lapses - never
  overwritten; refused attempts (``status`` refused, with the reason) are kept too. The grade in force is the
  newest accepted one that has not lapsed.
- ``wealth_products``: the catalogue as data - time deposits (term, rate), wealth-management products
  (R1-R5) with a daily net asset value, funds and insurance; fees, minimums, settlement delay, the asset
  class robo-advice allocates across, and the bank's custody account for the product in the ledger.
- ``product_navs``: daily NAV per product (``nav_micro``: NAV x 1,000,000, exact integers). A money-market
  product (``wealth_products.money_market``: money-market funds and cash-management products) keeps its NAV at
  1.000000 and publishes instead its income per 10,000 units for the days since its previous publication
  (万份收益, ``income_per_10k_micro``: yuan x 1,000,000) and its 7-day annualised yield (七日年化,
  ``yield_7d_ppm``: the yield x 1,000,000, 1.8230% -> 18230).
- ``money_market_income``: the income a money-market holding earned on a publication day, credited as
  additional units (one row per customer, product and day: close of day credits it once).
- ``suitability_checks``: every check of a purchase against the customer's grade (pass, refused,
  acknowledged), kept for audit.
- ``wealth_orders``: purchases and redemptions (cash <-> units at NAV, fees, trade and settlement
  dates, the ledger transfers).
- ``holdings``: units (``units_micro``: units x 1,000,000) and cost per customer and product.
- ``portfolio_plans``: robo-advice allocations proposed to a customer (grade, horizon, method,
  weights, backtest figures) and whether they were followed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

GRADES = ("C1", "C2", "C3", "C4", "C5")  # conservative .. aggressive
RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")  # lowest .. highest product risk
PRODUCT_KINDS = ("time_deposit", "wmp", "fund", "insurance")
ASSET_CLASSES = ("cash", "bond", "mixed", "equity", "alternative")
ORDER_KINDS = ("purchase", "redemption")
ORDER_STATUSES = ("pending", "settled", "cancelled", "failed")
SUITABILITY_OUTCOMES = ("pass", "refused", "acknowledged")
UNIT = 1_000_000  # units and NAV are stored as integers of a millionth


class RiskQuestionnaire(Base):
    __tablename__ = "risk_questionnaires"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    questions: Mapped[list[Any]] = mapped_column(JSON)  # [{id, zh, en, options: [{zh, en, score}]}]
    bands: Mapped[list[Any]] = mapped_column(JSON)  # [{grade, min_score}] ascending
    valid_days: Mapped[int] = mapped_column(Integer, default=365)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class RiskAssessment(Base):
    __tablename__ = "risk_assessments"
    __table_args__ = (Index("ix_risk_assessments_customer_taken", "customer_id", "taken_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    questionnaire_version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)  # question id -> option index
    score: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(16), default="web")
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # accepted (may be in force) | refused (kept on record, never in force): an age answer that contradicts the
    # ID, a retake inside the cooling-off period or beyond the retake limit
    status: Mapped[str] = mapped_column(String(12), default="accepted", server_default="accepted")
    refusal_code: Mapped[str | None] = mapped_column(String(32))
    id_age: Mapped[int | None] = mapped_column(Integer)  # the age from the customer's ID on the day taken


class WealthProduct(Base):
    __tablename__ = "wealth_products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_en: Mapped[str] = mapped_column(String(160))
    name_zh: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(16))  # time_deposit | wmp | fund | insurance
    risk_level: Mapped[str] = mapped_column(String(2))  # R1..R5
    asset_class: Mapped[str] = mapped_column(String(16))  # cash | bond | mixed | equity | alternative
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    min_amount_minor: Mapped[int] = mapped_column(BigInteger)  # smallest purchase
    step_minor: Mapped[int] = mapped_column(BigInteger, default=1)  # purchases in multiples of this
    term_days: Mapped[int | None] = mapped_column(Integer)  # time deposits and closed-end products
    rate_bps: Mapped[int | None] = mapped_column(Integer)  # time deposits: annual rate
    subscription_fee_bps: Mapped[int] = mapped_column(Integer, default=0)
    redemption_fee_bps: Mapped[int] = mapped_column(Integer, default=0)
    management_fee_bps: Mapped[int] = mapped_column(Integer, default=0)  # annual, already in the NAV
    settlement_days: Mapped[int] = mapped_column(Integer, default=1)  # T+n
    custody_account_id: Mapped[int | None] = mapped_column(BigInteger)  # the bank's ledger account for it
    issuer: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | closed
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any] | None] = mapped_column(JSON)  # content features for recommendation
    launched_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    # a money-market product: NAV fixed at 1.000000, income accrued daily as units (万份收益, 七日年化)
    money_market: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ProductNav(Base):
    __tablename__ = "product_navs"
    __table_args__ = (UniqueConstraint("product_id", "day", name="uq_product_navs_product_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    nav_micro: Mapped[int] = mapped_column(BigInteger)  # 1.023456 -> 1023456
    # money-market products only: 万份收益 (yuan per 10,000 units x 1e6) and 七日年化 (x 1e6)
    income_per_10k_micro: Mapped[int | None] = mapped_column(BigInteger)
    yield_7d_ppm: Mapped[int | None] = mapped_column(BigInteger)


class MoneyMarketIncome(Base):
    __tablename__ = "money_market_income"
    __table_args__ = (UniqueConstraint("customer_id", "product_id", "day", name="uq_money_market_income_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    product_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    units_micro: Mapped[int] = mapped_column(BigInteger)  # the units that earned
    income_per_10k_micro: Mapped[int] = mapped_column(BigInteger)
    income_units_micro: Mapped[int] = mapped_column(BigInteger)  # credited to the holding (NAV 1: = yuan)


class SuitabilityCheck(Base):
    __tablename__ = "suitability_checks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    product_id: Mapped[int] = mapped_column(BigInteger)
    assessment_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_grade: Mapped[str | None] = mapped_column(String(2))  # null: no valid assessment
    product_risk: Mapped[str] = mapped_column(String(2))
    outcome: Mapped[str] = mapped_column(String(16))  # pass | refused | acknowledged
    reason_code: Mapped[str | None] = mapped_column(String(32))
    acknowledgement: Mapped[str | None] = mapped_column(Text)  # the text the customer confirmed
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16), default="web")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class WealthOrder(Base):
    __tablename__ = "wealth_orders"
    __table_args__ = (Index("ix_wealth_orders_status_settle", "status", "settle_date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    product_id: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(BigInteger)  # the customer's cash account
    kind: Mapped[str] = mapped_column(String(12))  # purchase | redemption
    status: Mapped[str] = mapped_column(String(12), default="pending")
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)  # purchase: cash paid (fee included)
    units_micro: Mapped[int | None] = mapped_column(BigInteger)  # redemption: units sold; purchase: units got
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    nav_micro: Mapped[int | None] = mapped_column(BigInteger)  # the NAV the order was filled at
    proceeds_minor: Mapped[int | None] = mapped_column(BigInteger)  # redemption: cash paid out after fees
    trade_date: Mapped[date] = mapped_column(Date)
    settle_date: Mapped[date] = mapped_column(Date)
    transfer_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    suitability_check_id: Mapped[int | None] = mapped_column(BigInteger)
    recommendation_id: Mapped[int | None] = mapped_column(BigInteger)  # when bought from a recommendation
    channel: Mapped[str] = mapped_column(String(16), default="web")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Holding(Base):
    __tablename__ = "holdings"
    __table_args__ = (UniqueConstraint("customer_id", "product_id", name="uq_holdings_customer_product"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int] = mapped_column(BigInteger)
    units_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_units_micro: Mapped[int] = mapped_column(BigInteger, default=0)  # sold, not yet settled
    cost_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # cash invested still held (average cost)
    opened_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class PortfolioPlan(Base):
    __tablename__ = "portfolio_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    grade: Mapped[str] = mapped_column(String(2))
    horizon_months: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(40))
    weights: Mapped[dict[str, Any]] = mapped_column(JSON)  # product code -> weight
    amounts: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # product code -> minor units
    backtest: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # out-of-sample figures vs equal weight
    status: Mapped[str] = mapped_column(String(12), default="proposed")  # proposed | followed | superseded
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    drift_band: Mapped[float] = mapped_column(Float, default=0.05)


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "holdings": {"*": "C2", "id": "C1"},
    "wealth_orders": {"*": "C2", "id": "C1"},
    "risk_assessments": {"*": "C2", "id": "C1"},
    "suitability_checks": {"*": "C2", "id": "C1"},
    "portfolio_plans": {"*": "C2", "id": "C1"},
    "money_market_income": {"*": "C2", "id": "C1"},
    "risk_questionnaires": {"*": "none"},
    "wealth_products": {"*": "none"},
    "product_navs": {"*": "none", "income_per_10k_micro": "none"},
}

"""Tables of the lending domain.

- ``loan_products``: products as data (consumer, business, secured) with amount and term bounds,
  repayment methods, the reference rate they price from, a spread and a limit per risk grade, an
  income multiple and, for secured products, a maximum loan-to-value.
- ``reference_rates``: the loan prime rate (LPR 1Y / 5Y) by effective date, in basis points.
- ``loan_applications`` and ``loan_application_events``: an application and every state it went
  through (submitted, scoring, manual_review, approved, declined, accepted, disbursed, repaying,
  closed, plus withdrawn / expired), with who moved it and why.
- ``credit_decisions``: every decision on an application (automatic, maker, checker) with the
  champion's score, probability of default and model version, the challenger's, the policy-rule
  hits, reason codes in plain words (zh/en), the features used, the grade, limit and rate.
- ``loans``, ``loan_installments``, ``loan_repayments``: a disbursed loan (its own ledger account of
  kind ``loan`` carries the principal owed), its repayment schedule (rows of an older schedule are
  kept as ``superseded`` after an early repayment) and every repayment with its split into
  principal, interest and penalty.
- ``loan_status_history``: the daily delinquency bucket (current, M1, M2, M3+), five-category
  classification and provision of each loan, one row per change.
- ``credit_blacklist``: people the bank will not lend to, by keyed hash of the resident ID number.
- ``loan_warnings``: early warnings (a missed payment predicted before the due date), also shown on
  the risk dashboard.
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
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId
from smartbank.security import service as security

PRODUCT_KINDS = ("consumer", "business", "secured")
REPAYMENT_METHODS = ("equal_installment", "equal_principal")  # 等额本息, 等额本金
GRADES = ("A", "B", "C", "D", "E")
APPLICATION_STATES = (
    "submitted", "scoring", "manual_review", "approved", "declined", "accepted", "disbursed", "repaying",
    "closed", "withdrawn", "expired", "written_off",
)
EMPLOYMENT = ("employed", "self_employed", "business_owner", "retired", "student", "unemployed")
DECISION_OUTCOMES = ("approve", "decline", "review")
LOAN_STATUSES = ("active", "closed", "written_off")
BUCKETS = ("current", "M1", "M2", "M3+")
CLASSIFICATIONS = ("normal", "special_mention", "substandard", "doubtful", "loss")
INSTALLMENT_STATUSES = ("due", "paid", "overdue", "superseded")


class LoanProduct(Base):
    __tablename__ = "loan_products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # consumer | business | secured
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    min_amount_minor: Mapped[int] = mapped_column(BigInteger)
    max_amount_minor: Mapped[int] = mapped_column(BigInteger)
    min_term_months: Mapped[int] = mapped_column(Integer)
    max_term_months: Mapped[int] = mapped_column(Integer)
    methods: Mapped[list[Any]] = mapped_column(JSON)  # allowed repayment methods
    reference_rate: Mapped[str] = mapped_column(String(16), default="LPR1Y")  # LPR1Y | LPR5Y
    spreads_bps: Mapped[dict[str, Any]] = mapped_column(JSON)  # grade -> spread over the reference, bps
    grade_limits_minor: Mapped[dict[str, Any]] = mapped_column(JSON)  # grade -> largest amount
    income_multiple: Mapped[float] = mapped_column(Float, default=12.0)  # amount <= multiple x monthly income
    max_dti: Mapped[float] = mapped_column(Float, default=0.55)  # all monthly debt service / monthly income
    max_ltv: Mapped[float | None] = mapped_column(Float)  # secured products only
    collateral_kind: Mapped[str | None] = mapped_column(String(16))  # secured: property | vehicle
    penalty_markup: Mapped[float] = mapped_column(Float, default=0.5)  # penalty rate = rate x (1 + markup)
    maker_checker_minor: Mapped[int | None] = mapped_column(BigInteger)  # approvals above need two officers
    min_age: Mapped[int] = mapped_column(Integer, default=18)
    max_age: Mapped[int] = mapped_column(Integer, default=65)  # at the end of the term
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | retired
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class ReferenceRate(Base):
    __tablename__ = "reference_rates"
    __table_args__ = (UniqueConstraint("name", "effective_date", name="uq_reference_rates_name_date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(16))  # LPR1Y | LPR5Y
    effective_date: Mapped[date] = mapped_column(Date)
    rate_bps: Mapped[int] = mapped_column(Integer)  # 300 = 3.00% a year
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class LoanApplication(Base):
    __tablename__ = "loan_applications"
    __table_args__ = (Index("ix_loan_applications_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    product_id: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(BigInteger)  # the customer's deposit account (payout, debits)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    term_months: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(24))
    purpose: Mapped[str] = mapped_column(String(200))
    monthly_income_minor: Mapped[int] = mapped_column(BigInteger)
    employment: Mapped[str] = mapped_column(String(24))
    employer: Mapped[str | None] = mapped_column(security.EncryptedText("loan_applications.employer"))
    years_employed: Mapped[int | None] = mapped_column(Integer)
    dependents: Mapped[int] = mapped_column(Integer, default=0)
    existing_debt_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # outstanding elsewhere
    existing_monthly_repayment_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    revolving_balance_minor: Mapped[int | None] = mapped_column(BigInteger)  # credit cards used
    revolving_limit_minor: Mapped[int | None] = mapped_column(BigInteger)  # credit cards limit
    open_credit_lines: Mapped[int | None] = mapped_column(Integer)
    real_estate_loans: Mapped[int | None] = mapped_column(Integer)
    collateral_kind: Mapped[str | None] = mapped_column(String(24))  # property | vehicle
    collateral_value_minor: Mapped[int | None] = mapped_column(BigInteger)
    collateral_description: Mapped[str | None] = mapped_column(
        security.EncryptedText("loan_applications.collateral_description"))
    channel: Mapped[str] = mapped_column(String(16), default="web")  # web | api | assistant | branch
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    decision_id: Mapped[int | None] = mapped_column(BigInteger)  # the decision in force
    grade: Mapped[str | None] = mapped_column(String(2))
    approved_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    rate_bps: Mapped[int | None] = mapped_column(Integer)  # annual contractual rate
    assigned_to: Mapped[int | None] = mapped_column(BigInteger)  # loan officer holding a manual review
    maker_id: Mapped[int | None] = mapped_column(BigInteger)  # first officer of a maker-checker approval
    loan_id: Mapped[int | None] = mapped_column(BigInteger)
    offer_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, default=1)


class LoanApplicationEvent(Base):
    __tablename__ = "loan_application_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(BigInteger, index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)  # users.id; null = the system
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class CreditDecision(Base):
    __tablename__ = "credit_decisions"
    __table_args__ = (Index("ix_credit_decisions_created", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(BigInteger, index=True)
    stage: Mapped[str] = mapped_column(String(12))  # auto | maker | checker | officer
    outcome: Mapped[str] = mapped_column(String(12))  # approve | decline | review
    decided_by: Mapped[int | None] = mapped_column(BigInteger)  # null = automatic
    pd: Mapped[float | None] = mapped_column(Float)  # champion's probability of default
    points: Mapped[int | None] = mapped_column(Integer)  # scorecard points (higher = safer)
    model_version: Mapped[str] = mapped_column(String(80))  # "none" when no model is trained
    challenger_pd: Mapped[float | None] = mapped_column(Float)
    challenger_version: Mapped[str | None] = mapped_column(String(80))
    grade: Mapped[str | None] = mapped_column(String(2))
    limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)  # approved amount
    rate_bps: Mapped[int | None] = mapped_column(Integer)
    reference_rate_bps: Mapped[int | None] = mapped_column(Integer)
    spread_bps: Mapped[int | None] = mapped_column(Integer)
    policy_hits: Mapped[list[Any] | None] = mapped_column(JSON)  # [{code, action, en, zh}]
    reasons: Mapped[list[Any] | None] = mapped_column(JSON)  # [{code, en, zh}] most important first
    features: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class Loan(Base):
    __tablename__ = "loans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    application_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    product_id: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(BigInteger)  # the deposit account paid into and debited
    loan_account_id: Mapped[int] = mapped_column(BigInteger, unique=True)  # ledger account of kind "loan"
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    rate_bps: Mapped[int] = mapped_column(Integer)
    penalty_rate_bps: Mapped[int] = mapped_column(Integer)
    term_months: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(24))
    start_date: Mapped[date] = mapped_column(Date)  # disbursement value date
    status: Mapped[str] = mapped_column(String(16), default="active")
    outstanding_minor: Mapped[int] = mapped_column(BigInteger)  # principal still owed
    days_past_due: Mapped[int] = mapped_column(Integer, default=0)
    bucket: Mapped[str] = mapped_column(String(8), default="current")
    classification: Mapped[str] = mapped_column(String(16), default="normal")
    provision_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    penalty_accrued_micro: Mapped[int] = mapped_column(BigInteger, default=0)  # unposted, micro-units
    auto_debit: Mapped[bool] = mapped_column(Boolean, default=True)
    schedule_version: Mapped[int] = mapped_column(Integer, default=1)
    disbursement_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    disbursed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)


class LoanInstallment(Base):
    __tablename__ = "loan_installments"
    __table_args__ = (
        UniqueConstraint("loan_id", "schedule_version", "seq", name="uq_loan_installments_seq"),
        Index("ix_loan_installments_due", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(BigInteger, index=True)
    schedule_version: Mapped[int] = mapped_column(Integer, default=1)
    seq: Mapped[int] = mapped_column(Integer)  # 1..n
    due_date: Mapped[date] = mapped_column(Date)
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    interest_minor: Mapped[int] = mapped_column(BigInteger)
    paid_principal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_interest_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    penalty_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # penalty interest charged
    paid_penalty_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(12), default="due")  # due | paid | overdue | superseded
    paid_on: Mapped[date | None] = mapped_column(Date)


class LoanRepayment(Base):
    __tablename__ = "loan_repayments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # scheduled | auto_debit | early_partial | early_full
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    interest_minor: Mapped[int] = mapped_column(BigInteger)
    penalty_minor: Mapped[int] = mapped_column(BigInteger)
    value_date: Mapped[date] = mapped_column(Date)
    transfer_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    initiated_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class LoanStatusHistory(Base):
    __tablename__ = "loan_status_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(BigInteger, index=True)
    day: Mapped[date] = mapped_column(Date)
    days_past_due: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(8))
    classification: Mapped[str] = mapped_column(String(16))
    provision_minor: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(200))


class LoanWarning(Base):
    __tablename__ = "loan_warnings"
    __table_args__ = (UniqueConstraint("installment_id", name="uq_loan_warnings_installment"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(BigInteger, index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    installment_id: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date] = mapped_column(Date)
    probability: Mapped[float] = mapped_column(Float)  # estimated chance the instalment is missed
    reasons: Mapped[list[Any] | None] = mapped_column(JSON)  # [{code, en, zh}]
    risk_warning_id: Mapped[int | None] = mapped_column(BigInteger)  # the row on the risk dashboard
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | paid | missed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class CreditBlacklist(Base):
    """People the bank will not lend to (fraud, court-listed defaulters 失信被执行人, ...), by resident ID
    number: only its SHA-256 (with the bank's secret as key) and last four characters are kept."""

    __tablename__ = "credit_blacklist"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_last4: Mapped[str] = mapped_column(String(4))
    reason: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "loan_applications": {"*": "C2", "id": "C1", "version": "C1"},  # income, employer, debts, collateral
    "loan_application_events": {"*": "C2", "id": "C1"},
    "credit_decisions": {"*": "C2", "id": "C1"},  # credit data and decisions
    "loans": {"*": "C2", "id": "C1", "version": "C1"},
    "loan_installments": {"*": "C2", "id": "C1"},
    "loan_repayments": {"*": "C2", "id": "C1"},
    "loan_status_history": {"*": "C2", "id": "C1"},
    "loan_warnings": {"*": "C2", "id": "C1"},
    "credit_blacklist": {"*": "C2", "id": "C1", "added_by": "C1", "active": "C1"},
    "loan_products": {"*": "none", "income_multiple": "none"},
    "reference_rates": {"*": "none", "name": "none"},
}

"""Tables of the risk domain.

- ``risk_decisions``: one row per scored payment (allow / challenge / review / block) with its score,
  model version, rule hits, reason codes and the features that mattered. Written in the same
  transaction as the payment (on PostgreSQL by the ledger's procedure, in the same statement).
- ``risk_challenges``: the one-time codes of step-up challenges (only a hash of the code is kept).
- ``risk_rules``: rules as data, versioned (editing adds version + 1); mode active / shadow / retired.
- ``risk_alerts`` and ``risk_alert_events``: the alert queue and each case's timeline.
- ``risk_labels``: confirmed outcomes (fraud / genuine) that feed the next training run.
- ``risk_limits`` and ``risk_limit_breaches``: daily amount / count limits per customer, product and
  channel, and every breach.
- ``risk_register``, ``risk_kris``, ``risk_kri_values``, ``risk_warnings``: the risk register and
  matrix, key risk indicators bound to live metrics, and the early warnings they raise.
- ``risk_model_monitor``: score-distribution drift (PSI) and alert rate per period.

Customer notifications of blocked or held payments live in :mod:`smartbank.notifications`.
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

DECISIONS = ("allow", "challenge", "review", "block")
RULE_ACTIONS = ("flag", "challenge", "review", "block")  # flag: counted and shown, does not change the outcome
RULE_MODES = ("active", "shadow", "retired")
ALERT_STATUSES = ("open", "investigating", "closed")
ALERT_RESOLUTIONS = ("fraud", "false_alarm")
CHANNELS = ("web", "api", "assistant", "schedule")
LIMIT_SCOPES = ("customer", "product", "channel")
RISK_CATEGORIES = ("credit", "market", "operational", "compliance", "infosec")


class RiskDecision(Base):
    __tablename__ = "risk_decisions"
    __table_args__ = (
        Index("ix_risk_decisions_customer_created", "customer_id", "created_at"),
        Index("ix_risk_decisions_transfer", "transfer_id"),
        Index("ix_risk_decisions_created", "created_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    transfer_id: Mapped[int | None] = mapped_column(BigInteger)  # null when nothing was posted or held
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(BigInteger)
    counterparty_account_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(24))  # transfer | bill_payment | top_up
    product: Mapped[str | None] = mapped_column(String(24))  # the paying account's product (kind)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str | None] = mapped_column(String(160))
    decision: Mapped[str] = mapped_column(String(12))  # allow | challenge | review | block
    score: Mapped[float | None] = mapped_column(Float)  # the model's fraud probability (null: no model)
    model_version: Mapped[str] = mapped_column(String(80))  # "rules-only" when no model is loaded
    rules_version: Mapped[str | None] = mapped_column(String(40))
    rule_hits: Mapped[list[Any] | None] = mapped_column(JSON)  # [{code, version, action, shadow}]
    reasons: Mapped[list[Any] | None] = mapped_column(JSON)  # [{code, en, zh}] in order of weight
    features: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    latency_us: Mapped[int | None] = mapped_column(Integer)
    challenge_id: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(16))  # challenge_passed | challenge_failed | ...


class RiskChallenge(Base):
    __tablename__ = "risk_challenges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    decision_id: Mapped[int] = mapped_column(BigInteger, index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    request_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | passed | failed | expired
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    passed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RiskRule(Base):
    __tablename__ = "risk_rules"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    expression: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(12))  # flag | challenge | review | block
    mode: Mapped[str] = mapped_column(String(12), default="active")  # active | shadow | retired
    reason_en: Mapped[str] = mapped_column(String(300))  # plain words a customer may be shown
    reason_zh: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RiskAlert(Base):
    __tablename__ = "risk_alerts"
    __table_args__ = (Index("ix_risk_alerts_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    decision_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    customer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    transfer_id: Mapped[int | None] = mapped_column(BigInteger)  # the held (pending) or posted payment
    decision: Mapped[str] = mapped_column(String(12))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    score: Mapped[float | None] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer, default=2)  # 1 high .. 3 low
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | investigating | closed
    assigned_to: Mapped[int | None] = mapped_column(BigInteger)
    resolution: Mapped[str | None] = mapped_column(String(16))  # fraud | false_alarm
    action: Mapped[str | None] = mapped_column(String(16))  # released | voided | reverse_pending | reversed | none
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RiskAlertEvent(Base):
    __tablename__ = "risk_alert_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(24))  # created | assigned | note | confirmed | released ...
    note: Mapped[str | None] = mapped_column(Text)


class RiskLabel(Base):
    __tablename__ = "risk_labels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transfer_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    decision_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    label: Mapped[int] = mapped_column(Integer)  # 1 fraud, 0 genuine
    source: Mapped[str] = mapped_column(String(16))  # case | challenge | import
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class RiskLimit(Base):
    __tablename__ = "risk_limits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(12))  # customer | product | channel
    scope_value: Mapped[str] = mapped_column(String(40))  # a customer id, a product (account kind), a channel
    daily_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    daily_count: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(12), default="block")  # challenge | review | block
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class RiskLimitBreach(Base):
    __tablename__ = "risk_limit_breaches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    limit_id: Mapped[int] = mapped_column(BigInteger, index=True)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    decision_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # the payment's amount
    used_amount_minor: Mapped[int] = mapped_column(BigInteger)  # the day's use before it
    used_count: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(12))


class RiskRegisterEntry(Base):
    __tablename__ = "risk_register"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    category: Mapped[str] = mapped_column(String(16))  # credit | market | operational | compliance | infosec
    title_en: Mapped[str] = mapped_column(String(200))
    title_zh: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    likelihood: Mapped[int] = mapped_column(Integer)  # 1..5
    impact: Mapped[int] = mapped_column(Integer)  # 1..5
    owner: Mapped[str | None] = mapped_column(String(80))
    controls: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class RiskKri(Base):
    __tablename__ = "risk_kris"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    risk_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    metric: Mapped[str] = mapped_column(String(40))  # a live metric's name (risk.monitor.METRICS)
    direction: Mapped[str] = mapped_column(String(8), default="above")  # above | below
    warn_threshold: Mapped[float] = mapped_column(Float)
    breach_threshold: Mapped[float] = mapped_column(Float)
    window_days: Mapped[int] = mapped_column(Integer, default=7)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RiskKriValue(Base):
    __tablename__ = "risk_kri_values"
    __table_args__ = (Index("ix_risk_kri_values_kri_at", "kri_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kri_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[float | None] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(8))  # ok | warning | breach | no_data


class RiskWarning(Base):
    __tablename__ = "risk_warnings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kri_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    source: Mapped[str] = mapped_column(String(24))  # kri | model_drift | lending ...
    level: Mapped[str] = mapped_column(String(8))  # warning | breach
    value: Mapped[float | None] = mapped_column(Float)
    message_en: Mapped[str] = mapped_column(String(300))
    message_zh: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    acknowledged_by: Mapped[int | None] = mapped_column(BigInteger)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RiskModelMonitor(Base):
    __tablename__ = "risk_model_monitor"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    model_version: Mapped[str] = mapped_column(String(80))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    n: Mapped[int] = mapped_column(Integer)
    mean_score: Mapped[float | None] = mapped_column(Float)
    psi: Mapped[float | None] = mapped_column(Float)
    alert_rate: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12))  # ok | warning | drift | no_data
    bins: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "risk_decisions": {"*": "C2", "id": "C1"},
    "risk_alerts": {"*": "C2", "id": "C1"},
    "risk_alert_events": {"*": "C2", "id": "C1"},
    "risk_challenges": {"*": "C2", "id": "C1", "code_hash": "C3", "request_hash": "C1"},
    "risk_labels": {"*": "C2", "id": "C1"},
    "risk_limit_breaches": {"*": "C2", "id": "C1"},
    "risk_limits": {"*": "C1", "scope_value": "C2", "note": "C2"},
    "risk_kris": {"*": "none"},
    "risk_kri_values": {"*": "none"},
    "risk_model_monitor": {"*": "none"},
    "risk_register": {"*": "none"},
    "risk_rules": {"*": "none"},
    "risk_warnings": {"*": "C1"},
}

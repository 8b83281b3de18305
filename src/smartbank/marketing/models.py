"""Tables of the marketing domain.

Core (this module):

- ``mkt_campaigns``: a campaign (audience, channels, schedule, goal, approval state), versioned by ``version``.
- ``mkt_campaign_arms``: its arms - the variants with their content per language and their weights, and the
  holdout (``is_holdout``: assigned, measured, never contacted).
- ``mkt_assignments``: which arm each customer of a campaign is in (deterministic, see ``assignment.py``);
  one row per campaign and customer, written once.
- ``mkt_conversions``: goal events of the customers in a campaign (every arm, the holdout too) found in the
  bank's records, with the touch they are attributed to.
- ``mkt_messages``: every contact attempt on every channel, sent or not: the delivery status, and for one that
  was not sent, the reason (``suppressed_reason``) - so a marketer can see why a customer was not contacted.

Each part of the domain keeps its other tables in its own ``*_tables`` module, imported here so that
``Base.metadata`` and :data:`PERSONAL_DATA` are complete.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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

CAMPAIGN_STATUSES = ("draft", "submitted", "approved", "running", "paused", "completed", "rejected", "cancelled")
# the product event that counts as a conversion (measured from the bank's own records, never self-reported)
GOALS = ("wealth_purchase", "loan_application", "top_up", "bill_payment", "deposit", "digital_login")
CHANNELS = ("inapp", "banner", "sms", "email")
# message delivery states; "suppressed" = not sent, see suppressed_reason
MESSAGE_STATUSES = ("queued", "sent", "delivered", "failed", "suppressed")


class Campaign(Base):
    __tablename__ = "mkt_campaigns"
    __table_args__ = (UniqueConstraint("code", name="uq_mkt_campaigns_code"),
                      Index("ix_mkt_campaigns_status", "status"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # {"expression": "<tag/profile expression>" | null, "segments": [...], "tags": [...],
    #  "model": {"name": "propensity_wealth" | "uplift" | ..., "min_score": 0.3} | null}
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)  # in order of preference
    # {"kind": "once" | "recurring", "start_at": iso, "every_days": int | null, "end_at": iso | null}
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    goal: Mapped[str] = mapped_column(String(32))
    goal_window_days: Mapped[int] = mapped_column(Integer, default=14)  # attribution window after a touch
    holdout_bp: Mapped[int] = mapped_column(Integer, default=1000)  # share held out, basis points (10% = 1000)
    purpose: Mapped[str] = mapped_column(String(32), default="marketing")  # the consent purpose (per channel)
    offer: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # e.g. {"kind": "coupon", ...} (optional)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))  # the approver (never the maker) or rejecter
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignArm(Base):
    __tablename__ = "mkt_campaign_arms"
    __table_args__ = (UniqueConstraint("campaign_id", "code", name="uq_mkt_campaign_arms_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(16))  # "A", "B", ..., "holdout"
    weight: Mapped[int] = mapped_column(Integer, default=1)  # relative weight among the contacted arms
    is_holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"zh": {"title": ..., "body": ...}, "en": {...}}; personalisation fields as {name}, {first_name}...
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CampaignAssignment(Base):
    __tablename__ = "mkt_assignments"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id", name="uq_mkt_assignments"),
                      Index("ix_mkt_assignments_customer", "customer_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    arm: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)  # the audience model's score when it chose the customer
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class MarketingMessage(Base):
    __tablename__ = "mkt_messages"
    __table_args__ = (Index("ix_mkt_messages_customer_channel_created", "customer_id", "channel", "created_at"),
                      Index("ix_mkt_messages_campaign", "campaign_id"),
                      Index("ix_mkt_messages_journey", "journey_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    journey_id: Mapped[int | None] = mapped_column(BigInteger)
    arm: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(String(32), default="marketing")
    lang: Mapped[str] = mapped_column(String(8), default="zh")
    status: Mapped[str] = mapped_column(String(12))  # MESSAGE_STATUSES
    suppressed_reason: Mapped[str | None] = mapped_column(String(40))  # cap | quiet_hours | no_consent | ...
    reason_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200))  # masked phone / e-mail as it was sent to
    external_id: Mapped[str | None] = mapped_column(String(120))  # the gateway's message id
    error: Mapped[str | None] = mapped_column(String(300))
    cost_micro: Mapped[int] = mapped_column(BigInteger, default=0)  # what sending it cost, in 1e-6 yuan
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # impression / opened
    clicked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # banner closed
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # banner shown until


class Conversion(Base):
    """A goal event of a customer who is in a campaign (any arm, the holdout included), found in the bank's own
    records (a wealth order, a loan application, a posted transfer...), with the touch it is attributed to."""

    __tablename__ = "mkt_conversions"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id", "event_ref", name="uq_mkt_conversions_event"),
                      Index("ix_mkt_conversions_campaign", "campaign_id", "arm"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    arm: Mapped[str] = mapped_column(String(16))
    goal: Mapped[str] = mapped_column(String(32))
    event_ref: Mapped[str] = mapped_column(String(80))  # e.g. "wealth_order:123", "loan_application:45"
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # the business it brought (principal...)
    margin_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # revenue as the bank's margin on it
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # the last touch within the window (null: none)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "mkt_campaigns": {"*": "C1"},
    "mkt_campaign_arms": {"*": "C1"},
    "mkt_assignments": {"*": "C2", "id": "C1"},
    "mkt_messages": {"*": "C2", "id": "C1", "address": "C3"},
    "mkt_conversions": {"*": "C2", "id": "C1"},
}

# the parts' own tables (each part keeps them in its *_tables module)
from smartbank.marketing import (  # noqa: E402
    campaigns_tables,
    contact_tables,
    experiments_tables,
    journeys_tables,
    measure_tables,
    uplift_tables,
)

for _part in (contact_tables, campaigns_tables, experiments_tables, uplift_tables, measure_tables, journeys_tables):
    PERSONAL_DATA.update(getattr(_part, "PERSONAL_DATA", {}))

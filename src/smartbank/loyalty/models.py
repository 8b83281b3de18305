"""Tables of the loyalty domain.

- ``loy_rules``: behaviour -> points, with a cap per month or once per customer; versioned (a change writes a
  new version and retires the one before; the entries name the version that earned them).
- ``loy_entries``: the points ledger, append-only: earn (+), redeem (-), expire (-), adjust (+/-), each with a
  unique ``source_ref`` so that one event earns (or one redemption spends) once. A customer's balance is the sum.
- ``loy_lots``: what each earn (or positive adjustment) left unspent, with its ``expires_at``; redemptions,
  negative adjustments and expiry consume the oldest lots first. The sum of ``remaining`` equals the sum of the
  entries (``reconcile`` checks it).
- ``loy_rewards``: the rewards catalogue (cost in points, value in fen).
- ``loy_redemptions``: a redemption; a voucher (fee waiver, top-up coupon) carries a code and an expiry that a
  later payment consumes, a cash-back the ledger transfer that paid it.
- ``loy_watermarks``: how far the earning scan has read each source.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

ENTRY_KINDS = ("earn", "redeem", "expire", "adjust")
# the behaviours a rule can reward (each read from the bank's own records)
BEHAVIOURS = ("bill_payment", "salary_credit", "first_wealth_purchase", "scheduled_transfer")
REWARD_KINDS = ("fee_waiver", "topup_coupon", "cashback")
REDEMPTION_STATUSES = ("issued", "used", "expired", "paid")


class LoyaltyRule(Base):
    __tablename__ = "loy_rules"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_loy_rules_code_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    behaviour: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(Integer)
    cap_per_month: Mapped[int | None] = mapped_column(Integer)  # points per customer per calendar month
    once_per_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class LoyaltyEntry(Base):
    __tablename__ = "loy_entries"
    __table_args__ = (UniqueConstraint("source_ref", name="uq_loy_entries_source_ref"),
                      Index("ix_loy_entries_customer", "customer_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(BigInteger)  # signed
    rule_code: Mapped[str | None] = mapped_column(String(40))
    rule_version: Mapped[int | None] = mapped_column(Integer)
    source_ref: Mapped[str] = mapped_column(String(80))
    redemption_id: Mapped[int | None] = mapped_column(BigInteger)
    transfer_id: Mapped[int | None] = mapped_column(BigInteger)  # the ledger posting of its money side
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class LoyaltyLot(Base):
    __tablename__ = "loy_lots"
    __table_args__ = (Index("ix_loy_lots_customer", "customer_id", "expires_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoyaltyReward(Base):
    __tablename__ = "loy_rewards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    cost_points: Mapped[int] = mapped_column(BigInteger)
    value_minor: Mapped[int] = mapped_column(BigInteger)
    valid_days: Mapped[int] = mapped_column(Integer, default=90)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LoyaltyRedemption(Base):
    __tablename__ = "loy_redemptions"
    __table_args__ = (Index("ix_loy_redemptions_customer", "customer_id", "id"),
                      UniqueConstraint("customer_id", "idempotency_key", name="uq_loy_redemptions_key"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    reward_code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    value_minor: Mapped[int] = mapped_column(BigInteger)
    voucher_code: Mapped[str | None] = mapped_column(String(24), unique=True)
    status: Mapped[str] = mapped_column(String(8))
    account_id: Mapped[int | None] = mapped_column(BigInteger)
    transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_ref: Mapped[str | None] = mapped_column(String(80))
    # the customer's key for this request: the same key again answers the first redemption (a form sent twice)
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class LoyaltyWatermark(Base):
    __tablename__ = "loy_watermarks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)


PERSONAL_DATA: dict[str, dict[str, str]] = {
    "loy_rules": {"*": "none"},
    "loy_rewards": {"*": "none"},
    "loy_watermarks": {"*": "none", "name": "none"},
    "loy_entries": {"*": "C2", "id": "C1"},
    "loy_lots": {"*": "C2", "id": "C1"},
    "loy_redemptions": {"*": "C2", "id": "C1"},
}

"""Tables of the marketing domain's contact part (see :mod:`smartbank.marketing.models`).

- ``mkt_contact_policy``: one row per channel (``sms``, ``email``, ``inapp``, ``banner``) and one for ``all``
  channels together: the frequency cap (at most ``max_count`` messages sent in ``period_days``), the quiet hours
  (``quiet_start``-``quiet_end``, local time in ``timezone``; none = exempt) and the cost of one message
  (``cost_micro``, 1e-6 yuan). A channel without a row follows :data:`smartbank.marketing.contact.DEFAULT_POLICY`.
- ``mkt_do_not_disturb``: a customer who asked (at the counter, on the phone) not to be contacted, on one channel
  or on all, until a date or for good; removed entries stay, with who removed them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId


class ContactPolicy(Base):
    __tablename__ = "mkt_contact_policy"

    channel: Mapped[str] = mapped_column(String(12), primary_key=True)  # a channel, or "all"
    max_count: Mapped[int | None] = mapped_column(Integer)  # None: no cap
    period_days: Mapped[int] = mapped_column(Integer, default=7)
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "21:00"; None: no quiet hours (exempt)
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "09:00"
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    cost_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class DoNotDisturb(Base):
    __tablename__ = "mkt_do_not_disturb"
    __table_args__ = (Index("ix_mkt_do_not_disturb_customer", "customer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(12))  # a channel, or "all"
    reason: Mapped[str] = mapped_column(String(300))
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: until removed
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    removed_by: Mapped[str | None] = mapped_column(String(64))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


PERSONAL_DATA: dict[str, dict[str, str]] = {
    "mkt_contact_policy": {"*": "C1"},
    "mkt_do_not_disturb": {"*": "C2", "id": "C1", "reason": "C3"},
}

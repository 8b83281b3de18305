"""Tables of the recommendation domain.

- ``rec_items``: everything that can be recommended, across product types (wealth products, loan
  products, later marketing offers), with content features; ``item_key`` is "<type>:<code>".
- ``rec_events``: implicit feedback and the serving record in one log - views, clicks, purchases,
  holdings snapshots, impressions and conversions - with the slot and model version that showed an
  item, so click-through and conversion can be reported per slot and per model.
- ``rec_served``: each list served to a customer (slot, model version, items with scores and plain-words
  reasons); impressions and clicks point back to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

ITEM_TYPES = ("wealth", "loan", "offer")
EVENTS = ("view", "click", "purchase", "hold", "impression", "conversion", "dismiss")


class RecItem(Base):
    __tablename__ = "rec_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_key: Mapped[str] = mapped_column(String(64), unique=True)  # wealth:WMP001, loan:PERSONAL
    item_type: Mapped[str] = mapped_column(String(12))
    ref_id: Mapped[int | None] = mapped_column(BigInteger)  # the product's id in its own domain
    name_en: Mapped[str] = mapped_column(String(160))
    name_zh: Mapped[str] = mapped_column(String(160))
    risk_level: Mapped[str | None] = mapped_column(String(2))  # R1..R5 for investment products
    features: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # content features (asset class, term, tags)
    status: Mapped[str] = mapped_column(String(12), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class RecEvent(Base):
    __tablename__ = "rec_events"
    __table_args__ = (
        Index("ix_rec_events_customer_at", "customer_id", "at"),
        Index("ix_rec_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    item_id: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(12))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    served_id: Mapped[int | None] = mapped_column(BigInteger)  # the list it came from, if any
    slot: Mapped[str | None] = mapped_column(String(32))
    model_version: Mapped[str | None] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class RecServed(Base):
    __tablename__ = "rec_served"
    __table_args__ = (Index("ix_rec_served_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    slot: Mapped[str] = mapped_column(String(32))  # portal_home, wealth_page, assistant ...
    model_version: Mapped[str] = mapped_column(String(80))
    items: Mapped[list[Any]] = mapped_column(JSON)  # [{item_id, score, reason_code, en, zh, source}]
    filtered: Mapped[list[Any] | None] = mapped_column(JSON)  # [{item_id, rule}] removed after ranking
    latency_us: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "rec_events": {"*": "C2", "id": "C1"},
    "rec_served": {"*": "C2", "id": "C1"},
    "rec_items": {"*": "none"},
}

"""Privacy requests (PIPL Arts. 45-47): corrections the customer asks for and deletion requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId


class PrivacyRequest(Base):
    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(16))  # correction | deletion
    # correction: open | accepted | rejected; deletion: done
    status: Mapped[str] = mapped_column(String(16))
    field: Mapped[str | None] = mapped_column(String(32))  # correction: which field of the record
    requested_value: Mapped[str | None] = mapped_column(String(300))  # correction: the value the customer gives
    customer_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    resolved_by: Mapped[int | None] = mapped_column(BigInteger)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_note: Mapped[str | None] = mapped_column(String(500))
    # deletion: what was anonymised and which categories are kept until when
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_privacy_requests_customer", "customer_id", "id"),
                      Index("ix_privacy_requests_kind_status", "kind", "status"))

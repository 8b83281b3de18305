"""Privacy requests (PIPL Arts. 45-47): corrections the customer asks for and deletion requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

# personal-information classes (JR/T 0171-2020) of the columns: the values and notes people type are C2
_C1, _C2 = {"pi": "C1"}, {"pi": "C2"}


class PrivacyRequest(Base):
    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, info=_C1)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id"), info=_C1)
    kind: Mapped[str] = mapped_column(String(16), info=_C1)  # correction | deletion
    # correction: open | accepted | rejected; deletion: done
    status: Mapped[str] = mapped_column(String(16), info=_C1)
    field: Mapped[str | None] = mapped_column(String(32), info=_C1)  # correction: which field of the record
    # correction: the value the customer gives
    requested_value: Mapped[str | None] = mapped_column(String(300), info=_C2)
    customer_note: Mapped[str | None] = mapped_column(String(500), info=_C2)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now(),
                                                 info=_C1)
    resolved_by: Mapped[int | None] = mapped_column(BigInteger, info=_C1)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), info=_C1)
    resolution_note: Mapped[str | None] = mapped_column(String(500), info=_C2)
    # deletion: what was anonymised and which categories are kept until when
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, info=_C1)

    __table_args__ = (Index("ix_privacy_requests_customer", "customer_id", "id"),
                      Index("ix_privacy_requests_kind_status", "kind", "status"))

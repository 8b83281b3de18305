"""The back office's own table: change requests, maker-checker for sensitive configuration.

A change to a risk rule, a reference rate, a loan or wealth product, a risk limit, a customer's daily limit or
a staff member's role is first a row here (``pending``): what (``kind`` and ``target``), the new value
(``payload``), the value it changes as it was when proposed (``before``) and why (``reason``), by whom. It takes
effect only when a second, different staff member holding the kind's permission approves it (``applied``, with
the value after in ``after``); it may instead be rejected, or withdrawn by its maker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from smartbank.db import Base, BigId

CHANGE_STATUSES = ("pending", "applied", "rejected", "withdrawn")


class ChangeRequest(Base):
    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(80))  # the object: a rule or product code, a limit or user id...
    status: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the new value (the owner's function's arguments)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the value when proposed (None: does not exist)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the value once applied
    reason: Mapped[str] = mapped_column(String(500), default="")
    requested_by: Mapped[int | None] = mapped_column(BigInteger)  # users.id
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_change_requests_status", "status", "id"),
        Index("ix_change_requests_kind_target", "kind", "target"),
    )


# Personal-information classes (JR/T 0171-2020; see smartbank.models.classification): a change request is the
# bank's own record (C1), but a customer's daily limit travels in its values and people write its reasons (C2).
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "change_requests": {"*": "C1", "payload": "C2", "before": "C2", "after": "C2", "reason": "C2",
                        "decision_note": "C2"},
}

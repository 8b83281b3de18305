"""A customer's risk-tolerance grade in force: the newest accepted assessment that has not lapsed (a refused
attempt is on record but never in force)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.wealth.models import RiskAssessment


def current(session: Session, customer_id: int, now: datetime | None = None) -> RiskAssessment | None:
    now = now or clock.now()
    return session.scalars(
        select(RiskAssessment)
        .where(RiskAssessment.customer_id == customer_id, RiskAssessment.status == "accepted",
               RiskAssessment.expires_at > now)
        .order_by(RiskAssessment.taken_at.desc(), RiskAssessment.id.desc())
        .limit(1)
    ).first()


def current_grade(session: Session, customer_id: int, now: datetime | None = None) -> str | None:
    """``C1``..``C5``, or None when the customer has no valid assessment (never taken, or lapsed)."""
    a = current(session, customer_id, now)
    return a.grade if a is not None else None

"""Recent applications' scores, read from ``credit_decisions``, for the model report's stability (PSI)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.lending.models import CreditDecision

__all__ = ["recent_scores"]


def recent_scores(session: Session, *, days: int = 30, now: datetime | None = None,
                  model_version: str | None = None) -> dict[str, Any]:
    """PDs and points of the applications decided in the last ``days`` days (one per application, its first
    scored decision), optionally only those scored by ``model_version``."""
    now = now or clock.now()
    since = now - timedelta(days=days)
    q = (select(CreditDecision.application_id, CreditDecision.pd, CreditDecision.points,
                CreditDecision.model_version, CreditDecision.created_at)
         .where(CreditDecision.created_at >= since, CreditDecision.pd.is_not(None))
         .order_by(CreditDecision.application_id, CreditDecision.id))
    if model_version is not None:
        q = q.where(CreditDecision.model_version == model_version)
    seen: set[int] = set()
    pds: list[float] = []
    points: list[float] = []
    versions: dict[str, int] = {}
    for app_id, pd_, pts, version, _at in session.execute(q):
        if app_id in seen:
            continue
        seen.add(app_id)
        pds.append(float(pd_ or 0.0))
        if pts is not None:
            points.append(float(pts))
        versions[version] = versions.get(version, 0) + 1
    return {"days": days, "since": since.isoformat(), "n": len(pds), "pd": pds, "points": points,
            "versions": versions}

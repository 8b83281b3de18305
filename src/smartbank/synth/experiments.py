"""Demo data of the experiments part: the reads over time of the demo bank's campaigns, so that the console's
experiment pages show the lift and its always-valid interval evolving (``seed_experiments``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.marketing import service as marketing


def seed_experiments(session: Session, *, looks: int = 8) -> dict[str, Any]:
    """Replay each campaign that has two arms or more and assignments: ``looks`` reads at evenly spaced moments
    from its first assignment to now (the counts as they stood then), the last one now. Call it after the demo's
    campaigns have run and their conversions were found; it writes only ``mkt_experiment_reads`` (and pauses a
    running campaign whose guardrail is significantly worse, as the worker would)."""
    out: dict[str, Any] = {"campaigns": 0, "reads": 0}
    arms = (select(marketing.CampaignArm.campaign_id).group_by(marketing.CampaignArm.campaign_id)
            .having(func.count() >= 2))
    rows = session.execute(select(marketing.CampaignAssignment.campaign_id,
                                  func.min(marketing.CampaignAssignment.assigned_at))
                           .where(marketing.CampaignAssignment.campaign_id.in_(arms))
                           .group_by(marketing.CampaignAssignment.campaign_id)
                           .order_by(marketing.CampaignAssignment.campaign_id)).all()
    now = clock.now()
    for campaign_id, first in rows:
        start = first if first.tzinfo else first.replace(tzinfo=now.tzinfo)
        span = max(now - start, timedelta(0))
        for k in range(1, looks + 1):
            at = start + span * k / looks if k < looks else None
            marketing.evaluate_experiment(session, campaign_id, as_of=at)
            out["reads"] += 1
        out["campaigns"] += 1
    return out

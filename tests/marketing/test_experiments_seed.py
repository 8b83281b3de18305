"""The demo's replay of a campaign's history: reads at moments spread over its life, counts as they stood."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from smartbank import clock
from smartbank.marketing import experiments as ex
from smartbank.marketing.models import CampaignAssignment, Conversion
from smartbank.synth.experiments import seed_experiments
from tests.marketing.test_experiments import make_campaign


def test_replay_reads_grow_with_the_campaign(session):
    cid = make_campaign(session, "DEMO", {"A": (400, 120), "holdout": (400, 40)})
    start = clock.now() - timedelta(days=40)
    # customer k was assigned k/20 days after the start and converted the same day
    for k in range(1, 801):
        at = start + timedelta(hours=k * 1.2)
        session.execute(update(CampaignAssignment).where(CampaignAssignment.customer_id == k).values(assigned_at=at))
        session.execute(update(Conversion).where(Conversion.customer_id == k).values(occurred_at=at))
    out = seed_experiments(session, looks=5)
    assert out == {"campaigns": 1, "reads": 5}
    reads = session.scalars(select(ex.ExperimentRead).order_by(ex.ExperimentRead.id)).all()
    totals = [sum(a["n"] for a in r.arms) for r in reads]
    assert totals == sorted(totals) and totals[-1] == 800 and totals[0] < 800
    ats = [r.at for r in reads]
    assert ats == sorted(ats)
    assert reads[-1].decision == "winner"
    assert ex.arm_counts(session, cid, as_of=start) == {}

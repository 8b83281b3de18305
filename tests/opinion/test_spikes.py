"""Spikes against the seasonal baseline: a constructed series with a known spike is found, with its evidence; a
seasonal series without one raises nothing; the statistic's properties."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from smartbank import clock
from smartbank.opinion import service as opinion
from smartbank.opinion.models import OpinionAlert, OpinionAlertEvent
from tests.opinion.support import add_series


def test_known_spike_is_found_with_its_evidence(session):
    now = opinion.hour_floor(clock.now())
    spike_at = now - timedelta(hours=3)
    add_series(session, now, spike_at=spike_at, spike=25)
    raised = opinion.detect(session, now - timedelta(days=7), now)
    kinds = {(a.kind, a.bucket_start) for a in raised}
    assert kinds == {("volume", spike_at), ("negative", spike_at)}, kinds
    neg = next(a for a in raised if a.kind == "negative")
    assert neg.count >= 25 and neg.count >= neg.threshold > neg.baseline and neg.p_value < opinion.ALPHA
    assert neg.severity == "high" and neg.method == opinion.METHOD
    ev = neg.evidence
    assert len(ev["history"]) == 3 * opinion.WEEKS and ev["top_topics"][0][0] == "outage"
    assert ev["examples"] and all(x["sentiment"] < 0 for x in ev["examples"])
    # the SLA of a high alert: acknowledge within 1 h, respond within 4 h, from now on the bank's clock
    assert neg.ack_due_at - neg.created_at == timedelta(hours=1)
    assert neg.respond_due_at - neg.created_at == timedelta(hours=4)
    events = session.scalars(select(OpinionAlertEvent).where(OpinionAlertEvent.alert_id == neg.id)).all()
    assert [e.action for e in events] == ["raised"]
    # detecting again raises nothing new (an hour alerts once per kind)
    assert opinion.detect(session, now - timedelta(days=7), now) == []


def test_seasonal_series_without_a_spike_raises_nothing(session):
    now = opinion.hour_floor(clock.now())
    n = add_series(session, now, seed=2)
    assert n > 1000
    assert opinion.detect(session, now - timedelta(days=7), now) == []
    assert session.execute(select(func.count(OpinionAlert.id))).scalar() == 0


def test_a_past_spike_does_not_lift_the_baseline(session):
    # a spike in the same hour a week earlier is ignored by the median: this week's spike is still found
    now = opinion.hour_floor(clock.now())
    spike_at = now - timedelta(hours=2)
    add_series(session, now, spike_at=spike_at - timedelta(days=7), spike=40)
    add_series(session, now, seed=3, spike_at=spike_at, spike=20)
    found = opinion.detect(session, spike_at, spike_at + timedelta(hours=1))
    assert {a.kind for a in found} >= {"negative"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=3, max_size=15), st.integers(0, 200))
def test_threshold_is_the_poisson_upper_quantile(history, count):
    from scipy import stats

    t = opinion.test_count(count, history)
    lam = t["baseline"]
    assert lam >= 0.5
    # the threshold is the smallest count (>= the minimum) whose tail is below alpha
    assert t["threshold"] >= 5
    assert stats.poisson.sf(t["threshold"] - 1, lam) < opinion.ALPHA or t["threshold"] == 5
    if t["threshold"] > 5:
        assert stats.poisson.sf(t["threshold"] - 2, lam) >= opinion.ALPHA
    assert t["spike"] == (count >= t["threshold"] and t["p_value"] < opinion.ALPHA)
    # more mentions never make a spike less likely
    assert opinion.test_count(count + 1, history)["p_value"] <= t["p_value"]

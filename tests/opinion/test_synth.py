"""The demo feed has a daily rhythm and a negative spike that the detector finds (and nothing else)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from smartbank import clock
from smartbank.opinion import service as opinion
from smartbank.opinion.models import Mention
from smartbank.synth.opinion import seed_opinion


def test_demo_feed_spike_is_found(engine, session):
    res = seed_opinion(engine, weeks=5, spike_hours_ago=3)
    assert res["mentions"] > 1000 and res["negative"] > 0
    spike_hour = (opinion.hour_floor(clock.now()) - timedelta(hours=3)).isoformat()
    assert {(a["kind"], a["hour"]) for a in res["alerts"]} >= {("negative", spike_hour)}
    assert all(a["hour"] == spike_hour for a in res["alerts"])  # no false alarm over the week
    hours = Counter(m.astimezone(clock.BANK_TZ).hour if m.tzinfo else (m.hour + 8) % 24
                    for m in session.scalars(select(Mention.posted_at)))
    assert sum(hours[h] for h in range(9, 22)) > 3 * sum(hours[h] for h in (0, 1, 2, 3, 4, 5, 6, 7))
    assert seed_opinion(engine, weeks=5, spike_hours_ago=3)["mentions"] == 0  # the feed again: all duplicates

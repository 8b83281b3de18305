"""Helpers of the opinion tests: principals and constructed hourly series."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from smartbank import clock
from smartbank.opinion import service as opinion
from smartbank.opinion.models import Mention
from smartbank.security.service import Principal

MARKETER = Principal(user_id=0, username="mk1", role="marketer", customer_id=None)
OFFICER = Principal(user_id=0, username="ro1", role="risk_officer", customer_id=None)
TELLER = Principal(user_id=0, username="t1", role="teller", customer_id=None)

GOOD = "智慧银行的客服很好，办事效率高"
BAD = "智慧银行系统故障，登不上，太差了！"


def rate_at(hour: datetime) -> float:
    """A daily and weekly rhythm: busy in the bank's day time, quieter at weekends."""
    local = hour.astimezone(clock.BANK_TZ)
    day = 3.0 if 8 <= local.hour < 22 else 0.6
    return day * (0.6 if local.weekday() >= 5 else 1.0)


def add_series(session, end: datetime, *, weeks: int = 5, seed: int = 1, spike_at: datetime | None = None,
               spike: int = 0, negative_share: float = 0.1) -> int:
    """Poisson counts of relevant mentions per hour over ``weeks`` weeks before ``end`` (stored directly, with a
    fixed sentiment), plus ``spike`` negative mentions in the hour ``spike_at``."""
    rng = np.random.default_rng(seed)
    hour = opinion.hour_floor(end) - timedelta(weeks=weeks)
    n = 0
    while hour < end:
        k = int(rng.poisson(rate_at(hour)))
        if spike_at is not None and hour == spike_at:
            k += spike
        for j in range(k):
            neg = (spike_at is not None and hour == spike_at and j < spike) or rng.random() < negative_share
            session.add(Mention(source="t", external_id=f"{seed}-{hour.isoformat()}-{j}", posted_at=hour + timedelta(
                minutes=int(rng.integers(60))), text=BAD if neg else GOOD, language="zh", terms=["智慧银行"],
                products=[], relevant=True, sentiment=-0.8 if neg else 0.6,
                sentiment_label="negative" if neg else "positive", model_version="test",
                topics=["outage"] if neg else []))
            n += 1
        hour += timedelta(hours=1)
    session.flush()
    return n

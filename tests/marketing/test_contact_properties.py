"""Invariants of the contact policy: the quiet-hours arithmetic for any instant and window, and the caps over
any history of sends."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from smartbank import db
from smartbank.marketing import service as marketing
from smartbank.marketing.contact import _quiet_until
from tests.marketing.test_contact import CONTENT, consent

SH = ZoneInfo("Asia/Shanghai")
hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


@settings(max_examples=300, deadline=None)
@given(at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
       start=hhmm, end=hhmm)
def test_quiet_until_ends_at_the_window_end_within_a_day(at, start, end):
    if start == end:
        return
    until = _quiet_until({"quiet_start": start, "quiet_end": end, "timezone": "Asia/Shanghai"}, at)
    t, s, e = at.astimezone(SH).time(), time.fromisoformat(start), time.fromisoformat(end)
    inside = (s <= t or t < e) if s > e else (s <= t < e)
    assert (until is not None) == inside
    if until is not None:
        assert at < until <= at + timedelta(days=1)
        assert until.astimezone(SH).time() == e
        # the moment the window ends is no longer quiet
        assert _quiet_until({"quiet_start": start, "quiet_end": end, "timezone": "Asia/Shanghai"}, until) is None


def test_no_window_of_any_history_exceeds_a_cap(bank, engine, bank_clock):
    """A seeded random history of sends across channels and days: in every 7-day window ending at a send, the
    messages sent per channel and in all never exceed the caps."""
    cid = bank.customer("王芳", email="w@example.com")
    consent(engine, cid, "sms", "email", "push")
    rng = random.Random(18)
    for _ in range(80):
        bank_clock.advance(timedelta(hours=rng.choice([0, 1, 3, 12, 30])))
        with db.session_scope(engine) as s:
            marketing.send(s, marketing.Outgoing(customer_id=cid, channel=rng.choice(["inapp", "banner", "sms"]),
                                                 content=CONTENT))
    with db.session_scope(engine) as s:
        pol = marketing.contact_policy(s)
        sent = s.execute(select(marketing.MarketingMessage.channel, marketing.MarketingMessage.sent_at)
                         .where(marketing.MarketingMessage.status.in_(("sent", "delivered")))).all()
        refused = s.scalar(select(marketing.MarketingMessage.id)
                           .where(marketing.MarketingMessage.suppressed_reason == "frequency_cap").limit(1))
    assert refused is not None  # the history does reach the caps
    times = [(ch, at if at.tzinfo else at.replace(tzinfo=UTC)) for ch, at in sent]
    for _, end in times:
        window = [(ch, at) for ch, at in times if end - timedelta(days=7) <= at <= end]
        assert len(window) <= pol["all"]["max_count"]
        for ch in ("inapp", "banner", "sms"):
            assert sum(1 for c, _ in window if c == ch) <= pol[ch]["max_count"]

"""Assistant analytics on a small hand-checked set."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from smartbank import db
from smartbank.assistant import analytics, handoff
from smartbank.assistant.models import AssistantHandoff
from smartbank.errors import Forbidden, ValidationFailed
from smartbank.security.service import Principal
from tests.assistant.support import agent, conversation


def _msg(intent, sentiment):
    return {"sender": "customer", "text": "…", "intent": intent, "sentiment": sentiment}


def test_numbers_by_hand(engine, bank):
    cust = bank.customer()
    a = agent(bank.user("agent1", role="service_agent"))
    d1 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    d2 = datetime(2026, 3, 3, 9, tzinfo=UTC)
    # 4 conversations in range, 2 handed off -> containment 0.5
    conversation(engine, cust, [_msg("balance", 0.5), _msg("transfer", 0.1)], reason=None, started=d1,
                 satisfaction=5)
    conversation(engine, cust, [_msg("balance", -0.3)], reason=None, started=d1, satisfaction=4)
    c3 = conversation(engine, cust, [_msg("transfer", -0.9)], reason="complaint", started=d2, satisfaction=2)
    c4 = conversation(engine, cust, [_msg(None, None), _msg("balance", -0.1)], reason="explicit", started=d2)
    conversation(engine, cust, [_msg("balance", 1.0)], reason="explicit", started=d2 + timedelta(days=30))  # out
    # c3 claimed late (SLA 5 min, claimed at +10), c4 claimed in time (+1 min)
    for cid, minutes in ((c3, 10), (c4, 1)):
        db.run_in_transaction(lambda s, c=cid: handoff.claim(s, a, c), engine=engine)

        def late(s, c=cid, m=minutes):
            h = s.scalars(select(AssistantHandoff).where(AssistantHandoff.conversation_id == c)).one()
            h.assigned_at = h.created_at + timedelta(minutes=m)

        db.run_in_transaction(late, engine=engine)

    out = db.run_in_transaction(lambda s: analytics.summary(s, a, start=date(2026, 3, 1), end=date(2026, 3, 10)),
                                engine=engine)
    assert out["conversations"] == 4 and out["handed_off"] == 2 and out["containment_rate"] == 0.5
    assert out["top_intents"] == [{"intent": "balance", "count": 3}, {"intent": "transfer", "count": 2}]
    assert out["handoff_reasons"] == [{"reason": "complaint", "count": 1}, {"reason": "explicit", "count": 1}]
    assert out["sentiment_trend"] == [{"day": "2026-03-02", "mean": 0.1, "messages": 3},
                                      {"day": "2026-03-03", "mean": -0.5, "messages": 2}]
    assert out["satisfaction"]["counts"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    assert out["satisfaction"]["mean"] == round(11 / 3, 3) and out["satisfaction"]["rated"] == 3
    assert out["sla"] == {"met": 1, "breached": 1, "pending": 0, "compliance": 0.5}

    empty = db.run_in_transaction(lambda s: analytics.summary(s, a, start=date(2025, 1, 1), end=date(2025, 1, 2)),
                                  engine=engine)
    assert empty["conversations"] == 0 and empty["containment_rate"] is None and empty["sla"]["compliance"] is None


def test_roles_and_range(engine):
    marketer = Principal(user_id=0, username="m", role="marketer", customer_id=None, display_name="m")
    db.run_in_transaction(lambda s: analytics.summary(s, marketer), engine=engine)
    for role in ("customer", "teller", "loan_officer"):
        p = Principal(user_id=0, username="x", role=role, customer_id=None, display_name="x")
        with pytest.raises(Forbidden):
            db.run_in_transaction(lambda s, p=p: analytics.summary(s, p), engine=engine)
    with pytest.raises(ValidationFailed):
        db.run_in_transaction(lambda s: analytics.summary(s, marketer, start=date(2026, 2, 1), end=date(2026, 1, 1)),
                              engine=engine)
    with pytest.raises(ValidationFailed):
        db.run_in_transaction(lambda s: analytics.summary(s, marketer, start=date(2024, 1, 1), end=date(2026, 1, 1)),
                              engine=engine)

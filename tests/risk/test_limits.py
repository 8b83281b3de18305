"""Daily limits: each scope by amount and by count, the day's use, breaches, the cache, management."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from smartbank.errors import Forbidden, NotFound, ValidationFailed
from smartbank.risk import limits
from smartbank.risk.models import RiskDecision, RiskLimit, RiskLimitBreach
from smartbank.security.models import AuditLog
from smartbank.security.service import Principal

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
OFFICER = Principal(user_id=0, username="ro", role="risk_officer", customer_id=None)
TELLER = Principal(user_id=0, username="t", role="teller", customer_id=None)
CUSTOMER = Principal(user_id=0, username="c", role="customer", customer_id=7)
CUST = 42


@pytest.fixture(autouse=True)
def _fresh_cache():
    limits.invalidate()
    yield
    limits.invalidate()


def decide(session, *, amount=10_000, decision="allow", outcome=None, channel="web", product="demand",
           customer=CUST, at=NOW - timedelta(hours=1)):
    session.add(RiskDecision(created_at=at, customer_id=customer, account_id=1, channel=channel, kind="transfer",
                             product=product, amount_minor=amount, currency="CNY", decision=decision,
                             model_version="rules-only", outcome=outcome))
    session.flush()


def add(session, **kw):
    kw.setdefault("action", "block")
    return limits.create_limit(session, OFFICER, **kw)


def chk(session, amount=10_000, *, channel="web", product="demand", customer=CUST, now=NOW):
    return limits.check(session, customer_id=customer, product=product, channel=channel, amount_minor=amount, now=now)


def test_customer_scope_amount_and_count(session):
    lim = add(session, scope="customer", scope_value=str(CUST), daily_amount_minor=100_000, daily_count=3)
    decide(session, amount=50_000, channel="web")
    decide(session, amount=30_000, channel="api", product="savings")
    assert chk(session, 20_000) == []  # 80,000 + 20,000 = the cap exactly
    [hit] = chk(session, 20_001)
    assert (hit.limit_id, hit.scope, hit.action, hit.used_amount_minor, hit.used_count) == \
        (lim["id"], "customer", "block", 80_000, 2)
    assert "1,000.00" in hit.reason_en and "限额" in hit.reason_zh
    decide(session, amount=1)
    [hit] = chk(session, 1)  # the fourth payment of the day
    assert hit.used_count == 3 and "3 payments" in hit.reason_en
    assert chk(session, 1, customer=CUST + 1) == []


def test_product_scope(session):
    add(session, scope="product", scope_value="savings", daily_count=2, action="review")
    decide(session, product="savings")
    decide(session, product="demand")
    decide(session, product="demand")
    assert chk(session, product="savings") == []
    decide(session, product="savings")
    [hit] = chk(session, product="savings")
    assert hit.action == "review" and hit.used_count == 2
    assert chk(session, product="demand") == []


def test_channel_scope_amount(session):
    add(session, scope="channel", scope_value="assistant", daily_amount_minor=2_000_000, action="challenge")
    decide(session, amount=1_500_000, channel="assistant")
    decide(session, amount=9_000_000, channel="web")
    assert chk(session, 500_000, channel="assistant") == []
    [hit] = chk(session, 500_001, channel="assistant")
    assert hit.scope == "channel" and hit.used_amount_minor == 1_500_000 and hit.action == "challenge"
    assert chk(session, 9_000_000, channel="web") == []


def test_what_counts_as_use(session):
    add(session, scope="customer", scope_value=str(CUST), daily_count=100, daily_amount_minor=1_000)
    decide(session, amount=100, decision="allow")
    decide(session, amount=100, decision="review")
    decide(session, amount=100, decision="challenge", outcome="challenge_passed")
    decide(session, amount=1_000_000, decision="challenge")  # unanswered
    decide(session, amount=1_000_000, decision="challenge", outcome="challenge_failed")
    decide(session, amount=1_000_000, decision="block")
    decide(session, amount=1_000_000, decision="review", outcome="voided")
    decide(session, amount=1_000_000, at=NOW - timedelta(hours=15))  # 23:00 yesterday in Shanghai
    decide(session, amount=1_000_000, customer=CUST + 1)
    [hit] = chk(session, 701)
    assert (hit.used_amount_minor, hit.used_count) == (300, 3)
    assert chk(session, 700) == []


def test_bank_day_is_shanghai():
    start, end = limits.bank_day(datetime(2026, 11, 24, 17, 0, tzinfo=UTC))  # 01:00 on the 25th in Shanghai
    assert start == datetime(2026, 11, 24, 16, 0, tzinfo=UTC) and end - start == timedelta(days=1)


def test_most_severe_first_and_breaches_logged(session):
    a = add(session, scope="channel", scope_value="api", daily_count=1, action="challenge")
    b = add(session, scope="customer", scope_value=str(CUST), daily_amount_minor=5_000, action="block")
    decide(session, channel="api", amount=4_000)
    hits = chk(session, 2_000, channel="api")
    assert [h.limit_id for h in hits] == [b["id"], a["id"]]
    limits.record_breaches(session, hits, decision_id=99, customer_id=CUST, amount_minor=2_000)
    rows = session.execute(select(RiskLimitBreach).order_by(RiskLimitBreach.id)).scalars().all()
    assert [(r.limit_id, r.decision_id, r.amount_minor, r.used_amount_minor, r.used_count, r.action) for r in rows] \
        == [(b["id"], 99, 2_000, 4_000, 1, "block"), (a["id"], 99, 2_000, 4_000, 1, "challenge")]
    listed = limits.list_breaches(session, OFFICER)
    assert {x["scope"] for x in listed} == {"customer", "channel"}
    limits.record_breaches(session, [], decision_id=None, customer_id=CUST, amount_minor=1)
    assert session.execute(select(func.count()).select_from(RiskLimitBreach)).scalar() == 2


def _count_statements(engine):
    seen: list[str] = []

    def before(conn, cursor, statement, *a):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return seen, lambda: event.remove(engine, "before_cursor_execute", before)


def test_no_query_when_no_limit_applies_and_one_when_one_does(session, engine):
    add(session, scope="channel", scope_value="assistant", daily_count=5, action="challenge")
    session.commit()
    chk(session, channel="assistant")  # warms the cache
    seen, stop = _count_statements(engine)
    try:
        for _ in range(20):
            assert chk(session, channel="web") == []
        assert seen == []
        chk(session, channel="assistant")
        assert len(seen) == 1 and "risk_decisions" in seen[0]
    finally:
        stop()


def test_change_through_service_applies_at_once(session):
    assert chk(session, channel="assistant") == []  # caches "no limits"
    lim = add(session, scope="channel", scope_value="assistant", daily_count=1, action="challenge")
    decide(session, channel="assistant")
    assert len(chk(session, channel="assistant")) == 1
    limits.edit_limit(session, OFFICER, lim["id"], daily_count=5)
    assert chk(session, channel="assistant") == []
    limits.edit_limit(session, OFFICER, lim["id"], daily_count=1)
    limits.deactivate_limit(session, OFFICER, lim["id"])
    assert chk(session, channel="assistant") == []
    assert [r["active"] for r in limits.list_limits(session, OFFICER)] == [False]
    actions = session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars().all()
    assert actions == ["risk_limit.create", "risk_limit.edit", "risk_limit.edit", "risk_limit.edit"]


def test_cache_reloads_after_a_few_seconds(session, monkeypatch):
    assert chk(session, channel="assistant") == []
    session.add(RiskLimit(scope="channel", scope_value="assistant", daily_count=0 + 1, action="block", active=True))
    decide(session, channel="assistant")
    assert chk(session, channel="assistant") == []  # another process's change: not seen yet
    monkeypatch.setattr(limits, "RELOAD_SECONDS", 0.0)
    assert len(chk(session, channel="assistant")) == 1


@pytest.mark.parametrize("kw", [
    {"scope": "region", "scope_value": "x", "daily_count": 1},
    {"scope": "channel", "scope_value": "fax", "daily_count": 1},
    {"scope": "product", "scope_value": "gold", "daily_count": 1},
    {"scope": "customer", "scope_value": "abc", "daily_count": 1},
    {"scope": "channel", "scope_value": "web"},
    {"scope": "channel", "scope_value": "web", "daily_count": 0},
    {"scope": "channel", "scope_value": "web", "daily_amount_minor": -5},
    {"scope": "channel", "scope_value": "web", "daily_amount_minor": True},
    {"scope": "channel", "scope_value": "web", "daily_count": 1, "action": "allow"},
])
def test_bad_input_writes_nothing(session, kw):
    kw.setdefault("action", "block")
    with pytest.raises(ValidationFailed):
        limits.create_limit(session, OFFICER, **kw)
    assert session.execute(select(func.count()).select_from(RiskLimit)).scalar() == 0
    assert session.execute(select(func.count()).select_from(AuditLog)).scalar() == 0


def test_bad_edit_changes_nothing(session):
    lim = add(session, scope="channel", scope_value="web", daily_count=3)
    with pytest.raises(ValidationFailed):
        limits.edit_limit(session, OFFICER, lim["id"], daily_count=None, daily_amount_minor=None)
    with pytest.raises(ValidationFailed):
        limits.edit_limit(session, OFFICER, lim["id"], scope="customer")
    with pytest.raises(NotFound):
        limits.edit_limit(session, OFFICER, 999_999, daily_count=3)
    assert limits.get_limit(session, OFFICER, lim["id"])["daily_count"] == 3


@pytest.mark.parametrize("who", [TELLER, CUSTOMER])
def test_only_risk_officers_manage_limits(session, who):
    with pytest.raises(Forbidden):
        limits.create_limit(session, who, scope="channel", scope_value="web", daily_count=1)
    with pytest.raises(Forbidden):
        limits.list_limits(session, who)
    with pytest.raises(Forbidden):
        limits.list_breaches(session, who)
    admin = Principal(user_id=0, username="a", role="admin", customer_id=None)
    limits.create_limit(session, admin, scope="channel", scope_value="web", daily_count=1)


def test_seed_defaults_idempotent_and_quiet_for_ordinary_use(session):
    assert limits.seed_defaults(session) >= 2
    assert limits.seed_defaults(session) == 0
    rows = {(r["scope"], r["scope_value"]): r for r in limits.list_limits(session, OFFICER)}
    assert rows[("channel", "assistant")]["daily_amount_minor"] == 2_000_000
    assert rows[("channel", "assistant")]["daily_count"] == 20
    assert rows[("product", "savings")]["daily_count"] == 50
    for _ in range(30):
        decide(session, amount=300_000)
    for ch in ("web", "api"):
        assert chk(session, 500_000, channel=ch) == []

"""Batch and incremental refresh: the incremental result equals a full recompute."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from smartbank import db
from smartbank.insight import service
from smartbank.insight import tags as T
from smartbank.insight.models import CustomerProfile, CustomerTag, InsightState
from tests.insight.test_profiles import AS_OF, Moves, at, build


def snapshot(engine) -> tuple[dict, dict]:
    with db.session_scope(engine) as s:
        profiles = {p.customer_id: (p.as_of, p.features, p.segment, p.value_minor, p.churn_score)
                    for p in s.scalars(select(CustomerProfile))}
        tags = {(t.customer_id, t.code): t.version for t in s.scalars(select(CustomerTag))}
    return profiles, tags


@pytest.fixture(autouse=True)
def no_overlap(monkeypatch):
    # the look-back would recompute every customer of a small bank and hide a missed one
    monkeypatch.setattr(service, "OVERLAP_ENTRIES", 0)


@pytest.fixture
def no_analytics(monkeypatch):
    monkeypatch.setattr(service, "analytics_module", lambda: None)


def test_full_refresh_writes_profiles_tags_and_watermarks(bank, engine):
    w = build(bank, engine)
    r = service.refresh_all(engine, as_of=AS_OF)
    assert r["mode"] == "full" and r["customers"] == 3
    profiles, tags = snapshot(engine)
    assert set(profiles) == {w["a"], w["b"], w["c"]}
    assert profiles[w["a"]][1]["salary_months_365d"] == 3
    assert (w["a"], "salary_earner") in tags and (w["b"], "salary_earner") not in tags
    with db.session_scope(engine) as s:
        state = {x.key: x.value for x in s.scalars(select(InsightState))}
    assert state["as_of"] == AS_OF.toordinal() and state["entry_id"] > 0 and state["customer_id"] == w["c"]


def add_activity(bank, engine, w) -> int:
    """Two bill payments for A, an imported transaction for C, a new customer D (returned)."""
    mv: Moves = w["moves"]
    with db.session_scope(engine) as s:
        from smartbank.ledger import service as ledger

        bills = ledger.internal_account(s, "biller_settlement", "CNY").id
    for d in (15, 12):  # A becomes a bill payer
        mv.post(w["a_cur"], bills, 80_00, at(d, 9), kind="bill_payment", meta={"category": "water", "channel": "app"})
    mv.external(w["c"], 120_00, at(2, 8), ext_id="x2", category="dining")   # C: an imported transaction only
    return bank.customer("新客户")                                            # D: a new customer, no activity


def test_incremental_equals_full_recompute(bank, engine, no_analytics):
    w = build(bank, engine)
    service.refresh_all(engine, as_of=AS_OF)
    before, before_tags = snapshot(engine)
    assert (w["a"], "bill_payer") not in before_tags
    # nothing new: nothing recomputed
    assert service.refresh_incremental(engine, as_of=AS_OF)["mode"] == "none"

    d = add_activity(bank, engine, w)
    r = service.refresh_incremental(engine, as_of=AS_OF)
    assert r["mode"] == "incremental"
    assert r["customers"] == 3  # A, C, D - not B
    inc, inc_tags = snapshot(engine)
    assert inc[w["b"]] == before[w["b"]]
    assert inc[w["a"]] != before[w["a"]] and inc[w["c"]] != before[w["c"]] and d in inc
    assert (w["a"], "bill_payer") in inc_tags

    service.refresh_all(engine, as_of=AS_OF)
    full, full_tags = snapshot(engine)
    assert inc == full
    assert inc_tags == full_tags


def test_with_analytics_the_result_still_equals_a_full_recompute(bank, engine):
    """With the analytics module installed, its columns are filled; whether the refresh ran
    incrementally (trained models) or fell back to a full one (population-fitted rules), the
    stored result is the one a full recompute gives."""
    if service.analytics_module() is None:
        pytest.skip("smartbank.insight.analytics is not installed")
    w = build(bank, engine)
    service.refresh_all(engine, as_of=AS_OF)
    before, _ = snapshot(engine)
    assert before[w["a"]][2] is not None  # a segment from analytics
    add_activity(bank, engine, w)
    r = service.refresh_incremental(engine, as_of=AS_OF)
    assert r["mode"] == ("incremental" if service.analytics_is_per_customer() else "full")
    assert r["analytics"] is True
    inc = snapshot(engine)
    service.refresh_all(engine, as_of=AS_OF)
    assert snapshot(engine) == inc


def test_incremental_after_a_tag_change_or_a_new_day_is_full(bank, engine):
    build(bank, engine)
    service.refresh_all(engine, as_of=AS_OF)
    with db.session_scope(engine) as s:
        T.edit(s, "bill_payer", expression="bill_payments_365d >= 1")
    r = service.refresh_incremental(engine, as_of=AS_OF)
    assert r["mode"] == "full"
    _, tags = snapshot(engine)
    assert {v for (c, code), v in tags.items() if code == "bill_payer"} == {2}
    assert service.refresh_incremental(engine, as_of=AS_OF)["mode"] == "none"
    assert service.refresh_incremental(engine, as_of=date(2024, 7, 1))["mode"] == "full"


def test_retired_tag_is_no_longer_assigned(bank, engine):
    w = build(bank, engine)
    service.refresh_all(engine, as_of=AS_OF)
    with db.session_scope(engine) as s:
        T.retire(s, "salary_earner")
    service.refresh_incremental(engine, as_of=AS_OF)
    _, tags = snapshot(engine)
    assert (w["a"], "salary_earner") not in tags

"""Experiments on constructed data: assignments and conversions inserted by the test, then read and decided."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from smartbank import clock, db
from smartbank.customers.models import ConsentRecord
from smartbank.errors import Forbidden, NotFound, ValidationFailed
from smartbank.marketing import experiments as ex
from smartbank.marketing import service as marketing
from smartbank.marketing.models import Campaign, CampaignArm, CampaignAssignment, Conversion, MarketingMessage
from smartbank.security.models import AuditLog
from smartbank.security.service import Principal

MARKETER = Principal(user_id=0, username="mkt", role="marketer", customer_id=None)
TELLER = Principal(user_id=0, username="tel", role="teller", customer_id=None)


def make_campaign(s, code: str, arms: dict[str, tuple[int, int]], *, holdout: str | None = "holdout",
                  status: str = "running", first_customer: int = 1) -> int:
    """A campaign whose arms have ``arms[code] = (customers, converted)``; the holdout arm is ``holdout``."""
    c = Campaign(code=code, name_zh="测试活动", name_en="Test campaign", status=status, goal="wealth_purchase",
                 created_by="mkt", audience={}, channels=["inapp"], schedule={})
    s.add(c)
    s.flush()
    for arm in arms:
        s.add(CampaignArm(campaign_id=c.id, code=arm, is_holdout=arm == holdout, content={}))
    cid, assigned, converted = first_customer, [], []
    for arm, (n, x) in arms.items():
        for k in range(n):
            assigned.append({"campaign_id": c.id, "customer_id": cid, "arm": arm})
            if k < x:
                converted.append({"campaign_id": c.id, "customer_id": cid, "arm": arm, "goal": "wealth_purchase",
                                  "event_ref": f"wealth_order:{cid}", "occurred_at": clock.now()})
                if k % 3 == 0:  # a second conversion of the same customer counts once
                    converted.append({**converted[-1], "event_ref": f"wealth_order:{cid}b"})
            cid += 1
    if assigned:
        s.execute(insert(CampaignAssignment), assigned)
    if converted:
        s.execute(insert(Conversion), converted)
    s.flush()
    return c.id


def test_counts_per_arm_count_customers_not_events(session):
    cid = make_campaign(session, "C1", {"A": (30, 9), "holdout": (10, 1)})
    assert ex.arm_counts(session, cid) == {"A": {"n": 30, "conversions": 9}, "holdout": {"n": 10, "conversions": 1}}


def test_winner_among_several_arms_with_confidence_and_effect(session):
    cid = make_campaign(session, "ABN", {"A": (400, 44), "B": (400, 120), "C": (400, 80), "holdout": (400, 40)})
    out = ex.evaluate_experiment(session, cid, actor=MARKETER)
    assert out["control"] == "holdout" and out["decision"] == "winner" and out["winner"] == "B"
    b = next(c for c in out["comparisons"] if c["arm"] == "B")
    assert out["effect"] == pytest.approx(0.20) and b["lift"] == pytest.approx(2.0)
    assert out["confidence"] == pytest.approx(1 - b["p_value"]) and b["p_value"] < 0.05 / 3
    assert b["alpha"] == pytest.approx(0.05 / 3)  # Bonferroni over the three comparisons
    assert b["ci_low"] > 0 and b["ci_low"] <= b["effect"] <= b["ci_high"]
    a = next(c for c in out["comparisons"] if c["arm"] == "A")
    assert not a["significant"]
    assert "msprt" in out["method"] and {r["code"] for r in out["reasons"]} == {"winner"}
    row = session.scalars(select(ex.ExperimentRead).where(ex.ExperimentRead.campaign_id == cid)).one()
    assert row.decision == "winner" and row.arms[0]["arm"] == "holdout" and row.arms[0]["n"] == 400
    assert session.scalars(select(AuditLog).where(AuditLog.action == "marketing.experiment.evaluated")).first()


def test_no_difference_yet_and_the_minimum_sample(session):
    same = make_campaign(session, "AA", {"A": (500, 50), "B": (500, 52)}, holdout=None)
    out = ex.evaluate_experiment(session, same)
    assert out["control"] == "A" and out["decision"] == "no_difference_yet" and out["winner"] is None
    assert [r["code"] for r in out["reasons"]] == ["not_significant"]
    small = make_campaign(session, "SMALL", {"A": (60, 50), "holdout": (60, 1)}, first_customer=5000)
    out = ex.evaluate_experiment(session, small)
    assert out["decision"] == "no_difference_yet"
    assert out["reasons"][0] == {"code": "min_sample", "min_per_arm": ex.MIN_PER_ARM, "smallest": 60}
    assert out["comparisons"][0]["significant"]  # the evidence is there; the sample is not


def test_same_data_same_decision(session):
    cid = make_campaign(session, "DET", {"A": (300, 45), "holdout": (300, 30)})
    first = ex.evaluate_experiment(session, cid)
    again = ex.evaluate_experiment(session, cid)
    keys = ("decision", "winner", "confidence", "effect", "comparisons", "arms", "reasons", "guardrails")
    assert {k: first[k] for k in keys} == {k: again[k] for k in keys}
    assert again["id"] == first["id"] + 1


def test_guardrail_stops_the_test_and_pauses_the_campaign(session, monkeypatch):
    monkeypatch.setattr(ex, "GUARDRAILS", dict(ex.GUARDRAILS))
    complaints = {"A": 60, "B": 3, "holdout": 2}
    ex.register_guardrail("complaints", lambda s, campaign_id, arm: complaints[arm])
    cid = make_campaign(session, "GUARD", {"A": (400, 120), "B": (400, 44), "holdout": (400, 40)})
    out = ex.evaluate_experiment(session, cid)
    assert out["decision"] == "stopped_guardrail" and out["winner"] is None
    worse = [g for g in out["guardrails"] if g["worse"]]
    assert [(g["name"], g["arm"]) for g in worse] == [("complaints", "A")]
    assert {"code": "campaign_paused"} in out["reasons"]
    assert session.get(Campaign, cid).status == "paused"
    # paused through the campaign's lifecycle (its state check and audit), saying which guardrail
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "marketing.campaign.pause")).one()
    assert audit.object_id == str(cid) and audit.after["status"] == "paused" and "complaints" in audit.note


def test_opt_outs_count_withdrawals_after_the_contact(session, bank):
    people = [bank.customer(name=f"客户{k}") for k in range(5)]
    cid = make_campaign(session, "OPT", {"A": (0, 0), "holdout": (0, 0)})
    t0 = clock.now()
    arms = {people[0]: "A", people[1]: "A", people[2]: "A", people[3]: "holdout", people[4]: "holdout"}
    for p, arm in arms.items():
        session.add(CampaignAssignment(campaign_id=cid, customer_id=p, arm=arm, assigned_at=t0))
    for p in people[:3]:
        session.add(MarketingMessage(customer_id=p, campaign_id=cid, arm="A", channel="sms", status="delivered",
                                     created_at=t0 + timedelta(hours=1), sent_at=t0 + timedelta(hours=1)))

    def withdraw(p, at, purpose="marketing_sms"):
        session.add(ConsentRecord(customer_id=p, purpose=purpose, granted=False, notice_version="2026-12",
                                  given_via="app", recorded_role="customer", at=at))

    withdraw(people[0], t0 + timedelta(hours=2))  # after the contact: counts
    withdraw(people[1], t0 - timedelta(days=1))  # before it: does not
    withdraw(people[2], t0 + timedelta(hours=3), purpose="analytics")  # not a marketing consent
    withdraw(people[3], t0 + timedelta(days=1))  # holdout, after assignment: counts
    session.flush()
    assert ex.opt_outs(session, cid, "A") == 1
    assert ex.opt_outs(session, cid, "holdout") == 1


def test_the_worker_task_evaluates_running_campaigns(session):
    running = make_campaign(session, "RUN", {"A": (200, 60), "holdout": (200, 10)})
    make_campaign(session, "DRAFT", {"A": (200, 60), "holdout": (200, 10)}, status="draft", first_customer=900)
    assert "experiments" in marketing.MARKETING_TASKS
    out = marketing.MARKETING_TASKS["experiments"](session)
    assert out == {"evaluated": 1, "winner": 1, "stopped_guardrail": 0}
    reads = session.scalars(select(ex.ExperimentRead)).all()
    assert [r.campaign_id for r in reads] == [running]


def test_refusals(session):
    cid = make_campaign(session, "ROLE", {"A": (10, 1), "holdout": (10, 1)})
    with pytest.raises(Forbidden):
        ex.evaluate_experiment(session, cid, actor=TELLER)
    with pytest.raises(Forbidden):
        ex.experiment_report(session, TELLER, cid)
    with pytest.raises(NotFound):
        ex.evaluate_experiment(session, 999999)
    one = make_campaign(session, "ONE", {"A": (10, 1)}, holdout=None, first_customer=100)
    with pytest.raises(ValidationFailed):
        ex.evaluate_experiment(session, one)
    with pytest.raises(ValidationFailed):
        ex.evaluate_experiment(session, cid, alpha=1.5)
    assert session.scalars(select(ex.ExperimentRead)).all() == []


def test_report_and_list(session):
    cid = make_campaign(session, "REP", {"A": (150, 30), "holdout": (150, 15)})
    ex.evaluate_experiment(session, cid)
    rep = ex.experiment_report(session, MARKETER, "REP")
    assert rep["campaign"]["id"] == cid and len(rep["history"]) == 1
    assert {a["arm"]: a["rate"] for a in rep["arms"]} == {"A": pytest.approx(0.2), "holdout": pytest.approx(0.1)}
    listed = ex.list_experiments(session, MARKETER)
    assert [(r["code"], r["decision"]) for r in listed] == [("REP", rep["last"]["decision"])]
    assert db  # the module is used by the entry points under test elsewhere

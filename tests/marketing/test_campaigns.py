"""Campaigns: validation, maker-checker, the lifecycle, running (assignment, holdout, idempotency, schedule)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from smartbank import clock
from smartbank.errors import Conflict, Forbidden, ValidationFailed
from smartbank.marketing import service as mkt
from smartbank.marketing.models import CampaignAssignment, MarketingMessage
from smartbank.security.models import AuditLog
from tests.marketing.campaign_helpers import arrange, principal, spec


@pytest.fixture
def people(session):
    maker = principal(session, "mk_maker")
    checker = principal(session, "mk_checker")
    admin = principal(session, "mk_admin", "admin")
    teller = principal(session, "mk_teller", "teller")
    session.commit()
    return maker, checker, admin, teller


def _reason(exc_info) -> str:
    return exc_info.value.reason


@pytest.mark.parametrize(("change", "reason"), [
    ({"audience": {"expression": "age >>= 3"}}, "expr."),
    ({"audience": {"expression": "no_such_feature > 1"}}, "expr.unknown_feature"),
    ({"audience": {"model": {"name": "nope", "min_score": 0.1}}}, "marketing.unknown_model"),
    ({"audience": {"model": {"name": "propensity_wealth", "min_score": 3}}}, "marketing.min_score"),
    ({"arms": [{"code": "A", "weight": 1, "content": {"zh": {"body": "{nickname}好"}, "en": {"body": "hi"}}}]},
     "marketing.unknown_field"),
    ({"arms": [{"code": "A", "weight": 1, "content": {"zh": {"body": "{name.upper}"}, "en": {"body": "hi"}}}]},
     "marketing.unknown_field"),
    ({"arms": [{"code": "A", "weight": 1, "content": {"zh": {"body": "{name"}, "en": {"body": "hi"}}}]},
     "marketing.bad_template"),
    ({"arms": [{"code": "A", "weight": 0, "content": {"zh": {"body": "好"}, "en": {"body": "hi"}}}]},
     "marketing.weight"),
    ({"arms": [{"code": "A", "weight": 1.5, "content": {"zh": {"body": "好"}, "en": {"body": "hi"}}}]},
     "marketing.weight"),
    ({"arms": [{"code": "A", "weight": 1, "content": {"zh": {"body": "好"}}}]}, "marketing.content_missing"),
    ({"arms": [{"code": "A", "weight": 1, "content": {"zh": {"body": "好" * 71}, "en": {"body": "hi"}}}]},
     "marketing.content_too_long"),
    ({"arms": [{"code": "A", "weight": 1, "content": {"zh": {"body": "好" * 60 + "{name}"}, "en": {"body": "x"}}}]},
     "marketing.content_too_long"),
    ({"arms": []}, "marketing.arms"),
    ({"holdout_bp": -1}, "marketing.holdout_range"),
    ({"holdout_bp": 5001}, "marketing.holdout_range"),
    ({"channels": ["fax"]}, "marketing.channels"),
    ({"channels": ["sms", "sms"]}, "marketing.channels"),
    ({"goal": "happiness"}, "marketing.goal"),
    ({"schedule": {"kind": "recurring", "start_at": "2026-12-01T09:00", "every_days": 0}}, "marketing.every_days"),
    ({"schedule": {"kind": "recurring", "start_at": "2026-12-01T09:00", "every_days": 7,
                   "end_at": "2026-11-01T09:00"}}, "marketing.schedule_end"),
    ({"schedule": {"kind": "sometimes"}}, "marketing.schedule"),
    ({"code": "x"}, "marketing.code"),
])
def test_a_bad_campaign_is_refused_and_nothing_is_written(session, people, change, reason):
    maker = people[0]
    with pytest.raises(ValidationFailed) as e:
        mkt.create_campaign(session, maker, spec(**change))
    assert _reason(e).startswith(reason)
    assert session.scalar(select(func.count()).select_from(mkt.Campaign)) == 0


def test_an_sms_of_70_chinese_characters_is_accepted(session, people):
    arms = [{"code": "A", "weight": 1, "content": {"zh": {"body": "好" * 70}, "en": {"body": "x" * 160}}}]
    out = mkt.create_campaign(session, people[0], spec(arms=arms, channels=["sms"]))
    assert out["status"] == "draft" and [a["code"] for a in out["arms"]] == ["A", "holdout"]


def test_maker_is_not_checker_and_the_wrong_role_is_refused(session, people):
    maker, checker, admin, teller = people
    with pytest.raises(Forbidden):
        mkt.create_campaign(session, teller, spec())
    c = mkt.create_campaign(session, maker, spec())
    with pytest.raises(Conflict) as e:
        mkt.approve_campaign(session, checker, c["id"])  # not submitted yet
    assert _reason(e) == "marketing.bad_state"
    mkt.submit_campaign(session, maker, c["id"])
    with pytest.raises(Conflict) as e:
        mkt.approve_campaign(session, maker, c["id"])
    assert _reason(e) == "marketing.same_maker"
    with pytest.raises(Forbidden):
        mkt.approve_campaign(session, teller, c["id"])
    out = mkt.approve_campaign(session, admin, c["id"], note="ok")
    assert out["status"] == "approved" and out["decided_by"] == "mk_admin" and out["next_run_at"]
    actions = [a.action for a in session.scalars(select(AuditLog).where(AuditLog.object_type == "campaign")
                                                 .order_by(AuditLog.id))]
    assert actions == ["marketing.campaign.create", "marketing.campaign.submit", "marketing.campaign.approve"]
    last = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert last.before["status"] == "submitted" and last.after["status"] == "approved"


def test_reject_needs_a_note_and_editing_an_approved_campaign_sends_it_back(session, people):
    maker, checker, *_ = people
    c = mkt.create_campaign(session, maker, spec())
    mkt.submit_campaign(session, maker, c["id"])
    with pytest.raises(ValidationFailed) as e:
        mkt.reject_campaign(session, checker, c["id"], note=" ")
    assert _reason(e) == "marketing.note_required"
    r = mkt.reject_campaign(session, checker, c["id"], note="文案需要修改")
    assert r["status"] == "rejected" and r["decision_note"] == "文案需要修改"
    d = mkt.edit_campaign(session, maker, c["id"], spec(name_en="Wealth offer 2"))
    assert (d["status"], d["version"]) == ("draft", 2)
    mkt.submit_campaign(session, maker, c["id"])
    assert mkt.approve_campaign(session, checker, c["id"])["status"] == "approved"
    e2 = mkt.edit_campaign(session, maker, c["id"], spec(holdout_bp=2000))
    assert (e2["status"], e2["version"], e2["next_run_at"]) == ("draft", 3, None)
    with pytest.raises(Conflict):
        mkt.pause_campaign(session, maker, c["id"])
    assert mkt.cancel_campaign(session, maker, c["id"])["status"] == "cancelled"
    with pytest.raises(Conflict) as e:
        mkt.edit_campaign(session, maker, c["id"], spec())
    assert _reason(e) == "marketing.not_editable"


def test_who_edited_this_version_does_not_approve_it(session, people):
    maker, checker, admin, _ = people
    c = mkt.create_campaign(session, maker, spec())
    mkt.edit_campaign(session, checker, c["id"], spec(name_en="Changed by the checker"))
    mkt.submit_campaign(session, maker, c["id"])
    with pytest.raises(Conflict) as e:
        mkt.approve_campaign(session, checker, c["id"])
    assert _reason(e) == "marketing.same_maker"
    assert mkt.approve_campaign(session, admin, c["id"])["status"] == "approved"


def _approved(session, maker, checker, **over):
    c = mkt.create_campaign(session, maker, spec(**over))
    mkt.submit_campaign(session, maker, c["id"])
    mkt.approve_campaign(session, checker, c["id"])
    return c


def test_preview_counts_reachable_apart(bank, session, people, bank_clock):
    ids = arrange(bank, 12, consent_every=3)
    out = mkt.preview_audience(session, people[0], {"expression": "age >= 24", "segments": ["S1"]}, ["inapp"])
    expected = [cid for i, cid in enumerate(ids) if 20 + i >= 24 and i % 2 == 0]
    assert out["in_audience"] == len(expected)
    assert out["reachable"] == sum(1 for i, cid in enumerate(ids) if cid in expected and i % 3 == 0)
    assert out["reachable"] + out["unreachable"] == out["in_audience"]
    assert len(out["sample"]) == min(10, len(expected))
    assert all("*" in r["name"] and r["customer_number"] and r["segment"] == "S1" for r in out["sample"])
    scored = mkt.preview_audience(session, people[0],
                                  {"model": {"name": "propensity_wealth", "min_score": 0.5}}, ["inapp"])
    assert scored["in_audience"] == sum(1 for i in range(12) if i / 12 >= 0.5)
    assert all(r["score"] >= 0.5 for r in scored["sample"]) and scored["model_version"] == "rules-1"
    with pytest.raises(Forbidden):
        mkt.preview_audience(session, people[3], {}, ["inapp"])


def test_run_assigns_once_never_contacts_the_holdout_and_is_idempotent(bank, session, people, bank_clock):
    maker, checker, *_ = people
    ids = arrange(bank, 30, consent_every=2)
    c = _approved(session, maker, checker, holdout_bp=3000,
                  audience={"model": {"name": "propensity_wealth", "min_score": 0.0}})
    out = mkt.run_campaign(session, c["id"])
    assert out["ran"] and out["assigned"] == 30 and out["status"] == "completed"
    rows = {a.customer_id: a for a in session.scalars(select(CampaignAssignment))}
    assert set(rows) == set(ids)
    assert all(a.score is not None for a in rows.values())
    holdout = {cid for cid, a in rows.items() if a.arm == "holdout"}
    assert holdout  # 30% of 30
    msgs = list(session.scalars(select(MarketingMessage).where(MarketingMessage.campaign_id == c["id"])))
    assert {m.customer_id for m in msgs} == set(ids) - holdout
    assert not {m.customer_id for m in msgs} & holdout
    sent = [m for m in msgs if m.status in ("sent", "delivered")]
    assert {m.customer_id for m in sent} == {cid for i, cid in enumerate(ids) if i % 2 == 0} - holdout
    assert all(m.suppressed_reason == "no_consent" for m in msgs if m.status == "suppressed")
    assert all(m.arm == rows[m.customer_id].arm for m in msgs)
    one = next(m for m in sent)
    assert "{" not in one.body and one.lang == "zh"
    # the same run again: nothing new
    again = mkt.run_campaign(session, c["id"], force=True)
    assert again.get("assigned", 0) == 0 and again.get("sent", 0) == 0
    assert session.scalar(select(func.count()).select_from(MarketingMessage)) == len(msgs)
    res = mkt.campaign_results(session, maker, c["id"])
    assert res["totals"]["assigned"] == 30 and res["totals"]["sent"] == len(sent)
    assert res["suppressed_by_reason"].get("no_consent", 0) == len(msgs) - len(sent)


def test_recurring_schedule_on_the_bank_clock(bank, session, people, bank_clock):
    maker, checker, *_ = people
    ids = arrange(bank, 4)
    start = clock.now() + timedelta(hours=1)
    c = _approved(session, maker, checker, holdout_bp=0,
                  schedule={"kind": "recurring", "start_at": start.isoformat(), "every_days": 7,
                            "end_at": (start + timedelta(days=10)).isoformat()})
    assert mkt.run_due_campaigns(session)["campaigns"] == 0  # not yet
    bank_clock.advance(timedelta(hours=2))
    first = mkt.run_due_campaigns(session)
    assert first["campaigns"] == 1 and first["sent"] == len(ids), first
    cam = mkt.get_campaign(session, maker, c["id"])
    assert cam["status"] == "running"
    assert clock.parse_instant(cam["next_run_at"]) == start + timedelta(days=7)
    bank_clock.advance(timedelta(days=3))
    assert mkt.run_due_campaigns(session)["campaigns"] == 0
    bank_clock.advance(timedelta(days=4))
    second = mkt.run_due_campaigns(session)
    assert second["campaigns"] == 1 and second["sent"] == len(ids)  # a new run messages again
    assert mkt.get_campaign(session, maker, c["id"])["status"] == "completed"  # the next would pass the end
    assert session.scalar(select(func.count()).select_from(CampaignAssignment)) == len(ids)


def test_pause_stops_the_worker_and_resume_continues(bank, session, people, bank_clock):
    maker, checker, *_ = people
    arrange(bank, 3)
    c = _approved(session, maker, checker)
    mkt.pause_campaign(session, maker, c["id"])
    assert mkt.run_due_campaigns(session)["campaigns"] == 0
    mkt.resume_campaign(session, maker, c["id"])
    assert mkt.run_due_campaigns(session)["campaigns"] == 1


def test_customers_language_is_used(bank, session, people, bank_clock):
    maker, checker, *_ = people
    ids = arrange(bank, 2)
    from smartbank.security import service as security

    u = security.create_user(session, username="cust_en", password="passw0rd!x", role="customer",
                             customer_id=ids[1])
    u.language = "en"
    session.flush()
    c = _approved(session, maker, checker, holdout_bp=0)
    mkt.run_campaign(session, c["id"])
    msgs = {m.customer_id: m for m in session.scalars(select(MarketingMessage))}
    assert msgs[ids[1]].lang == "en" and msgs[ids[1]].body.startswith(("Hello 张", "张"))
    assert msgs[ids[0]].lang == "zh"


# --- deterministic assignment --------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(code=st.text(min_size=2, max_size=20), cid=st.integers(1, 10**12),
       weights=st.lists(st.integers(1, 100), min_size=1, max_size=5), holdout=st.integers(0, 5000))
def test_assignment_is_stable(code, cid, weights, holdout):
    arms = [(chr(65 + i), w) for i, w in enumerate(weights)]
    first = mkt.assign_arm(code, cid, arms, holdout)
    assert first == mkt.assign_arm(code, cid, list(arms), holdout)
    assert first in {a for a, _ in arms} | {"holdout"}


def test_assignment_matches_the_weights():
    n = 40_000
    arms = [("A", 1), ("B", 3)]
    got = Counter(mkt.assign_arm("CAMP-W", cid, arms, 1000) for cid in range(1, n + 1))
    for arm, share in (("holdout", 0.1), ("A", 0.9 * 0.25), ("B", 0.9 * 0.75)):
        sd = (share * (1 - share) / n) ** 0.5
        assert abs(got[arm] / n - share) < 4 * sd, (arm, got)


def test_a_large_audience_runs_in_batches(bank, session, people, bank_clock, monkeypatch):
    from smartbank.marketing import campaigns as C

    monkeypatch.setattr(C, "BATCH", 4)
    maker, checker, *_ = people
    ids = arrange(bank, 11)
    c = _approved(session, maker, checker, holdout_bp=0)
    out = mkt.run_campaign(session, c["id"])
    assert out["assigned"] == 11 and out["sent"] == 11
    assert sorted(m.customer_id for m in session.scalars(select(MarketingMessage))) == sorted(ids)


@pytest.mark.commits
def test_two_workers_at_once_send_each_message_once(bank, engine, bank_clock):
    """Two workers run the due campaigns at the same moment: the campaign's row lock makes the second wait and
    find the run done (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the write lock)."""
    import threading

    from smartbank import db

    ids = arrange(bank, 10)
    with db.session_scope(engine) as s:
        maker, checker = principal(s, "mk_a"), principal(s, "mk_b")
        c = _approved(s, maker, checker, holdout_bp=0)
    barrier, results, errors = threading.Barrier(2), [], []

    def work() -> None:
        barrier.wait()
        try:
            results.append(db.run_in_transaction(mkt.run_due_campaigns, engine=engine))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.session_scope(engine) as s:
        msgs = list(s.scalars(select(MarketingMessage).where(MarketingMessage.campaign_id == c["id"])))
        assigned = s.scalar(select(func.count()).select_from(CampaignAssignment))
    assert not errors and sorted(r["campaigns"] for r in results) == [0, 1]
    assert sorted(m.customer_id for m in msgs) == sorted(ids), (results, errors)
    assert assigned == len(ids)
    assert sum(r["sent"] for r in results) == len(ids)


def test_a_forced_rerun_keeps_the_schedule(bank, session, people, bank_clock):
    maker, checker, *_ = people
    ids = arrange(bank, 3)
    start = clock.now() + timedelta(minutes=5)
    c = _approved(session, maker, checker, holdout_bp=0,
                  schedule={"kind": "recurring", "start_at": start.isoformat(), "every_days": 7})
    early = mkt.run_campaign(session, c["id"], actor=maker, force=True)  # ahead of the schedule
    assert early["mode"] == "early" and early["sent"] == len(ids)
    assert clock.parse_instant(mkt.get_campaign(session, maker, c["id"])["next_run_at"]) == start
    again = mkt.run_campaign(session, c["id"], actor=maker, force=True)
    assert again["mode"] == "rerun" and again.get("sent", 0) == 0 and again["already_messaged"] == len(ids)
    bank_clock.advance(timedelta(minutes=10))
    due = mkt.run_due_campaigns(session)
    assert due["campaigns"] == 1 and due["sent"] == len(ids)  # the scheduled run is a new run
    nxt = clock.parse_instant(mkt.get_campaign(session, maker, c["id"])["next_run_at"])
    assert nxt == start + timedelta(days=7)
    mkt.run_campaign(session, c["id"], actor=maker, force=True)
    assert clock.parse_instant(mkt.get_campaign(session, maker, c["id"])["next_run_at"]) == nxt

"""The loan officers' queue: roles, claim, decide, maker-checker with two different officers, and a
concurrent double decision that decides once (PostgreSQL row locks)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.errors import Conflict, Forbidden, ValidationFailed
from smartbank.lending import review, states
from tests.api.support import state
from tests.lending.test_applications import FakeScorer, app_row, applicant, form, officer, seeded, submit, use_scorer


@pytest.fixture
def desk(bank, engine, monkeypatch):
    seeded(engine)
    use_scorer(monkeypatch, FakeScorer(pd=0.10))  # grade D: manual review
    a = applicant(bank, "王芳")
    return {"a": a, "lo1": officer(bank, "lo1"), "lo2": officer(bank, "lo2"),
            "teller": officer(bank, "teller1", "teller"), "marketer": officer(bank, "mark1", "marketer")}


def _decide(engine, actor, app_id, **kw):
    with db.session_scope(engine) as s:
        return review.decide(s, actor, app_id, **kw)


def test_only_loan_officers_work_the_queue(desk, engine):
    app_id, _ = submit(engine, desk["a"])
    assert app_row(engine, app_id).status == "manual_review"
    for who in (desk["a"].actor, desk["teller"], desk["marketer"]):
        before = state(engine)
        for fn in (lambda s, w=who: review.queue(s, w), lambda s, w=who: review.get_case(s, w, app_id),
                   lambda s, w=who: review.claim(s, w, app_id),
                   lambda s, w=who: review.decide(s, w, app_id, outcome="approve")):
            with db.session_scope(engine) as s, pytest.raises(Forbidden):
                fn(s)
        assert state(engine) == before
    with db.session_scope(engine) as s:
        items = review.queue(s, desk["lo1"])
        assert [i["id"] for i in items] == [app_id]
        assert items[0]["grade"] == "D" and items[0]["pd"] == pytest.approx(0.10) and items[0]["reasons"]
        case = review.get_case(s, desk["lo1"], app_id)
    assert case["auto"]["model_version"] == "credit_lr-test-1" and case["auto"]["challenger_pd"] is not None
    assert case["customer"]["accounts"] and case["application"]["details"]["monthly_income_minor"] == 2_000_000


def test_claim_note_and_approve_with_lower_amount_is_audited(desk, engine):
    app_id, _ = submit(engine, desk["a"])
    with db.session_scope(engine) as s:
        review.claim(s, desk["lo1"], app_id)
        review.add_note(s, desk["lo1"], app_id, "called the employer: income confirmed")
    with pytest.raises(ValidationFailed):  # more than applied for
        _decide(engine, desk["lo1"], app_id, outcome="approve", amount_minor=9_000_000)
    with pytest.raises(ValidationFailed):  # rate out of the product's bounds
        _decide(engine, desk["lo1"], app_id, outcome="approve", rate_bps=5000)
    out = _decide(engine, desk["lo1"], app_id, outcome="approve", amount_minor=4_000_000, rate_bps=700)
    assert out["status"] == "approved" and out["stage"] == "officer"
    app = app_row(engine, app_id)
    assert (app.approved_amount_minor, app.rate_bps, app.assigned_to) == (4_000_000, 700, desk["lo1"].user_id)
    with engine.connect() as c:
        actions = [r[0] for r in c.execute(text(
            "SELECT action FROM audit_log WHERE object_type = 'loan_application' ORDER BY id"))]
    assert actions == ["loan_application.claim", "loan_application.approve"]
    with pytest.raises(states.IllegalTransition):  # decided once
        _decide(engine, desk["lo2"], app_id, outcome="decline", reason_code="OFF-OTHER", note="x")


def test_decline_needs_a_reason_and_the_customer_sees_it(desk, engine):
    app_id, _ = submit(engine, desk["a"])
    before = state(engine)
    with pytest.raises(ValidationFailed):
        _decide(engine, desk["lo1"], app_id, outcome="decline", note="no")
    assert state(engine) == before
    _decide(engine, desk["lo1"], app_id, outcome="decline", reason_code="OFF-INCOME", note="payslips inconsistent")
    from smartbank.lending import applications

    with db.session_scope(engine) as s:
        view = applications.application_view(s, applications.get_application(s, desk["a"].actor, app_id))
    assert view["status"] == "declined"
    assert view["decision"]["reasons"][0]["code"] == "OFF-INCOME" and view["decision"]["reasons"][0]["zh"]


def test_maker_checker_needs_two_different_officers(desk, engine):
    a = desk["a"]
    app_id, _ = submit(engine, a, form(a, amount_minor=25_000_000, monthly_income_minor=10_000_000, term_months=60))
    assert app_row(engine, app_id).status == "manual_review"
    out = _decide(engine, desk["lo1"], app_id, outcome="approve", rate_bps=600)
    assert out["stage"] == "maker" and out["status"] == "manual_review" and out["maker_id"] == desk["lo1"].user_id
    before = state(engine)
    with pytest.raises(review.SameOfficer) as e:
        _decide(engine, desk["lo1"], app_id, outcome="approve")
    assert e.value.status_code == 409 and state(engine) == before
    with pytest.raises(ValidationFailed):  # a checker confirms the maker's terms as proposed
        _decide(engine, desk["lo2"], app_id, outcome="approve", rate_bps=650)
    out = _decide(engine, desk["lo2"], app_id, outcome="approve")
    assert out["stage"] == "checker" and out["status"] == "approved"
    app = app_row(engine, app_id)
    assert (app.approved_amount_minor, app.rate_bps) == (25_000_000, 600)
    with engine.connect() as c:
        stages = [tuple(r) for r in c.execute(text(
            "SELECT stage, outcome, decided_by FROM credit_decisions WHERE application_id = :a ORDER BY id"),
            {"a": app_id})]
    assert stages == [("auto", "review", None), ("maker", "approve", desk["lo1"].user_id),
                      ("checker", "approve", desk["lo2"].user_id)]


def test_checker_sends_back_or_declines(desk, engine):
    a = desk["a"]
    app_id, _ = submit(engine, a, form(a, amount_minor=25_000_000, monthly_income_minor=10_000_000, term_months=60))
    _decide(engine, desk["lo1"], app_id, outcome="approve")
    out = _decide(engine, desk["lo2"], app_id, outcome="return", note="collateral valuation missing")
    assert out["maker_id"] is None and out["status"] == "manual_review"
    # now lo2 may be the maker and lo1 the checker, who declines
    _decide(engine, desk["lo2"], app_id, outcome="approve")
    out = _decide(engine, desk["lo1"], app_id, outcome="decline", reason_code="OFF-AFFORD", note="too stretched")
    assert out["status"] == "declined" and out["stage"] == "checker"


def test_a_stale_version_is_refused(desk, engine):
    app_id, _ = submit(engine, desk["a"])
    v = app_row(engine, app_id).version
    with db.session_scope(engine) as s:
        review.claim(s, desk["lo1"], app_id)
    with pytest.raises(review.StaleVersion):
        _decide(engine, desk["lo1"], app_id, outcome="approve", version=v - 1)
    out = _decide(engine, desk["lo1"], app_id, outcome="approve", version=app_row(engine, app_id).version)
    assert out["status"] == "approved"


@pytest.mark.commits
def test_two_officers_deciding_at_once_decide_once(desk, engine, is_pg):
    if not is_pg:
        pytest.skip("row locks: PostgreSQL")
    app_id, _ = submit(engine, desk["a"])
    barrier = threading.Barrier(2)
    results: list[str] = []

    def act(who, outcome):
        barrier.wait()
        try:
            kw = {"reason_code": "OFF-OTHER", "note": "no"} if outcome == "decline" else {}
            db.run_in_transaction(lambda s: review.decide(s, who, app_id, outcome=outcome, **kw), engine=engine)
            results.append("ok")
        except Conflict as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=act, args=(desk["lo1"], "approve")),
               threading.Thread(target=act, args=(desk["lo2"], "decline"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["illegal_transition", "ok"]
    with engine.connect() as c:
        manual = c.execute(text("SELECT count(*) FROM credit_decisions WHERE application_id = :a AND stage <> 'auto'"),
                           {"a": app_id}).scalar()
        moves = c.execute(text("SELECT count(*) FROM loan_application_events WHERE application_id = :a"
                               " AND from_status = 'manual_review' AND to_status <> 'manual_review'"),
                          {"a": app_id}).scalar()
    assert manual == 1 and moves == 1


def test_the_case_shows_the_customer_through_the_masking_policy(desk, engine, bank):
    """Case work: a loan officer sees the circumstances (birth date, income); an administrator reviewing the same
    case sees the name and no more (the masking policy's ``case`` rows)."""
    app_id, _ = submit(engine, desk["a"])
    admin = officer(bank, "admin9", "admin")
    with db.session_scope(engine) as s:
        s.execute(text("UPDATE customers SET birth_date = '1985-03-07', annual_income_minor = 24000000 "
                       "WHERE id = :c"), {"c": desk["a"].customer_id})
    with db.session_scope(engine) as s:
        mine = review.get_case(s, desk["lo1"], app_id)["customer"]
        theirs = review.get_case(s, admin, app_id)["customer"]
    assert (mine["name"], mine["birth_date"], mine["annual_income_minor"]) == ("王芳", "1985-03-07", 24_000_000)
    assert (theirs["name"], theirs["birth_date"], theirs["annual_income_minor"]) == ("王芳", None, None)
    assert theirs["accounts"] == mine["accounts"]

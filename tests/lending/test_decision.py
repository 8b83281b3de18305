"""The automatic decision: approve / decline / review with a fake scorer, no model, limits, large
amounts, delinquency at this bank, blacklist and fraud flags; every decision stored with its reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from smartbank import clock, db
from smartbank.lending import decision, policy
from smartbank.lending.models import Loan, LoanInstallment
from tests.lending.test_applications import FakeScorer, app_row, applicant, form, seeded, submit, use_scorer


@pytest.fixture
def alice(bank, engine):
    seeded(engine)
    return applicant(bank, "王芳")


def _decision(engine, app_id):
    from sqlalchemy import select

    from smartbank.lending.models import CreditDecision

    with db.session_scope(engine) as s:
        d = s.scalars(select(CreditDecision).where(CreditDecision.application_id == app_id)
                      .order_by(CreditDecision.id)).first()
        return {c.name: getattr(d, c.key) for c in CreditDecision.__table__.columns}


@pytest.mark.parametrize("pd,status,grade", [(0.01, "approved", "A"), (0.05, "approved", "C"),
                                             (0.10, "manual_review", "D"), (0.20, "declined", "E")])
def test_outcome_by_grade(alice, engine, monkeypatch, pd, status, grade):
    use_scorer(monkeypatch, FakeScorer(pd=pd))
    app_id, _ = submit(engine, alice)
    app = app_row(engine, app_id)
    assert (app.status, app.grade) == (status, grade)
    d = _decision(engine, app_id)
    assert d["pd"] == pytest.approx(pd) and d["points"] == 600 and d["model_version"] == "credit_lr-test-1"
    assert d["reference_rate_bps"] == 300 and d["rate_bps"] == 300 + d["spread_bps"]
    assert d["latency_ms"] is not None and d["features"]["MonthlyIncome"] == 20_000.0


def test_no_model_means_manual_review_never_approval(alice, engine, monkeypatch):
    use_scorer(monkeypatch, None)
    app_id, _ = submit(engine, alice)
    assert app_row(engine, app_id).status == "manual_review"
    d = _decision(engine, app_id)
    assert d["model_version"] == "none" and d["pd"] is None and d["outcome"] == "review"
    assert d["reasons"][0]["code"] == "MODEL-NONE"


def test_missing_credit_module_is_no_model(monkeypatch):
    import sys

    decision.reset_scorer()
    monkeypatch.setitem(sys.modules, "smartbank.lending.credit.scorer", None)
    assert decision.get_scorer() is None
    decision.reset_scorer()


@pytest.mark.any_backend
def test_a_model_trained_in_this_process_is_used_at_once_and_the_lookup_is_per_model_dir(
        tmp_path, monkeypatch, credit_model):
    """The scorer is looked up once a minute; a "no model" remembered for one model directory must not hide
    the model of another, nor the model just trained here (the demo trains, then decides). Training is stood in
    for by copying the worker's trained artefact into the directory (what training leaves behind)."""
    import shutil

    from smartbank import config
    from smartbank.lending import service as lending
    from smartbank.lending.credit import scorer as scorer_module

    def use_dir(name):
        monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(tmp_path / name))
        config.reset_settings()

    def fake_training(*args, **kwargs):
        shutil.copytree(credit_model["models"], tmp_path / "b", dirs_exist_ok=True)
        return credit_model["res"]

    decision.reset_scorer()
    for name in ("a", "b"):
        use_dir(name)
        assert decision.get_scorer() is None  # remembered as "no model" for this directory
    monkeypatch.setattr(scorer_module, "train_production", fake_training)
    monkeypatch.setattr(lending, "train_production", fake_training)
    assert lending.train_credit_model() == credit_model["res"]  # into b, the current directory
    scorer = decision.get_scorer()
    assert scorer is not None and scorer.version == credit_model["res"]["version"]
    use_dir("a")
    assert decision.get_scorer() is None
    use_dir("b")
    assert decision.get_scorer() is scorer
    decision.reset_scorer()


def test_a_failing_scorer_goes_to_review(alice, engine, monkeypatch):
    class Broken:
        def score(self, features):
            raise RuntimeError("artefact mismatch")

    monkeypatch.setattr(decision, "get_scorer", lambda: Broken())
    app_id, _ = submit(engine, alice)
    assert app_row(engine, app_id).status == "manual_review"


def test_amount_is_cut_to_the_limit_and_a_limit_below_the_minimum_declines(alice, engine, monkeypatch):
    use_scorer(monkeypatch, FakeScorer(pd=0.05))  # grade C: limit 100,000 yuan
    app_id, _ = submit(engine, alice, form(alice, amount_minor=15_000_000, term_months=60,
                                           monthly_income_minor=5_000_000))
    app = app_row(engine, app_id)
    assert app.status == "approved" and app.approved_amount_minor == 10_000_000
    assert _decision(engine, app_id)["reasons"][0]["code"] == "LIMIT-REDUCED"
    # income of 80 yuan a month: 12 x income is below the product's 1,000 yuan minimum
    app_id, _ = submit(engine, alice, form(alice, amount_minor=100_000, term_months=6, monthly_income_minor=8_000,
                                           existing_monthly_repayment_minor=0))
    reasons = [r["code"] for r in _decision(engine, app_id)["reasons"]]
    assert app_row(engine, app_id).status == "declined" and "LIMIT-BELOW-MIN" in reasons


def test_large_amounts_are_never_auto_approved(alice, engine, monkeypatch):
    use_scorer(monkeypatch, FakeScorer(pd=0.005))
    app_id, _ = submit(engine, alice, form(alice, amount_minor=20_000_000, monthly_income_minor=10_000_000,
                                           term_months=60))
    assert app_row(engine, app_id).status == "manual_review"
    assert "LARGE-AMOUNT" in [r["code"] for r in _decision(engine, app_id)["reasons"]]


def test_policy_declines_come_first_in_the_reasons(alice, engine, monkeypatch):
    use_scorer(monkeypatch, FakeScorer(pd=0.01))
    app_id, _ = submit(engine, alice, form(alice, monthly_income_minor=0, employment="unemployed",
                                           existing_monthly_repayment_minor=0))
    d = _decision(engine, app_id)
    assert app_row(engine, app_id).status == "declined"
    assert d["reasons"][0]["code"] == "POL-INCOME" and d["policy_hits"][0]["code"] == "POL-INCOME"


def _loan_with_late_instalment(engine, a, days_late: int, *, paid_late: bool = False) -> None:
    today = clock.today()
    with db.session_scope(engine) as s:
        loan = Loan(number=f"LN{a.customer_id}", application_id=10**9 + a.customer_id, customer_id=a.customer_id,
                    product_id=1, account_id=a.account_id, loan_account_id=10**9 + a.account_id,
                    principal_minor=1_000_000, currency="CNY", rate_bps=500, penalty_rate_bps=750, term_months=12,
                    method="equal_installment", start_date=today - timedelta(days=200), status="active",
                    outstanding_minor=600_000, days_past_due=0 if paid_late else days_late)
        s.add(loan)
        s.flush()
        due = today - timedelta(days=days_late)
        s.add(LoanInstallment(loan_id=loan.id, seq=1, due_date=due, principal_minor=80_000, interest_minor=5_000,
                              status="paid" if paid_late else "overdue", paid_on=today if paid_late else None))
        s.add(LoanInstallment(loan_id=loan.id, seq=2, due_date=today + timedelta(days=20), principal_minor=80_000,
                              interest_minor=4_000, status="due"))


@pytest.mark.parametrize("days,paid_late,status,code,feature", [
    (45, False, "declined", "POL-DELINQ", "NumberOfTime30-59DaysPastDueNotWorse"),
    (10, False, "manual_review", "POL-DELINQ-RECENT", None),
    (95, True, "approved", None, "NumberOfTimes90DaysLate"),  # paid 95 days late: history, not a current arrear
])
def test_delinquency_at_this_bank(alice, engine, monkeypatch, days, paid_late, status, code, feature):
    scorer = FakeScorer(pd=0.01)
    use_scorer(monkeypatch, scorer)
    _loan_with_late_instalment(engine, alice, days, paid_late=paid_late)
    app_id, _ = submit(engine, alice)
    assert app_row(engine, app_id).status == status
    hits = [h["code"] for h in _decision(engine, app_id)["policy_hits"]]
    assert (code in hits) if code else hits == []
    if feature:
        assert scorer.seen[-1][feature] == 1
    assert scorer.seen[-1]["NumberOfOpenCreditLinesAndLoans"] == 3  # 2 declared + 1 here


def test_blacklisted_and_fraud_flagged_customers(alice, engine, bank, monkeypatch):
    use_scorer(monkeypatch, FakeScorer(pd=0.01))
    with engine.connect() as c:
        number = c.execute(text("SELECT id_number FROM customers WHERE id = :c"), {"c": alice.customer_id}).scalar()
    from smartbank.security.service import SYSTEM

    with db.session_scope(engine) as s:
        policy.add_to_blacklist(s, SYSTEM, number, "court-listed")
    app_id, _ = submit(engine, alice)
    assert app_row(engine, app_id).status == "declined"
    b = applicant(bank, "李娜")
    with db.session_scope(engine) as s:
        s.execute(text("INSERT INTO risk_alerts (decision_id, customer_id, decision, amount_minor, currency,"
                       " priority, status) VALUES (1, :c, 'review', 100, 'CNY', 2, 'open')"), {"c": b.customer_id})
    app_id, _ = submit(engine, b, form(b))
    assert app_row(engine, app_id).status == "manual_review"
    assert "POL-FRAUD-OPEN" in [h["code"] for h in _decision(engine, app_id)["policy_hits"]]

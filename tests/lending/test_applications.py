"""Applications: submit with the automatic decision, idempotency, validation, progress, accept, withdraw,
expiry, object-level authorisation. The credit model is a fake injected through ``decision.get_scorer``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.customers.validation import make_resident_id
from smartbank.errors import Forbidden, IdempotencyConflict, NotFound, ValidationFailed
from smartbank.ledger.service import utcnow
from smartbank.lending import applications, decision, seed, states
from smartbank.lending.models import LoanApplication
from smartbank.security.service import Principal
from tests.api.support import state

LENDING_TABLES = ("loan_applications", "loan_application_events", "credit_decisions", "audit_log")


# ------------------------------------------------------------------------------------------------
# helpers shared by the lending tests of applications, decisions and reviews


@dataclass(frozen=True)
class FakeScore:
    model_version: str
    pd: float
    points: int | None
    reasons: list[dict]
    challenger_version: str | None = None
    challenger_pd: float | None = None


@dataclass
class FakeScorer:
    pd: float = 0.01
    version: str = "credit_lr-test-1"
    seen: list[dict[str, Any]] = field(default_factory=list)

    def score(self, features):
        self.seen.append(dict(features))
        reasons = [{"code": "GMSC-DEBT", "feature": "DebtRatio", "en": "Your existing debts are high for your income.",
                    "zh": "您现有负债相对收入较高。", "impact": 0.4},
                   {"code": "GMSC-LATE", "feature": "NumberOfTimes90DaysLate", "en": "Past payments were late.",
                    "zh": "过往有逾期还款记录。", "impact": 0.2}]
        return FakeScore(self.version, self.pd, 600, reasons, "credit_lgbm-test-1", self.pd * 1.1)


def use_scorer(monkeypatch, scorer: FakeScorer | None) -> None:
    monkeypatch.setattr(decision, "get_scorer", lambda: scorer)


@dataclass
class Applicant:
    customer_id: int
    account_id: int
    actor: Principal


def seeded(engine) -> None:
    with db.session_scope(engine) as s:
        seed.seed(s)


def applicant(bank, name: str = "王芳", *, born: date = date(1985, 3, 7), balance: int = 100_000,
              username: str | None = None) -> Applicant:
    bank._n += 1
    cid = bank.customer(name, id_number=make_resident_id("110101", born, 500 + bank._n))
    acct = bank.account(cid, balance=balance)
    uname = username or f"cust{cid}"
    uid = bank.user(uname, customer_id=cid)
    return Applicant(cid, acct, Principal(user_id=uid, username=uname, role="customer", customer_id=cid))


def officer(bank, username: str, role: str = "loan_officer") -> Principal:
    uid = bank.user(username, role=role)
    return Principal(user_id=uid, username=username, role=role, customer_id=None)


def form(a: Applicant, **kw: Any) -> applications.ApplicationIn:
    base: dict[str, Any] = dict(product="PERSONAL", account_id=a.account_id, amount_minor=5_000_000, term_months=24,
                                method="equal_installment", purpose="home furnishing",
                                monthly_income_minor=2_000_000, employment="employed", employer="某科技公司",
                                years_employed=5, dependents=1, existing_debt_minor=0,
                                existing_monthly_repayment_minor=100_000, revolving_balance_minor=200_000,
                                revolving_limit_minor=1_000_000, open_credit_lines=2, real_estate_loans=0)
    base.update(kw)
    return applications.ApplicationIn(**base)


def submit(engine, a: Applicant, cmd: applications.ApplicationIn | None = None, *, key: str | None = None,
           now=None) -> tuple[int, bool]:
    with db.session_scope(engine) as s:
        app, created = applications.submit(s, a.actor, cmd or form(a), idempotency_key=key, now=now)
        return app.id, created


def app_row(engine, app_id: int) -> LoanApplication:
    with db.session_scope(engine) as s:
        app = s.get(LoanApplication, app_id)
        s.expunge(app)
        return app


def lending_counts(engine) -> dict[str, int]:
    with engine.connect() as c:
        return {t: int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar()) for t in LENDING_TABLES}


@pytest.fixture
def world(bank, engine, monkeypatch):
    seeded(engine)
    scorer = FakeScorer()
    use_scorer(monkeypatch, scorer)
    return {"alice": applicant(bank, "王芳"), "bob": applicant(bank, "李娜"), "scorer": scorer}


# ------------------------------------------------------------------------------------------------
# submit and the automatic decision


def test_submit_runs_the_decision_and_records_every_event(world, engine):
    a = world["alice"]
    app_id, created = submit(engine, a)
    assert created
    app = app_row(engine, app_id)
    assert app.status == "approved" and app.grade == "A"
    assert app.approved_amount_minor == 5_000_000
    assert app.rate_bps == 300 + 50  # LPR1Y 3.00% since 2025-05-20 + grade A spread
    assert app.offer_expires_at is not None
    with engine.connect() as c:
        moves = [tuple(r) for r in c.execute(text(
            "SELECT from_status, to_status FROM loan_application_events WHERE application_id = :a ORDER BY id"),
            {"a": app_id})]
        d = c.execute(text("SELECT stage, outcome, pd, model_version, challenger_version, grade, reasons, features"
                           " FROM credit_decisions WHERE application_id = :a"), {"a": app_id}).one()
    assert moves == [(None, "submitted"), ("submitted", "scoring"), ("scoring", "approved")]
    assert d.stage == "auto" and d.outcome == "approve" and d.model_version == "credit_lr-test-1"
    assert d.challenger_version == "credit_lgbm-test-1" and d.grade == "A"
    seen = world["scorer"].seen[-1]
    assert seen["age"] >= 40 and seen["MonthlyIncome"] == 20_000.0
    assert seen["DebtRatio"] == pytest.approx(0.05) and seen["RevolvingUtilizationOfUnsecuredLines"] == 0.2
    assert seen["NumberOfOpenCreditLinesAndLoans"] == 2 and seen["NumberOfDependents"] == 1


def test_same_key_same_body_returns_the_same_application_and_a_different_body_is_409(world, engine):
    a = world["alice"]
    first, created = submit(engine, a, key="k-1")
    again, created2 = submit(engine, a, key="k-1")
    assert (again, created2) == (first, False) and created
    before = lending_counts(engine)
    with pytest.raises(IdempotencyConflict):
        submit(engine, a, form(a, amount_minor=6_000_000), key="k-1")
    assert lending_counts(engine) == before
    # another customer's identical key is their own
    b = world["bob"]
    other, created3 = submit(engine, b, form(b), key="k-1")
    assert other != first and created3


@pytest.mark.parametrize("change", [
    {"amount_minor": 50_000}, {"amount_minor": 400_000_00}, {"term_months": 3}, {"term_months": 61},
    {"method": "balloon"}, {"purpose": "  "}, {"monthly_income_minor": -1}, {"employment": "astronaut"},
    {"dependents": 21}, {"revolving_limit_minor": None}, {"collateral_kind": "property"},
    {"product": "NOPE"}, {"amount_minor": True}, {"years_employed": 71},
])
def test_bad_input_is_refused_and_writes_nothing(world, engine, change):
    a = world["alice"]
    before = state(engine)
    with pytest.raises((ValidationFailed, NotFound)):
        submit(engine, a, form(a, **change))
    assert state(engine) == before


def test_payout_account_must_be_the_customers_own_open_current_account(world, engine, bank):
    a, b = world["alice"], world["bob"]
    before = state(engine)
    with pytest.raises(NotFound):
        submit(engine, a, form(a, account_id=b.account_id))
    savings = bank.account(a.customer_id, kind="savings")
    before = state(engine)
    with pytest.raises(ValidationFailed) as e:
        submit(engine, a, form(a, account_id=savings))
    assert e.value.code == "account_not_eligible"
    assert state(engine) == before


def test_secured_products_need_their_collateral(world, engine):
    a = world["alice"]
    car = dict(product="CAR", amount_minor=10_000_000, term_months=36)
    with pytest.raises(ValidationFailed):
        submit(engine, a, form(a, **car))
    with pytest.raises(ValidationFailed):
        submit(engine, a, form(a, **car, collateral_kind="property", collateral_value_minor=20_000_000,
                               collateral_description="x"))
    app_id, _ = submit(engine, a, form(a, **car, collateral_kind="vehicle", collateral_value_minor=20_000_000,
                                       collateral_description="比亚迪 汉 2025"))
    assert app_row(engine, app_id).status == "manual_review"  # POL-COLLATERAL


def test_staff_do_not_apply(world, engine, bank):
    teller = officer(bank, "teller1", "teller")
    a = world["alice"]
    with db.session_scope(engine) as s, pytest.raises(Forbidden):
        applications.submit(s, teller, form(a))


# ------------------------------------------------------------------------------------------------
# reading: own applications only, progress line, reasons in plain words


def test_a_customer_sees_only_their_own_applications(world, engine, bank):
    a, b = world["alice"], world["bob"]
    app_id, _ = submit(engine, a)
    marketer = officer(bank, "mark1", "marketer")
    with db.session_scope(engine) as s:
        assert [x.id for x in applications.list_applications(s, a.actor)] == [app_id]
        assert applications.list_applications(s, b.actor) == []
        with pytest.raises(NotFound):
            applications.get_application(s, b.actor, app_id)
        with pytest.raises(Forbidden):
            applications.get_application(s, marketer, app_id)
    for fn in (applications.accept, applications.withdraw):
        with db.session_scope(engine) as s, pytest.raises(NotFound):
            fn(s, b.actor, app_id)
    assert app_row(engine, app_id).status == "approved"


def test_progress_line_and_decline_reasons_in_plain_words(world, engine):
    a = world["alice"]
    world["scorer"].pd = 0.30  # grade E
    app_id, _ = submit(engine, a)
    with db.session_scope(engine) as s:
        view = applications.application_view(s, applications.get_application(s, a.actor, app_id))
    assert view["status"] == "declined"
    assert [p["state"] for p in view["progress"]] == ["submitted", "scoring", "declined"]
    assert all(p["at"] for p in view["progress"])
    reasons = view["decision"]["reasons"]
    assert reasons[0]["code"] == "MODEL-GRADE-E"
    assert all(r["en"] and r["zh"] for r in reasons) and 1 <= len(reasons) <= 3
    assert "pd" not in view["decision"] and "features" not in view["decision"]  # customers see plain words only
    assert not view["can_accept"] and not view["can_withdraw"]


# ------------------------------------------------------------------------------------------------
# accept, withdraw, expire


def test_accept_within_expiry_and_not_after(world, engine, monkeypatch):
    from smartbank.lending import servicing

    monkeypatch.setattr(servicing, "disburse", lambda *args, **kw: None)  # no disbursement here
    a = world["alice"]
    app_id, _ = submit(engine, a)
    late = utcnow() + timedelta(days=decision.OFFER_DAYS, seconds=1)
    before = lending_counts(engine)
    with db.session_scope(engine) as s, pytest.raises(applications.OfferExpired):
        applications.accept(s, a.actor, app_id, now=late)
    assert lending_counts(engine) == before
    with db.session_scope(engine) as s:
        applications.accept(s, a.actor, app_id)
    assert app_row(engine, app_id).status == "accepted"
    with db.session_scope(engine) as s, pytest.raises(states.IllegalTransition):
        applications.accept(s, a.actor, app_id)
    with db.session_scope(engine) as s, pytest.raises(states.IllegalTransition):
        applications.withdraw(s, a.actor, app_id)


def test_withdraw_before_acceptance_and_expire_offers(world, engine):
    a = world["alice"]
    first, _ = submit(engine, a)
    second, _ = submit(engine, a, form(a, amount_minor=2_000_000))
    with db.session_scope(engine) as s:
        applications.withdraw(s, a.actor, first, note="found a cheaper offer")
    assert app_row(engine, first).status == "withdrawn"
    with db.session_scope(engine) as s:
        assert applications.expire_offers(s, utcnow()) == 0
        assert applications.expire_offers(s, utcnow() + timedelta(days=decision.OFFER_DAYS + 1)) == 1
    assert app_row(engine, second).status == "expired"
    with db.session_scope(engine) as s, pytest.raises(states.IllegalTransition):
        applications.accept(s, a.actor, second)


def test_every_illegal_transition_is_409_and_writes_nothing(world, engine):
    a = world["alice"]
    app_id, _ = submit(engine, a)
    for current in states.TRANSITIONS:
        for target in states.APPLICATION_STATES if hasattr(states, "APPLICATION_STATES") else states.TRANSITIONS:
            if states.can_move(current, target):
                continue
            with db.session_scope(engine) as s:
                app = s.get(LoanApplication, app_id)
                app.status = current
                s.flush()
                before = s.execute(text("SELECT count(*) FROM loan_application_events")).scalar()
                with pytest.raises(states.IllegalTransition) as e:
                    states.transition(s, app, target)
                assert e.value.status_code == 409
                assert app.status == current
                assert s.execute(text("SELECT count(*) FROM loan_application_events")).scalar() == before
                s.rollback()


def test_prefill_from_kyc_and_last_application(world, engine, bank):
    a = world["alice"]
    with db.session_scope(engine) as s:
        p = applications.prefill(s, a.actor, "PERSONAL")
    assert p["values"]["account_id"] == a.account_id and p["values"]["product"] == "PERSONAL"
    submit(engine, a, form(a, dependents=2, employer="某银行"))
    with db.session_scope(engine) as s:
        p = applications.prefill(s, a.actor, "PERSONAL")
    assert p["values"]["dependents"] == 2 and p["values"]["employer"] == "某银行"
    assert p["values"]["monthly_income_minor"] == 2_000_000
    assert p["sources"]["dependents"] == "last_application"
    c = applicant(bank, "赵敏")
    with db.session_scope(engine) as s:
        from smartbank.customers.models import Customer

        s.get(Customer, c.customer_id).annual_income_minor = 24_000_000
    with db.session_scope(engine) as s:
        p = applications.prefill(s, c.actor, "PERSONAL")
    assert p["values"]["monthly_income_minor"] == 2_000_000 and p["sources"]["monthly_income_minor"] == "kyc"


def _unused(x):  # keep dataclasses.replace importable for other test modules
    return replace(x)

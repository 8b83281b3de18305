"""Disbursement, repayment, the daily run (auto-debit, overdue, penalty, buckets, classification,
provisions) and refusals, on every test database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from smartbank import db
from smartbank.backoffice import service as backoffice
from smartbank.errors import (
    Conflict,
    Forbidden,
    IdempotencyConflict,
    InsufficientFunds,
    NotFound,
    ValidationFailed,
)
from smartbank.ledger import service as ledger
from smartbank.lending import classification as cls
from smartbank.lending import schedule as sched
from smartbank.lending import servicing
from smartbank.lending.models import Loan, LoanApplication, LoanInstallment, LoanStatusHistory
from smartbank.payments import service as payments
from smartbank.security.service import Principal
from tests.lending.support import accepted_app, customer, disbursed, fund, run_days
from tests.lending.support import allowance as _allowance
from tests.lending.support import loan_row as _loan
from tests.lending.support import provisions as _provisions

START = date(2025, 1, 15)


def _state(engine) -> tuple:
    with engine.connect() as c:
        return tuple(int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar()) for t in (
            "transfers", "entries", "loan_repayments", "loan_installments", "loan_status_history", "notifications"))


def test_disbursement_balances_in_the_ledger(bank, engine):
    cid, acct, me = customer(bank)
    teller = Principal(user_id=bank.user("teller1", role="teller"), username="teller1", role="teller",
                       customer_id=None)
    app_id = accepted_app(engine, cid, acct, amount=1_200_000, rate_bps=600, term=12)
    with db.session_scope(engine) as s:
        app = s.get(LoanApplication, app_id)
        loan = servicing.disburse(s, app, value_date=START)
        assert servicing.disburse(s, app, value_date=START).id == loan.id  # once per application
        loan_id, loan_acct = loan.id, loan.loan_account_id
        assert app.status == "disbursed" and app.loan_id == loan.id
        assert loan.penalty_rate_bps == 900  # 6% x 1.5
    assert bank.balance(loan_acct) == -1_200_000 and bank.balance(acct) == 1_200_000
    bank.assert_invariants()
    with db.session_scope(engine) as s:
        rows = s.scalars(select(LoanInstallment).where(LoanInstallment.loan_id == loan_id)
                           .order_by(LoanInstallment.schedule_version, LoanInstallment.seq)).all()
        assert sum(r.principal_minor for r in rows) == 1_200_000 and len(rows) == 12
        assert rows[0].due_date == date(2025, 2, 15)
        la = ledger.get_account(s, loan_acct)
        assert la.kind == "loan" and la.overdraft_limit_minor == -la.balance_minor and la.customer_id == cid
        # the loan account is not a payment account: hidden from the account list, refused as payer or payee
        assert loan_acct not in [a.id for a in payments.list_accounts(s, me)]
        with pytest.raises(NotFound):
            payments.pay(s, me, payments.PaymentRequest(from_account_id=loan_acct, to_account_number="6217000000000000",
                                                        amount_minor=100, currency="CNY", idempotency_key="k1"))
        with pytest.raises(NotFound):
            payments.pay(s, me, payments.PaymentRequest(from_account_id=acct, to_account_number=la.number,
                                                        amount_minor=100, currency="CNY", idempotency_key="k2"))
        with pytest.raises(InsufficientFunds):  # and the ledger itself lets nothing else draw on it
            ledger.transfer(s, ledger.TransferCommand(key="x", debit_account_id=loan_acct, credit_account_id=acct,
                                                      amount_minor=1, currency="CNY"))
        notes = s.execute(text("SELECT kind FROM notifications WHERE customer_id = :c"), {"c": cid}).scalars().all()
        assert notes == ["loan_disbursed"]
        with pytest.raises(ValidationFailed):  # nor can cash over the counter move it out of step with the loan
            backoffice.cash(s, teller, account_id=loan_acct, amount_minor=100, currency="CNY", key="c1", deposit=True)


def test_only_an_accepted_application_is_paid_out(bank, engine):
    cid, acct, _ = customer(bank)
    app_id = accepted_app(engine, cid, acct)
    with db.session_scope(engine) as s:
        s.get(LoanApplication, app_id).status = "approved"
    before = _state(engine)
    with pytest.raises(Conflict), db.session_scope(engine) as s:
        servicing.disburse(s, s.get(LoanApplication, app_id), value_date=START)
    assert _state(engine) == before


def test_auto_debit_on_the_due_date_and_rerun_posts_nothing(bank, engine):
    cid, acct, _ = customer(bank)
    loan_id = disbursed(engine, cid, acct, start=START, amount=1_200_000, rate_bps=600, term=12)
    pay = sched.payment(1_200_000, 600, 12)
    with db.session_scope(engine) as s:
        r = servicing.run_day(s, date(2025, 2, 14))
        assert r["collections"] == 0
        r = servicing.run_day(s, date(2025, 2, 15))
        assert r["collected_minor"] == pay and r["collections"] == 1
    before = _state(engine)
    with db.session_scope(engine) as s:
        assert servicing.run_day(s, date(2025, 2, 15))["collected_minor"] == 0
    assert _state(engine) == before
    loan = _loan(engine, loan_id)
    first = sched.build(1_200_000, 600, 12, "equal_installment", START)[0]
    assert loan.outstanding_minor == 1_200_000 - first.principal_minor
    assert bank.balance(loan.loan_account_id) == -loan.outstanding_minor
    assert bank.balance(acct) == 1_200_000 - pay
    with db.session_scope(engine) as s:
        assert s.get(LoanApplication, loan.application_id).status == "repaying"
        income = ledger.internal_balances(s, "loan_interest_income")["CNY"]
        assert income == first.interest_minor
    assert _allowance(engine) == _provisions(engine) == cls.provision_minor(loan.outstanding_minor, "normal")
    bank.assert_invariants()


def test_partial_collection_overdue_penalty_and_cure(bank, engine):
    cid, acct, me = customer(bank)
    loan_id = disbursed(engine, cid, acct, start=START, amount=1_200_000, rate_bps=600, term=12)
    # spend the payout, keep 3,000.00 fen-wise: less than one instalment
    with db.session_scope(engine) as s:
        sink = ledger.internal_account(s, "settlement", "CNY")
        ledger.transfer(s, ledger.TransferCommand(key="spend", debit_account_id=acct, credit_account_id=sink.id,
                                                  amount_minor=1_200_000 - 30_000, currency="CNY",
                                                  kind="withdrawal"))
    pay = sched.payment(1_200_000, 600, 12)
    run_days(engine, date(2025, 2, 15), date(2025, 2, 15))
    loan = _loan(engine, loan_id)
    assert bank.balance(acct) == 0 and loan.days_past_due == 0
    with db.session_scope(engine) as s:
        i1 = s.scalars(select(LoanInstallment).where(LoanInstallment.loan_id == loan_id,
                                                     LoanInstallment.seq == 1)).one()
        assert i1.status == "overdue" and i1.paid_interest_minor == i1.interest_minor
        assert i1.paid_principal_minor == 30_000 - i1.interest_minor
        kinds = s.execute(text("SELECT kind FROM notifications WHERE customer_id = :c ORDER BY id"),
                          {"c": cid}).scalars().all()
        assert kinds[-1] == "loan_payment_missed"
        left = pay - 30_000
    run_days(engine, date(2025, 2, 16), date(2025, 2, 25))
    loan = _loan(engine, loan_id)
    assert loan.days_past_due == 10 and loan.bucket == "M1" and loan.classification == "special_mention"
    # ten days of penalty at 9% / 360 on what is overdue, counted in millionths of a fen
    daily_micro = left * 900 * 1_000_000 // 3_600_000
    with db.session_scope(engine) as s:
        i1 = s.get(LoanInstallment, i1.id)
        charged = i1.penalty_minor * 1_000_000 + loan.penalty_accrued_micro
        assert abs(charged - 10 * daily_micro) <= 10
    # rerunning a past-due day accrues nothing more
    with db.session_scope(engine) as s:
        servicing.run_day(s, date(2025, 2, 25))
    assert _loan(engine, loan_id).penalty_accrued_micro == loan.penalty_accrued_micro
    # a partial repayment by the customer: penalty first, then interest, then principal
    fund(bank, acct, 100_000, "top1")
    with db.session_scope(engine) as s:
        r = servicing.repay(s, me, loan_id, amount_minor=1_000, key="r1", day=date(2025, 2, 26))
        assert r["penalty_minor"] == min(1_000, i1.penalty_minor) and r["interest_minor"] == 0
    with db.session_scope(engine) as s:  # the rest of what is due: cured
        r = servicing.repay(s, me, loan_id, key="r2", day=date(2025, 2, 26))
        assert r["principal_minor"] > 0
    run_days(engine, date(2025, 2, 26), date(2025, 2, 26))
    loan = _loan(engine, loan_id)
    assert loan.days_past_due == 0 and loan.bucket == "current" and loan.classification == "normal"
    assert _allowance(engine) == _provisions(engine)
    bank.assert_invariants()


def test_four_hundred_days_without_money_then_cured(bank, engine):
    cid, acct, me = customer(bank)
    loan_id = disbursed(engine, cid, acct, start=START, amount=600_000, rate_bps=1_200, term=6,
                        method="equal_principal")
    with db.session_scope(engine) as s:
        sink = ledger.internal_account(s, "settlement", "CNY")
        ledger.transfer(s, ledger.TransferCommand(key="spend", debit_account_id=acct, credit_account_id=sink.id,
                                                  amount_minor=600_000, currency="CNY", kind="withdrawal",
                                                  value_date=START))
    seen: dict[str, date] = {}
    d = START
    for _ in range(400):
        d += timedelta(days=1)
        with db.session_scope(engine) as s:
            servicing.run_day(s, d)
            loan = s.get(Loan, loan_id)
            seen.setdefault(loan.classification, d)
            seen.setdefault(loan.bucket, d)
        assert _allowance(engine) == _provisions(engine)
    first_due = date(2025, 2, 15)
    assert seen["M1"] == first_due + timedelta(days=1)
    assert seen["M2"] == first_due + timedelta(days=31) and seen["M3+"] == first_due + timedelta(days=61)
    assert seen["special_mention"] == first_due + timedelta(days=1)
    assert seen["substandard"] == first_due + timedelta(days=91)
    assert seen["doubtful"] == first_due + timedelta(days=181)
    assert seen["loss"] == first_due + timedelta(days=361)
    loan = _loan(engine, loan_id)
    assert loan.provision_minor == 600_000 and loan.outstanding_minor == 600_000
    with db.session_scope(engine) as s:
        hist = s.scalars(select(LoanStatusHistory).where(LoanStatusHistory.loan_id == loan_id)
                         .order_by(LoanStatusHistory.day)).all()
        assert [h.classification for h in hist if h.provision_minor != 0][:1] == ["normal"]
        assert {h.classification for h in hist} == set(c[0] for c in cls.CLASSIFICATION_TABLE)
        quote = servicing.payoff_quote(s, s.get(Loan, loan_id), d + timedelta(days=1))
    # top up and pay everything due: cured, and the rerun of that day changes nothing
    fund(bank, acct, quote["total_minor"], "rescue", value_date=d + timedelta(days=1))
    run_days(engine, d + timedelta(days=1), d + timedelta(days=1))
    loan = _loan(engine, loan_id)
    assert loan.status == "closed" and loan.classification == "loss" or loan.days_past_due == 0
    assert loan.status == "closed" and loan.provision_minor == 0 and loan.outstanding_minor == 0
    assert bank.balance(loan.loan_account_id) == 0 and _allowance(engine) == 0
    with db.session_scope(engine) as s:
        assert s.get(LoanApplication, loan.application_id).status == "closed"
        assert ledger.get_account(s, loan.loan_account_id).status == "closed"
        assert ledger.internal_balances(s, "loan_penalty_income")["CNY"] > 0
    bank.assert_invariants()


@pytest.mark.parametrize("recalc", ["reduce_payment", "shorten_term"])
def test_early_partial_repayment(bank, engine, recalc):
    cid, acct, me = customer(bank, balance=10_000_000)
    loan_id = disbursed(engine, cid, acct, start=START, amount=2_400_000, rate_bps=480, term=24)
    run_days(engine, date(2025, 2, 15), date(2025, 2, 15))
    a = sched.payment(2_400_000, 480, 24)
    with db.session_scope(engine) as s:
        q = servicing.payoff_quote(s, s.get(Loan, loan_id), date(2025, 3, 1))
        assert q["due_minor"] == 0 and q["accrued_days"] == 14
        r = servicing.repay_early(s, me, loan_id, amount_minor=1_000_000, recalc=recalc, key="e1",
                                  day=date(2025, 3, 1))
        assert r["principal_minor"] + r["interest_minor"] == 1_000_000 and r["interest_minor"] > 0
        assert r["interest_minor"] == round(r["principal_minor"] * 0.048 * 14 / 360)
        again = servicing.repay_early(s, me, loan_id, amount_minor=1_000_000, recalc=recalc, key="e1",
                                      day=date(2025, 3, 1))
        assert again["replayed"] and again["id"] == r["id"]
    loan = _loan(engine, loan_id)
    assert loan.schedule_version == 2
    with db.session_scope(engine) as s:
        live = s.scalars(select(LoanInstallment).where(LoanInstallment.loan_id == loan_id,
                                                       LoanInstallment.status != "superseded")
                         .order_by(LoanInstallment.seq)).all()
        fut = [i for i in live if i.schedule_version == 2]
        assert sum(i.principal_minor for i in fut) == loan.outstanding_minor
        assert fut[0].seq == 2
        if recalc == "reduce_payment":
            assert len(fut) == 23 and fut[0].principal_minor + fut[0].interest_minor < a
        else:
            assert len(fut) < 23 and fut[0].principal_minor + fut[0].interest_minor == a
    assert bank.balance(loan.loan_account_id) == -loan.outstanding_minor
    bank.assert_invariants()


def test_early_payoff_closes_the_loan(bank, engine):
    cid, acct, me = customer(bank, balance=1_000_000)
    loan_id = disbursed(engine, cid, acct, start=START, amount=1_200_000, rate_bps=600, term=12)
    with db.session_scope(engine) as s:
        q = servicing.payoff_quote(s, s.get(Loan, loan_id), date(2025, 2, 5))
        assert q["principal_minor"] == 1_200_000 and q["accrued_days"] == 21
        assert q["accrued_interest_minor"] == round(1_200_000 * 0.06 * 21 / 360)
        r = servicing.repay_early(s, me, loan_id, key="off", day=date(2025, 2, 5))
        assert r["amount_minor"] == q["total_minor"] and r["kind"] == "early_full"
    loan = _loan(engine, loan_id)
    assert loan.status == "closed" and loan.outstanding_minor == 0
    assert bank.balance(loan.loan_account_id) == 0
    with db.session_scope(engine) as s:
        app = s.get(LoanApplication, loan.application_id)
        assert app.status == "closed"
        with pytest.raises(Conflict):
            servicing.repay_early(s, me, loan_id, key="off2", day=date(2025, 2, 6))
    bank.assert_invariants()


def test_refusals_write_nothing(bank, engine):
    cid, acct, me = customer(bank)
    _, _, bob = customer(bank, "李娜", username="bob")
    loan_id = disbursed(engine, cid, acct, start=START, amount=1_200_000, rate_bps=600, term=12)
    with db.session_scope(engine) as s:  # the customer spent the money
        sink = ledger.internal_account(s, "settlement", "CNY")
        ledger.transfer(s, ledger.TransferCommand(key="spend", debit_account_id=acct, credit_account_id=sink.id,
                                                  amount_minor=1_199_000, currency="CNY", kind="withdrawal"))
    before = _state(engine)
    d = date(2025, 3, 1)
    cases = [
        (InsufficientFunds, lambda s: servicing.repay_early(s, me, loan_id, key="a", day=d)),
        (InsufficientFunds, lambda s: servicing.repay_early(s, me, loan_id, amount_minor=500_000, key="b", day=d)),
        (NotFound, lambda s: servicing.repay_early(s, bob, loan_id, key="c", day=d)),
        (NotFound, lambda s: servicing.loan_view(s, bob, loan_id)),
        (NotFound, lambda s: servicing.repay(s, me, 10**9, key="d", day=d)),
        (ValidationFailed, lambda s: servicing.repay(s, me, loan_id, amount_minor=0, key="e", day=d)),
        (ValidationFailed, lambda s: servicing.repay(s, me, loan_id, amount_minor=-5, key="e", day=d)),
        (ValidationFailed, lambda s: servicing.repay(s, me, loan_id, key="f", day=date(2025, 2, 1))),  # nothing due
        (ValidationFailed, lambda s: servicing.repay_early(s, me, loan_id, amount_minor=10**12, key="g", day=d)),
        (ValidationFailed, lambda s: servicing.repay_early(s, me, loan_id, amount_minor=100, recalc="x", key="h",
                                                           day=d)),
        (ValidationFailed, lambda s: servicing.repay(s, me, loan_id, key="", day=d)),
    ]
    for exc, fn in cases:
        with pytest.raises(exc), db.session_scope(engine) as s:
            fn(s)
        assert _state(engine) == before, exc
    from smartbank.security.service import Principal

    staff = Principal(user_id=1, username="lo", role="loan_officer", customer_id=None)
    with pytest.raises(Forbidden), db.session_scope(engine) as s:
        servicing.repay(s, staff, loan_id, key="s", day=d)
    with db.session_scope(engine) as s:  # an idempotency key reused for another amount is a conflict
        servicing.repay(s, me, loan_id, amount_minor=500, key="same", day=date(2025, 2, 15))
    with pytest.raises(IdempotencyConflict), db.session_scope(engine) as s:
        servicing.repay(s, me, loan_id, amount_minor=600, key="same", day=date(2025, 2, 15))
    bank.assert_invariants()


def test_read_side_and_book(bank, engine):
    cid, acct, me = customer(bank)
    loan_id = disbursed(engine, cid, acct, start=START, amount=1_200_000, rate_bps=600, term=12)
    run_days(engine, date(2025, 2, 15), date(2025, 2, 20))  # paid on the 15th (money from the payout)
    with db.session_scope(engine) as s:
        sink = ledger.internal_account(s, "settlement", "CNY")
        bal = ledger.get_account(s, acct).balance_minor
        ledger.transfer(s, ledger.TransferCommand(key="spend", debit_account_id=acct, credit_account_id=sink.id,
                                                  amount_minor=bal, currency="CNY", kind="withdrawal"))
    run_days(engine, date(2025, 3, 15), date(2025, 3, 20))
    from smartbank.security.service import Principal

    officer = Principal(user_id=1, username="lo", role="loan_officer", customer_id=None)
    teller = Principal(user_id=2, username="t", role="teller", customer_id=None)
    with db.session_scope(engine) as s:
        mine = servicing.list_loans(s, me)
        assert [x["id"] for x in mine] == [loan_id]
        v = servicing.loan_view(s, me, loan_id, lang="zh", day=date(2025, 3, 20))
        assert v["days_past_due"] == 5 and v["bucket"] == "M1" and v["classification_label"] == "关注"
        assert [i["status"] for i in v["schedule"][:3]] == ["paid", "overdue", "due"]
        assert "逾期" in v["plain"] and v["due_now_minor"] > 0 and len(v["repayments"]) == 1
        book = servicing.loan_book(s, officer, bucket="M1")
        assert [x["id"] for x in book] == [loan_id]
        assert servicing.loan_book(s, officer, classification="normal") == []
        summary = servicing.portfolio_summary(s, officer)
        assert summary["delinquency_rate"] == 1.0
        assert summary["by_classification"]["special_mention"]["loans"] == 1
        assert summary["allowance_balance_minor"] == summary["provision_minor"]
        with pytest.raises(Forbidden):
            servicing.loan_book(s, teller)
        with pytest.raises(Forbidden):
            servicing.loan_book(s, me)
        from smartbank.risk import monitor

        assert monitor.METRICS["delinquency_rate"](s, START, START) == 1.0

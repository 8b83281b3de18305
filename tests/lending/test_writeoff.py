"""Writing off a loan classified loss: exact ledger moves, the allowance still equal to the provisions, who
may do it, refusals that write nothing, and a written-off loan left alone by the daily run and repayments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from smartbank import db
from smartbank.errors import Conflict, Forbidden, IdempotencyConflict, InsufficientFunds, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.lending import servicing, writeoff
from smartbank.lending.models import LoanApplication, LoanInstallment, LoanRepayment, LoanStatusHistory
from smartbank.security.models import AuditLog
from smartbank.security.service import Principal
from tests.lending.support import allowance as _allowance
from tests.lending.support import customer, disbursed, fund, run_days
from tests.lending.support import loan_row as _loan
from tests.lending.support import provisions as _provisions

START = date(2025, 1, 15)
FIRST_DUE = date(2025, 2, 15)
LOSS_DAY = FIRST_DUE + timedelta(days=361)  # the first day the loan is classified loss
DOUBTFUL_DAY = FIRST_DUE + timedelta(days=200)


def _staff(bank, username: str, role: str) -> Principal:
    return Principal(user_id=bank.user(username, role=role), username=username, role=role, customer_id=None)


def _spend_all(engine, acct: int, amount: int, key: str) -> None:
    with db.session_scope(engine) as s:
        sink = ledger.internal_account(s, "settlement", "CNY")
        ledger.transfer(
            s,
            ledger.TransferCommand(
                key=key,
                debit_account_id=acct,
                credit_account_id=sink.id,
                amount_minor=amount,
                currency="CNY",
                kind="withdrawal",
            ),
        )


def bad_loan(bank, engine, day: date = LOSS_DAY, *, name: str = "张伟") -> tuple[int, int, Principal]:
    """A 6,000.00 CNY loan whose borrower spent the payout and never paid: one close of day on ``day`` makes it
    overdue (loss on LOSS_DAY, with a 100 % provision). Returns (loan id, deposit account, the customer)."""
    cid, acct, me = customer(bank, name)
    loan_id = disbursed(engine, cid, acct, start=START, amount=600_000, rate_bps=1_200, term=6)
    _spend_all(engine, acct, 600_000, f"spend-{cid}")
    run_days(engine, day, day)
    return loan_id, acct, me


def written_off(bank, engine, *, name: str = "张伟", risk_user: str = "risk1",
                reason: str = "uncollectable") -> tuple[int, int, Principal, int]:
    """A :func:`bad_loan` written off on LOSS_DAY by the risk officer ``risk_user`` (created here). Returns
    (loan id, deposit account, the customer, what is still owed)."""
    loan_id, acct, me = bad_loan(bank, engine, name=name)
    with db.session_scope(engine) as s:
        owed = writeoff.write_off(s, _staff(bank, risk_user, "risk_officer"), loan_id, reason=reason,
                                  day=LOSS_DAY)["still_owed_minor"]
    return loan_id, acct, me, owed


def _state(engine) -> tuple:
    with engine.connect() as c:
        return tuple(
            int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar())
            for t in ("transfers", "entries", "loan_status_history", "notifications", "audit_log", "loan_repayments")
        )


def test_write_off_posts_exactly_and_ends_the_loan(bank, engine):
    loan_id, _acct, _me = bad_loan(bank, engine)
    # a healthy loan alongside keeps a provision: the allowance must still equal the sum of provisions
    cid2, acct2, _ = customer(bank, "李娜", balance=1_000_000)
    other = disbursed(engine, cid2, acct2, start=LOSS_DAY - timedelta(days=5), amount=300_000, rate_bps=600, term=12)
    run_days(engine, LOSS_DAY, LOSS_DAY)
    loan = _loan(engine, loan_id)
    assert loan.classification == "loss" and loan.provision_minor == loan.outstanding_minor == 600_000
    assert _allowance(engine) == _provisions(engine) == 600_000 + 3_000
    assert bank.balance(loan.loan_account_id) == -600_000
    with db.session_scope(engine) as s:
        expense_before = ledger.internal_balances(s, "loan_provision_expense")["CNY"]
        income_before = {
            p: ledger.internal_balances(s, p).get("CNY", 0) for p in ("loan_interest_income", "loan_penalty_income")
        }
    risk = _staff(bank, "risk1", "risk_officer")
    with db.session_scope(engine) as s:
        res = writeoff.write_off(s, risk, loan_id, reason="  borrower untraceable for a year  ", day=LOSS_DAY)
    assert res["status"] == "written_off" and res["written_off_minor"] == 600_000
    assert res["provision_top_up_minor"] == 0 and res["reason"] == "borrower untraceable for a year"

    loan = _loan(engine, loan_id)
    assert (loan.status, loan.outstanding_minor, loan.provision_minor) == ("written_off", 0, 0)
    assert bank.balance(loan.loan_account_id) == 0
    assert _allowance(engine) == _provisions(engine) == 3_000  # used up by exactly 600,000 fen
    assert _loan(engine, other).provision_minor == 3_000
    with db.session_scope(engine) as s:
        # the expense was booked by the provisions; the write-off itself is no new expense and no income
        assert ledger.internal_balances(s, "loan_provision_expense")["CNY"] == expense_before
        for p, v in income_before.items():
            assert ledger.internal_balances(s, p).get("CNY", 0) == v
        t = s.get(ledger.Transfer, res["transfer_id"])
        assert (t.idempotency_key, t.amount_minor, t.credit_account_id) == (
            f"loan:{loan_id}:writeoff",
            600_000,
            loan.loan_account_id,
        )
        assert t.debit_account_id == ledger.internal_account(s, "loan_loss_allowance", "CNY").id
        acct = ledger.get_account(s, loan.loan_account_id)
        assert acct.status == "closed" and acct.overdraft_limit_minor == 0
        insts = s.scalars(select(LoanInstallment).where(LoanInstallment.loan_id == loan_id)).all()
        assert {i.status for i in insts} == {"written_off"}
        hist = s.scalars(
            select(LoanStatusHistory).where(LoanStatusHistory.loan_id == loan_id).order_by(LoanStatusHistory.id)
        ).all()
        assert hist[-1].note == "written off: borrower untraceable for a year" and hist[-1].provision_minor == 0
        app = s.get(LoanApplication, loan.application_id)
        assert app.status == "written_off"  # its final state, the last step of the customer's progress line
        from smartbank.lending import applications

        line = applications.progress(applications.events_of(s, app.id), app.status)
        assert line[-1] == {"state": "written_off", "at": line[-1]["at"], "done": True, "current": True}
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "loan.write_off")).one()
        assert audit.object_id == str(loan_id) and audit.actor_role == "risk_officer"
        assert audit.before["status"] == "active" and audit.before["outstanding_minor"] == 600_000
        assert audit.after["status"] == "written_off" and audit.after["written_off_minor"] == 600_000
        kinds = (
            s.execute(text("SELECT kind FROM notifications WHERE customer_id = :c"), {"c": loan.customer_id})
            .scalars()
            .all()
        )
        assert "loan_written_off" in kinds
    bank.assert_invariants()


def test_a_repayment_after_the_close_of_day_is_reflected_exactly(bank, engine):
    """The customer paid part after the loan turned loss: the provision is trimmed to 100 % of what is left
    (released to expense), then exactly that is written off."""
    loan_id, acct, me = bad_loan(bank, engine)
    fund(bank, acct, 150_000, "late-money")
    with db.session_scope(engine) as s:
        servicing.repay(s, me, loan_id, amount_minor=150_000, key="p1", day=LOSS_DAY)
    left = _loan(engine, loan_id).outstanding_minor
    assert 0 < left < 600_000 and _loan(engine, loan_id).provision_minor == 600_000
    admin = _staff(bank, "admin1", "admin")
    with db.session_scope(engine) as s:
        res = writeoff.write_off(s, admin, loan_id, reason="uncollectable", day=LOSS_DAY)
    assert res["provision_top_up_minor"] == left - 600_000 and res["written_off_minor"] == left
    loan = _loan(engine, loan_id)
    assert bank.balance(loan.loan_account_id) == 0 and _allowance(engine) == _provisions(engine) == 0
    bank.assert_invariants()


def test_only_a_loss_loan_is_written_off_and_refusals_write_nothing(bank, engine):
    loan_id, _acct, owner = bad_loan(bank, engine, DOUBTFUL_DAY)
    assert _loan(engine, loan_id).classification == "doubtful"
    risk = _staff(bank, "risk1", "risk_officer")
    before = _state(engine)
    with db.session_scope(engine) as s, pytest.raises(Conflict, match="classified loss") as e:
        writeoff.write_off(s, risk, loan_id, reason="hopeless", day=DOUBTFUL_DAY)
    assert e.value.status_code == 409
    for username, role in (("teller1", "teller"), ("officer1", "loan_officer"), ("mark1", "marketer")):
        with db.session_scope(engine) as s, pytest.raises(Forbidden):
            writeoff.write_off(s, _staff(bank, username, role), loan_id, reason="hopeless")
    with db.session_scope(engine) as s, pytest.raises(Forbidden):
        writeoff.write_off(s, owner, loan_id, reason="please forget it")
    for reason in ("", "   ", "x" * 201, "a\x00b"):
        with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
            writeoff.write_off(s, risk, loan_id, reason=reason)
    with db.session_scope(engine) as s, pytest.raises(NotFound):
        writeoff.write_off(s, risk, 10**9, reason="hopeless")
    assert _state(engine) == before
    assert _loan(engine, loan_id).status == "active"


def test_a_rerun_is_refused_and_the_daily_run_and_repayments_leave_it_alone(bank, engine):
    loan_id, acct, me = bad_loan(bank, engine)
    risk = _staff(bank, "risk1", "risk_officer")
    with db.session_scope(engine) as s:
        writeoff.write_off(s, risk, loan_id, reason="uncollectable", day=LOSS_DAY)
    snapshot = _state(engine)
    with db.session_scope(engine) as s, pytest.raises(Conflict, match="written_off"):
        writeoff.write_off(s, risk, loan_id, reason="uncollectable", day=LOSS_DAY)
    assert _state(engine) == snapshot
    loan = _loan(engine, loan_id)
    fund(bank, acct, 500_000, "found-money")
    snapshot = _state(engine)
    out = run_days(engine, LOSS_DAY, LOSS_DAY + timedelta(days=3))
    assert all(o["loans"] == 0 and o["collected_minor"] == 0 for o in out)
    assert _state(engine) == snapshot and bank.balance(acct) == 500_000
    after = _loan(engine, loan_id)
    assert (after.status, after.penalty_accrued_micro, after.version) == (
        "written_off",
        loan.penalty_accrued_micro,
        loan.version,
    )
    with db.session_scope(engine) as s, pytest.raises(Conflict, match="written off"):
        servicing.repay_early(s, me, loan_id, key="r2", day=LOSS_DAY)
    with db.session_scope(engine) as s, pytest.raises(InsufficientFunds):  # everything still owed is due
        servicing.repay(s, me, loan_id, key="r1", day=LOSS_DAY)
    assert _state(engine) == snapshot
    with db.session_scope(engine) as s:
        view = servicing.loan_view(s, me, loan_id, lang="en", day=LOSS_DAY)
    assert view["status"] == "written_off" and "written off" in view["plain"] and view["payoff"] is None
    assert view["due_now_minor"] == view["still_owed_minor"] > 600_000  # principal, interest and penalty
    assert _allowance(engine) == _provisions(engine) == 0
    bank.assert_invariants()


def _income(engine) -> dict[str, int]:
    with db.session_scope(engine) as s:
        return {p: ledger.internal_balances(s, p).get("CNY", 0)
                for p in ("loan_interest_income", "loan_penalty_income", "loan_provision_expense")}


def _owed_parts(engine, loan_id: int) -> tuple[int, int, int]:
    """(penalty, interest, principal) left on the loan's written-off instalments."""
    with engine.connect() as c:
        row = c.execute(text(
            "SELECT coalesce(sum(penalty_minor - paid_penalty_minor), 0), coalesce(sum(interest_minor -"
            " paid_interest_minor), 0), coalesce(sum(principal_minor - paid_principal_minor), 0)"
            " FROM loan_installments WHERE loan_id = :l AND status = 'written_off'"), {"l": loan_id}).one()
    return int(row[0]), int(row[1]), int(row[2])


def test_what_is_still_owed_can_be_paid_after_the_write_off(bank, engine):
    """账销案存: the customer still owes what was due; paying it is a recovery: penalty and interest are income,
    the principal part reverses the loss the provision booked; the loan stays written off and nothing more
    than is owed can be paid."""
    loan_id, acct, me = bad_loan(bank, engine)
    with db.session_scope(engine) as s:
        res = writeoff.write_off(s, _staff(bank, "risk1", "risk_officer"), loan_id, reason="uncollectable",
                                 day=LOSS_DAY)
    pen, intr, prin = _owed_parts(engine, loan_id)
    assert prin == 600_000 and intr > 0 and pen > 0  # every instalment was due: no interest cancelled
    owed = pen + intr + prin
    assert res["still_owed_minor"] == owed and res["interest_cancelled_minor"] == 0
    before, day = _income(engine), LOSS_DAY + timedelta(days=3)
    fund(bank, acct, owed + 5_000, "found-money", value_date=day)

    # more than is owed: refused, nothing written
    snapshot = _state(engine)
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed, match="more than is still owed"):
        servicing.repay(s, me, loan_id, amount_minor=owed + 1, key="too-much", day=day)
    assert _state(engine) == snapshot

    # a part: oldest instalment first, penalty, then interest, then principal
    part = pen + 1_000
    with db.session_scope(engine) as s:
        r1 = servicing.repay(s, me, loan_id, amount_minor=part, key="rec-1", day=day)
    assert r1["kind"] == "recovery" and (r1["penalty_minor"] + r1["interest_minor"] + r1["principal_minor"]) == part
    assert bank.balance(acct) == owed + 5_000 - part
    assert _owed_parts(engine, loan_id) != (pen, intr, prin) and sum(_owed_parts(engine, loan_id)) == owed - part
    with db.session_scope(engine) as s:  # the same key again: the same recovery, replayed
        again = servicing.repay(s, me, loan_id, amount_minor=part, key="rec-1", day=day)
        assert again["replayed"] and again["id"] == r1["id"]
        view = servicing.loan_view(s, me, loan_id, lang="zh", day=day)
    assert view["still_owed_minor"] == view["due_now_minor"] == owed - part and "仍欠" in view["plain"]

    # the rest (no amount: everything still owed)
    with db.session_scope(engine) as s:
        r2 = servicing.repay(s, me, loan_id, key="rec-2", day=day)
    assert r2["amount_minor"] == owed - part and _owed_parts(engine, loan_id) == (0, 0, 0)
    assert bank.balance(acct) == 5_000
    after = _income(engine)
    assert after["loan_penalty_income"] - before["loan_penalty_income"] == pen
    assert after["loan_interest_income"] - before["loan_interest_income"] == intr
    assert after["loan_provision_expense"] - before["loan_provision_expense"] == prin  # credited: the loss reversed
    loan = _loan(engine, loan_id)
    assert (loan.status, loan.outstanding_minor, loan.provision_minor) == ("written_off", 0, 0)
    assert bank.balance(loan.loan_account_id) == 0 and _allowance(engine) == _provisions(engine) == 0
    with db.session_scope(engine) as s:
        kinds = {s.get(ledger.Transfer, t).kind for r in (r1, r2) for t in r["transfer_ids"]}
        assert kinds == {"loan_recovery"}
        assert {i.status for i in s.scalars(select(LoanInstallment).where(LoanInstallment.loan_id == loan_id))} == {
            "paid"}
        assert [r.kind for r in s.scalars(select(LoanRepayment).where(LoanRepayment.loan_id == loan_id))] == [
            "recovery", "recovery"]
        notes = [h.note for h in s.scalars(select(LoanStatusHistory).where(LoanStatusHistory.loan_id == loan_id)
                                              .order_by(LoanStatusHistory.id))]
        assert notes[-1].endswith("nothing more is owed")
        assert s.execute(text("SELECT count(*) FROM notifications WHERE kind = 'loan_recovered'")).scalar() == 1
        view = servicing.loan_view(s, me, loan_id, lang="en", day=day)
    assert view["still_owed_minor"] == 0 and "nothing more is owed" in view["plain"]

    with db.session_scope(engine) as s:  # the loan book's summary: written off, and recovered since
        wo = servicing.portfolio_summary(s, _staff(bank, "risk2", "risk_officer"))["written_off"]
    assert wo == {"loans": 1, "principal_minor": 600_000, "recovered_minor": owed,
                  "recovered_principal_minor": 600_000, "recovery_rate": 1.0}

    # once it is all paid, nothing more is taken
    snapshot = _state(engine)
    with db.session_scope(engine) as s, pytest.raises(Conflict, match="nothing is owed"):
        servicing.repay(s, me, loan_id, amount_minor=100, key="rec-3", day=day)
    assert _state(engine) == snapshot
    bank.assert_invariants()


def test_interest_not_yet_due_is_cancelled_by_the_write_off(bank, engine):
    """A long loan written off half way: the later instalments' interest is no longer owed, their principal is."""
    cid, acct, me = customer(bank, "王芳")
    loan_id = disbursed(engine, cid, acct, start=START, amount=2_400_000, rate_bps=1_200, term=24)
    _spend_all(engine, acct, 2_400_000, f"spend-{cid}")
    run_days(engine, LOSS_DAY, LOSS_DAY)
    with engine.connect() as c:
        future = c.execute(text(
            "SELECT coalesce(sum(interest_minor), 0), coalesce(sum(principal_minor), 0), count(*)"
            " FROM loan_installments WHERE loan_id = :l AND status = 'due' AND due_date > :d"),
            {"l": loan_id, "d": LOSS_DAY}).one()
    assert future[2] > 0 and future[0] > 0
    due_before = _owed_parts(engine, loan_id)  # nothing is written off yet
    assert due_before == (0, 0, 0)
    with db.session_scope(engine) as s:
        res = writeoff.write_off(s, _staff(bank, "risk1", "risk_officer"), loan_id, reason="fled", day=LOSS_DAY)
    pen, intr, prin = _owed_parts(engine, loan_id)
    assert prin == 2_400_000 and res["interest_cancelled_minor"] == future[0]
    assert res["still_owed_minor"] == pen + intr + prin
    with engine.connect() as c:
        left = c.execute(text("SELECT coalesce(sum(interest_minor - paid_interest_minor), 0) FROM loan_installments"
                              " WHERE loan_id = :l AND due_date > :d"), {"l": loan_id, "d": LOSS_DAY}).scalar()
    assert left == 0
    bank.assert_invariants()


def test_a_written_off_loan_still_counts_against_the_customer(bank, engine):
    """Once written off the loan is no longer active (so no longer "past due"), but the customer's record at
    this bank keeps it and the credit policy declines a new application for it."""
    from smartbank.lending import features, policy

    loan_id, _, me = bad_loan(bank, engine)
    risk = _staff(bank, "risk1", "risk_officer")
    with db.session_scope(engine) as s:
        before = features.bank_history(s, me.customer_id, LOSS_DAY)
        writeoff.write_off(s, risk, loan_id, reason="uncollectable", day=LOSS_DAY)
    with db.session_scope(engine) as s:
        after = features.bank_history(s, me.customer_id, LOSS_DAY)
    assert (before.written_off, before.max_days_past_due > 30) == (0, True)
    assert (after.written_off, after.max_days_past_due, after.late_90) == (1, 0, before.late_90)
    hits = {h["code"]: h["action"] for h in policy.evaluate(policy.PolicyInput(
        age_now=40, age_at_end=41, min_age=18, max_age=65, monthly_income_minor=2_000_000, employment="employed",
        monthly_debt_minor=0, new_payment_minor=100_000, max_dti=0.5, days_past_due=after.max_days_past_due,
        blacklisted=False, fraud_confirmed=0, fraud_open=0, secured=False, amount_minor=1_000_000,
        collateral_value_minor=None, max_ltv=None, written_off=after.written_off))}
    assert hits == {"POL-WRITTEN-OFF": "decline"}


def test_cli_write_off_as_a_named_staff_user(bank, engine, database_url):
    import json

    from typer.testing import CliRunner

    from smartbank.cli import app

    loan_id, _acct, _me = bad_loan(bank, engine)
    bank.user("risk1", role="risk_officer")
    bank.user("teller1", role="teller")
    before = _state(engine)
    for who, code in (("teller1", 2), ("nobody", 2), ("cust" + str(_me.customer_id), 2)):
        r = CliRunner().invoke(app, ["lending", "write-off", str(loan_id), "--reason", "uncollectable", "--as", who])
        assert r.exit_code == code, r.output
    r = CliRunner().invoke(app, ["lending", "write-off", str(loan_id), "--reason", "", "--as", "risk1"])
    assert r.exit_code == 2
    assert _state(engine) == before
    r = CliRunner().invoke(app, ["lending", "write-off", str(loan_id), "--reason", "uncollectable", "--as", "risk1"])
    assert r.exit_code == 0, r.output
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["status"] == "written_off" and last["written_off_minor"] == 600_000
    with db.session_scope(engine) as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "loan.write_off")).one()
        assert audit.actor_role == "risk_officer" and audit.note == "uncollectable"
    r = CliRunner().invoke(app, ["lending", "write-off", str(loan_id), "--reason", "again", "--as", "risk1"])
    assert r.exit_code == 2 and "409" in r.output
    r = CliRunner().invoke(app, ["lending", "loans", "--customer-id", str(_loan(engine, loan_id).customer_id)])
    assert r.exit_code == 0, r.output
    (loan,) = json.loads(r.stdout.strip().splitlines()[-1])["loans"]
    assert loan["status"] == "written_off" and loan["still_owed_minor"] > 600_000
    r = CliRunner().invoke(app, ["lending", "book"])
    assert r.exit_code == 0, r.output
    wo = json.loads(r.stdout.strip().splitlines()[-1])["written_off"]
    assert (wo["loans"], wo["principal_minor"], wo["recovered_minor"]) == (1, 600_000, 0)
    collect = ["lending", "collect", str(loan_id), "--reference", "AGY-9", "--as", "risk1"]
    assert CliRunner().invoke(app, [*collect, "--amount", "lots"]).exit_code == 2
    r = CliRunner().invoke(app, [*collect, "--amount", "1,000.00"])
    assert r.exit_code == 0, r.output
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["kind"] == "collected" and last["amount_minor"] == 100_000 and not last["replayed"]
    r = CliRunner().invoke(app, [*collect, "--amount", "1,000.00"])  # the same reference again: a replay
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["replayed"]
    bank.assert_invariants()


def test_the_assistant_tells_what_is_still_owed_on_a_written_off_loan(bank, engine):
    from smartbank.assistant import service as assistant

    loan_id, _acct, me, owed = written_off(bank, engine)
    r = db.run_in_transaction(lambda s: assistant.send(s, me, text="查一下我的贷款", conversation_id=None))
    assert r["intent"] == "loan_status"
    reply = r["replies"][-1]["text"]
    assert "已核销" in reply and f"¥{owed // 100:,}.{owed % 100:02d}" in reply, reply


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=5))
def test_recoveries_in_any_parts_conserve_money_and_never_exceed_what_is_owed(bank, engine, parts):
    """Whatever the parts, each recovery moves exactly its amount out of the customer's account, what is still
    owed falls by exactly that, income plus reversed expense equal what was paid, the allowance is untouched,
    and a part larger than what is left is refused without writing anything."""
    import secrets  # a new officer per example: usernames are unique

    loan_id, acct, me, owed = written_off(bank, engine, name=f"张{len(parts)}",
                                          risk_user=f"risk{secrets.token_hex(4)}", reason="gone")
    fund(bank, acct, owed, f"money-{loan_id}", value_date=LOSS_DAY)
    start, allowance, paid = _income(engine), _allowance(engine), 0
    for i, part in enumerate(parts):
        key = f"rec-{loan_id}-{i}"
        if part > owed - paid or paid == owed:
            snapshot = _state(engine)
            with db.session_scope(engine) as s, pytest.raises((ValidationFailed, Conflict)):
                servicing.repay(s, me, loan_id, amount_minor=part, key=key, day=LOSS_DAY)
            assert _state(engine) == snapshot
            continue
        with db.session_scope(engine) as s:
            r = servicing.repay(s, me, loan_id, amount_minor=part, key=key, day=LOSS_DAY)
        paid += part
        assert r["penalty_minor"] + r["interest_minor"] + r["principal_minor"] == part
        assert bank.balance(acct) == owed - paid and sum(_owed_parts(engine, loan_id)) == owed - paid
    now = _income(engine)
    assert sum(now[k] - start[k] for k in now) == paid  # every fen paid landed in income or reversed expense
    assert _allowance(engine) == allowance == _provisions(engine)
    bank.assert_invariants()


def test_collections_record_money_received_elsewhere(bank, engine):
    """A collection agency's payment, arriving through settlement: applied like the customer's own recovery,
    with its reference, audited, replayed on retry; refusals write nothing."""
    loan_id, acct, me = bad_loan(bank, engine)
    risk = _staff(bank, "risk1", "risk_officer")
    with db.session_scope(engine) as s:
        owed = writeoff.write_off(s, risk, loan_id, reason="gone", day=LOSS_DAY)["still_owed_minor"]
    start, customer_balance = _income(engine), bank.balance(acct)
    with db.session_scope(engine) as s:
        settlement = ledger.internal_account(s, "settlement", "CNY").id
    settled = bank.balance(settlement)
    snapshot = _state(engine)
    for who, kw, err in (
        (_staff(bank, "teller1", "teller"), {}, Forbidden),
        (me, {}, Forbidden),
        (risk, {"reference": " "}, ValidationFailed),
        (risk, {"amount_minor": 0}, ValidationFailed),
        (risk, {"amount_minor": owed + 1}, ValidationFailed),
    ):
        args = {"amount_minor": 100_000, "reference": "AGY-2026-001", "key": "c1"} | kw
        with db.session_scope(engine) as s, pytest.raises(err):
            writeoff.record_collection(s, who, loan_id, day=LOSS_DAY, **args)
    assert _state(engine) == snapshot
    with db.session_scope(engine) as s:
        r = writeoff.record_collection(s, risk, loan_id, amount_minor=100_000, reference="AGY-2026-001", key="c1",
                                       day=LOSS_DAY)
    assert r["kind"] == "collected" and r["still_owed_minor"] == owed - 100_000 and not r["replayed"]
    with db.session_scope(engine) as s:  # the same key again: the same record
        again = writeoff.record_collection(s, risk, loan_id, amount_minor=100_000, reference="AGY-2026-001",
                                           key="c1", day=LOSS_DAY)
        assert again["replayed"] and again["id"] == r["id"]
        with pytest.raises(IdempotencyConflict):
            writeoff.record_collection(s, risk, loan_id, amount_minor=1, reference="x", key="c1", day=LOSS_DAY)
    assert bank.balance(acct) == customer_balance  # the customer's account is not touched
    assert settled - bank.balance(settlement) == 100_000
    now = _income(engine)
    assert sum(now[k] - start[k] for k in now) == 100_000
    assert sum(_owed_parts(engine, loan_id)) == owed - 100_000
    with db.session_scope(engine) as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "loan.recovery")).one()
        assert audit.note == "AGY-2026-001" and audit.after["still_owed_minor"] == owed - 100_000
        wo = servicing.portfolio_summary(s, risk)["written_off"]
    assert wo["recovered_minor"] == 100_000
    with db.session_scope(engine) as s, pytest.raises(Conflict):  # an active loan is repaid, not collected
        cid2, acct2, _ = customer(bank, "李娜", balance=0)
        other = disbursed(engine, cid2, acct2, start=LOSS_DAY, amount=300_000, rate_bps=600, term=12)
        writeoff.record_collection(s, risk, other, amount_minor=1_000, reference="x", key="c2", day=LOSS_DAY)
    bank.assert_invariants()

"""Close of day: interest accrual and month-end capitalisation (exact, half-even, remainder carried),
reruns that post nothing twice, catching up missed days, scheduled transfers and overdue bills."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from smartbank.ledger import journal
from smartbank.ledger import service as ledger
from smartbank.ops.close_of_day import close_day, days_to_close
from smartbank.payments import service as payments
from smartbank.security.service import Principal

RATE = Decimal("0.0135")
MILLION_YUAN = 100_000_000  # 1,000,000.00 in fen


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def close(engine, *ds: date):
    return [db.run_in_transaction(lambda s, d=d: close_day(s, d), engine=engine) for d in ds]


def account_row(engine, account_id: int):
    with engine.connect() as c:
        return c.execute(text("SELECT credits_posted - debits_posted AS bal, accrued_interest_micro AS acc"
                              " FROM accounts WHERE id = :i"), {"i": account_id}).one()


def interest_transfers(engine, account_id: int) -> list:
    with engine.connect() as c:
        return c.execute(text("SELECT amount_minor, value_date, idempotency_key FROM transfers"
                              " WHERE kind = 'interest' AND credit_account_id = :i ORDER BY id"),
                         {"i": account_id}).all()


def by_hand_daily_micro(balance_minor: int, rate: Decimal) -> int:
    """balance x rate / 365 in millionths of a fen, rounded half-even (ACT/365)."""
    exact = Decimal(balance_minor) * rate / Decimal(365) * Decimal(1_000_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def half_even_fen(micro: int) -> int:
    return int((Decimal(micro) / Decimal(1_000_000)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@pytest.fixture(autouse=True)
def _funded_long_ago(bank):
    """Opening deposits predate every business day closed here (interest uses the day's balance)."""
    bank.funding_date = date(2020, 1, 1)


@pytest.fixture
def saver(bank):
    return bank.account(bank.customer("王芳"), kind="savings", balance=MILLION_YUAN, rate=RATE)


# ---- interest ---------------------------------------------------------------------------------------

def test_one_million_at_1_35_percent_for_january(saver, engine, bank):
    # 1,000,000.00 x 1.35% / 365 = 36.98630136986... yuan a day = 3,698,630,136.99 micro-fen -> ...137
    daily = by_hand_daily_micro(MILLION_YUAN, RATE)
    assert daily == 3_698_630_137
    close(engine, *days(date(2026, 1, 1), date(2026, 1, 30)))
    row = account_row(engine, saver)
    assert row.bal == MILLION_YUAN  # nothing posted before the month ends
    assert row.acc == 30 * daily
    assert interest_transfers(engine, saver) == []

    (res,) = close(engine, date(2026, 1, 31))
    # 31 days: 114,657,534,247 micro-fen = 1,146.57534247 yuan -> 1,146.58 (half-even), -0.465753 fen carried
    assert 31 * daily == 114_657_534_247
    assert res.capitalised_accounts == 1 and res.interest_posted_minor == 114_658
    row = account_row(engine, saver)
    assert row.bal == MILLION_YUAN + 114_658
    assert row.acc == 114_657_534_247 - 114_658_000_000 == -465_753
    (t,) = interest_transfers(engine, saver)
    assert t.amount_minor == 114_658 and str(t.value_date)[:10] == "2026-01-31"
    bank.assert_invariants()


def test_february_accrues_on_the_new_balance_and_uses_the_carried_remainder(saver, engine, bank):
    close(engine, *days(date(2026, 1, 1), date(2026, 2, 28)))
    jan_daily = by_hand_daily_micro(MILLION_YUAN, RATE)
    jan_post = half_even_fen(31 * jan_daily)
    carried = 31 * jan_daily - jan_post * 1_000_000
    feb_balance = MILLION_YUAN + jan_post
    feb_daily = by_hand_daily_micro(feb_balance, RATE)
    feb_total = carried + 28 * feb_daily
    feb_post = half_even_fen(feb_total)
    assert [t.amount_minor for t in interest_transfers(engine, saver)] == [jan_post, feb_post]
    row = account_row(engine, saver)
    assert row.bal == feb_balance + feb_post
    assert row.acc == feb_total - feb_post * 1_000_000
    # nothing lost or created by rounding: posted + still accrued == everything accrued
    assert (jan_post + feb_post) * 1_000_000 + row.acc == 31 * jan_daily + 28 * feb_daily
    bank.assert_invariants()


def test_capitalisation_rounds_exact_halves_to_even(bank, engine):
    """Balances whose interest is exactly x.5 fen at month end: half-even posts the even fen
    (half-up would post one more) and carries the half."""
    c = bank.customer()
    whole = bank.account(c, kind="savings", balance=36_500, rate=Decimal("0.01"))  # 1 fen a day
    half = bank.account(c, kind="savings", balance=18_250, rate=Decimal("0.01"))  # 0.5 fen a day
    two_and_half = bank.account(c, kind="savings", balance=91_250, rate=Decimal("0.01"))  # 2.5 fen a day
    close(engine, date(2026, 5, 31))  # one day of accrual, and it is a month end
    assert [t.amount_minor for t in interest_transfers(engine, whole)] == [1]
    assert interest_transfers(engine, half) == []  # 0.5 -> 0
    assert account_row(engine, half).acc == 500_000
    assert [t.amount_minor for t in interest_transfers(engine, two_and_half)] == [2]  # 2.5 -> 2
    assert account_row(engine, two_and_half).acc == 500_000
    close(engine, date(2026, 6, 1), date(2026, 6, 30))  # carried 0.5 + 1.0 = 1.5 -> 2
    assert [t.amount_minor for t in interest_transfers(engine, half)] == [2]
    assert account_row(engine, half).acc == -500_000
    bank.assert_invariants()


def test_accounts_without_interest_or_money_accrue_nothing(bank, engine):
    c = bank.customer()
    empty = bank.account(c, kind="savings", rate=RATE)
    demand = bank.account(c, kind="demand", balance=MILLION_YUAN, rate=RATE)  # only savings earn
    no_rate = bank.account(c, kind="savings", balance=MILLION_YUAN)
    (res,) = close(engine, date(2026, 1, 31))
    assert res.accrued_accounts == 0 and res.capitalised_accounts == 0
    for a in (empty, demand, no_rate):
        assert interest_transfers(engine, a) == [] and account_row(engine, a).acc == 0


def test_interest_is_paid_in_each_accounts_currency(bank, engine):
    c = bank.customer()
    cny = bank.account(c, kind="savings", balance=MILLION_YUAN, rate=RATE)
    usd = bank.account(c, kind="savings", balance=MILLION_YUAN, currency="USD", rate=RATE)
    close(engine, date(2026, 6, 30))
    daily = by_hand_daily_micro(MILLION_YUAN, RATE)
    assert [t.amount_minor for t in interest_transfers(engine, cny)] == [half_even_fen(daily)]
    assert [t.amount_minor for t in interest_transfers(engine, usd)] == [half_even_fen(daily)]
    with engine.connect() as conn:
        curs = conn.execute(text("SELECT a.currency FROM transfers t JOIN accounts a ON a.id = t.debit_account_id"
                                 " WHERE t.kind = 'interest' ORDER BY a.currency")).scalars().all()
    assert curs == ["CNY", "USD"]
    bank.assert_invariants()


# ---- reruns and catching up ----------------------------------------------------------------------

def test_rerunning_a_day_posts_nothing_twice(saver, engine, bank):
    close(engine, *days(date(2026, 1, 1), date(2026, 1, 31)))
    before = (bank.count("transfers"), account_row(engine, saver))
    again = close(engine, date(2026, 1, 31), date(2026, 1, 15), date(2026, 1, 31))
    assert all(r.skipped for r in again)
    assert (bank.count("transfers"), account_row(engine, saver)) == before
    assert bank.count("business_days") == 31


def test_catching_up_missed_days(saver, engine, bank):
    close(engine, *days(date(2026, 1, 1), date(2026, 1, 27)))
    with db.session_scope(engine) as s:
        todo = days_to_close(s, date(2026, 2, 2))
    assert todo == days(date(2026, 1, 28), date(2026, 2, 2))
    close(engine, *todo)
    daily = by_hand_daily_micro(MILLION_YUAN, RATE)
    jan_post = half_even_fen(31 * daily)
    assert [t.amount_minor for t in interest_transfers(engine, saver)] == [jan_post]
    feb_daily = by_hand_daily_micro(MILLION_YUAN + jan_post, RATE)
    assert account_row(engine, saver).acc == 31 * daily - jan_post * 1_000_000 + 2 * feb_daily
    with db.session_scope(engine) as s:
        assert days_to_close(s, date(2026, 2, 2)) == []


def test_catching_up_through_the_command_line(saver, engine, bank, database_url):
    close(engine, date(2026, 1, 25))
    res = CliRunner().invoke(app, ["close-of-day", "--date", "2026-02-03", "--database-url", database_url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["days"] == 9
    assert bank.count("business_days") == 10
    assert len(interest_transfers(engine, saver)) == 1
    # a second run finds nothing to do
    res = CliRunner().invoke(app, ["close-of-day", "--date", "2026-02-03", "--database-url", database_url])
    assert res.exit_code == 0 and json.loads(res.stdout.strip().splitlines()[-1])["days"] == 0
    assert len(interest_transfers(engine, saver)) == 1
    rep = db.run_in_transaction(lambda s: journal.verify(s), engine=engine)
    assert rep.ok and rep.unsealed == 0  # the command seals what it posted
    assert CliRunner().invoke(app, ["close-of-day", "--date", "03/02/2026",
                                    "--database-url", database_url]).exit_code == 2


# ---- scheduled transfers ----------------------------------------------------------------------------

@pytest.fixture
def payer(bank):
    alice = bank.customer("王芳")
    src = bank.account(alice, balance=1_000_000)
    uid = bank.user("alice", customer_id=alice)
    actor = Principal(user_id=uid, username="alice", role="customer", customer_id=alice)
    bob = bank.customer("李娜")
    dst = bank.account(bob)
    with db.session_scope(bank.engine) as s:
        number = ledger.get_account(s, dst).number
    return actor, src, dst, number


def schedule(engine, actor, src, number, amount, frequency, start, end=None, today=date(2026, 1, 1)):
    def work(s):
        return payments.schedule_transfer(s, actor, from_account_id=src, to_account_number=number,
                                          amount_minor=amount, currency="CNY", frequency=frequency,
                                          start_date=start, end_date=end, today=today).id
    return db.run_in_transaction(work, engine=engine)


def runs_of(engine, schedule_id: int) -> list[str]:
    with engine.connect() as c:
        return [str(v)[:10] for v in c.execute(text(
            "SELECT value_date FROM transfers WHERE reference = :r ORDER BY value_date"),
            {"r": f"schedule:{schedule_id}"}).scalars()]


def sched_row(engine, schedule_id: int):
    with engine.connect() as c:
        return c.execute(text("SELECT runs, failures, status, next_run, last_error FROM scheduled_transfers"
                              " WHERE id = :i"), {"i": schedule_id}).one()


def test_scheduled_once_daily_weekly(payer, engine, bank):
    actor, src, dst, number = payer
    once = schedule(engine, actor, src, number, 1_000, "once", date(2026, 3, 5))
    daily = schedule(engine, actor, src, number, 100, "daily", date(2026, 3, 3), end=date(2026, 3, 6))
    weekly = schedule(engine, actor, src, number, 10, "weekly", date(2026, 3, 2))
    results = close(engine, *days(date(2026, 3, 1), date(2026, 3, 31)))
    assert runs_of(engine, once) == ["2026-03-05"]
    assert runs_of(engine, daily) == ["2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]
    assert runs_of(engine, weekly) == ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"]
    assert sched_row(engine, once).status == "completed" and sched_row(engine, once).runs == 1
    assert sched_row(engine, daily).status == "completed" and sched_row(engine, daily).runs == 4
    w = sched_row(engine, weekly)
    assert w.status == "active" and w.runs == 5 and str(w.next_run)[:10] == "2026-04-06"
    assert sum(r.scheduled["executed"] for r in results) == 10
    assert bank.balance(dst) == 1_000 + 400 + 50
    bank.assert_invariants()


def test_monthly_on_the_31st_runs_on_the_last_day_of_shorter_months(payer, engine, bank):
    actor, src, _, number = payer
    monthly = schedule(engine, actor, src, number, 5_000, "monthly", date(2026, 1, 31))
    close(engine, *days(date(2026, 1, 30), date(2026, 5, 31)))
    assert runs_of(engine, monthly) == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    assert str(sched_row(engine, monthly).next_run)[:10] == "2026-06-30"


def test_monthly_in_a_leap_year(payer, engine):
    actor, src, _, number = payer
    monthly = schedule(engine, actor, src, number, 5_000, "monthly", date(2028, 1, 30), today=date(2028, 1, 1))
    close(engine, *days(date(2028, 1, 30), date(2028, 3, 31)))
    assert runs_of(engine, monthly) == ["2028-01-30", "2028-02-29", "2028-03-30"]


def test_a_failing_scheduled_transfer_is_recorded_and_the_rest_still_run(payer, engine, bank):
    actor, src, dst, number = payer
    too_big = schedule(engine, actor, src, number, 2_000_000, "monthly", date(2026, 3, 10))
    ok1 = schedule(engine, actor, src, number, 300, "once", date(2026, 3, 10))
    ok2 = schedule(engine, actor, src, number, 700, "daily", date(2026, 3, 9), end=date(2026, 3, 11))
    transfers_before = bank.count("transfers")
    results = close(engine, *days(date(2026, 3, 9), date(2026, 3, 11)))
    assert [r.scheduled for r in results] == [{"executed": 1, "failed": 0}, {"executed": 2, "failed": 1},
                                              {"executed": 1, "failed": 0}]
    bad = sched_row(engine, too_big)
    assert bad.runs == 0 and bad.failures == 1 and bad.status == "active"
    assert bad.last_error.startswith("2026-03-10") and "insufficient" in bad.last_error
    assert str(bad.next_run)[:10] == "2026-04-10"
    assert runs_of(engine, too_big) == []
    assert runs_of(engine, ok1) == ["2026-03-10"] and len(runs_of(engine, ok2)) == 3
    assert bank.count("transfers") == transfers_before + 4
    assert bank.balance(dst) == 300 + 3 * 700
    bank.assert_invariants()


def test_scheduled_transfers_respect_the_daily_limit_without_consuming_it_on_failure(bank, engine):
    alice = bank.customer("王芳", daily_limit_minor=2_000)
    src = bank.account(alice, balance=100_000)
    uid = bank.user("alice", customer_id=alice)
    actor = Principal(user_id=uid, username="alice", role="customer", customer_id=alice)
    dst = bank.account(bank.customer("李娜"))
    with db.session_scope(engine) as s:
        number = ledger.get_account(s, dst).number
    big = schedule(engine, actor, src, number, 1_001, "once", date(2026, 3, 10))
    small = schedule(engine, actor, src, number, 1_000, "once", date(2026, 3, 10))
    with engine.begin() as c:  # the limit is lowered after both were scheduled (above it, one is refused at once)
        c.execute(text("UPDATE customers SET daily_limit_minor = 1000 WHERE id = :i"), {"i": alice})
    (res,) = close(engine, date(2026, 3, 10))
    assert res.scheduled == {"executed": 1, "failed": 1}
    assert sched_row(engine, big).failures == 1 and runs_of(engine, small) == ["2026-03-10"]
    with engine.connect() as c:
        assert c.execute(text("SELECT amount_minor FROM customer_daily_usage")).scalars().all() == [1_000]


def test_rerun_does_not_execute_a_schedule_twice(payer, engine, bank):
    actor, src, dst, number = payer
    sid = schedule(engine, actor, src, number, 1_000, "daily", date(2026, 3, 1))
    close(engine, date(2026, 3, 1), date(2026, 3, 2))
    close(engine, date(2026, 3, 2), date(2026, 3, 1))
    assert runs_of(engine, sid) == ["2026-03-01", "2026-03-02"]
    assert bank.balance(dst) == 2_000


def test_cancelled_schedule_does_not_run(payer, engine):
    actor, src, _, number = payer
    sid = schedule(engine, actor, src, number, 1_000, "daily", date(2026, 3, 1))
    close(engine, date(2026, 3, 1))
    db.run_in_transaction(lambda s: payments.cancel_scheduled(s, actor, sid), engine=engine)
    close(engine, date(2026, 3, 2), date(2026, 3, 3))
    assert runs_of(engine, sid) == ["2026-03-01"]


# ---- bills ---------------------------------------------------------------------------------------

def test_overdue_bills_are_marked(bank, engine):
    def work(s):
        payments.add_biller(s, code="SGCC-BJ", name_zh="国网北京电力", name_en="State Grid Beijing",
                            category="electricity", city="北京")
        return [payments.issue_bill(s, biller_code="SGCC-BJ", reference=f"R{i}", period="2026-02", amount_minor=100,
                                    due_date=date(2026, 3, 10 + i)).id for i in range(3)]

    b0, b1, b2 = db.run_in_transaction(work, engine=engine)
    alice = bank.customer("王芳")
    src = bank.account(alice, balance=10_000)
    uid = bank.user("alice", customer_id=alice)
    actor = Principal(user_id=uid, username="alice", role="customer", customer_id=alice)
    db.run_in_transaction(lambda s: payments.pay_bill(s, actor, from_account_id=src, bill_id=b0,
                                                      idempotency_key="pay-b0"), engine=engine)

    def status():
        with engine.connect() as c:
            return dict(c.execute(text("SELECT id, status FROM bills")).all())

    (r,) = close(engine, date(2026, 3, 11))  # b0 paid, b1 due today: neither is overdue
    assert r.overdue_bills == 0 and status() == {b0: "paid", b1: "unpaid", b2: "unpaid"}
    (r,) = close(engine, date(2026, 3, 12))
    assert r.overdue_bills == 1 and status() == {b0: "paid", b1: "overdue", b2: "unpaid"}
    (r,) = close(engine, date(2026, 3, 20))
    assert r.overdue_bills == 1 and status() == {b0: "paid", b1: "overdue", b2: "overdue"}


def test_catch_up_accrues_on_the_balance_of_each_day(bank, engine):
    """A deposit dated after a missed day earns no interest for that day."""
    from datetime import date
    from decimal import Decimal

    from smartbank import db
    from smartbank.ledger import service as ledger
    from smartbank.ledger.service import daily_accrual_micro
    from smartbank.ops.close_of_day import close_day

    cust = bank.customer()
    acct = bank.account(cust, kind="savings", rate=Decimal("0.0200"))
    with db.session_scope(engine) as s:
        src = ledger.internal_account(s, "settlement")
        ledger.transfer(s, ledger.TransferCommand(key="d1", debit_account_id=src.id, credit_account_id=acct,
                                                  amount_minor=100_000_00, currency="CNY", kind="deposit",
                                                  value_date=date(2026, 3, 10)))
        ledger.transfer(s, ledger.TransferCommand(key="d2", debit_account_id=src.id, credit_account_id=acct,
                                                  amount_minor=50_000_00, currency="CNY", kind="deposit",
                                                  value_date=date(2026, 3, 12)))
    for d in (date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)):
        db.run_in_transaction(lambda s, d=d: close_day(s, d))
    with engine.connect() as c:
        from sqlalchemy import text

        accrued = c.execute(text("SELECT accrued_interest_micro FROM accounts WHERE id = :i"), {"i": acct}).scalar()
    rate = Decimal("0.0200")
    expected = 2 * daily_accrual_micro(100_000_00, rate) + daily_accrual_micro(150_000_00, rate)
    assert accrued == expected


def test_close_of_day_lets_unaccepted_loan_offers_lapse(bank, engine):
    from datetime import UTC, datetime

    from smartbank.lending.models import LoanApplication
    from tests.lending.support import accepted_app

    cid = bank.customer("王芳")
    acct = bank.account(cid, balance=0)
    app_id = accepted_app(engine, cid, acct)
    with db.session_scope(engine) as s:  # an offer made on 1 March that runs out on 15 March
        a = s.get(LoanApplication, app_id)
        a.status, a.offer_expires_at = "approved", datetime(2025, 3, 15, 2, 0, tzinfo=UTC)
    close(engine, date(2025, 3, 14))
    with db.session_scope(engine) as s:
        assert s.get(LoanApplication, app_id).status == "approved"
    close(engine, date(2025, 3, 15))
    with db.session_scope(engine) as s:
        assert s.get(LoanApplication, app_id).status == "expired"
        summary = s.execute(text("SELECT summary FROM business_days WHERE day = :d"), {"d": date(2025, 3, 15)}).scalar()
        assert (json.loads(summary) if isinstance(summary, str) else summary)["loans"]["offers_expired"] == 1


# ---- after a generated history, and days that have not begun -------------------------------------------

@pytest.mark.commits  # synth.run loads through an engine of its own
def test_close_of_day_after_a_generated_history_runs_every_day_since_it(engine, bank, database_url, bank_clock):
    """A synthetic bank's history ends the day before its end date; close of day then runs each following day
    up to today, none skipped (it used to run only the date it was given)."""
    from smartbank.synth import service as synth

    today = date(2026, 11, 24)  # the suite's clock
    end = today - timedelta(days=5)
    synth.run(database_url, customers=8, months=1, seed=3, end_date=end, progress=False)
    with db.session_scope(engine) as s:
        assert days_to_close(s, today) == days(end, today)
    res = CliRunner().invoke(app, ["close-of-day", "--date", today.isoformat(), "--database-url", database_url])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["days"] == 6 and out["results"][-1]["day"] == today.isoformat()
    with engine.connect() as c:
        closed = c.execute(text("SELECT day FROM business_days WHERE day >= :e ORDER BY day"), {"e": end}).scalars()
        assert [d if isinstance(d, date) else date.fromisoformat(d) for d in closed] == days(end, today)


def test_a_day_that_has_not_begun_is_refused_naming_the_next_day(saver, engine, bank, database_url, bank_clock):
    close(engine, date(2026, 11, 20))
    res = CliRunner().invoke(app, ["close-of-day", "--date", "2026-11-28", "--database-url", database_url])
    assert res.exit_code == 2
    assert "2026-11-28" in res.output and "2026-11-21" in res.output  # the next day to close
    assert bank.count("business_days") == 1
    bank_clock.advance(timedelta(days=4))  # the bank's clock reaches 2026-11-28
    res = CliRunner().invoke(app, ["close-of-day", "--date", "2026-11-28", "--database-url", database_url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["days"] == 8


def test_a_bank_that_never_closed_a_day_starts_from_its_first_account(engine, bank):
    c = bank.customer()
    a = bank.account(c, kind="demand")
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET opened_on = :d WHERE id = :i"), {"d": date(2026, 11, 21), "i": a})
    with db.session_scope(engine) as s:
        assert days_to_close(s, date(2026, 11, 24)) == days(date(2026, 11, 21), date(2026, 11, 24))

"""Early warnings before the due date, on the risk dashboard, settled afterwards; close of day runs the
loans; the CLI commands."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select, text
from typer.testing import CliRunner

from smartbank import db
from smartbank.ledger import service as ledger
from smartbank.lending import warning
from smartbank.lending.models import Loan, LoanWarning
from smartbank.ops import close_of_day
from smartbank.risk import monitor
from smartbank.security.service import SYSTEM
from tests.lending.support import customer, disbursed, fund, run_days

START = date(2025, 1, 15)


def test_score_is_transparent():
    p, reasons = warning.score(owed_minor=100_000, available_minor=0, inflow_recent=0, inflow_before=800_000,
                               spend_recent=0, spend_before=0, late_before=1, days_to_due=1)
    assert p > 0.9
    assert {r["code"] for r in reasons} == {"balance_short", "balance_far_short", "due_soon", "no_recent_inflow",
                                            "late_before"}
    assert all(r["zh"] and r["en"] for r in reasons)
    p2, reasons2 = warning.score(owed_minor=100_000, available_minor=500_000, inflow_recent=800_000,
                                 inflow_before=800_000, spend_recent=300_000, spend_before=300_000, late_before=0,
                                 days_to_due=5)
    assert p2 < 0.05 and [r["code"] for r in reasons2] == ["balance_covers"]


def test_warnings_before_the_due_date_and_their_hit_rate(bank, engine):
    # two borrowers: one spends everything and earns nothing (warned, misses), one keeps a salary (not warned)
    poor, pacct, _ = customer(bank, "甲")
    rich, racct, _ = customer(bank, "乙")
    lp = disbursed(engine, poor, pacct, start=START, amount=600_000, rate_bps=600, term=6)
    lr = disbursed(engine, rich, racct, start=START, amount=600_000, rate_bps=600, term=6)
    with db.session_scope(engine) as s:
        sink = ledger.internal_account(s, "settlement", "CNY")
        ledger.transfer(s, ledger.TransferCommand(key="spend", debit_account_id=pacct, credit_account_id=sink.id,
                                                  amount_minor=600_000, currency="CNY", kind="withdrawal",
                                                  value_date=START))
    fund(bank, racct, 300_000, "salary")
    out = run_days(engine, date(2025, 2, 9), date(2025, 2, 10))
    assert out[0]["warnings_raised"] == 0 and out[1]["warnings_raised"] == 1  # 5 days ahead
    with db.session_scope(engine) as s:
        ws = s.scalars(select(LoanWarning)).all()
        assert [w.loan_id for w in ws] == [lp] and ws[0].status == "open" and ws[0].probability >= 0.5
        assert ws[0].reasons[0]["code"] == "balance_short"
        shown = monitor.list_warnings(s, SYSTEM, open_only=True)
        assert [w["source"] for w in shown] == ["lending"] and shown[0]["id"] == ws[0].risk_warning_id
        assert s.get(Loan, lp).number in shown[0]["message_en"]
    run_days(engine, date(2025, 2, 11), date(2025, 2, 15))  # once per instalment; settled on the due date
    with db.session_scope(engine) as s:
        ws = s.scalars(select(LoanWarning)).all()
        assert len(ws) == 1 and ws[0].status == "missed"
        rate = warning.hit_rate(s)
        assert rate["precision"] == 1.0 and rate["recall"] == 1.0 and rate["missed"] == 1
        assert s.get(Loan, lr).days_past_due == 0


def test_close_of_day_runs_loans_once(bank, engine):
    cid, acct, _ = customer(bank, balance=100_000)
    loan_id = disbursed(engine, cid, acct, start=START, amount=600_000, rate_bps=600, term=6)
    with db.session_scope(engine) as s:
        res = close_of_day.close_day(s, date(2025, 2, 15))
        assert res.loans is not None and res.loans["collections"] == 1 and res.as_dict()["loans"]["loans"] == 1
    n = bank.count("transfers")
    with db.session_scope(engine) as s:
        assert close_of_day.close_day(s, date(2025, 2, 15)).skipped
    assert bank.count("transfers") == n
    with db.session_scope(engine) as s:
        assert s.get(Loan, loan_id).outstanding_minor < 600_000
    bank.assert_invariants()


def test_delinquency_kri_and_raise_warning(bank, engine):
    from datetime import UTC, datetime

    import pytest

    from smartbank.errors import ValidationFailed

    now = datetime(2025, 3, 1, tzinfo=UTC)
    with db.session_scope(engine) as s:
        assert monitor.METRICS["delinquency_rate"](s, now, now) is None
        wid = monitor.raise_warning(s, source="lending", level="warning", value=0.7, message_en="x",
                                    message_zh="x")
        assert monitor.list_warnings(s, SYSTEM)[0]["id"] == wid
        with pytest.raises(ValidationFailed):
            monitor.raise_warning(s, source="lending", level="meh", value=None, message_en="x", message_zh="x")
    cid, acct, _ = customer(bank)
    disbursed(engine, cid, acct, start=START, amount=600_000, rate_bps=600, term=6)
    cid2, acct2, _ = customer(bank, "乙")
    disbursed(engine, cid2, acct2, start=START, amount=200_000, rate_bps=600, term=6)
    with db.session_scope(engine) as s:
        sink = ledger.internal_account(s, "settlement", "CNY")
        ledger.transfer(s, ledger.TransferCommand(key="spend", debit_account_id=acct, credit_account_id=sink.id,
                                                  amount_minor=600_000, currency="CNY", kind="withdrawal"))
    run_days(engine, date(2025, 2, 15), date(2025, 2, 16))
    with db.session_scope(engine) as s:
        rate = monitor.METRICS["delinquency_rate"](s, now, now)
        out = s.execute(text("SELECT outstanding_minor FROM loans ORDER BY id")).scalars().all()
        assert rate == out[0] / (out[0] + out[1])
        assert "past due" in monitor.METRIC_INFO["delinquency_rate"][1]


def test_cli_loans_and_book(bank, engine, database_url):
    from smartbank.cli import app

    cid, acct, _ = customer(bank)
    disbursed(engine, cid, acct, start=START, amount=600_000, rate_bps=600, term=6)
    r = CliRunner().invoke(app, ["lending", "loans", "--customer-id", str(cid)])
    assert r.exit_code == 0, r.output
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["loans"][0]["outstanding_minor"] == 600_000
    r = CliRunner().invoke(app, ["lending", "book"])
    assert r.exit_code == 0, r.output
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["loans"] == 1 and last["by_classification"]["normal"]["outstanding_minor"] == 600_000
    assert "warnings" in last

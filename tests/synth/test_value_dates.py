"""The synthetic bank and value dates: the history is written first, so everything added to it afterwards
(wealth purchases on past days, the demo's loans paid out today) is back-dated. No posting may spend money
that arrived after its value date, so no statement month of an account without an overdraft closes (or runs)
below zero, and every account's history runs by value date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from smartbank import db, synth
from smartbank.ledger import service as ledger
from smartbank.ledger.models import Account
from smartbank.statements import service as statements
from smartbank.synth.wealth import seed_wealth_book
from smartbank.wealth import seed as wealth_seed
from tests.synth.conftest import END


def _months(first: date, last: date) -> list[tuple[int, int]]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@pytest.mark.commits  # synth.run loads through an engine of its own
def test_back_dated_additions_never_spend_money_before_it_arrived(database_url, engine):
    summary = synth.run(database_url, customers=25, months=2, seed=1, end_date=END, progress=False)
    db.run_in_transaction(lambda s: wealth_seed.seed(s, years=1), engine=engine)

    # as the demo does: a loan paid out today to some customers, then wealth purchases on earlier days
    def paid_out_today(s) -> list[int]:
        settle = ledger.internal_account(s, "settlement", "CNY").id
        ids = list(s.scalars(select(Account.id).where(Account.customer_id.is_not(None), Account.kind == "demand",
                                                      Account.status == "open").order_by(Account.id).limit(6)))
        for i, aid in enumerate(ids):
            ledger.transfer(s, ledger.TransferCommand(
                key=f"payout-{i}", debit_account_id=settle, credit_account_id=aid, amount_minor=5_000_000,
                currency="CNY", kind="loan_disbursement", memo="paid out today"))
        return ids

    db.run_in_transaction(paid_out_today, engine=engine)
    book = seed_wealth_book(engine, customers=12, months=4, seed=3, today=END, skip_first=0)
    assert book["orders"] > 0  # the purchases still happen, from money the customers had on those days

    assert date.fromisoformat(summary["start_date"]) > END - timedelta(days=70)
    months = _months(END - timedelta(days=130), END)  # the purchases go back up to four months
    with db.session_scope(engine) as s:
        accounts = s.scalars(select(Account).where(Account.customer_id.is_not(None), Account.kind != "loan")
                             .order_by(Account.id)).all()
        assert accounts
        for a in accounts:
            floor = -(a.overdraft_limit_minor or 0)
            items = list(statements.iter_all(s, a, statements.HistoryFilter()))
            order = [(i["value_date"], i["entry_id"]) for i in items]
            assert order == sorted(order, reverse=True), f"account {a.id}: history not by value date"
            if items:
                assert items[0]["balance_after_minor"] == a.balance_minor
            for y, m in months:
                d = statements.statement_data(s, a, y, m)
                assert d["closing"] >= floor, (a.id, y, m, d["closing"])
                low = min([i["balance_after_minor"] for i in d["items"]], default=d["opening"])
                assert low >= floor, (a.id, y, m, low)
                if d["items"]:
                    assert d["items"][-1]["balance_after_minor"] == d["closing"]

"""What lending answers other domains: whether a customer is delinquent (the recommender then offers no loan)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from smartbank import db
from smartbank.lending import service as lending
from smartbank.lending.models import Loan
from tests.lending.support import customer, disbursed


def _set(engine, loan_id: int, **values) -> None:
    with db.session_scope(engine) as s:
        s.execute(update(Loan).where(Loan.id == loan_id).values(**values))


def _delinquent(engine, customer_id: int) -> bool:
    with db.session_scope(engine) as s:
        return lending.is_delinquent(s, customer_id)


def test_a_customer_is_delinquent_with_a_loan_past_due_or_written_off(bank, engine):
    cid, acct, _ = customer(bank, balance=100_000)
    other, other_acct, _ = customer(bank, "李娜", balance=100_000)
    assert not _delinquent(engine, cid)  # no loan
    loan = disbursed(engine, cid, acct, start=date(2025, 1, 15))
    disbursed(engine, other, other_acct, start=date(2025, 1, 15))
    assert not _delinquent(engine, cid)  # current
    _set(engine, loan, days_past_due=3)
    assert _delinquent(engine, cid) and not _delinquent(engine, other)
    _set(engine, loan, days_past_due=0, status="closed")
    assert not _delinquent(engine, cid)
    _set(engine, loan, status="written_off")
    assert _delinquent(engine, cid)

"""Savings interest, run by close of day for each business date: accrual into an exact counter and monthly
capitalisation.

Each savings account accrues ``balance * rate / 365`` per day into an exact integer counter of millionths of
a minor unit (no rounding happens here), on the balance at the end of the day: when a missed day is caught
up, money that arrived later (by value date) earns nothing for it. On the last day of the month the accrued
amount is capitalised: rounded once, half-even, to whole minor units and posted from the bank's
interest-expense account with a key derived from the account and the date; the sub-cent remainder is carried
into the next month."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from smartbank.ledger.accounts import internal_account
from smartbank.ledger.models import Account
from smartbank.ledger.transfers import TransferCommand, transfer
from smartbank.money import round_minor

__all__ = ["InterestDay", "accrue_interest", "capitalise_amount", "daily_accrual_micro"]

MICRO = 1_000_000


def daily_accrual_micro(balance_minor: int, rate: Decimal) -> int:
    """One day's interest in millionths of a minor unit (ACT/365), rounded half-even once."""
    if balance_minor <= 0 or rate <= 0:
        return 0
    return round_minor(Decimal(balance_minor) * rate * MICRO / 365)


def capitalise_amount(accrued_micro: int) -> tuple[int, int]:
    """Whole minor units to post (half-even) and the remainder carried forward."""
    minor = round_minor(Decimal(accrued_micro) / MICRO)
    return minor, accrued_micro - minor * MICRO


@dataclass(frozen=True)
class InterestDay:
    accrued_accounts: int = 0
    capitalised_accounts: int = 0
    posted_minor: int = 0


def accrue_interest(session: Session, day: date) -> InterestDay:
    """Accrue ``day``'s interest on every open savings account with a rate, and capitalise at month end.
    The caller (close of day) runs each business date once. Flushes."""
    accrued = capitalised = posted = 0
    is_month_end = day.day == calendar.monthrange(day.year, day.month)[1]
    savings = session.scalars(select(Account).where(
        Account.kind == "savings", Account.status != "closed", Account.interest_rate.is_not(None)
    ).order_by(Account.id)).all()
    later: dict[int, int] = dict(session.execute(text(
        "SELECT e.account_id, sum(e.amount_minor) FROM entries e JOIN accounts a ON a.id = e.account_id"
        " WHERE a.kind = 'savings' AND e.value_date > :d GROUP BY e.account_id"), {"d": day}).all())
    expense_by_ccy: dict[str, Account] = {}
    for acct in savings:
        balance_then = acct.balance_minor - int(later.get(acct.id, 0))
        accrual = daily_accrual_micro(balance_then, Decimal(acct.interest_rate or 0))
        if accrual:
            acct.accrued_interest_micro = (acct.accrued_interest_micro or 0) + accrual
            accrued += 1
        if is_month_end and acct.accrued_interest_micro:
            minor, rest = capitalise_amount(acct.accrued_interest_micro)
            if minor > 0:
                exp = expense_by_ccy.get(acct.currency) or internal_account(session, "interest_expense", acct.currency)
                expense_by_ccy[acct.currency] = exp
                session.flush()
                transfer(session, TransferCommand(
                    key=f"interest:{acct.id}:{day.isoformat()}", debit_account_id=exp.id,
                    credit_account_id=acct.id, amount_minor=minor, currency=acct.currency, kind="interest",
                    memo=f"interest {day:%Y-%m}", value_date=day,
                ))
                session.refresh(acct)
                acct.accrued_interest_micro = rest
                capitalised += 1
                posted += minor
    session.flush()
    return InterestDay(accrued_accounts=accrued, capitalised_accounts=capitalised, posted_minor=posted)

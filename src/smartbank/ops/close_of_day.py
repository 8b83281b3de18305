"""Close of day: interest accrual, monthly capitalisation, scheduled transfers, overdue bills, loan servicing.

Each business date is run once (``business_days`` row, in the same transaction), so a rerun never
posts twice; catching up runs every missed date in order.

Interest: each savings account accrues ``balance * rate / 365`` per day into an exact integer
counter of millionths of a minor unit (no rounding happens here). On the last day of the month
the accrued amount is capitalised: rounded once, half-even, to whole minor units and posted from
the bank's interest-expense account; the sub-cent remainder is carried into the next month.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account, BusinessDay
from smartbank.lending import service as lending
from smartbank.money import round_minor
from smartbank.payments.service import mark_overdue_bills, run_due_scheduled
from smartbank.risk import service as risk
from smartbank.wealth import service as wealth

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


@dataclass
class DayResult:
    day: date
    skipped: bool
    accrued_accounts: int = 0
    capitalised_accounts: int = 0
    interest_posted_minor: int = 0
    scheduled: dict[str, int] | None = None
    overdue_bills: int = 0
    risk_warnings: int = 0
    loans: dict[str, int] | None = None
    wealth: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "skipped": self.skipped, "accrued_accounts": self.accrued_accounts,
                "capitalised_accounts": self.capitalised_accounts,
                "interest_posted_minor": self.interest_posted_minor, "scheduled": self.scheduled,
                "overdue_bills": self.overdue_bills, "risk_warnings": self.risk_warnings, "loans": self.loans,
                "wealth": self.wealth}


def last_closed_day(session: Session) -> date | None:
    return session.scalar(select(BusinessDay.day).order_by(BusinessDay.day.desc()).limit(1))


def close_day(session: Session, day: date) -> DayResult:
    if session.get(BusinessDay, day) is not None:
        return DayResult(day=day, skipped=True)
    res = DayResult(day=day, skipped=False)
    is_month_end = day.day == calendar.monthrange(day.year, day.month)[1]
    savings = session.scalars(select(Account).where(
        Account.kind == "savings", Account.status != "closed", Account.interest_rate.is_not(None)
    ).order_by(Account.id)).all()
    # Interest accrues on the balance at the end of ``day``: when catching up a missed day, money
    # that arrived later must not earn interest for it.
    later: dict[int, int] = dict(session.execute(text(
        "SELECT e.account_id, sum(e.amount_minor) FROM entries e JOIN accounts a ON a.id = e.account_id"
        " WHERE a.kind = 'savings' AND e.value_date > :d GROUP BY e.account_id"), {"d": day}).all())
    expense_by_ccy: dict[str, Account] = {}
    for acct in savings:
        balance_then = acct.balance_minor - int(later.get(acct.id, 0))
        accrual = daily_accrual_micro(balance_then, Decimal(acct.interest_rate or 0))
        if accrual:
            acct.accrued_interest_micro = (acct.accrued_interest_micro or 0) + accrual
            res.accrued_accounts += 1
        if is_month_end and acct.accrued_interest_micro:
            minor, rest = capitalise_amount(acct.accrued_interest_micro)
            if minor > 0:
                exp = expense_by_ccy.get(acct.currency) or ledger.internal_account(session, "interest_expense",
                                                                                    acct.currency)
                expense_by_ccy[acct.currency] = exp
                session.flush()
                ledger.transfer(session, ledger.TransferCommand(
                    key=f"interest:{acct.id}:{day.isoformat()}", debit_account_id=exp.id,
                    credit_account_id=acct.id, amount_minor=minor, currency=acct.currency, kind="interest",
                    memo=f"interest {day:%Y-%m}", value_date=day,
                ))
                session.refresh(acct)
                acct.accrued_interest_micro = rest
                res.capitalised_accounts += 1
                res.interest_posted_minor += minor
    session.flush()
    res.scheduled = run_due_scheduled(session, day)
    res.overdue_bills = mark_overdue_bills(session, day)
    # loans: automatic debits, overdue, penalty, classification, provisions, early warnings (before the KRIs,
    # which read the delinquency it leaves)
    res.loans = lending.run_day(session, day)
    # the day's risk indicators and model drift, measured at the end of the bank day
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo("Asia/Shanghai"))
    # loan offers not accepted by the end of the day lapse
    res.loans["offers_expired"] = lending.expire_offers(session, end_of_day)
    res.risk_warnings = int(risk.run_monitor(session, end_of_day)["warnings_raised"])
    # wealth: the day's NAVs (money-market income), the income credited to money-market holdings as units, then
    # time deposits at maturity and the orders due (filled at trade-date NAVs)
    res.wealth = (wealth.publish_day(session, day) | wealth.accrue_income(session, day)
                  | wealth.settle_day(session, day))
    session.add(BusinessDay(day=day, status="done", finished_at=ledger.utcnow(), summary=res.as_dict()))
    session.flush()
    return res


def next_day_to_close(session: Session) -> date:
    """The first business date not yet closed: the day after the last closed one; in a bank that never
    closed a day, the day its first customer account was opened (today when it has none)."""
    last = last_closed_day(session)
    if last is not None:
        return last + timedelta(days=1)
    first_open = session.scalar(select(func.min(Account.opened_on)).where(Account.kind != "internal"))
    return first_open or clock.today()


def days_to_close(session: Session, until: date, start: date | None = None) -> list[date]:
    """Every business date from the first one not yet closed through ``until``, in order: a missed day is
    never skipped. A day that has not begun yet (after the bank's today) cannot be closed."""
    today = clock.today()
    if until > today:
        raise ValidationFailed(
            f"business day {until.isoformat()} has not begun (today is {today.isoformat()}); "
            f"the next day to close is {next_day_to_close(session).isoformat()}",
            details={"date": until.isoformat(), "today": today.isoformat(),
                     "next_day": next_day_to_close(session).isoformat()})
    first = start or next_day_to_close(session)
    return [first + timedelta(days=i) for i in range((until - first).days + 1)]


def mark_closed_through(session: Session, day: date, *, source: str) -> bool:
    """Record that the bank's history is complete through ``day`` (a generated or migrated history whose
    interest, schedules and loans were already run day by day), so close of day continues from the next day.
    Does nothing when a later day is already closed. Flushes."""
    last = last_closed_day(session)
    if last is not None and last >= day:
        return False
    session.add(BusinessDay(day=day, status="done", finished_at=clock.now(),
                            summary={"day": day.isoformat(), "source": source}))
    session.flush()
    return True

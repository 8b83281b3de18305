"""Close of day: interest accrual, monthly capitalisation, scheduled transfers, overdue bills, loan servicing.

Each business date is run once (``business_days`` row, ops' own table, in the same transaction), so a rerun
never posts twice; catching up runs every missed date in order. Each step is asked of its owner's front
door: savings interest of the ledger (``ledger.accrue_interest``: daily accrual into an exact counter,
capitalised at month end), scheduled transfers and overdue bills of payments, the loans' daily run and
lapsed offers of lending, the KRIs of risk, NAVs, money-market income and settlement of wealth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.lending import service as lending
from smartbank.ops.models import BusinessDay
from smartbank.payments.service import mark_overdue_bills, run_due_scheduled
from smartbank.risk import service as risk
from smartbank.wealth import service as wealth


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
    interest = ledger.accrue_interest(session, day)
    res.accrued_accounts, res.capitalised_accounts = interest.accrued_accounts, interest.capitalised_accounts
    res.interest_posted_minor = interest.posted_minor
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
    return ledger.first_opening_day(session) or clock.today()


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

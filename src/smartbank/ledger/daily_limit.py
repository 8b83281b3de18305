"""The customer's daily limit on payments to other customers: the ledger owns its use.

A transfer with ``enforce_daily_limit`` from a customer's account to another customer's counts against the
paying customer's limit on its value date: the ledger adds it to ``customer_daily_usage`` (its table) in the
transfer's own statements, and refuses it when the day's total would go over the limit. The limit itself is
the customer's setting (``customers.daily_limit_minor``, None = the bank's default), which the ledger reads in
the same statements; the procedure ``sb_transfer`` does the same in one round trip. Others ask
:func:`daily_limit_status`.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings
from smartbank.errors import DailyLimitExceeded

_CUSTOMER_LIMIT = text("SELECT daily_limit_minor FROM customers WHERE id = :cid")
_USAGE_UPSERT = text(
    "INSERT INTO customer_daily_usage (customer_id, day, currency, amount_minor) VALUES (:cid, :day, :cur, :amt)"
    " ON CONFLICT (customer_id, day, currency) DO UPDATE"
    " SET amount_minor = customer_daily_usage.amount_minor + excluded.amount_minor"
    " WHERE customer_daily_usage.amount_minor + excluded.amount_minor <= :lim RETURNING amount_minor"
)
_USAGE_GET = text(
    "SELECT amount_minor FROM customer_daily_usage WHERE customer_id = :cid AND day = :day AND currency = :cur"
)


def applies(enforce: bool, debit_customer_id: int | None, credit_customer_id: int | None) -> bool:
    """Whether a transfer counts against the paying customer's limit: asked for, and to another customer."""
    return enforce and debit_customer_id is not None and debit_customer_id != credit_customer_id


def limit_of(session: Session, customer_id: int) -> int:
    limit = session.execute(_CUSTOMER_LIMIT, {"cid": customer_id}).scalar()
    return int(limit) if limit is not None else get_settings().default_daily_limit_minor


def used_on(session: Session, customer_id: int, day: date, currency: str) -> int:
    return int(session.execute(_USAGE_GET, {"cid": customer_id, "day": day, "cur": currency}).scalar() or 0)


def daily_limit_status(session: Session, customer_id: int, *, currency: str = "CNY",
                       day: date | None = None) -> tuple[int, int]:
    """The customer's daily limit on payments to other customers and how much of it payments valued on ``day``
    have used: ``(limit, used)`` in minor units. ``day`` defaults to the value date a payment posted now gets.
    The same figures a transfer with ``enforce_daily_limit`` checks."""
    return limit_of(session, customer_id), used_on(session, customer_id, day or clock.today(), currency)


def limit_error(session: Session, customer_id: int, day: date, currency: str, limit: int) -> DailyLimitExceeded:
    return DailyLimitExceeded(
        "this payment would exceed the customer's daily limit",
        details={"daily_limit_minor": int(limit), "used_minor": used_on(session, customer_id, day, currency)},
    )


def check(session: Session, customer_id: int, day: date, currency: str, amount_minor: int) -> None:
    """Raise what :func:`consume` would, without writing."""
    limit = limit_of(session, customer_id)
    if used_on(session, customer_id, day, currency) + amount_minor > limit:
        raise limit_error(session, customer_id, day, currency, limit)


def consume(session: Session, customer_id: int, day: date, currency: str, amount_minor: int) -> None:
    """Add ``amount_minor`` to the customer's use on ``day``, or raise :class:`DailyLimitExceeded` (nothing
    written) when the day's total would go over the limit. One statement, safe under concurrency."""
    limit = limit_of(session, customer_id)
    used = None
    if amount_minor <= limit:
        used = session.execute(_USAGE_UPSERT, {"cid": customer_id, "day": day, "cur": currency,
                                               "amt": amount_minor, "lim": limit}).scalar()
    if used is None:
        raise limit_error(session, customer_id, day, currency, limit)

"""Ledger accounts: opening, numbers (Luhn check digit), status, balances by value date, and the reads other
domains make of accounts and payments. Private to the ledger: outsiders use :mod:`smartbank.ledger.service`."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, func, select, text
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import AccountNotOpen, NotFound, ValidationFailed
from smartbank.ledger.models import TRANSFER_KINDS, Account, Transfer
from smartbank.money import check_currency, format_minor, round_minor

# customer accounts that never pay or receive customer payments: a loan moves only through lending
NON_PAYMENT_KINDS = ("internal", "loan")


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def new_account_number(prefix: str = "621700", rand: int | None = None) -> str:
    body = prefix + f"{(rand if rand is not None else secrets.randbelow(10**12)):012d}"
    return body + luhn_digit(body)


def valid_account_number(number: str) -> bool:
    return number.isdigit() and len(number) >= 12 and luhn_digit(number[:-1]) == number[-1]


def open_account(
    session: Session,
    *,
    customer_id: int | None,
    kind: str,
    currency: str = "CNY",
    name: str = "",
    purpose: str | None = None,
    overdraft_limit_minor: int | None = 0,
    interest_rate=None,
    number: str | None = None,
    opened_on: date | None = None,
) -> Account:
    if kind not in ("demand", "savings", "internal", "loan"):
        raise ValidationFailed(f"unknown account kind {kind!r}", reason="ledger.unknown_account_kind",
                               details={"kind": kind})
    if kind == "internal" and customer_id is not None:
        raise ValidationFailed("internal accounts belong to the bank, not a customer")
    if kind != "internal" and customer_id is None:
        raise ValidationFailed("customer accounts need a customer")
    if overdraft_limit_minor is not None and overdraft_limit_minor < 0:
        raise ValidationFailed("overdraft limit cannot be negative")
    acct = Account(
        number=number or new_account_number({"internal": "990000", "loan": "629900"}.get(kind, "621700")),
        customer_id=customer_id,
        kind=kind,
        purpose=purpose,
        name=name,
        currency=check_currency(currency),
        status="open",
        overdraft_limit_minor=overdraft_limit_minor,
        interest_rate=interest_rate,
        opened_on=opened_on or clock.today(),
        debits_posted=0, credits_posted=0, debits_pending=0, credits_pending=0, accrued_interest_micro=0,
    )
    session.add(acct)
    session.flush()
    return acct


def internal_account(session: Session, purpose: str, currency: str = "CNY") -> Account:
    acct = session.scalars(
        select(Account)
        .where(Account.kind == "internal", Account.purpose == purpose, Account.currency == currency)
        .order_by(Account.id)
        .limit(1)
    ).first()
    if acct is None:
        acct = open_account(
            session, customer_id=None, kind="internal", purpose=purpose, currency=currency,
            name=f"{purpose} {currency}", overdraft_limit_minor=None,
        )
    return acct


def internal_balances(session: Session, purpose: str) -> dict[str, int]:
    """Balance of the bank's internal account(s) with ``purpose``, by currency."""
    rows = session.execute(select(Account.currency, Account.credits_posted - Account.debits_posted).where(
        Account.kind == "internal", Account.purpose == purpose)).all()
    out: dict[str, int] = {}
    for cur, bal in rows:
        out[cur] = out.get(cur, 0) + int(bal)
    return out


_FLOWS = text(
    "SELECT coalesce(sum(CASE WHEN e.amount_minor > 0 THEN e.amount_minor ELSE 0 END), 0),"
    " coalesce(sum(CASE WHEN e.amount_minor < 0 THEN -e.amount_minor ELSE 0 END), 0)"
    " FROM entries e JOIN transfers t ON t.id = e.transfer_id"
    " WHERE e.account_id = :a AND e.value_date >= :s AND e.value_date < :u AND t.kind NOT IN ('loan_disbursement',"
    " 'loan_repayment', 'loan_recovery', 'reversal')"
)


def total_by_kind(session: Session, kind: str) -> int:
    """The sum of the amounts of posted transfers of one kind (all currencies' minor units together)."""
    if kind not in TRANSFER_KINDS:
        raise ValidationFailed(f"unknown transfer kind {kind!r}", reason="ledger.unknown_transfer_kind",
                               details={"kind": kind})
    return int(session.scalar(select(func.coalesce(func.sum(Transfer.amount_minor), 0))
                              .where(Transfer.kind == kind, Transfer.flags == "posted")) or 0)


def account_flows(session: Session, account_id: int, *, since: date, until: date) -> tuple[int, int]:
    """Money into and out of an account with value dates in ``[since, until)``: (credits, debits), leaving
    out loan payouts, repayments (recoveries of written-off loans too) and reversals (the customer's own
    income and spending)."""
    row = session.execute(_FLOWS, {"a": account_id, "s": since, "u": until}).one()
    return int(row[0]), int(row[1])


_BEFORE = text("SELECT coalesce(sum(amount_minor), 0) FROM entries WHERE account_id = :a AND value_date < :d")
_FROM = text("SELECT value_date, sum(amount_minor) FROM entries WHERE account_id = :a AND value_date >= :d"
             " GROUP BY value_date ORDER BY value_date")


def lowest_balance_from(session: Session, account_id: int, day: date) -> int:
    """The lowest end-of-day posted balance of an account by value date, on ``day`` or any later day: what a
    posting dated ``day`` may take without the account having spent money before it arrived."""
    bal = int(session.execute(_BEFORE, {"a": account_id, "d": day}).scalar() or 0)
    low: int | None = None
    for d, amount in session.execute(_FROM, {"a": account_id, "d": day}):
        if low is None and _as_date(d) != day:
            low = bal  # nothing on ``day`` itself: its end-of-day balance is the one before it
        bal += int(amount)
        low = bal if low is None else min(low, bal)
    return bal if low is None else low


def _as_date(v: Any) -> date:
    return date.fromisoformat(v[:10]) if isinstance(v, str) else v  # SQLite hands raw dates back as text


def spendable(session: Session, account: Account, day: date | None = None) -> int | None:
    """How much a debit of ``account`` with value date ``day`` (default today) may take: its available balance
    plus the overdraft limit, and for a back-dated debit no more than its lowest balance by value date from
    ``day`` on allows. None: no limit (the bank's internal accounts)."""
    limit = account.overdraft_limit_minor
    if limit is None:
        return None
    can = account.available_minor
    if day is not None and day < clock.today():
        can = min(can, lowest_balance_from(session, account.id, day) - account.debits_pending)
    return max(0, can + limit)


def get_account(session: Session, account_id: int) -> Account:
    acct = session.get(Account, account_id)
    if acct is None:
        raise NotFound("account not found", details={"account_id": account_id})
    return acct


def get_account_by_number(session: Session, number: str) -> Account:
    acct = session.scalars(select(Account).where(Account.number == number.replace(" ", ""))).first()
    if acct is None:
        raise NotFound("no account with that number", details={"account_number": number})
    return acct


def find_account(session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def first_opening_day(session: Session) -> date | None:
    """The day the bank's first customer account was opened (None before any)."""
    return session.scalar(select(func.min(Account.opened_on)).where(Account.kind != "internal"))


def customer_accounts(session: Session, customer_id: int, *, include_loans: bool = False) -> list[Account]:
    """The customer's accounts; their loan accounts (kind ``loan``, shown by lending) only when asked."""
    stmt = select(Account).where(Account.customer_id == customer_id)
    if not include_loans:
        stmt = stmt.where(Account.kind != "loan")
    return list(session.scalars(stmt.order_by(Account.id)))


def find_customer_account(session: Session, number: str) -> Account | None:
    """A customer account that can receive payments (not internal, not a loan) by its number; spaces are
    ignored."""
    number = (number or "").replace(" ", "")
    return session.scalars(select(Account).where(Account.number == number,
                                                 Account.kind.not_in(NON_PAYMENT_KINDS))).first()


# typed: SQLite hands raw statements' timestamps back as text
_PAYMENT_ACCOUNTS = text(
    "SELECT id, number, customer_id, kind, currency, created_at FROM accounts WHERE id = :i OR number = :n"
).columns(created_at=DateTime(timezone=True))


def payment_accounts(session: Session, from_account_id: int, to_number: str) -> tuple[Any, Any]:
    """The paying account by id and the receiving account by number, in one query (the payment hot
    path, a plain statement compiled once): rows with ``id, number, customer_id, kind``, or None where
    there is no such account."""
    number = (to_number or "").replace(" ", "")
    found = session.execute(_PAYMENT_ACCOUNTS, {"i": from_account_id, "n": number}).all()
    return (next((a for a in found if a.id == from_account_id), None),
            next((a for a in found if a.number == number), None))


CUSTOMER_PAYMENT_KINDS = ("transfer", "bill_payment", "card_payment", "scheduled")
_CUSTOMER_PAYMENTS = text(
    "SELECT t.id, t.created_at, a.customer_id, t.credit_account_id, t.amount_minor FROM transfers t"
    " JOIN accounts a ON a.id = t.debit_account_id"
    " WHERE t.created_at >= :since AND a.customer_id IS NOT NULL AND t.flags IN ('posted', 'pending')"
    " AND t.kind IN ('transfer', 'bill_payment', 'card_payment', 'scheduled') ORDER BY t.created_at, t.id"
).columns(created_at=DateTime(timezone=True))


_CUSTOMER_PAYMENTS_AFTER = text(
    "SELECT t.id, t.created_at, a.customer_id, t.credit_account_id, t.amount_minor FROM transfers t"
    " JOIN accounts a ON a.id = t.debit_account_id"
    " WHERE t.id > :after AND a.customer_id IS NOT NULL AND t.flags IN ('posted', 'pending')"
    " AND t.kind IN ('transfer', 'bill_payment', 'card_payment', 'scheduled') ORDER BY t.id LIMIT :n"
).columns(created_at=DateTime(timezone=True))


def customer_payments_after(session: Session, after_id: int, limit: int = 10_000
                            ) -> list[tuple[int, datetime, int, int, int]]:
    """The same rows as :func:`customer_payments_since` for transfer ids above ``after_id``, in id order."""
    return [(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]))
            for r in session.execute(_CUSTOMER_PAYMENTS_AFTER, {"after": after_id, "n": limit})]


def customer_payments_since(session: Session, since: datetime) -> list[tuple[int, datetime, int, int, int]]:
    """Payments made by customers since ``since``: (transfer id, created at, paying customer, receiving
    account, amount), oldest first - the history the risk engine's online features start from."""
    return [(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]))
            for r in session.execute(_CUSTOMER_PAYMENTS, {"since": since})]


def set_account_status(session: Session, account: Account, status: str) -> Account:
    if status not in ("open", "frozen", "closed"):
        raise ValidationFailed(f"unknown status {status!r}", reason="ledger.unknown_account_status",
                               details={"status": status})
    if account.status == "closed":
        raise AccountNotOpen("a closed account cannot change status")
    if status == "closed" and (account.balance_minor != 0 or account.debits_pending or account.credits_pending):
        raise ValidationFailed("only an account with zero balance and no holds can be closed")
    owed = round_minor(Decimal(account.accrued_interest_micro or 0) / 1_000_000)
    if status == "closed" and owed > 0:
        # closing now would forfeit interest the customer has earned: it is paid at month end first
        raise ValidationFailed(
            f"interest of {format_minor(owed, account.currency)} accrued this month is paid at month end;"
            " close the account after it has been paid out", reason="ledger.interest_pending_on_close",
            details={"accrued_interest_minor": owed})
    account.status = status
    session.flush()
    return account

"""The ledger service: double-entry transfers, pending holds, reversals, balances and sealing.

Rules enforced on every transfer (TigerBeetle-style):
- amount is a positive integer of minor units; both accounts exist and share the transfer's currency;
- the debit account is open (frozen accounts reject debits; closed accounts reject everything);
- the debit may not take available balance below ``-overdraft_limit`` (None = unlimited, internal);
- a back-dated debit (value date before today) may not spend money that arrived after its value date: the
  account's balance by value date, on that date and every later one, must stay within the limit too
  (:func:`spendable`). Statements run by value date, so this is what keeps them free of impossible balances;
- customer-initiated payments to another customer count against the payer's daily limit;
- the client-supplied idempotency key posts once: same key + same body returns the original,
  same key + different body is a 409.

Accounts are locked in id order (``SELECT ... FOR UPDATE``), so concurrent transfers never
deadlock each other; the entry point retries the rare serialization failure. Services flush, the
entry point commits.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from smartbank import clock
from smartbank.config import get_settings
from smartbank.errors import (
    AccountNotOpen,
    CurrencyMismatch,
    DailyLimitExceeded,
    IdempotencyConflict,
    InsufficientFunds,
    NotFound,
    PendingAlreadyResolved,
    ValidationFailed,
)
from smartbank.ledger.models import Account, Transfer
from smartbank.money import CURRENCIES, MAX_MINOR, check_currency, format_minor, round_minor

TRANSFER_KINDS = (
    "transfer", "bill_payment", "deposit", "withdrawal", "salary", "interest", "fee",
    "card_payment", "reversal", "scheduled", "opening", "post_pending", "void_pending",
    "loan_disbursement", "loan_repayment", "loan_provision", "loan_writeoff", "loan_recovery",
    "wealth_purchase", "wealth_redemption", "wealth_fee",
)
# customer accounts that never pay or receive customer payments: a loan moves only through lending
NON_PAYMENT_KINDS = ("internal", "loan")


def utcnow() -> datetime:
    return clock.now()


@dataclass(frozen=True, slots=True)
class TransferCommand:
    key: str
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    kind: str = "transfer"
    memo: str = ""
    reference: str | None = None
    pending: bool = False
    initiated_by: int | None = None
    enforce_daily_limit: bool = False
    value_date: date | None = None
    meta: dict[str, Any] | None = None
    # held by the risk module for review: pending, but the same request as the customer's payment (a retry
    # of it replays the hold instead of conflicting with it)
    held_for_review: bool = False
    # the payment's risk decision (a ``risk_decisions`` row without its transfer id), written with the
    # transfer - on PostgreSQL by the same statement. Not part of the request.
    risk: dict[str, Any] | None = None

    def request_hash(self) -> str:
        body = {
            "d": self.debit_account_id, "c": self.credit_account_id, "a": self.amount_minor,
            "cur": self.currency, "k": self.kind, "m": self.memo, "r": self.reference,
            "p": self.pending and not self.held_for_review, "meta": self.meta,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(slots=True)
class TransferResult:
    transfer: dict[str, Any]
    replayed: bool = False
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.transfer["id"])


# ----------------------------------------------------------------------------------------------
# account helpers


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
        raise ValidationFailed(f"unknown account kind {kind!r}")
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
        raise ValidationFailed(f"unknown transfer kind {kind!r}")
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
        raise ValidationFailed(f"unknown status {status!r}")
    if account.status == "closed":
        raise AccountNotOpen("a closed account cannot change status")
    if status == "closed" and (account.balance_minor != 0 or account.debits_pending or account.credits_pending):
        raise ValidationFailed("only an account with zero balance and no holds can be closed")
    owed = round_minor(Decimal(account.accrued_interest_micro or 0) / 1_000_000)
    if status == "closed" and owed > 0:
        # closing now would forfeit interest the customer has earned: it is paid at month end first
        raise ValidationFailed(
            f"interest of {format_minor(owed, account.currency)} accrued this month is paid at month end;"
            " close the account after it has been paid out", details={"accrued_interest_minor": owed})
    account.status = status
    session.flush()
    return account


# ----------------------------------------------------------------------------------------------
# the hot path

_LOCK_SQL = text(
    "SELECT id, customer_id, currency, status, overdraft_limit_minor, debits_posted, credits_posted,"
    " debits_pending, credits_pending FROM accounts WHERE id IN (:a, :b) ORDER BY id"
)
_LOCK_SQL_PG = text(
    "SELECT id, customer_id, currency, status, overdraft_limit_minor, debits_posted, credits_posted,"
    " debits_pending, credits_pending FROM accounts WHERE id IN (:a, :b) ORDER BY id FOR UPDATE"
)
_INSERT_TRANSFER = text(
    "INSERT INTO transfers (idempotency_key, request_hash, kind, flags, debit_account_id,"
    " credit_account_id, amount_minor, currency, pending_id, reverses_id, memo, reference, initiated_by,"
    " value_date, created_at, meta) VALUES (:key, :hash, :kind, :flags, :d, :c, :amt, :cur, :pid, :rid,"
    " :memo, :ref, :by, :vd, :at, :meta) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
)
_UPDATE_POSTED = text(
    "UPDATE accounts SET debits_posted = debits_posted + CASE WHEN id = :d THEN :amt ELSE 0 END,"
    " credits_posted = credits_posted + CASE WHEN id = :c THEN :amt ELSE 0 END,"
    " debits_pending = debits_pending - CASE WHEN id = :d THEN :rel ELSE 0 END,"
    " credits_pending = credits_pending - CASE WHEN id = :c THEN :rel ELSE 0 END"
    " WHERE id IN (:d, :c) RETURNING id, credits_posted - debits_posted"
)
_UPDATE_PENDING = text(
    "UPDATE accounts SET debits_pending = debits_pending + CASE WHEN id = :d THEN :amt ELSE 0 END,"
    " credits_pending = credits_pending + CASE WHEN id = :c THEN :amt ELSE 0 END WHERE id IN (:d, :c)"
)
_INSERT_ENTRIES = text(
    "INSERT INTO entries (transfer_id, account_id, amount_minor, currency, balance_after, value_date,"
    " created_at) VALUES (:t, :d, :neg, :cur, :bd, :vd, :at), (:t, :c, :amt, :cur, :bc, :vd, :at)"
)
_INSERT_UNSEALED = text("INSERT INTO ledger_unsealed (transfer_id) VALUES (:t)")
_USAGE_UPSERT = text(
    "INSERT INTO customer_daily_usage (customer_id, day, currency, amount_minor) VALUES (:cid, :day, :cur, :amt)"
    " ON CONFLICT (customer_id, day, currency) DO UPDATE"
    " SET amount_minor = customer_daily_usage.amount_minor + excluded.amount_minor"
    " WHERE customer_daily_usage.amount_minor + excluded.amount_minor <= :lim RETURNING amount_minor"
)
_USAGE_GET = text(
    "SELECT amount_minor FROM customer_daily_usage WHERE customer_id = :cid AND day = :day AND currency = :cur"
)
_RISK_COLS = ("created_at", "transfer_id", "customer_id", "account_id", "counterparty_account_id", "channel", "kind",
              "product", "amount_minor", "currency", "idempotency_key", "decision", "score", "model_version",
              "rules_version", "rule_hits", "reasons", "features", "latency_us", "challenge_id", "outcome")
_RISK_JSON = ("rule_hits", "reasons", "features")
_RISK_NULLS: dict[str, Any] = dict.fromkeys(_RISK_COLS)
_INSERT_RISK = text(f"INSERT INTO risk_decisions ({', '.join(_RISK_COLS)})"
                    f" VALUES ({', '.join(':' + c for c in _RISK_COLS)})")
_KEY_USED = text("SELECT 1 FROM transfers WHERE idempotency_key = :key")
_CUSTOMER_LIMIT = text("SELECT daily_limit_minor FROM customers WHERE id = :cid")
_TRANSFER_COLS = (
    "id, idempotency_key, request_hash, kind, flags, debit_account_id, credit_account_id, amount_minor,"
    " currency, pending_id, reverses_id, memo, reference, initiated_by, value_date, created_at, meta"
)
_GET_BY_KEY = text(f"SELECT {_TRANSFER_COLS} FROM transfers WHERE idempotency_key = :key")
_GET_BY_ID = text(f"SELECT {_TRANSFER_COLS} FROM transfers WHERE id = :id")


def validate_command(cmd: TransferCommand) -> None:
    """The command's own checks (amount, currency, key, kind, memo) - before anything is looked up."""
    _validate(cmd)


def _validate(cmd: TransferCommand) -> None:
    if not isinstance(cmd.amount_minor, int) or isinstance(cmd.amount_minor, bool):
        raise ValidationFailed("amount must be an integer number of minor units")
    if cmd.amount_minor <= 0:
        raise ValidationFailed("amount must be positive", details={"amount_minor": cmd.amount_minor})
    if cmd.amount_minor > MAX_MINOR:
        raise ValidationFailed("amount is too large", details={"amount_minor": cmd.amount_minor})
    if cmd.currency not in CURRENCIES:
        raise ValidationFailed(f"unknown currency {cmd.currency!r}", details={"currency": cmd.currency})
    if cmd.debit_account_id == cmd.credit_account_id:
        raise ValidationFailed("debit and credit accounts must differ")
    if not cmd.key or len(cmd.key) > 160:
        raise ValidationFailed("an idempotency key of 1-160 characters is required")
    if cmd.kind not in TRANSFER_KINDS:
        raise ValidationFailed(f"unknown transfer kind {cmd.kind!r}")
    if len(cmd.memo) > 200:
        raise ValidationFailed("memo is longer than 200 characters")


def _row_dict(row) -> dict[str, Any]:
    d = dict(row._mapping)
    if isinstance(d.get("meta"), str):
        d["meta"] = json.loads(d["meta"])
    return d


def _replay(session: Session, key: str, request_hash: str) -> TransferResult:
    row = session.execute(_GET_BY_KEY, {"key": key}).first()
    if row is None:  # pragma: no cover - the conflicting row always exists once ON CONFLICT fired
        raise IdempotencyConflict("idempotency key in use by a transaction in flight; retry")
    if row.request_hash != request_hash:
        raise IdempotencyConflict(
            "this idempotency key was already used for a different request",
            details={"transfer_id": row.id},
        )
    return TransferResult(transfer=_row_dict(row), replayed=True)


def _lock(session: Session, a: int, b: int) -> dict[int, Any]:
    pg = session.get_bind().dialect.name == "postgresql"
    rows = session.execute(_LOCK_SQL_PG if pg else _LOCK_SQL, {"a": a, "b": b}).all()
    return {r.id: r for r in rows}


def _account_rules(cmd: TransferCommand, debit: Any, credit: Any, *, resolving: bool = False,
                   allow_overdraft: bool = False) -> None:
    """The rules on the two accounts: currencies, status, the paying account's balance and overdraft."""
    for acct in (debit, credit):
        if acct.currency != cmd.currency:
            raise CurrencyMismatch(
                f"account is in {acct.currency}, transfer is in {cmd.currency}",
                details={"account_id": acct.id, "account_currency": acct.currency},
            )
    if credit.status == "closed":
        raise AccountNotOpen("the receiving account is closed", details={"account_id": credit.id})
    if debit.status != "open" and not resolving:
        raise AccountNotOpen(f"the paying account is {debit.status}", details={"account_id": debit.id})
    if not resolving and not allow_overdraft and debit.overdraft_limit_minor is not None:
        available = debit.credits_posted - debit.debits_posted - debit.debits_pending
        if available - cmd.amount_minor < -debit.overdraft_limit_minor:
            raise InsufficientFunds(
                "insufficient funds", details={"account_id": debit.id, "available_minor": available}
            )


def check_transfer(session: Session, cmd: TransferCommand) -> None:
    """Every rule :func:`transfer` would apply to ``cmd`` now - amount and currency, both accounts' status,
    the paying account's balance and overdraft, the customer's daily limit - without writing or locking
    anything: the error it raises is the one the transfer would be refused with. A key already used is not
    checked (the transfer replays it). The rules are checked again, under lock, when the transfer posts."""
    _validate(cmd)
    rows = {r.id: r for r in session.execute(_LOCK_SQL, {"a": cmd.debit_account_id, "b": cmd.credit_account_id})}
    debit, credit = rows.get(cmd.debit_account_id), rows.get(cmd.credit_account_id)
    if debit is None or credit is None:
        missing = cmd.debit_account_id if debit is None else cmd.credit_account_id
        raise NotFound("account not found", details={"account_id": missing})
    if session.execute(_KEY_USED, {"key": cmd.key}).first() is not None:
        return
    _account_rules(cmd, debit, credit)
    if cmd.enforce_daily_limit and debit.customer_id is not None and debit.customer_id != credit.customer_id:
        vd = cmd.value_date or clock.today()
        limit = session.execute(_CUSTOMER_LIMIT, {"cid": debit.customer_id}).scalar()
        if limit is None:
            limit = get_settings().default_daily_limit_minor
        used = session.execute(_USAGE_GET, {"cid": debit.customer_id, "day": vd, "cur": cmd.currency}).scalar() or 0
        if used + cmd.amount_minor > limit:
            raise _limit_error(session, debit.customer_id, vd, cmd.currency, limit)


def transfer(session: Session, cmd: TransferCommand, *, _pending_of: dict[str, Any] | None = None,
             _reverses: int | None = None, _allow_overdraft: bool = False) -> TransferResult:
    """Post (or hold, with ``cmd.pending``) one transfer. Flushes; the caller commits.

    Order of work (mirrored by the PostgreSQL procedure ``sb_transfer``): lock both accounts in
    id order; an already-used key replays or conflicts; the rules; the daily-limit counter; the
    transfer row; the balances and entries; the sealing queue. Nothing is written before every
    rule has passed.
    """
    _validate(cmd)
    if cmd.kind in ("post_pending", "void_pending") and _pending_of is None:
        raise ValidationFailed("a pending transfer is posted or voided with resolve_pending()",
                               details={"kind": cmd.kind})
    rhash = cmd.request_hash()
    now = utcnow()
    vd = cmd.value_date or clock.local_date(now)
    # a back-dated posting checks the debited account's balance by value date (see spendable()): not in the
    # PostgreSQL procedure, so it takes this path
    backdated = cmd.value_date is not None and cmd.value_date < clock.today()
    simple = _pending_of is None and _reverses is None and not _allow_overdraft and not backdated
    if simple and session.get_bind().dialect.name == "postgresql":
        return _transfer_pg(session, cmd, rhash, now, vd)
    accts = _lock(session, cmd.debit_account_id, cmd.credit_account_id)
    debit = accts.get(cmd.debit_account_id)
    credit = accts.get(cmd.credit_account_id)
    if debit is None or credit is None:
        missing = cmd.debit_account_id if debit is None else cmd.credit_account_id
        raise NotFound("account not found", details={"account_id": missing})
    if session.execute(_KEY_USED, {"key": cmd.key}).first() is not None:
        return _replay(session, cmd.key, rhash)

    # -- rules ----------------------------------------------------------------------------------
    resolving = _pending_of is not None
    _account_rules(cmd, debit, credit, resolving=resolving, allow_overdraft=_allow_overdraft)
    if backdated and not resolving and not _allow_overdraft and debit.overdraft_limit_minor is not None:
        low = lowest_balance_from(session, debit.id, vd) - debit.debits_pending
        if low - cmd.amount_minor < -debit.overdraft_limit_minor:
            raise InsufficientFunds(
                "insufficient funds on the value date: the money arrived later",
                details={"account_id": debit.id, "available_minor": low, "value_date": vd.isoformat()})
    if cmd.enforce_daily_limit and debit.customer_id is not None and debit.customer_id != credit.customer_id:
        limit = session.execute(_CUSTOMER_LIMIT, {"cid": debit.customer_id}).scalar()
        if limit is None:
            limit = get_settings().default_daily_limit_minor
        used = None
        if cmd.amount_minor <= limit:
            used = session.execute(_USAGE_UPSERT, {"cid": debit.customer_id, "day": vd, "cur": cmd.currency,
                                                   "amt": cmd.amount_minor, "lim": limit}).scalar()
        if used is None:
            raise _limit_error(session, debit.customer_id, vd, cmd.currency, limit)

    flags = "pending" if cmd.pending else "posted" if not resolving else cmd.kind
    new_id = session.execute(_INSERT_TRANSFER, {
        "key": cmd.key, "hash": rhash, "kind": cmd.kind, "flags": flags, "d": cmd.debit_account_id,
        "c": cmd.credit_account_id, "amt": cmd.amount_minor, "cur": cmd.currency,
        "pid": _pending_of["id"] if _pending_of else None, "rid": _reverses, "memo": cmd.memo,
        "ref": cmd.reference, "by": cmd.initiated_by, "vd": vd, "at": now,
        "meta": json.dumps(cmd.meta) if cmd.meta is not None else None,
    }).scalar()
    if new_id is None:  # pragma: no cover - only when the same key races in on other accounts
        raise IdempotencyConflict("this idempotency key is in use by a request in flight; retry")
    if cmd.kind == "void_pending":
        session.execute(_UPDATE_PENDING, {"d": cmd.debit_account_id, "c": cmd.credit_account_id,
                                          "amt": -cmd.amount_minor})
    elif cmd.pending:
        session.execute(_UPDATE_PENDING, {"d": cmd.debit_account_id, "c": cmd.credit_account_id,
                                          "amt": cmd.amount_minor})
    else:
        release = _pending_of["amount_minor"] if _pending_of is not None else 0
        moved = session.execute(_UPDATE_POSTED, {"d": cmd.debit_account_id, "c": cmd.credit_account_id,
                                                 "amt": cmd.amount_minor, "rel": release}).all()
        bal: dict[int, int] = {int(r[0]): int(r[1]) for r in moved}
        session.execute(_INSERT_ENTRIES, {
            "t": new_id, "d": cmd.debit_account_id, "c": cmd.credit_account_id, "neg": -cmd.amount_minor,
            "amt": cmd.amount_minor, "cur": cmd.currency, "bd": bal[cmd.debit_account_id],
            "bc": bal[cmd.credit_account_id], "vd": vd, "at": now,
        })
    session.execute(_INSERT_UNSEALED, {"t": new_id})
    if cmd.risk is not None:
        session.execute(_INSERT_RISK, {**_RISK_NULLS, **cmd.risk, "transfer_id": new_id, "created_at": now,
                                       **{k: json.dumps(cmd.risk.get(k)) for k in _RISK_JSON}})
    _expire_accounts(session, (cmd.debit_account_id, cmd.credit_account_id))
    return _result(session, new_id)


def daily_limit_status(session: Session, customer_id: int, *, currency: str = "CNY",
                       day: date | None = None) -> tuple[int, int]:
    """The customer's daily limit on payments to other customers and how much of it payments valued on ``day``
    have used: ``(limit, used)`` in minor units. ``day`` defaults to the value date :func:`transfer` gives a
    payment posted now. The same figures :func:`transfer` checks (``enforce_daily_limit``)."""
    limit = session.execute(_CUSTOMER_LIMIT, {"cid": customer_id}).scalar()
    if limit is None:
        limit = get_settings().default_daily_limit_minor
    day = day or clock.today()
    used = session.execute(_USAGE_GET, {"cid": customer_id, "day": day, "cur": currency}).scalar() or 0
    return int(limit), int(used)


def _limit_error(session: Session, customer_id: int, day: date, currency: str, limit: int) -> DailyLimitExceeded:
    used = session.execute(_USAGE_GET, {"cid": customer_id, "day": day, "cur": currency}).scalar() or 0
    return DailyLimitExceeded(
        "this payment would exceed the customer's daily limit",
        details={"daily_limit_minor": int(limit), "used_minor": int(used)},
    )


_PG_CALL = (
    "SELECT status, info, tid FROM sb_transfer(%(key)s, %(hash)s, %(kind)s, %(d)s, %(c)s, %(amt)s, %(cur)s,"
    " %(memo)s, %(ref)s, %(by)s, %(vd)s, %(at)s, %(meta)s, %(pending)s, %(lim)s, %(deflim)s, %(risk)s)"
)


def _call_pg(session: Session, params: dict[str, Any]) -> Any:
    """One call of the procedure on the session's own connection (and transaction), straight through
    the driver as a prepared statement; driver errors surface as SQLAlchemy's, so the units of work
    retry serialization failures and deadlocks as for any other statement."""
    import psycopg

    raw: Any = session.connection().connection.driver_connection
    try:
        row = raw.execute(_PG_CALL, params, prepare=True).fetchone()
    except psycopg.Error as exc:
        raise DBAPIError.instance(_PG_CALL, params, exc, psycopg.Error) from exc
    return row


def _transfer_pg(session: Session, cmd: TransferCommand, rhash: str, now: datetime, vd: date) -> TransferResult:
    """PostgreSQL: the same steps in one round trip, as the stored procedure ``sb_transfer``."""
    params = {
        "key": cmd.key, "hash": rhash, "kind": cmd.kind, "d": cmd.debit_account_id, "c": cmd.credit_account_id,
        "amt": cmd.amount_minor, "cur": cmd.currency, "memo": cmd.memo, "ref": cmd.reference,
        "by": cmd.initiated_by, "vd": vd, "at": now,
        "meta": json.dumps(cmd.meta) if cmd.meta is not None else None, "pending": cmd.pending,
        "lim": cmd.enforce_daily_limit, "deflim": get_settings().default_daily_limit_minor,
        "risk": json.dumps(cmd.risk) if cmd.risk is not None else None,
    }
    status, info, tid = _call_pg(session, params)
    if status == "ok":
        if session.identity_map:
            _expire_accounts(session, (cmd.debit_account_id, cmd.credit_account_id))
        return TransferResult(transfer={
            "id": tid, "idempotency_key": cmd.key, "request_hash": rhash, "kind": cmd.kind,
            "flags": "pending" if cmd.pending else "posted", "debit_account_id": cmd.debit_account_id,
            "credit_account_id": cmd.credit_account_id, "amount_minor": cmd.amount_minor,
            "currency": cmd.currency, "pending_id": None, "reverses_id": None, "memo": cmd.memo,
            "reference": cmd.reference, "initiated_by": cmd.initiated_by, "value_date": vd, "created_at": now,
            "meta": cmd.meta,
        })
    if status in ("replay", "conflict"):
        return _replay(session, cmd.key, rhash)
    if status == "not_found":
        raise NotFound("account not found", details={"account_id": info})
    if status == "currency":
        cur = session.execute(text("SELECT currency FROM accounts WHERE id = :i"), {"i": info}).scalar()
        raise CurrencyMismatch(f"account is in {cur}, transfer is in {cmd.currency}",
                               details={"account_id": info, "account_currency": cur})
    if status == "credit_closed":
        raise AccountNotOpen("the receiving account is closed", details={"account_id": info})
    if status in ("debit_frozen", "debit_closed"):
        raise AccountNotOpen(f"the paying account is {status[6:]}", details={"account_id": info})
    if status == "funds":
        raise InsufficientFunds("insufficient funds",
                                details={"account_id": cmd.debit_account_id, "available_minor": info})
    if status == "limit":
        cid = int(session.execute(text("SELECT customer_id FROM accounts WHERE id = :i"),
                                  {"i": cmd.debit_account_id}).scalar_one())
        raise _limit_error(session, cid, vd, cmd.currency, int(info))  # info: the limit in force
    raise RuntimeError(f"unexpected ledger status {status!r}")  # pragma: no cover


def _expire_accounts(session: Session, ids: Sequence[int]) -> None:
    """Raw SQL moved these balances: drop any stale ORM copies held by this session."""
    for i in ids:
        obj = session.identity_map.get(identity_key(Account, i))
        if obj is not None:
            session.expire(obj)


def _result(session: Session, transfer_id: int) -> TransferResult:
    row = session.execute(_GET_BY_ID, {"id": transfer_id}).one()
    return TransferResult(transfer=_row_dict(row))


def find_transfer_by_key(session: Session, key: str) -> dict[str, Any] | None:
    row = session.execute(_GET_BY_KEY, {"key": key}).first()
    return _row_dict(row) if row is not None else None


def get_transfer(session: Session, transfer_id: int) -> dict[str, Any]:
    row = session.execute(_GET_BY_ID, {"id": transfer_id}).first()
    if row is None:
        raise NotFound("transfer not found", details={"transfer_id": transfer_id})
    return _row_dict(row)


def resolve_pending(session: Session, *, pending_id: int, post: bool, key: str,
                    initiated_by: int | None = None, memo: str = "") -> TransferResult:
    """Post or void a pending transfer, exactly once (the resolving row is unique per pending id)."""
    pend = get_transfer(session, pending_id)
    if pend["flags"] != "pending":
        raise ValidationFailed("not a pending transfer", details={"transfer_id": pending_id})
    kind = "post_pending" if post else "void_pending"
    cmd = TransferCommand(
        key=key, debit_account_id=pend["debit_account_id"], credit_account_id=pend["credit_account_id"],
        amount_minor=pend["amount_minor"], currency=pend["currency"], kind=kind, memo=memo or pend["memo"],
        reference=str(pending_id), initiated_by=initiated_by,
    )
    # lock both accounts first: the check below is then serialised with any other resolver
    _lock(session, cmd.debit_account_id, cmd.credit_account_id)
    existing = session.execute(_GET_BY_KEY, {"key": key}).first()
    if existing is not None:
        return _replay(session, key, cmd.request_hash())
    done = session.execute(text("SELECT id, flags FROM transfers WHERE pending_id = :p"), {"p": pending_id}).first()
    if done is not None:
        raise PendingAlreadyResolved(
            f"pending transfer already {'posted' if done.flags == 'post_pending' else 'voided'}",
            details={"transfer_id": pending_id, "resolved_by": done.id},
        )
    return transfer(session, cmd, _pending_of=pend)


def reverse(session: Session, *, transfer_id: int, key: str, initiated_by: int | None = None,
            memo: str = "", allow_overdraft: bool = False) -> TransferResult:
    """Correct a posted transfer with a reversing transfer (never an edit). Once per transfer."""
    orig = get_transfer(session, transfer_id)
    if orig["flags"] not in ("posted", "post_pending"):
        raise ValidationFailed("only posted transfers can be reversed", details={"transfer_id": transfer_id})
    if orig["kind"] == "reversal":
        raise ValidationFailed("a reversal cannot itself be reversed; post a new transfer")
    # lock both accounts first (as resolve_pending does): the check below is then serialised with any
    # concurrent reversal of the same transfer, which would otherwise hit the unique reverses_id
    _lock(session, orig["debit_account_id"], orig["credit_account_id"])
    existing = session.execute(text("SELECT id FROM transfers WHERE reverses_id = :r"), {"r": transfer_id}).first()
    if existing is not None:
        prior = session.execute(_GET_BY_KEY, {"key": key}).first()
        if prior is not None and prior.id == existing.id:
            return TransferResult(transfer=_row_dict(prior), replayed=True)
        raise PendingAlreadyResolved("transfer already reversed", details={"reversal_id": existing.id})
    cmd = TransferCommand(
        key=key, debit_account_id=orig["credit_account_id"], credit_account_id=orig["debit_account_id"],
        amount_minor=orig["amount_minor"], currency=orig["currency"], kind="reversal",
        memo=memo or f"reversal of #{transfer_id}", reference=str(transfer_id), initiated_by=initiated_by,
    )
    return transfer(session, cmd, _reverses=transfer_id, _allow_overdraft=allow_overdraft)


__all__ = [
    "CUSTOMER_PAYMENT_KINDS", "NON_PAYMENT_KINDS", "Transfer", "account_flows", "internal_balances",
    "TransferCommand", "TransferResult", "check_transfer", "customer_accounts",
    "customer_payments_since", "daily_limit_status", "find_transfer_by_key",
    "validate_command", "find_account", "find_customer_account",
    "get_account", "get_account_by_number", "lowest_balance_from", "payment_accounts", "spendable",
    "get_transfer", "internal_account", "open_account", "resolve_pending", "reverse",
    "set_account_status", "transfer", "valid_account_number",
]

"""Ledger tables: accounts with posted/pending totals, immutable transfers, entries, the seal chain.

Sign convention: an entry's ``amount_minor`` is positive for a credit and negative for a debit,
so every transfer's entries sum to zero and an account's balance is the sum of its entries
(= ``credits_posted - debits_posted``). A customer's deposit is a positive balance; the bank's
internal source accounts (settlement, interest expense) go negative as money enters customer
accounts, so the sum of all balances per currency is always exactly zero.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

# "loan": a customer's loan (lending): carries the principal owed as a negative balance. Its overdraft limit
# equals the principal only while the loan is paid out, then 0, so nothing but the disbursement ever debits it.
ACCOUNT_KINDS = ("demand", "savings", "internal", "loan")
INTERNAL_PURPOSES = ("settlement", "fees", "interest_expense", "biller_settlement", "suspense",
                     "loan_interest_income", "loan_penalty_income", "loan_provision_expense", "loan_loss_allowance",
                     "wealth_custody", "loyalty_liability", "loyalty_expense", "loyalty_breakage")
ACCOUNT_STATUSES = ("open", "frozen", "closed")
TRANSFER_KINDS = (
    "transfer", "bill_payment", "deposit", "withdrawal", "salary", "interest", "fee",
    "card_payment", "reversal", "scheduled", "opening", "post_pending", "void_pending",
    "loan_disbursement", "loan_repayment", "loan_provision", "loan_writeoff", "loan_recovery",
    "wealth_purchase", "wealth_redemption", "wealth_fee", "loyalty",
)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str | None] = mapped_column(String(32))  # internal accounts only
    name: Mapped[str] = mapped_column(String(200), default="")
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="open")
    # None = no limit (internal accounts that source money entering the bank).
    overdraft_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    interest_rate: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))  # annual, e.g. 0.0135
    # Interest accrued but not yet capitalised, in millionths of a minor unit (exact, no floats).
    accrued_interest_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())

    __table_args__ = (
        CheckConstraint("debits_posted >= 0 AND credits_posted >= 0", name="posted_nonneg"),
        CheckConstraint("debits_pending >= 0 AND credits_pending >= 0", name="pending_nonneg"),
        Index("ix_accounts_purpose", "purpose"),
    )

    @property
    def balance_minor(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available_minor(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending


class Transfer(Base):
    """An immutable money movement. Corrections are new (reversing) transfers, never edits."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    # posted | pending | post_pending | void_pending
    flags: Mapped[str] = mapped_column(String(16), default="posted")
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # unique where set: a pending transfer is resolved once, a transfer reversed once (partial
    # indexes, so the common transfer with neither pays no index upkeep)
    pending_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))
    memo: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str | None] = mapped_column(String(64))  # e.g. bill id, schedule run
    initiated_by: Mapped[int | None] = mapped_column(BigInteger)  # users.id (None = system)
    value_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        Index("uq_transfers_pending_id", "pending_id", unique=True,
              postgresql_where=text("pending_id IS NOT NULL"), sqlite_where=text("pending_id IS NOT NULL")),
        Index("uq_transfers_reverses_id", "reverses_id", unique=True,
              postgresql_where=text("reverses_id IS NOT NULL"), sqlite_where=text("reverses_id IS NOT NULL")),
    )


class Entry(Base):
    """One posting. Each posted transfer has exactly two entries that sum to zero.

    Written only by the ledger's transfer, after it locked and found both accounts; the references
    to the transfer and the accounts are checked by ``ledger verify`` rather than by constraint
    triggers on every posting (migration 0004).
    """

    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(BigId)
    account_id: Mapped[int] = mapped_column(BigId)
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # + credit, - debit
    currency: Mapped[str] = mapped_column(String(3))
    balance_after: Mapped[int] = mapped_column(BigInteger)
    value_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_entries_account", "account_id", "id"),
        Index("ix_entries_transfer", "transfer_id"),
        CheckConstraint("amount_minor <> 0", name="amount_nonzero"),
    )


class Unsealed(Base):
    """Transfers committed but not yet chained; the sealer drains this queue in id order."""

    __tablename__ = "ledger_unsealed"

    transfer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class Seal(Base):
    """The tamper-evident journal: each sealed transfer's SHA-256 chained to the previous one."""

    __tablename__ = "ledger_seals"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    transfer_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


REVERSAL_STATUSES = ("requested", "executed", "rejected")


class ReversalRequest(Base):
    """Maker-checker for reversals: one staff member asks, a different one approves (and the reversal posts)
    or rejects. At most one request per transfer waits at a time. A request that may overdraw the account
    the money comes back from says so (``overdraw``, with its reason); when the executed reversal leaves that
    account below its overdraft limit, the shortfall is recorded here: the negative-balance exception that
    collections works from."""

    __tablename__ = "reversal_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)  # the maker's, namespaced by user
    reason: Mapped[str] = mapped_column(String(500), default="")
    overdraw: Mapped[bool] = mapped_column(Boolean, default=False)
    alert_id: Mapped[int | None] = mapped_column(BigInteger)  # the risk alert whose resolution asked for it
    requested_by: Mapped[int | None] = mapped_column(BigInteger)  # users.id (None = system)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(500))
    reversal_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))
    # set when the executed reversal took this account below its overdraft limit, by this much
    shortfall_account_id: Mapped[int | None] = mapped_column(BigInteger)
    shortfall_minor: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("uq_reversal_requests_open", "transfer_id", unique=True,
              postgresql_where=text("status = 'requested'"), sqlite_where=text("status = 'requested'")),
    )


class CustomerDailyUsage(Base):
    """Running total of a customer's outgoing payments per value date, checked against the daily limit: the
    ledger's (written by the transfer that counts against the limit; the limit itself is the customer's
    setting, ``customers.daily_limit_minor``)."""

    __tablename__ = "customer_daily_usage"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "accounts": {"*": "C2", "id": "C1", "kind": "C1", "purpose": "C1", "currency": "C1", "interest_rate": "C1",
                 "created_at": "C1"},
    "transfers": {"*": "C2", "id": "C1", "request_hash": "C1", "flags": "C1"},  # transaction records
    "entries": {"*": "C2", "id": "C1"},
    "customer_daily_usage": {"*": "C2"},
    "reversal_requests": {"*": "C2", "id": "C1"},
    "ledger_seals": {"*": "C1"},
    "ledger_unsealed": {"*": "C1"},
}

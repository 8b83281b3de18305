from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

BILL_CATEGORIES = ("electricity", "water", "gas", "mobile", "broadband")
FREQUENCIES = ("once", "daily", "weekly", "monthly")


class Payee(Base):
    __tablename__ = "payees"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    account_number: Mapped[str] = mapped_column(String(32))
    nickname: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())

    __table_args__ = (UniqueConstraint("customer_id", "account_number", name="uq_payees_customer_account"),)


class ScheduledTransfer(Base):
    __tablename__ = "scheduled_transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    from_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    to_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    memo: Mapped[str] = mapped_column(String(200), default="")
    frequency: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    next_run: Mapped[date | None] = mapped_column(Date, index=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|completed|cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class Biller(Base):
    __tablename__ = "billers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(64))
    settlement_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # Mobile top-up has no bills: the customer picks an amount for a phone number.
    requires_bill: Mapped[int] = mapped_column(Integer, default=1)


class Bill(Base):
    __tablename__ = "bills"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    biller_id: Mapped[int] = mapped_column(ForeignKey("billers.id"))
    reference: Mapped[str] = mapped_column(String(40))  # the customer reference number
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="unpaid")  # unpaid|paid
    paid_transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("biller_id", "reference", "period", name="uq_bills_biller_ref_period"),
        Index("ix_bills_lookup", "biller_id", "reference", "status"),
    )


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "payees": {"*": "C2", "id": "C1", "created_at": "C1"},
    "scheduled_transfers": {"*": "C2", "id": "C1"},
    "bills": {"*": "C2", "id": "C1"},
    "billers": {"*": "none"},
}

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Index, String, event, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId
from smartbank.security import service as security

# identity fields held encrypted (AES-GCM under the key ring's data keys): the ORM reads and writes plaintext,
# the columns hold ciphertext; the ones the bank looks people up by have a keyed blind index next to them
ENCRYPTED = ("id_number", "phone", "email", "address")
INDEXED = {"id_number": "id_number_bidx", "phone": "phone_bidx"}


def _index_default(source: str):
    """A column default for Core inserts (bulk paths): the blind index of the row's ``source`` value."""
    def default(context: Any) -> str | None:
        value = context.get_current_parameters().get(source)
        return None if value is None else security.blind_index(value, kind=source)
    return default


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # customer number shown to staff
    kind: Mapped[str] = mapped_column(String(16))  # individual | business
    name: Mapped[str] = mapped_column(String(200))
    id_type: Mapped[str] = mapped_column(String(24))  # see customers.validation.ID_TYPES
    id_number: Mapped[str] = mapped_column(security.EncryptedText("customers.id_number"))
    id_number_bidx: Mapped[str] = mapped_column(String(32), default=_index_default("id_number"))
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(1))
    phone: Mapped[str | None] = mapped_column(security.EncryptedText("customers.phone"))
    phone_bidx: Mapped[str | None] = mapped_column(String(32), default=_index_default("phone"))
    email: Mapped[str | None] = mapped_column(security.EncryptedText("customers.email"))
    city: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(security.EncryptedText("customers.address"))
    occupation: Mapped[str | None] = mapped_column(String(64))
    annual_income_minor: Mapped[int | None] = mapped_column(BigInteger)
    kyc_status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|verified|rejected
    # who decided the KYC status (a staff user id; none for the synthetic history), how and when
    kyc_method: Mapped[str | None] = mapped_column(String(32))
    kyc_verified_by: Mapped[int | None] = mapped_column(BigInteger)
    kyc_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    risk_level: Mapped[str] = mapped_column(String(8), default="low")
    daily_limit_minor: Mapped[int | None] = mapped_column(BigInteger)  # None = bank default
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())

    __table_args__ = (
        Index("ix_customers_id_doc", "id_type", "id_number_bidx", unique=True),
        Index("ix_customers_phone_bidx", "phone_bidx"),
        Index("ix_customers_name", "name"),
    )


def _keep_index(source: str, target: str) -> None:
    @event.listens_for(getattr(Customer, source), "set", propagate=True)
    def _set(c: Customer, value: str | None, _old: Any, _initiator: Any) -> None:
        setattr(c, target, None if value is None else security.blind_index(value, kind=source))


for _source, _target in INDEXED.items():
    _keep_index(_source, _target)


# Personal-information classes (JR/T 0171-2020) of this domain's columns: C3 authentication information, C2
# information that identifies a person or their financial situation, C1 the bank's internal information about
# them, "none" not personal; "*" is every column not named. Collected by smartbank.models.classification().
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "customers": {"*": "C2", "id": "C1", "kind": "C1", "kyc_method": "C1", "kyc_verified_by": "C1",
                  "kyc_verified_at": "C1", "status": "C1", "created_at": "C1"},
}
_C1 = {"pi": "C1"}  # personal-information class (JR/T 0171-2020) of a column


class ConsentRecord(Base):
    """One grant or withdrawal of a customer's consent to one purpose (append-only: the history is the table,
    the current state is each purpose's newest row, or the purpose's default when there is none). Every column is
    class C1 (JR/T 0171-2020: the bank's own record about a person)."""

    __tablename__ = "customer_consents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, info=_C1)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id"), info=_C1)
    purpose: Mapped[str] = mapped_column(String(40), info=_C1)  # see customers.consent.PURPOSES
    granted: Mapped[bool] = mapped_column(Boolean, info=_C1)
    notice_version: Mapped[str] = mapped_column(String(32), info=_C1)  # the privacy notice the customer was shown
    given_via: Mapped[str] = mapped_column(String(16), info=_C1)  # web | app | assistant | branch | api
    recorded_by: Mapped[int | None] = mapped_column(BigInteger, info=_C1)  # the user who recorded it
    recorded_role: Mapped[str] = mapped_column(String(32), info=_C1)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now(),
                                         info=_C1)

    __table_args__ = (Index("ix_customer_consents_customer_purpose", "customer_id", "purpose", "id"),)

"""Tables of the insight domain.

Imported history from other systems (``external_transactions``) is kept apart from the ledger: it
records what happened elsewhere and moves no money here. Profiles, tags and segments are derived
data, recomputed in batch and incrementally; tag definitions are versioned rows a marketer edits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId


class ImportBatch(Base):
    """One run of ``smartbank import``: what was read, loaded, rejected and merged as duplicates."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # customers | accounts | transactions
    source: Mapped[str] = mapped_column(String(32))  # the mapping's source system name, e.g. card_fraud
    file_name: Mapped[str] = mapped_column(String(300))
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done | failed
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_merged: Mapped[int] = mapped_column(BigInteger, default=0)  # duplicates folded into one record
    rule_hits: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # rule code -> count
    report_path: Mapped[str | None] = mapped_column(String(500))
    rejects_path: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CustomerSourceId(Base):
    """A customer's identifier in another system (so imported accounts and transactions find them)."""

    __tablename__ = "customer_source_ids"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))


class ExternalTransaction(Base):
    """A transaction that happened in another system (card network, legacy core), imported for
    insight. Amounts are integer minor units; ``direction`` is seen from the customer."""

    __tablename__ = "external_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    counterparty: Mapped[str | None] = mapped_column(String(64))  # terminal, merchant or account
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    direction: Mapped[str] = mapped_column(String(6), default="debit")  # debit (spend) | credit
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str | None] = mapped_column(String(16))  # card | online | atm | branch | mobile
    category: Mapped[str | None] = mapped_column(String(32))
    is_fraud: Mapped[bool | None] = mapped_column(Boolean)  # a label, when the source has one

    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_external_transactions_source_id"),
        Index("ix_external_transactions_customer", "customer_id", "occurred_at"),
        Index("ix_external_transactions_time", "occurred_at"),
    )


class CustomerProfile(Base):
    """Customer 360: the derived profile, one row per customer. ``features`` holds every computed
    feature by name; the columns beside it are the ones other modules filter and sort by."""

    __tablename__ = "customer_profiles"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    segment: Mapped[str | None] = mapped_column(String(32), index=True)
    rfm: Mapped[str | None] = mapped_column(String(3))  # e.g. "545"
    lifecycle: Mapped[str | None] = mapped_column(String(16), index=True)
    value_minor: Mapped[int | None] = mapped_column(BigInteger)  # estimated yearly contribution
    clv_minor: Mapped[int | None] = mapped_column(BigInteger)  # lifetime value over the model horizon
    churn_score: Mapped[float | None] = mapped_column(Float)
    churn_reasons: Mapped[list[Any] | None] = mapped_column(JSON)
    propensity: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # product -> score
    model_versions: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # model name -> version


class TagDefinition(Base):
    """A tag as data: a rule expression over profile features. Editing makes a new version; the
    newest active version of a code is the one in force."""

    __tablename__ = "tag_definitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    name_en: Mapped[str] = mapped_column(String(100))
    name_zh: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    expression: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(16), default="staff")  # staff | customer
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())

    __table_args__ = (UniqueConstraint("code", "version", name="uq_tag_definitions_code_version"),)


class CustomerTag(Base):
    """A tag a customer carries now, with the definition version that gave it."""

    __tablename__ = "customer_tags"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    version: Mapped[int] = mapped_column(Integer)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Segment(Base):
    """A behavioural segment of one segmentation run, with its stable label and its description."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), index=True)
    label: Mapped[str] = mapped_column(String(32))  # stable across reruns
    name_en: Mapped[str] = mapped_column(String(100))
    name_zh: Mapped[str] = mapped_column(String(100))
    description: Mapped[dict[str, Any]] = mapped_column(JSON)  # words and the figures behind them
    centroid: Mapped[dict[str, Any]] = mapped_column(JSON)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class InsightState(Base):
    """Watermarks of the incremental refresh (e.g. the last ledger entry and imported transaction
    already folded into profiles)."""

    __tablename__ = "insight_state"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "customer_profiles": {"*": "C2"},
    "customer_source_ids": {"*": "C2"},
    "customer_tags": {"*": "C2"},
    "external_transactions": {"*": "C2", "id": "C1"},
    "import_batches": {"*": "C1"},
    "segments": {"*": "none"},
    "tag_definitions": {"*": "none"},
    "insight_state": {"*": "none"},
}

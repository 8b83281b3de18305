"""Tables of the opinion domain.

- ``opinion_watch_terms``: the watch list - the bank's names and aliases (``kind`` ``bank``) and product names
  (``product``, synchronised from the wealth and lending catalogues, ``ref`` = the product code).
- ``opinion_topics``: topics by keyword rules (zh and en keywords; editable).
- ``opinion_mentions``: one text from a feed, unique by ``source`` + ``external_id``, with what was understood
  of it: the watch-list terms found (``relevant`` when at least one), sentiment (score, label, model version),
  topics and language.
- ``opinion_alerts``: a spike of mentions (``kind`` ``volume``) or of negative mentions (``negative``) in one
  hour, with its statistic and evidence, and the response workflow's state and SLA due times.
- ``opinion_alert_events``: every step of an alert's workflow (who, when, a note).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

WATCH_KINDS = ("bank", "product")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
ALERT_KINDS = ("volume", "negative")
SEVERITIES = ("low", "medium", "high")
ALERT_STATUSES = ("new", "acknowledged", "assigned", "responded", "closed")


class WatchTerm(Base):
    __tablename__ = "opinion_watch_terms"
    __table_args__ = (UniqueConstraint("kind", "term", name="uq_opinion_watch_terms"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # bank | product
    term: Mapped[str] = mapped_column(String(160))
    ref: Mapped[str | None] = mapped_column(String(60))  # product: "wealth:CODE" | "lending:CODE"
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Topic(Base):
    __tablename__ = "opinion_topics"
    __table_args__ = (UniqueConstraint("code", name="uq_opinion_topics_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    keywords_zh: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords_en: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Mention(Base):
    __tablename__ = "opinion_mentions"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_opinion_mentions_source_ext"),
                      Index("ix_opinion_mentions_posted", "posted_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(120))
    url: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(8))
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)  # watch-list terms found
    products: Mapped[list[str]] = mapped_column(JSON, default=list)  # refs of the products named
    relevant: Mapped[bool] = mapped_column(Boolean, default=False)  # names the bank or one of its products
    sentiment: Mapped[float] = mapped_column(Float)  # -1 .. 1
    sentiment_label: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[str] = mapped_column(String(60))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now,
                                                  server_default=func.now())


class OpinionAlert(Base):
    __tablename__ = "opinion_alerts"
    __table_args__ = (UniqueConstraint("kind", "bucket_start", name="uq_opinion_alerts_bucket"),
                      Index("ix_opinion_alerts_status", "status"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # volume | negative
    bucket_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    bucket_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    severity: Mapped[str] = mapped_column(String(8))
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    threshold: Mapped[int] = mapped_column(Integer)
    p_value: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(60))
    # {"history": [...], "weeks": N, "top_topics": [[code, n], ...], "examples": [{"id", "text", ...}], ...}
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="new")
    escalated: Mapped[int] = mapped_column(Integer, default=0)  # times escalated
    assignee: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now,
                                                 server_default=func.now())
    ack_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    respond_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ack_breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    respond_breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response: Mapped[str | None] = mapped_column(Text)


class OpinionAlertEvent(Base):
    __tablename__ = "opinion_alert_events"
    __table_args__ = (Index("ix_opinion_alert_events_alert", "alert_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigInteger)
    # raised | acknowledge | assign | respond | close | escalate | sla_breach
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


# public posts can name people: the text, author and url are personal data of whoever wrote them
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "opinion_watch_terms": {"*": "none"},
    "opinion_topics": {"*": "none", "updated_by": "C1"},
    "opinion_mentions": {"*": "C1", "text": "C2", "author": "C2", "url": "C2"},
    "opinion_alerts": {"*": "C1", "evidence": "C2", "response": "C2"},
    "opinion_alert_events": {"*": "C1", "note": "C2"},
}

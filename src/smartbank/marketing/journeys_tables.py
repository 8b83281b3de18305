"""Tables of the marketing domain's journeys part (see :mod:`smartbank.marketing.models`).

- ``mkt_journeys``: a journey's definition as data, one row per version (code, names, the trigger event kind,
  the steps of its small state machine, the re-entry rule) and its approval state: a version is enabled only
  after a second person approved it (``requested_by`` != ``approved_by``).
- ``mkt_journey_events``: the events that start runs, unique on (kind, ref): emitting one twice is a no-op.
- ``mkt_journey_runs``: one customer's way through one journey; at most one *active* run per journey and
  customer (a partial unique index); ``step`` is the step to execute at ``wake_at``.
- ``mkt_journey_steps``: every executed step of every run with its outcome and why (which branch and the
  figures it looked at): a run is explained by its rows here, and the per-step funnel counts them.
- ``mkt_journey_quiet``: quiet periods (no marketing until ``until``) written by a ``suppress`` step.
- ``mkt_journey_watermarks``: how far each detector has read the bank's records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

JOURNEY_STATUSES = ("draft", "enabled", "disabled", "superseded")
RUN_STATUSES = ("active", "completed", "exited")


class Journey(Base):
    __tablename__ = "mkt_journeys"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_mkt_journeys_code_version"),
                      Index("ix_mkt_journeys_trigger_status", "trigger", "status"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[str] = mapped_column(String(32))  # an event kind (EVENT_KINDS)
    # [{"id": "s1", "type": "send" | "wait" | "branch" | "suppress" | "exit", ...}], the first is the entry
    steps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # None: a customer enters once only; N >= 0: again N days after their previous run ended
    reentry_days: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # JOURNEY_STATUSES
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    requested_by: Mapped[str] = mapped_column(String(64))  # the maker of the pending enablement
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class JourneyEvent(Base):
    __tablename__ = "mkt_journey_events"
    __table_args__ = (UniqueConstraint("kind", "ref", name="uq_mkt_journey_events_kind_ref"),
                      Index("ix_mkt_journey_events_customer", "customer_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    ref: Mapped[str] = mapped_column(String(80))  # e.g. "account:12", "transfer:345", "loan:6"
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    runs_started: Mapped[int] = mapped_column(Integer, default=0)


class JourneyRun(Base):
    __tablename__ = "mkt_journey_runs"
    __table_args__ = (Index("ix_mkt_journey_runs_due", "status", "wake_at"),
                      Index("ix_mkt_journey_runs_customer", "customer_id"),
                      Index("ix_mkt_journey_runs_journey", "journey_code", "status"),
                      Index("uq_mkt_journey_runs_active", "journey_code", "customer_id", unique=True,
                            postgresql_where=text("status = 'active'"), sqlite_where=text("status = 'active'")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(BigInteger)  # the version it runs
    journey_code: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default="active")  # RUN_STATUSES
    step: Mapped[str | None] = mapped_column(String(40))  # the next step to execute
    wake_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_message_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JourneyStep(Base):
    __tablename__ = "mkt_journey_steps"
    __table_args__ = (Index("ix_mkt_journey_steps_run", "run_id"),
                      Index("ix_mkt_journey_steps_journey_step", "journey_code", "step_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger)
    journey_code: Mapped[str] = mapped_column(String(40))
    step_id: Mapped[str] = mapped_column(String(40))
    step_type: Mapped[str] = mapped_column(String(12))
    outcome: Mapped[str] = mapped_column(String(24))  # sent | suppressed | waiting | yes | no | quiet | exit
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # why: the figures a branch looked at...
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class JourneyQuiet(Base):
    __tablename__ = "mkt_journey_quiet"
    __table_args__ = (Index("ix_mkt_journey_quiet_customer_until", "customer_id", "until"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    journey_code: Mapped[str] = mapped_column(String(40))
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class JourneyWatermark(Base):
    __tablename__ = "mkt_journey_watermarks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


PERSONAL_DATA: dict[str, dict[str, str]] = {
    "mkt_journeys": {"*": "C1"},
    "mkt_journey_events": {"*": "C2", "id": "C1", "kind": "C1"},
    "mkt_journey_runs": {"*": "C2", "id": "C1"},
    "mkt_journey_steps": {"*": "C2", "id": "C1"},
    "mkt_journey_quiet": {"*": "C2", "id": "C1"},
    "mkt_journey_watermarks": {"*": "C1"},
}

"""Tables of the marketing domain's experiments part (see :mod:`smartbank.marketing.models`).

- ``mkt_experiment_reads``: every evaluation of a campaign as an experiment - when, the counts per arm, each
  arm's always-valid comparison with the control, the guardrails, alpha, the method and its version, the
  decision and its reasons. Append-only: the page's chart over time is drawn from these rows, and the next read
  continues the running p-value and interval from the last one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

EXPERIMENT_DECISIONS = ("winner", "no_difference_yet", "stopped_guardrail")


class ExperimentRead(Base):
    __tablename__ = "mkt_experiment_reads"
    __table_args__ = (Index("ix_mkt_experiment_reads_campaign", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    control: Mapped[str] = mapped_column(String(16))  # the arm every other arm is compared with
    arms: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{arm, n, conversions, rate, ...}]
    comparisons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # sequential.Comparison dicts
    guardrails: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{name, arm, counts, p, ...}]
    alpha: Mapped[float] = mapped_column(Float)  # the family's alpha (each comparison: alpha / comparisons)
    method: Mapped[str] = mapped_column(String(60))  # sequential.METHOD, with its mixing parameter
    decision: Mapped[str] = mapped_column(String(24))  # EXPERIMENT_DECISIONS
    winner: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)  # 1 - the winner's always-valid p-value
    effect: Mapped[float | None] = mapped_column(Float)  # the winner's absolute lift
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{code, ...params}]
    evaluated_by: Mapped[str] = mapped_column(String(64))


PERSONAL_DATA: dict[str, dict[str, str]] = {
    "mkt_experiment_reads": {"*": "C1"},  # counts and statistics per arm; no customer in it
}

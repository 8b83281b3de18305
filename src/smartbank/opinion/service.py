"""The front door of the opinion domain (public-opinion monitoring, 舆情).

Ingest (:mod:`.ingest`), understanding (:mod:`.understand`), spikes against a seasonal baseline
(:mod:`.spikes`), the alert queue with its workflow and SLA, and the reputational-risk KRI (:mod:`.alerts`).
:func:`run_due` is the worker's task: detect spikes in the hours completed since the last run and stamp SLA
breaches. Importing this module registers the ``reputational_risk`` metric with risk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.opinion.alerts import (
    OPEN_STATUSES,
    acknowledge,
    alert_view,
    assign,
    close,
    escalate,
    get_alert,
    list_alerts,
    list_mentions,
    reputational_risk,
    respond,
    sla_breaches,
    volume_series,
)
from smartbank.opinion.evaluate import choose_dataset
from smartbank.opinion.evaluate import evaluate as evaluate_sentiment
from smartbank.opinion.ingest import (
    SIGNATURE_HEADER,
    ingest_file,
    ingest_rows,
    ingest_webhook,
    parse_text,
    sign,
    verify_signature,
)
from smartbank.opinion.models import ALERT_STATUSES, SEVERITIES, OpinionAlert
from smartbank.opinion.spikes import (
    ALPHA,
    HOUR,
    METHOD,
    SLA,
    WEEKS,
    detect,
    hour_floor,
    hourly_counts,
    sla_due,
    test_count,
)
from smartbank.opinion.understand import (
    BANK_NAMES,
    add_watch_term,
    analyse,
    list_topics,
    list_watch_terms,
    save_topic,
    seed_understanding,
    sentiment_label,
    sync_products,
)
from smartbank.risk import service as risk
from smartbank.security.service import Principal

__all__ = ["ALERT_STATUSES", "ALPHA", "BANK_NAMES", "HOUR", "LOOKBACK_HOURS", "METHOD", "OPEN_STATUSES", "SEVERITIES",
           "SIGNATURE_HEADER", "SLA", "WEEKS", "acknowledge", "add_watch_term", "alert_view", "analyse", "assign",
           "choose_dataset", "close", "detect", "detect_range", "escalate", "evaluate_sentiment", "get_alert",
           "hour_floor", "hourly_counts", "ingest_file", "ingest_rows", "ingest_webhook", "list_alerts",
           "list_mentions", "list_topics", "list_watch_terms", "parse_text", "reputational_risk", "respond", "run_due",
           "save_topic", "seed_understanding", "sentiment_label", "sign", "sla_breaches", "sla_due", "summary",
           "sync_products", "test_count", "verify_signature", "volume_series"]

LOOKBACK_HOURS = 6  # run_due re-tests the last complete hours (mentions arrive late; an hour alerts once)

risk.provide_metric("reputational_risk", reputational_risk)


def run_due(session: Session) -> dict[str, Any]:
    """The worker's task: spikes in the last complete hours, then SLA breaches."""
    end = hour_floor(clock.now())
    raised = detect(session, end - LOOKBACK_HOURS * HOUR, end)
    return {"alerts_raised": len(raised), "sla_breaches": sla_breaches(session)}


def detect_range(session: Session, actor: Principal, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Test every complete hour of ``[start, end)`` (e.g. after a back-fill); returns the alerts raised."""
    actor.require("opinion.respond")
    return [alert_view(a) for a in detect(session, start, end)]


def summary(session: Session, actor: Principal) -> dict[str, Any]:
    """Open alerts per severity and status, and the KRI's value now."""
    actor.require("opinion.read")
    rows = session.execute(select(OpinionAlert.severity, OpinionAlert.status, func.count()).where(
        OpinionAlert.status.in_(OPEN_STATUSES)).group_by(OpinionAlert.severity, OpinionAlert.status)).all()
    now = clock.now()
    return {"open": [{"severity": s, "status": st, "n": n} for s, st, n in rows],
            "reputational_risk": reputational_risk(session, now, now)}

"""Volume spikes against a seasonal baseline, raised as alerts with their evidence.

Counts are per hour (UTC hours, which are also the bank's hours: Asia/Shanghai is UTC+8 all year) of the
*relevant* mentions (naming the bank or a product) and of the negative ones among them.

**Baseline** (method ``poisson-median-how``): for an hour ``t``, the counts of the same hour-of-week in the
previous ``weeks`` weeks and of the hours either side of it (``t - 7k days + {-1, 0, +1} h``, ``k = 1..weeks``:
``3 * weeks`` values). The baseline rate ``lambda`` is their **median** (floored at :data:`MIN_RATE`): the median
ignores a past spike (up to almost half the values), where a mean would learn it. The **threshold** is the
Poisson upper quantile: the smallest count ``c`` with ``P(X >= c | lambda) < alpha``. Why Poisson rather than
median +/- k*MAD: hourly mention counts are small integers, and the MAD of a handful of small counts is often 0,
which would call any extra mention a spike; the Poisson quantile carries the counting noise of a low rate (and
the neighbouring hours steady the median). A spike also needs at least :data:`MIN_COUNT` mentions.

**Severity** from the tail probability ``p = P(X >= count | lambda)``: low below ``alpha`` (1e-4), medium below
1e-7, high below 1e-10. Each alert stores the count, baseline, threshold, p, the history values, the negative
share, the top topics and example mentions (the most negative first) - enough to explain it.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.db import aware
from smartbank.opinion.models import Mention, OpinionAlert, OpinionAlertEvent

__all__ = ["ALPHA", "HOUR", "METHOD", "MIN_COUNT", "SLA", "WEEK", "WEEKS", "baseline", "detect", "history_of",
           "hour_floor", "hourly_counts", "severity_of", "sla_due", "test_count"]

HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)
WEEKS = 4
ALPHA = 1e-4
MIN_COUNT = 5
MIN_RATE = 0.5
METHOD = "poisson-median-how"
SEVERITY_P = (("high", 1e-10), ("medium", 1e-7), ("low", ALPHA))
# SLA per severity: (acknowledge within, respond within)
SLA: dict[str, tuple[timedelta, timedelta]] = {
    "high": (timedelta(hours=1), timedelta(hours=4)),
    "medium": (timedelta(hours=4), timedelta(hours=24)),
    "low": (timedelta(hours=24), timedelta(hours=72)),
}


def hour_floor(at: datetime) -> datetime:
    at = aware(at)
    return at.replace(minute=0, second=0, microsecond=0)


def sla_due(severity: str, created: datetime) -> tuple[datetime, datetime]:
    ack, respond = SLA[severity]
    return created + ack, created + respond


def baseline(history: list[int]) -> float:
    return max(MIN_RATE, float(median(history))) if history else MIN_RATE


def test_count(count: int, history: list[int], *, alpha: float = ALPHA) -> dict[str, Any]:
    """The statistic of one hour: baseline, threshold, p and whether it is a spike (see the module docstring)."""
    lam = baseline(history)
    threshold = int(stats.poisson.isf(alpha, lam)) + 1  # smallest c with P(X >= c) < alpha
    while stats.poisson.sf(threshold - 2, lam) < alpha and threshold > 1:  # P(X >= threshold-1) < alpha too
        threshold -= 1
    threshold = max(threshold, MIN_COUNT)
    p = float(stats.poisson.sf(count - 1, lam)) if count > 0 else 1.0
    return {"count": count, "baseline": round(lam, 3), "threshold": threshold, "p_value": p,
            "spike": count >= threshold and p < alpha}


def severity_of(p: float) -> str:
    for sev, cut in SEVERITY_P:
        if p < cut:
            return sev
    return "low"


def hourly_counts(session: Session, start: datetime, end: datetime) -> dict[datetime, list[int]]:
    """hour -> [relevant mentions, negative ones] over ``[start, end)`` (hours with none are absent)."""
    out: dict[datetime, list[int]] = {}
    for at, label in session.execute(select(Mention.posted_at, Mention.sentiment_label).where(
            Mention.relevant.is_(True), Mention.posted_at >= start, Mention.posted_at < end)):
        c = out.setdefault(hour_floor(at), [0, 0])
        c[0] += 1
        c[1] += label == "negative"
    return out


def history_of(counts: dict[datetime, list[int]], hour: datetime, idx: int, weeks: int) -> list[int]:
    return [counts.get(hour - k * WEEK + d * HOUR, [0, 0])[idx] for k in range(1, weeks + 1) for d in (-1, 0, 1)]


def _evidence(session: Session, kind: str, hour: datetime) -> dict[str, Any]:
    rows = list(session.scalars(select(Mention).where(
        Mention.relevant.is_(True), Mention.posted_at >= hour, Mention.posted_at < hour + HOUR)))
    if kind == "negative":
        rows = [m for m in rows if m.sentiment_label == "negative"]
    topics = Counter(t for m in rows for t in m.topics)
    examples = sorted(rows, key=lambda m: (m.sentiment, m.id))[:5]
    neg = sum(m.sentiment_label == "negative" for m in rows)
    return {"top_topics": topics.most_common(5),
            "negative_share": round(neg / len(rows), 4) if rows else None,
            "examples": [{"id": m.id, "source": m.source, "text": m.text[:200], "sentiment": m.sentiment,
                          "topics": list(m.topics)} for m in examples]}


def detect(session: Session, start: datetime, end: datetime, *, weeks: int = WEEKS,
           alpha: float = ALPHA) -> list[OpinionAlert]:
    """Test every complete hour in ``[start, end)`` (both kinds) and raise an alert for each new spike (an hour
    already alerted for that kind is skipped). Returns the alerts raised."""
    first, last = hour_floor(start), hour_floor(end)
    counts = hourly_counts(session, first - weeks * WEEK - HOUR, last + HOUR)
    have = {(k, aware(b)) for k, b in session.execute(select(OpinionAlert.kind, OpinionAlert.bucket_start).where(
        OpinionAlert.bucket_start >= first, OpinionAlert.bucket_start < last))}
    raised: list[OpinionAlert] = []
    hour = first
    now = clock.now()
    while hour < last:
        for idx, kind in enumerate(("volume", "negative")):
            count = counts.get(hour, [0, 0])[idx]
            if count < MIN_COUNT or (kind, hour) in have:
                continue
            history = history_of(counts, hour, idx, weeks)
            t = test_count(count, history, alpha=alpha)
            if not t["spike"]:
                continue
            sev = severity_of(t["p_value"])
            ack_due, respond_due = sla_due(sev, now)
            ev = _evidence(session, kind, hour) | {"history": history, "weeks": weeks, "alpha": alpha,
                                                   "ratio": round(count / t["baseline"], 2)}
            a = OpinionAlert(kind=kind, bucket_start=hour, bucket_end=hour + HOUR, severity=sev, count=count,
                             baseline=t["baseline"], threshold=t["threshold"],
                             p_value=max(t["p_value"], 1e-300) if math.isfinite(t["p_value"]) else 0.0,
                             method=METHOD, evidence=ev, status="new", escalated=0, created_at=now,
                             ack_due_at=ack_due, respond_due_at=respond_due)
            session.add(a)
            session.flush()
            session.add(OpinionAlertEvent(alert_id=a.id, action="raised", from_status=None, to_status="new",
                                          actor="system", note=f"{kind} {count} vs baseline {t['baseline']}", at=now))
            raised.append(a)
        hour += HOUR
    session.flush()
    return raised

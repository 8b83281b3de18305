"""Assistant analytics for service agents, marketers and administrators, over a date range (UTC days,
both ends included; at most :data:`MAX_DAYS`):

* ``conversations``: conversations started in the range; ``handed_off``: those handed to an agent (a hand-off
  row or a hand-off reason); ``containment_rate`` = (conversations - handed off) / conversations.
* ``top_intents``: customer messages in the range by detected intent (no intent: not counted).
* ``handoff_reasons``: hand-offs created in the range by reason.
* ``sentiment_trend``: per day, the mean sentiment (-1 .. 1) of customer messages that carry one.
* ``satisfaction``: ratings 1-5 of conversations started in the range, count per rating and mean.
* ``sla``: hand-offs created in the range: ``met`` (claimed by the due time), ``breached`` (claimed later, or
  still waiting past it), ``pending`` (waiting, not yet due); ``compliance`` = met / (met + breached).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.assistant.models import AssistantConversation, AssistantHandoff, AssistantMessage
from smartbank.db import aware as _aware
from smartbank.errors import ValidationFailed
from smartbank.security import service as security
from smartbank.security.service import Principal

__all__ = ["MAX_DAYS", "VIEWER_ROLES", "default_range", "summary"]

VIEWER_ROLES = security.roles_for("assistant.analytics.read")
MAX_DAYS = 366
TOP = 10


def default_range(today: date | None = None) -> tuple[date, date]:
    """The last 30 days, today included."""
    end = today or clock.today()
    return end - timedelta(days=29), end


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    if start > end:
        raise ValidationFailed("the start date is after the end date", reason="assistant.range_reversed",
                               details={"start": start.isoformat(),
                                                                               "end": end.isoformat()})
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed(f"the range is longer than {MAX_DAYS} days", reason="assistant.range_too_long",
                               details={"max_days": MAX_DAYS})
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


def summary(session: Session, actor: Principal, *, start: date | None = None, end: date | None = None,
            now: datetime | None = None) -> dict[str, Any]:
    actor.require_role(*VIEWER_ROLES)
    d0, d1 = default_range()
    start, end = start or (end - timedelta(days=29) if end else d0), end or d1
    lo, hi = _bounds(start, end)
    now = now or clock.now()

    convs = list(session.execute(select(
        AssistantConversation.id, AssistantConversation.handoff_reason, AssistantConversation.satisfaction).where(
        AssistantConversation.started_at >= lo, AssistantConversation.started_at < hi)))
    conv_ids = [c.id for c in convs]
    handed_ids: set[int] = set()
    for i in range(0, len(conv_ids), 1000):
        handed_ids |= set(session.scalars(select(AssistantHandoff.conversation_id).where(
            AssistantHandoff.conversation_id.in_(conv_ids[i:i + 1000]))))
    handed = sum(1 for c in convs if c.id in handed_ids or c.handoff_reason)
    total = len(convs)

    intents: Counter[str] = Counter()
    per_day: dict[str, list[float]] = defaultdict(list)
    for intent, sentiment, created in session.execute(select(
            AssistantMessage.intent, AssistantMessage.sentiment, AssistantMessage.created_at).where(
            AssistantMessage.sender == "customer", AssistantMessage.created_at >= lo,
            AssistantMessage.created_at < hi)):
        if intent:
            intents[intent] += 1
        if sentiment is not None:
            at = _aware(created)
            if at is not None:
                per_day[at.date().isoformat()].append(float(sentiment))

    ratings = Counter(int(c.satisfaction) for c in convs if c.satisfaction is not None)
    n_rated = sum(ratings.values())

    reasons: Counter[str] = Counter()
    met = breached = pending = 0
    for h in session.scalars(select(AssistantHandoff).where(AssistantHandoff.created_at >= lo,
                                                            AssistantHandoff.created_at < hi)):
        reasons[h.reason] += 1
        due, taken = _aware(h.sla_due_at), _aware(h.assigned_at)
        if taken is not None:
            if due is None or taken <= due:
                met += 1
            else:
                breached += 1
        elif h.status == "closed" or (due is not None and due < now):
            breached += 1
        else:
            pending += 1

    return {
        "start": start.isoformat(), "end": end.isoformat(),
        "conversations": total, "handed_off": handed,
        "containment_rate": round((total - handed) / total, 4) if total else None,
        "top_intents": [{"intent": k, "count": v} for k, v in sorted(intents.items(), key=lambda kv: (-kv[1], kv[0]))
                        [:TOP]],
        "handoff_reasons": [{"reason": k, "count": v} for k, v in sorted(reasons.items(),
                                                                         key=lambda kv: (-kv[1], kv[0]))],
        "sentiment_trend": [{"day": d, "mean": round(sum(v) / len(v), 4), "messages": len(v)}
                            for d, v in sorted(per_day.items())],
        "satisfaction": {"counts": {str(r): ratings.get(r, 0) for r in range(1, 6)}, "rated": n_rated,
                         "mean": round(sum(r * n for r, n in ratings.items()) / n_rated, 3) if n_rated else None},
        "sla": {"met": met, "breached": breached, "pending": pending,
                "compliance": round(met / (met + breached), 4) if met + breached else None},
    }

"""The alert queue and its response workflow, SLA breaches, and the reputational-risk KRI.

Workflow: ``new -> acknowledged -> assigned -> responded -> closed`` (an assigned alert may be reassigned;
an alert not yet responded to may be closed with a note, e.g. a false alarm), and **escalate** at any open
step: the severity goes up one level (low -> medium -> high) and the SLA due times become the earlier of the
old ones and those of the new severity. Every step is audited (who, when, a note) and kept as an event.

**SLA** per severity (:data:`smartbank.opinion.spikes.SLA`; high: acknowledge within 1 h, respond within 4 h),
counted from the alert's creation on the bank's clock (``clock.now()``, around the clock: public opinion does
not wait for office hours). :func:`sla_breaches` stamps ``ack_breached_at`` / ``respond_breached_at`` once,
with an event, when a due time passes before the step is done.

**KRI** ``reputational_risk``: high-severity opinion alerts open at the end of the window (raised before it and
not closed by then): a point in time, like the fraud alert backlog; no data before any mention was ingested.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.db import aware
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.opinion.models import ALERT_STATUSES, SEVERITIES, Mention, OpinionAlert, OpinionAlertEvent
from smartbank.opinion.spikes import HOUR, SLA, WEEK, history_of, hour_floor, hourly_counts, test_count
from smartbank.security.service import Principal, audit

__all__ = ["OPEN_STATUSES", "acknowledge", "alert_view", "assign", "close", "escalate", "get_alert", "list_alerts",
           "list_mentions", "reputational_risk", "respond", "sla_breaches", "volume_series"]

OPEN_STATUSES = ("new", "acknowledged", "assigned", "responded")
_NEXT = {"acknowledge": (("new",), "acknowledged"), "assign": (("acknowledged", "assigned"), "assigned"),
         "respond": (("assigned",), "responded"),
         "close": (("new", "acknowledged", "assigned", "responded"), "closed")}


def _iso(d: datetime | None) -> str | None:
    return None if d is None else aware(d).isoformat()


def _sla_state(a: OpinionAlert, now: datetime) -> dict[str, Any]:
    ack_late = a.ack_breached_at is not None or (a.acknowledged_at is None and a.status != "closed"
                                                 and now > aware(a.ack_due_at))
    resp_late = a.respond_breached_at is not None or (a.responded_at is None and a.status != "closed"
                                                      and now > aware(a.respond_due_at))
    return {"ack_due_at": _iso(a.ack_due_at), "respond_due_at": _iso(a.respond_due_at), "ack_breached": ack_late,
            "respond_breached": resp_late}


def alert_view(a: OpinionAlert, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.now()
    return {"id": a.id, "kind": a.kind, "bucket_start": _iso(a.bucket_start), "bucket_end": _iso(a.bucket_end),
            "severity": a.severity, "status": a.status, "escalated": a.escalated, "assignee": a.assignee,
            "count": a.count, "baseline": a.baseline, "threshold": a.threshold, "p_value": a.p_value,
            "method": a.method, "evidence": a.evidence, "response": a.response, "created_at": _iso(a.created_at),
            "acknowledged_at": _iso(a.acknowledged_at), "assigned_at": _iso(a.assigned_at),
            "responded_at": _iso(a.responded_at), "closed_at": _iso(a.closed_at), "sla": _sla_state(a, now)}


def _get(session: Session, alert_id: int, *, lock: bool = False) -> OpinionAlert:
    stmt = select(OpinionAlert).where(OpinionAlert.id == alert_id)
    a = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if a is None:
        raise NotFound("no such opinion alert", reason="opinion.alert_not_found", details={"alert_id": alert_id})
    return a


def get_alert(session: Session, actor: Principal, alert_id: int) -> dict[str, Any]:
    actor.require("opinion.read")
    a = _get(session, alert_id)
    events = session.scalars(select(OpinionAlertEvent).where(OpinionAlertEvent.alert_id == a.id)
                             .order_by(OpinionAlertEvent.id))
    return alert_view(a) | {"events": [{"action": e.action, "from_status": e.from_status, "to_status": e.to_status,
                                        "actor": e.actor, "note": e.note, "at": _iso(e.at)} for e in events]}


def list_alerts(session: Session, actor: Principal, *, status: str | None = None, severity: str | None = None,
                open_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    actor.require("opinion.read")
    if status is not None and status not in ALERT_STATUSES:
        raise ValidationFailed("unknown alert status", reason="opinion.bad_status", details={"status": status})
    if severity is not None and severity not in SEVERITIES:
        raise ValidationFailed("unknown severity", reason="opinion.bad_severity", details={"severity": severity})
    stmt = select(OpinionAlert).order_by(OpinionAlert.bucket_start.desc(), OpinionAlert.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(OpinionAlert.status == status)
    if severity:
        stmt = stmt.where(OpinionAlert.severity == severity)
    if open_only:
        stmt = stmt.where(OpinionAlert.status.in_(OPEN_STATUSES))
    now = clock.now()
    return [alert_view(a, now=now) for a in session.scalars(stmt)]


def _step(session: Session, actor: Principal, alert_id: int, action: str, note: str | None,
          **changes: Any) -> dict[str, Any]:
    actor.require("opinion.respond")
    note = (note or "").strip() or None
    if note is not None and len(note) > 2000:
        raise ValidationFailed("a note has at most 2000 characters", reason="opinion.note_too_long",
                               details={"max_length": 2000})
    a = _get(session, alert_id, lock=True)
    before = {"status": a.status, "severity": a.severity, "assignee": a.assignee}
    now = clock.now()
    if action == "escalate":
        if a.status == "closed":
            raise Conflict("a closed alert cannot be escalated", reason="opinion.alert_closed",
                           details={"alert_id": a.id})
        to = a.status
        if a.severity != "high":
            a.severity = SEVERITIES[SEVERITIES.index(a.severity) + 1]
            ack, resp = SLA[a.severity]
            created = aware(a.created_at)
            a.ack_due_at = min(aware(a.ack_due_at), created + ack)
            a.respond_due_at = min(aware(a.respond_due_at), created + resp)
        a.escalated += 1
    else:
        allowed, to = _NEXT[action]
        if a.status not in allowed:
            raise Conflict("this step does not follow the alert's state", reason="opinion.bad_transition",
                           details={"status": a.status, "step": action})
        if action == "close" and a.status != "responded" and note is None:
            raise ValidationFailed("closing without a response needs a note", reason="opinion.note_required")
        if action == "respond" and note is None:
            raise ValidationFailed("a response needs a note of what was done", reason="opinion.note_required")
        stamp = {"acknowledge": "acknowledged_at", "assign": "assigned_at", "respond": "responded_at",
                 "close": "closed_at"}[action]
        setattr(a, stamp, now)
        if action in ("assign", "respond", "close") and a.acknowledged_at is None:
            a.acknowledged_at = now
        if action == "respond":
            a.response = note
        for k, v in changes.items():
            setattr(a, k, v)
        a.status = to
    session.add(OpinionAlertEvent(alert_id=a.id, action=action, from_status=before["status"], to_status=to,
                                  actor=actor.username, note=note, at=now))
    session.flush()
    audit(session, actor, action=f"opinion.alert.{action}", object_type="opinion_alert", object_id=a.id,
          before=before, after={"status": a.status, "severity": a.severity, "assignee": a.assignee}, note=note)
    return alert_view(a, now=now)


def acknowledge(session: Session, actor: Principal, alert_id: int, *, note: str | None = None) -> dict[str, Any]:
    return _step(session, actor, alert_id, "acknowledge", note)


def assign(session: Session, actor: Principal, alert_id: int, assignee: str, *,
           note: str | None = None) -> dict[str, Any]:
    assignee = (assignee or "").strip()
    if not 1 <= len(assignee) <= 64:
        raise ValidationFailed("name who handles the alert (1-64 characters)", reason="opinion.bad_assignee",
                               details={"max_length": 64})
    return _step(session, actor, alert_id, "assign", note, assignee=assignee)


def respond(session: Session, actor: Principal, alert_id: int, *, note: str | None = None) -> dict[str, Any]:
    return _step(session, actor, alert_id, "respond", note)


def close(session: Session, actor: Principal, alert_id: int, *, note: str | None = None) -> dict[str, Any]:
    return _step(session, actor, alert_id, "close", note)


def escalate(session: Session, actor: Principal, alert_id: int, *, note: str | None = None) -> dict[str, Any]:
    return _step(session, actor, alert_id, "escalate", note)


def sla_breaches(session: Session, *, now: datetime | None = None) -> int:
    """Stamp the alerts whose acknowledge or respond due time passed before the step (once each)."""
    now = now or clock.now()
    n = 0
    for a in session.scalars(select(OpinionAlert).where(
            OpinionAlert.status.in_(OPEN_STATUSES),
            or_(OpinionAlert.ack_breached_at.is_(None), OpinionAlert.respond_breached_at.is_(None)))):
        for due, done, field, what in ((a.ack_due_at, a.acknowledged_at, "ack_breached_at", "acknowledge"),
                                       (a.respond_due_at, a.responded_at, "respond_breached_at", "respond")):
            if getattr(a, field) is None and done is None and now > aware(due):
                setattr(a, field, now)
                session.add(OpinionAlertEvent(alert_id=a.id, action="sla_breach", from_status=a.status,
                                              to_status=a.status, actor="system",
                                              note=f"{what} due {aware(due).isoformat()}", at=now))
                n += 1
    session.flush()
    return n


def reputational_risk(session: Session, start: datetime, end: datetime) -> float | None:
    """High-severity opinion alerts open at ``end`` (raised before it, not closed by then); None (no data)
    while no mention was ever ingested (monitoring not running)."""
    if session.scalars(select(Mention.id).where(Mention.ingested_at < end).limit(1)).first() is None:
        return None
    n = session.execute(select(func.count(OpinionAlert.id)).where(
        OpinionAlert.severity == "high", OpinionAlert.created_at < end,
        or_(OpinionAlert.closed_at.is_(None), OpinionAlert.closed_at >= end))).scalar()
    return float(n or 0)


def list_mentions(session: Session, actor: Principal, *, source: str | None = None, label: str | None = None,
                  topic: str | None = None, relevant: bool | None = None, since: datetime | None = None,
                  until: datetime | None = None, q: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    actor.require("opinion.read")
    stmt = select(Mention).order_by(Mention.posted_at.desc(), Mention.id.desc())
    if source:
        stmt = stmt.where(Mention.source == source)
    if label:
        if label not in ("negative", "neutral", "positive"):
            raise ValidationFailed("unknown sentiment label", reason="opinion.bad_label", details={"label": label})
        stmt = stmt.where(Mention.sentiment_label == label)
    if relevant is not None:
        stmt = stmt.where(Mention.relevant.is_(relevant))
    if since:
        stmt = stmt.where(Mention.posted_at >= since)
    if until:
        stmt = stmt.where(Mention.posted_at < until)
    if q:
        stmt = stmt.where(Mention.text.contains(q[:100], autoescape=True))
    out: list[dict[str, Any]] = []
    for m in session.scalars(stmt.limit(limit * 5 if topic else limit)):
        if topic and topic not in m.topics:
            continue
        out.append({"id": m.id, "source": m.source, "external_id": m.external_id, "posted_at": _iso(m.posted_at),
                    "text": m.text, "author": m.author, "url": m.url, "language": m.language, "terms": m.terms,
                    "products": m.products, "relevant": m.relevant, "sentiment": m.sentiment,
                    "sentiment_label": m.sentiment_label, "model_version": m.model_version, "topics": m.topics})
        if len(out) >= limit:
            break
    return out


def volume_series(session: Session, actor: Principal, *, end: datetime | None = None, hours: int = 168,
                  weeks: int = 4) -> dict[str, Any]:
    """Hourly counts of the last ``hours`` hours with each hour's baseline and threshold, and the alerts."""
    actor.require("opinion.read")
    if not 1 <= hours <= 24 * 31:
        raise ValidationFailed("hours is 1-744", reason="opinion.bad_hours", details={"max_hours": 744})
    last = hour_floor(end or clock.now())
    first = last - hours * HOUR
    counts = hourly_counts(session, first - weeks * WEEK - HOUR, last + HOUR)
    points = []
    h = first
    while h < last:
        c = counts.get(h, [0, 0])
        t = test_count(c[0], history_of(counts, h, 0, weeks))
        tn = test_count(c[1], history_of(counts, h, 1, weeks))
        points.append({"hour": h.isoformat(), "count": c[0], "negative": c[1], "baseline": t["baseline"],
                       "threshold": t["threshold"], "negative_baseline": tn["baseline"],
                       "negative_threshold": tn["threshold"]})
        h += HOUR
    alerts = [{"id": a.id, "kind": a.kind, "hour": _iso(a.bucket_start), "severity": a.severity}
              for a in session.scalars(select(OpinionAlert).where(OpinionAlert.bucket_start >= first,
                                                                  OpinionAlert.bucket_start < last))]
    return {"start": first.isoformat(), "end": last.isoformat(), "points": points, "alerts": alerts}




"""Hand-off from the assistant to a human: the service agents' queue.

* :func:`hand_off` (called by the dialogue, no actor: the system hands over) puts a conversation in the queue
  once: a second call for the same conversation returns the same row (a closed hand-off is reopened). The
  conversation's status becomes ``waiting`` and its ``handoff_reason`` is set.
* Priority: 1 (high) for a complaint, a hand-off for negative sentiment or any summary sentiment at or below
  :data:`NEGATIVE`; 2 for an explicit request or a failed action; 3 when the assistant did not understand.
* SLA: due ``created + SMARTBANK_ASSISTANT_SLA_HIGH_MINUTES`` (default 5) for priority 1, otherwise
  ``created + SMARTBANK_ASSISTANT_SLA_MINUTES`` (default 15). It is met when an agent claims the
  conversation by then.
* Agents (role ``service_agent``, and administrators) read the queue with the customer's context, claim a
  conversation (the hand-off row is locked FOR UPDATE: of two agents claiming at once one wins, the other
  gets a 409 ``already_claimed``), reply (an ``assistant_messages`` row with sender ``agent``; the
  conversation's status becomes ``agent``) and close it. Every agent action is audited.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartbank import clock, pii
from smartbank.assistant.models import HANDOFF_REASONS, AssistantConversation, AssistantHandoff, AssistantMessage
from smartbank.customers import service as customers
from smartbank.db import aware as _aware
from smartbank.errors import Conflict, NotFound, ValidationFailed
from smartbank.insight import service as insight
from smartbank.ledger import service as ledger
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.text import clean_text

__all__ = [
    "AGENT_ROLES", "NEGATIVE", "AlreadyClaimed", "agent_reply", "claim", "close", "counts", "get_conversation",
    "hand_off", "priority_for", "queue", "sla_minutes",
]

AGENT_ROLES = security.roles_for("assistant.handoff")
NEGATIVE = -0.5
MAX_REPLY = 2000
TABS = ("waiting", "assigned", "closed")


class AlreadyClaimed(Conflict):
    code = "already_claimed"


def _now() -> datetime:
    return clock.now()


def _iso(dt: datetime | None) -> str | None:
    a = _aware(dt)
    return a.isoformat() if a else None


def sla_minutes(priority: int) -> int:
    """Minutes an agent has to take the conversation (environment, read each time)."""
    name, default = ("SMARTBANK_ASSISTANT_SLA_HIGH_MINUTES", 5) if priority <= 1 else (
        "SMARTBANK_ASSISTANT_SLA_MINUTES", 15)
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def priority_for(reason: str, summary: dict[str, Any] | None) -> int:
    sentiment = (summary or {}).get("sentiment")
    if reason in ("complaint", "sentiment"):
        return 1
    if isinstance(sentiment, int | float) and not isinstance(sentiment, bool) and sentiment <= NEGATIVE:
        return 1
    if reason == "misunderstood":
        return 3
    return 2


def hand_off(session: Session, conversation: AssistantConversation, *, reason: str,
             summary: dict[str, Any]) -> AssistantHandoff:
    """Put the conversation in the agents' queue (once per conversation) and mark it ``waiting``."""
    if reason not in HANDOFF_REASONS:
        raise ValidationFailed("unknown hand-off reason",
                               reason="assistant.unknown_handoff_reason", details={"reason": reason,
                                                                   "allowed": list(HANDOFF_REASONS)})
    if summary is not None and not isinstance(summary, dict):
        raise ValidationFailed("the hand-off summary must be an object", reason="assistant.bad_handoff_summary")
    if conversation.id is None:
        session.flush()
    existing = session.scalars(select(AssistantHandoff).where(
        AssistantHandoff.conversation_id == conversation.id).with_for_update()).first()
    now = _now()
    if existing is not None and existing.status != "closed":
        if conversation.status in ("bot", "closed"):
            conversation.status = "waiting" if existing.status == "waiting" else "agent"
        conversation.handoff_reason = conversation.handoff_reason or existing.reason
        session.flush()
        return existing
    priority = priority_for(reason, summary)
    due = now + timedelta(minutes=sla_minutes(priority))
    clean = dict(summary or {})
    if existing is None:
        h = AssistantHandoff(conversation_id=conversation.id, customer_id=conversation.customer_id, reason=reason,
                             priority=priority, status="waiting", summary=clean, created_at=now, sla_due_at=due)
        session.add(h)
    else:  # reopened after an agent closed it
        h = existing
        h.reason, h.priority, h.status, h.summary = reason, priority, "waiting", clean
        h.assigned_to = h.assigned_at = h.closed_at = None
        h.created_at, h.sla_due_at = now, due
    conversation.status = "waiting"
    conversation.handoff_reason = reason
    conversation.updated_at = now
    session.flush()
    return h


# ------------------------------------------------------------------------------------------------
# the agents' side


def _require_agent(actor: Principal) -> None:
    actor.require_role(*AGENT_ROLES)


def _customer_context(session: Session, customer_id: int) -> dict[str, Any]:
    """Name, segment and an accounts summary through the customers, ledger and insight services."""
    out: dict[str, Any] = {"id": customer_id, "name": None, "number": None, "segment": None, "accounts": [],
                           "accounts_count": 0, "balance_minor": {}}
    with contextlib.suppress(NotFound):
        c = customers.get_customer(session, customer_id)
        out.update(name=c.name, number=c.number, kind=c.kind, risk_level=c.risk_level, kyc_status=c.kyc_status)
    accounts: list[dict[str, Any]] = [
        {"id": a.id, "number": a.number, "kind": a.kind, "status": a.status, "currency": a.currency,
         "balance_minor": a.balance_minor} for a in ledger.customer_accounts(session, customer_id)]
    totals: dict[str, int] = {}
    for a in accounts:
        if a["status"] != "closed":
            totals[a["currency"]] = totals.get(a["currency"], 0) + int(a["balance_minor"] or 0)
    out["accounts"], out["accounts_count"], out["balance_minor"] = accounts, len(accounts), totals
    with contextlib.suppress(Exception):
        p = insight.stored_profile(session, customer_id)
        if p is not None:
            out["segment"] = p["segment"]
    return out


def _sla(h: AssistantHandoff, now: datetime) -> dict[str, Any]:
    due = _aware(h.sla_due_at) or now
    taken = _aware(h.assigned_at)
    left = int((due - now).total_seconds())
    return {"sla_due_at": due.isoformat(), "sla_seconds_left": left if taken is None else None,
            "overdue": taken is None and h.status == "waiting" and left < 0,
            "sla_met": None if taken is None else taken <= due}


def _row(session: Session, h: AssistantHandoff, conv: AssistantConversation | None, names: dict[int, str],
         now: datetime, *, context: bool = True) -> dict[str, Any]:
    summary = h.summary or {}
    out = {
        "id": h.id, "conversation_id": h.conversation_id, "customer_id": h.customer_id, "reason": h.reason,
        "priority": h.priority, "status": h.status, "assigned_to": h.assigned_to,
        "assigned_name": names.get(h.assigned_to) if h.assigned_to else None,
        "intent": summary.get("intent") or (conv.top_intent if conv else None),
        "sentiment": conv.last_sentiment if conv else summary.get("sentiment"),
        "language": conv.language if conv else None, "channel": conv.channel if conv else None,
        "conversation_status": conv.status if conv else None,
        "summary": pii.redact_value(summary),  # what the customer typed, without ID, card or phone numbers
        "created_at": _iso(h.created_at), "assigned_at": _iso(h.assigned_at), "closed_at": _iso(h.closed_at),
        **_sla(h, now),
    }
    if context:
        out["customer"] = _customer_context(session, h.customer_id)
    return out


def queue(session: Session, actor: Principal, *, status: str = "waiting", mine: bool = False,
          limit: int = 100) -> list[dict[str, Any]]:
    """Hand-offs in one tab: waiting (most urgent first: priority, then SLA due), assigned, closed (newest)."""
    _require_agent(actor)
    if status not in TABS:
        raise ValidationFailed("unknown queue tab",
                               reason="assistant.unknown_queue_tab", details={"status": status, "allowed": list(TABS)})
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", reason="assistant.bad_limit",
                               details={"min": 1, "max": 500})
    stmt = select(AssistantHandoff).where(AssistantHandoff.status == status)
    if mine:
        stmt = stmt.where(AssistantHandoff.assigned_to == actor.user_id)
    if status == "closed":
        stmt = stmt.order_by(AssistantHandoff.closed_at.desc(), AssistantHandoff.id.desc())
    else:
        stmt = stmt.order_by(AssistantHandoff.priority, AssistantHandoff.sla_due_at, AssistantHandoff.id)
    items = list(session.scalars(stmt.limit(limit)))
    convs = {c.id: c for c in session.scalars(select(AssistantConversation).where(
        AssistantConversation.id.in_([h.conversation_id for h in items])))} if items else {}
    names = security.display_names(session, {h.assigned_to for h in items if h.assigned_to})
    now = _now()
    security.audit_reads(session, actor, action="handoffs.list", customer_ids=[h.customer_id for h in items],
                         shown={"status": status})
    return [_row(session, h, convs.get(h.conversation_id), names, now) for h in items]


def counts(session: Session, actor: Principal) -> dict[str, int]:
    _require_agent(actor)
    out = {t: 0 for t in TABS}
    for st, n in session.execute(select(AssistantHandoff.status, func.count()).group_by(AssistantHandoff.status)):
        out[str(st)] = int(n)
    now = _now()
    out["overdue"] = int(session.scalar(select(func.count()).select_from(AssistantHandoff).where(
        AssistantHandoff.status == "waiting", AssistantHandoff.sla_due_at < now)) or 0)
    return out


def _conversation(session: Session, conversation_id: int, *, lock: bool = False) -> AssistantConversation:
    stmt = select(AssistantConversation).where(AssistantConversation.id == conversation_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    c = session.scalars(stmt).first()
    if c is None:
        raise NotFound("conversation not found", reason="assistant.conversation_not_found",
                       details={"conversation_id": conversation_id})
    return c


def _handoff(session: Session, conversation_id: int, *, lock: bool = False) -> AssistantHandoff:
    stmt = select(AssistantHandoff).where(AssistantHandoff.conversation_id == conversation_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    h = session.scalars(stmt).first()
    if h is None:
        raise NotFound("this conversation was not handed to an agent", reason="assistant.not_handed_off",
                       details={"conversation_id": conversation_id})
    return h


def _snapshot(h: AssistantHandoff, c: AssistantConversation) -> dict[str, Any]:
    return {"handoff_status": h.status, "assigned_to": h.assigned_to, "conversation_status": c.status}


def message_dict(m: AssistantMessage, names: dict[int, str] | None = None) -> dict[str, Any]:
    return {"id": m.id, "sender": m.sender, "agent_id": m.agent_id,
            "agent_name": (names or {}).get(m.agent_id) if m.agent_id else None, "text": m.text,
            "language": m.language, "intent": m.intent, "confidence": m.confidence, "entities": m.entities,
            "sentiment": m.sentiment, "emotion": m.emotion, "action": m.action, "created_at": _iso(m.created_at)}


def get_conversation(session: Session, actor: Principal, conversation_id: int) -> dict[str, Any]:
    """A handed-off conversation for an agent: the transcript (intent, confidence and sentiment per customer
    turn), the hand-off with its SLA, and the customer's context."""
    _require_agent(actor)
    c = _conversation(session, conversation_id)
    security.audit_reads(session, actor, action="conversation.read", customer_ids=[c.customer_id],
                         shown={"conversation_id": c.id})
    h = _handoff(session, conversation_id)
    msgs = list(session.scalars(select(AssistantMessage).where(AssistantMessage.conversation_id == c.id)
                                .order_by(AssistantMessage.id)))
    names = security.display_names(session, {m.agent_id for m in msgs if m.agent_id} | (
        {h.assigned_to} if h.assigned_to else set()))
    return {
        "conversation": {"id": c.id, "customer_id": c.customer_id, "channel": c.channel, "language": c.language,
                         "status": c.status, "top_intent": c.top_intent, "last_sentiment": c.last_sentiment,
                         "handoff_reason": c.handoff_reason, "satisfaction": c.satisfaction,
                         "started_at": _iso(c.started_at), "closed_at": _iso(c.closed_at)},
        "handoff": _row(session, h, c, names, _now(), context=False),
        # the agent serves the customer without the identity numbers the customer typed (smartbank.pii)
        "messages": [pii.redact_value(message_dict(m, names)) for m in msgs],
        "customer": _customer_context(session, c.customer_id),
        "mine": h.assigned_to == actor.user_id, "open": h.status != "closed",
    }


def claim(session: Session, actor: Principal, conversation_id: int) -> dict[str, Any]:
    """Take a waiting conversation (exactly one agent wins)."""
    _require_agent(actor)
    h = _handoff(session, conversation_id, lock=True)
    if h.status != "waiting":
        if h.status == "assigned":
            raise AlreadyClaimed("another agent has already taken this conversation",
                                 reason="assistant.already_claimed",
                                 details={"status": h.status, "assigned_to": h.assigned_to})
        raise AlreadyClaimed("this conversation is closed", reason="assistant.conversation_closed",
                             details={"status": h.status, "assigned_to": h.assigned_to})
    c = _conversation(session, conversation_id, lock=True)
    before = _snapshot(h, c)
    h.status, h.assigned_to, h.assigned_at = "assigned", actor.user_id, _now()
    session.flush()
    security.audit(session, actor, action="assistant_handoff.claim", object_type="assistant_conversation",
                   object_id=c.id, before=before, after=_snapshot(h, c))
    session.flush()
    return {"conversation_id": c.id, "status": h.status, "assigned_to": h.assigned_to}


def _text(text: str) -> str:
    return clean_text(text, "the reply", MAX_REPLY, empty="the reply is empty")


def _own(session: Session, actor: Principal, conversation_id: int) -> tuple[AssistantHandoff, AssistantConversation]:
    """The hand-off locked for an agent action: a waiting one is claimed first; one assigned to another agent
    is refused (administrators may step in)."""
    h = _handoff(session, conversation_id, lock=True)
    if h.status == "closed":
        raise Conflict("this conversation is closed", code="conversation_closed",
                       reason="assistant.conversation_closed")
    if h.status == "waiting":
        claim(session, actor, conversation_id)
    elif h.assigned_to != actor.user_id and actor.role != "admin":
        raise AlreadyClaimed("another agent has taken this conversation", reason="assistant.already_claimed",
                             details={"assigned_to": h.assigned_to})
    return h, _conversation(session, conversation_id, lock=True)


def agent_reply(session: Session, actor: Principal, conversation_id: int, text: str) -> dict[str, Any]:
    """The agent's message to the customer (claims a waiting conversation first)."""
    _require_agent(actor)
    body = _text(text)
    h, c = _own(session, actor, conversation_id)
    before = _snapshot(h, c)
    now = _now()
    m = AssistantMessage(conversation_id=c.id, sender="agent", agent_id=actor.user_id or None, text=body,
                         language=c.language, created_at=now)
    session.add(m)
    c.status, c.updated_at = "agent", now
    session.flush()
    security.audit(session, actor, action="assistant_handoff.reply", object_type="assistant_conversation",
                   object_id=c.id, before=before, after={**_snapshot(h, c), "message_id": m.id})
    session.flush()
    return message_dict(m, {actor.user_id: actor.display_name or actor.username})


def close(session: Session, actor: Principal, conversation_id: int, *, note: str | None = None) -> dict[str, Any]:
    """End the conversation: the hand-off and the conversation are closed (the dialogue then asks the customer
    for a satisfaction rating)."""
    _require_agent(actor)
    if note is not None and len(note) > MAX_REPLY:
        raise ValidationFailed(f"the note is longer than {MAX_REPLY} characters", reason="assistant.note_too_long",
                               details={"max": MAX_REPLY})
    h, c = _own(session, actor, conversation_id)
    before = _snapshot(h, c)
    now = _now()
    h.status, h.closed_at = "closed", now
    c.status, c.closed_at, c.updated_at = "closed", now, now
    session.flush()
    security.audit(session, actor, action="assistant_handoff.close", object_type="assistant_conversation",
                   object_id=c.id, before=before, after=_snapshot(h, c), note=(note or "").strip() or None)
    session.flush()
    return {"conversation_id": c.id, "status": "closed", "closed_at": now.isoformat()}

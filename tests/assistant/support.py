"""Arranging assistant rows directly (conversations, messages, hand-offs) for the agents' side."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from smartbank import clock, db
from smartbank.assistant import handoff
from smartbank.assistant.models import AssistantConversation, AssistantHandoff, AssistantMessage
from smartbank.security.service import Principal


def agent(user_id: int, username: str = "agent", role: str = "service_agent") -> Principal:
    return Principal(user_id=user_id, username=username, role=role, customer_id=None, display_name=username)


def conversation(engine, customer_id: int, turns: list[dict[str, Any]], *, reason: str | None = "explicit",
                 summary: dict[str, Any] | None = None, started: datetime | None = None,
                 satisfaction: int | None = None, **conv: Any) -> int:
    """A conversation with customer/assistant turns, handed off with ``reason`` (None: not handed off)."""

    def work(s):
        at = started or clock.now()
        c = AssistantConversation(customer_id=customer_id, channel="web", language=conv.pop("language", "zh"),
                                  status="bot", started_at=at, updated_at=at, satisfaction=satisfaction, **conv)
        s.add(c)
        s.flush()
        for i, t in enumerate(turns):
            s.add(AssistantMessage(conversation_id=c.id, created_at=at + timedelta(seconds=i), **t))
        if reason:
            h = handoff.hand_off(s, c, reason=reason, summary=summary or {})
            h.created_at = at
            h.sla_due_at = at + timedelta(minutes=handoff.sla_minutes(h.priority))
        s.flush()
        return c.id

    return db.run_in_transaction(work, engine=engine)


def get_handoff(engine, conversation_id: int) -> AssistantHandoff:
    from sqlalchemy import select

    def work(s):
        h = s.scalars(select(AssistantHandoff).where(AssistantHandoff.conversation_id == conversation_id)).one()
        s.expunge(h)
        return h

    return db.run_in_transaction(work, engine=engine)

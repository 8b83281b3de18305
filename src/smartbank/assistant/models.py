"""Tables of the assistant domain.

- ``assistant_conversations``: one chat with a customer (web widget or API): language, who is talking
  now (the assistant, waiting for an agent, an agent, closed), the dialogue state (active intent, filled
  slots, a pending confirmation, context for follow-ups), counters for misunderstanding, the last
  sentiment, the hand-off reason and the satisfaction rating at the end.
- ``assistant_messages``: every turn (customer, assistant, agent) with the detected intent and its
  confidence, entities, sentiment score and emotion, and the action taken through the bank's services.
- ``faq_entries``: the knowledge base the bank edits in the console: question variants and answers in
  Chinese and English.
- ``assistant_handoffs``: the service agents' queue: why the conversation was handed over, the SLA due
  time, assignment and closing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from smartbank import clock
from smartbank.db import Base, BigId

CONVERSATION_STATUSES = ("bot", "waiting", "agent", "closed")
SENDERS = ("customer", "assistant", "agent", "system")
HANDOFF_REASONS = ("explicit", "sentiment", "misunderstood", "complaint", "action_failed")
HANDOFF_STATUSES = ("waiting", "assigned", "closed")


class AssistantConversation(Base):
    __tablename__ = "assistant_conversations"
    __table_args__ = (Index("ix_assistant_conversations_customer_started", "customer_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16), default="web")  # web | api
    language: Mapped[str] = mapped_column(String(8), default="zh")  # zh | en (the last detected)
    status: Mapped[str] = mapped_column(String(12), default="bot")
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # dialogue state
    misunderstood: Mapped[int] = mapped_column(Integer, default=0)  # consecutive turns not understood
    last_sentiment: Mapped[float | None] = mapped_column(Float)  # -1 (negative) .. 1 (positive)
    handoff_reason: Mapped[str | None] = mapped_column(String(16))
    top_intent: Mapped[str | None] = mapped_column(String(64))
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1..5
    satisfaction_comment: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)


class AssistantMessage(Base):
    __tablename__ = "assistant_messages"
    __table_args__ = (Index("ix_assistant_messages_conversation", "conversation_id", "id"),
                      Index("ix_assistant_messages_created", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(12))  # customer | assistant | agent | system
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    entities: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sentiment: Mapped[float | None] = mapped_column(Float)  # -1 .. 1
    emotion: Mapped[str | None] = mapped_column(String(16))  # e.g. angry, anxious, neutral, happy
    action: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {name, status, result / error code}
    model_versions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class FaqEntry(Base):
    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    category: Mapped[str] = mapped_column(String(32), default="general")
    question_zh: Mapped[str] = mapped_column(Text)
    question_en: Mapped[str] = mapped_column(Text)
    variants: Mapped[list[Any] | None] = mapped_column(JSON)  # more ways customers ask, either language
    answer_zh: Mapped[str] = mapped_column(Text)
    answer_en: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())


class AssistantHandoff(Base):
    __tablename__ = "assistant_handoffs"
    __table_args__ = (Index("ix_assistant_handoffs_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=2)  # 1 high .. 3 low
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    assigned_to: Mapped[int | None] = mapped_column(BigInteger)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # detected intent, slots, sentiment, context
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now, server_default=func.now())
    sla_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Personal-information classes (JR/T 0171-2020), see smartbank.models.classification()
PERSONAL_DATA: dict[str, dict[str, str]] = {
    "assistant_conversations": {"*": "C2", "id": "C1", "version": "C1"},
    "assistant_messages": {"*": "C2", "id": "C1"},  # chat texts
    "assistant_handoffs": {"*": "C2", "id": "C1"},
    "faq_entries": {"*": "none"},
}

"""Staff API of the assistant: the knowledge base (``/assistant/faq``: service agents and administrators),
the hand-off queue (``/assistant/agent``: service agents and administrators) and analytics (also marketers).

Authorisation and every rule are in :mod:`smartbank.assistant.faq`, :mod:`~smartbank.assistant.handoff` and
:mod:`~smartbank.assistant.analytics`; each request is one transaction, so a refused request writes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.schemas import MAX_ID, In
from smartbank.assistant import service as assistant

router = APIRouter(tags=["assistant-staff"])

Category = Literal["general", "account", "card", "transfer", "fees", "deposit", "loan", "wealth", "security"]
Question = Field(min_length=1, max_length=assistant.FAQ_MAX_QUESTION)
Answer = Field(min_length=1, max_length=assistant.FAQ_MAX_ANSWER)


class FaqIn(In):
    category: Category = "general"
    question_zh: str = Question
    question_en: str = Question
    answer_zh: str = Answer
    answer_en: str = Answer
    variants: list[str] = Field(default_factory=list, max_length=assistant.FAQ_MAX_VARIANTS)


class FaqPatch(In):
    version: int | None = Field(None, ge=1, le=MAX_ID, strict=True,
                                description="the version edited (409 if it changed)")
    category: Category | None = None
    question_zh: str | None = Field(None, min_length=1, max_length=assistant.FAQ_MAX_QUESTION)
    question_en: str | None = Field(None, min_length=1, max_length=assistant.FAQ_MAX_QUESTION)
    answer_zh: str | None = Field(None, min_length=1, max_length=assistant.FAQ_MAX_ANSWER)
    answer_en: str | None = Field(None, min_length=1, max_length=assistant.FAQ_MAX_ANSWER)
    variants: list[str] | None = Field(None, max_length=assistant.FAQ_MAX_VARIANTS)


class ActiveIn(In):
    active: bool


class FaqTestIn(In):
    text: str = Field(min_length=1, max_length=assistant.FAQ_MAX_TEXT)
    language: Literal["zh", "en"] = "zh"


class ReplyIn(In):
    text: str = Field(min_length=1, max_length=assistant.MAX_AGENT_REPLY)


class CloseIn(In):
    note: str = Field("", max_length=assistant.MAX_AGENT_REPLY)


# ------------------------------------------------------------------------------------------------
# knowledge base


@router.get("/assistant/faq")
def list_faq(actor: Actor, include_inactive: bool = True, category: Category | None = None) -> dict[str, Any]:
    return {"items": uow(lambda s: assistant.list_faq_entries(s, actor, include_inactive=include_inactive,
                                                    category=category))}


@router.post("/assistant/faq", status_code=201)
def create_faq(body: FaqIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: assistant.create_faq_entry(s, actor, **body.model_dump()))


@router.post("/assistant/faq/test")
def test_faq(body: FaqTestIn, actor: Actor) -> dict[str, Any]:
    """What the assistant would answer: the match (null below the threshold) and the best candidates."""
    return uow(lambda s: assistant.explain_faq_match(s, actor, body.text, language=body.language))


@router.get("/assistant/faq/{entry_id}")
def get_faq(entry_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: assistant.get_faq_entry(s, actor, entry_id))


@router.patch("/assistant/faq/{entry_id}")
def edit_faq(entry_id: PathId, body: FaqPatch, actor: Actor) -> dict[str, Any]:
    fields = body.model_dump(exclude_none=True)
    version = fields.pop("version", None)
    return uow(lambda s: assistant.update_faq_entry(s, actor, entry_id, version=version, **fields))


@router.post("/assistant/faq/{entry_id}/active")
def activate_faq(entry_id: PathId, body: ActiveIn, actor: Actor) -> dict[str, Any]:
    """Deactivate (``active: false``: no longer matched) or reactivate an entry."""
    return uow(lambda s: assistant.set_faq_active(s, actor, entry_id, body.active))


# ------------------------------------------------------------------------------------------------
# hand-off queue


@router.get("/assistant/agent/queue")
def agent_queue(actor: Actor, status: Literal["waiting", "assigned", "closed"] = "waiting", mine: bool = False,
                limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Hand-offs in one tab (waiting: most urgent first) with SLA time left, reason, intent and the customer's
    context, and the count per tab."""
    return uow(lambda s: {"items": assistant.handoff_queue(s, actor, status=status, mine=mine, limit=limit),
                          "counts": assistant.handoff_counts(s, actor)})


@router.get("/assistant/agent/conversations/{conversation_id}")
def agent_conversation(conversation_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: assistant.agent_conversation(s, actor, conversation_id))


@router.post("/assistant/agent/conversations/{conversation_id}/claim")
def agent_claim(conversation_id: PathId, actor: Actor) -> dict[str, Any]:
    """Take a waiting conversation; another agent already holding it is a 409 ``already_claimed``."""
    return uow(lambda s: assistant.claim_conversation(s, actor, conversation_id))


@router.post("/assistant/agent/conversations/{conversation_id}/messages", status_code=201)
def agent_message(conversation_id: PathId, body: ReplyIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: assistant.agent_reply(s, actor, conversation_id, body.text))


@router.post("/assistant/agent/conversations/{conversation_id}/close")
def agent_close(conversation_id: PathId, actor: Actor, body: CloseIn | None = None) -> dict[str, Any]:
    note = body.note if body is not None else None
    return uow(lambda s: assistant.close_conversation(s, actor, conversation_id, note=note))


@router.get("/assistant/agent/analytics")
def agent_analytics(actor: Actor, start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """Containment, top intents, hand-off reasons, sentiment per day, satisfaction and SLA compliance over a
    date range (default: the last 30 days)."""
    return uow(lambda s: assistant.analytics_summary(s, actor, start=start, end=end))

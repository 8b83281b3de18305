"""The customer's chat with the assistant. Each request is one transaction; a conversation of another
customer is "not found"; bad input is refused before anything is written."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.schemas import MAX_ID, In
from smartbank.assistant import service

router = APIRouter(prefix="/assistant", tags=["assistant"])


class MessageIn(In):
    text: str = Field(min_length=1, max_length=service.MAX_TEXT)
    conversation_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True)


class RatingIn(In):
    score: int = Field(ge=1, le=5, strict=True)
    comment: str | None = Field(None, max_length=service.MAX_TEXT)


@router.post("/messages")
def send_message(body: MessageIn, actor: Actor) -> dict[str, Any]:
    """One turn: the assistant's replies, the detected intent, entities, sentiment and any action taken.
    Money moves only after an explicit confirmation turn."""
    return uow(lambda s: service.send(s, actor, text=body.text, conversation_id=body.conversation_id,
                                      channel="api"))


@router.get("/conversations")
def list_conversations(actor: Actor) -> list[dict[str, Any]]:
    return uow(lambda s: service.list_conversations(s, actor))


@router.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: service.history(s, actor, conversation_id))


@router.post("/conversations/{conversation_id}/rating")
def rate_conversation(conversation_id: PathId, body: RatingIn, actor: Actor) -> dict[str, Any]:
    """Satisfaction 1..5 at the end; closes the conversation."""
    return uow(lambda s: service.rate(s, actor, conversation_id, score=body.score, comment=body.comment))

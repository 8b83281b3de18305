"""The signed-in customer's notifications (staff have no inbox here: 404)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.schemas import In
from smartbank.notifications import service as notifications

router = APIRouter(prefix="/notifications", tags=["notifications"])


class ReadIn(In):
    all: Literal[True] = Field(description="mark every notification as read")


@router.get("")
def my_notifications(actor: Actor, lang: Literal["en", "zh"] = "en", kind: str | None = Query(None, max_length=32),
                     limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    """Newest first, in the asked language, with the number still unread."""
    def work(s):
        items = notifications.list_for(s, actor, limit=limit, kind=kind)
        return {"items": [notifications.as_dict(n, lang) for n in items],
                "unread": notifications.unread_count(s, actor)}

    return uow(work)


@router.post("/read")
def mark_all_read(body: ReadIn, actor: Actor) -> dict[str, int]:
    return uow(lambda s: {"marked": notifications.mark_read(s, actor)})


@router.post("/{notification_id}/read")
def mark_one_read(notification_id: PathId, actor: Actor) -> dict[str, int]:
    """Mark one notification read (again is harmless); another customer's is "not found"."""
    return uow(lambda s: {"marked": notifications.mark_read(s, actor, notification_id)})

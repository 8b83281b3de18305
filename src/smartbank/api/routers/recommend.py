"""Recommendations: a customer's own list, their clicks and dismissals, and the staff report.

``GET /recommendations`` ranks, filters (suitability, holdings, status, loan eligibility), explains and
records the list; ``POST /recommendations/events`` records a view, click or dismissal of an item of the
customer's own list; ``GET /recommendations/report`` gives CTR and conversion per slot and model version
(marketers and administrators). Authorisation lives in ``smartbank.recommend``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from smartbank.api.deps import Actor, uow
from smartbank.api.schemas import MAX_ID, In
from smartbank.recommend import service as recommend

router = APIRouter(prefix="/recommendations", tags=["recommend"])


class EventIn(In):
    event: Literal["view", "click", "dismiss"]
    item_key: str = Field(min_length=3, max_length=64, pattern=r"^[a-z]+:[A-Za-z0-9_.-]+$")
    served_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True)


@router.get("")
def my_recommendations(actor: Actor, slot: str = Query("api", pattern=recommend.SLOT_PATTERN, max_length=32),
                       n: int = Query(10, ge=1, le=recommend.MAX_N)) -> dict[str, Any]:
    """The signed-in customer's top ``n`` for ``slot``, each with a reason in zh and en."""
    return uow(lambda s: recommend.recommend(s, actor, slot=slot, n=n))


@router.post("/events", status_code=201)
def record_event(body: EventIn, actor: Actor) -> dict[str, Any]:
    """A view, click or dismissal of an item (clicks and dismissals name the list they came from)."""
    return uow(lambda s: recommend.record(s, actor, event=body.event, item_key=body.item_key,
                                       served_id=body.served_id))


@router.get("/report")
def recommendation_report(actor: Actor, date_from: date | None = None, date_to: date | None = None
                          ) -> dict[str, Any]:
    """Click-through and conversion per slot, per model version and per both (marketers, administrators)."""
    return uow(lambda s: recommend.report(s, actor, date_from=date_from, date_to=date_to))

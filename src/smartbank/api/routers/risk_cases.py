"""The risk alert queue and case management: risk officers (and administrators) only.

Authorisation and every rule are in the case functions of :mod:`smartbank.risk.service`; each request is
one transaction, so a refused request writes nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from smartbank.api.deps import Actor, PathId, QueryId, uow
from smartbank.api.schemas import MAX_ID, In
from smartbank.risk import service as risk

router = APIRouter(prefix="/risk/alerts", tags=["risk"])

StatusFilter = Literal["active", "all", "open", "investigating", "closed"]


class AssignIn(In):
    user_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True, description="a risk officer; default: you")


class NoteIn(In):
    note: str = Field(min_length=1, max_length=risk.MAX_CASE_NOTE)


class ResolveIn(In):
    resolution: Literal["fraud", "false_alarm"]
    action: Literal["release", "void", "reverse", "none"] = Field(
        description="held payment: release (false alarm) or void; posted payment: reverse (fraud) or none;"
                    " blocked payment: none")
    note: str = Field("", max_length=risk.MAX_CASE_NOTE)


@router.get("")
def alert_queue(actor: Actor, status: StatusFilter = "active", assigned_to: QueryId = None, mine: bool = False,
                limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Alerts, most urgent first (priority, then oldest), with the count per status."""
    who = actor.user_id if mine else assigned_to

    def work(s):
        return {"items": risk.alert_queue(s, actor, status=status, assigned_to=who, limit=limit),
                "counts": risk.alert_counts(s, actor)}

    return uow(work)


@router.get("/{alert_id}")
def alert_case(alert_id: PathId, actor: Actor, lang: Literal["en", "zh"] = "en",
               timeline: int = Query(20, ge=1, le=200)) -> dict[str, Any]:
    """One case: alert, decision (score, model version, rule hits, reasons), the payment, the customer's
    recent payments, decisions and notifications, and the case's events."""
    return uow(lambda s: risk.get_case(s, actor, alert_id, lang=lang, timeline=timeline))


@router.post("/{alert_id}/assign")
def assign_alert(alert_id: PathId, actor: Actor, body: AssignIn | None = None) -> dict[str, Any]:
    user_id = body.user_id if body is not None else None
    return uow(lambda s: risk.assign_alert(s, actor, alert_id, user_id=user_id))


@router.post("/{alert_id}/notes", status_code=201)
def add_note(alert_id: PathId, body: NoteIn, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: risk.add_case_note(s, actor, alert_id, body.note))


@router.post("/{alert_id}/resolve")
def resolve_alert(alert_id: PathId, body: ResolveIn, actor: Actor) -> dict[str, Any]:
    """Confirm fraud or a false alarm and release, void or reverse the payment, exactly once (a second
    resolution is a 409)."""
    return uow(lambda s: risk.resolve_alert(s, actor, alert_id, resolution=body.resolution, action=body.action,
                                       note=body.note))

"""API: the contact policy (caps, quiet hours, costs per channel), why a customer was (not) contacted, the
do-not-disturb list and a campaign's contact summary. Authorisation lives in ``smartbank.marketing``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.schemas import In
from smartbank.marketing import service as marketing

router = APIRouter(prefix="/marketing/contact", tags=["marketing"])

Scope = Literal["inapp", "banner", "sms", "email", "all"]
NUMBER = Query(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9-]+$")


class PolicyIn(In):
    max_count: int | None = Field(None, ge=0, le=1000, strict=True)
    period_days: int = Field(7, ge=1, le=365, strict=True)
    quiet_start: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    quiet_end: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    cost_micro: int = Field(0, ge=0, le=100_000_000, strict=True)


class DndIn(In):
    customer_number: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9-]+$")
    channel: Scope = "all"
    reason: str = Field(min_length=1, max_length=300)
    until: datetime | None = None


@router.get("/policy")
def get_policy(actor: Actor) -> dict[str, Any]:
    """The policy in force per channel and for all channels together."""
    def work(s: Any) -> dict[str, Any]:
        actor.require("marketing.contacts.read")
        return marketing.contact_policy(s)
    return uow(work)


@router.put("/policy/{channel}")
def put_policy(channel: Scope, body: PolicyIn, actor: Actor) -> dict[str, Any]:
    """Set a channel's (or all channels') cap, period, quiet hours and cost (audited)."""
    return uow(lambda s: marketing.set_contact_policy(s, actor, channel, **body.model_dump()))


@router.get("/why")
def why(actor: Actor, customer_number: str = NUMBER) -> dict[str, Any]:
    """A customer's contact attempts with the reason each was not sent, and what the policy would decide now."""
    return uow(lambda s: marketing.why_not_contacted(s, actor, customer_number))


@router.get("/campaigns/{campaign_id}/summary")
def summary(campaign_id: PathId, actor: Actor) -> dict[str, Any]:
    """A campaign's attempts per status, suppression reason and channel, with opens, clicks and cost."""
    return uow(lambda s: marketing.contact_report(s, actor, campaign_id))


@router.get("/dnd")
def list_dnd(actor: Actor, customer_number: str | None = Query(None, min_length=1, max_length=20,
                                                             pattern=r"^[A-Za-z0-9-]+$")) -> dict[str, Any]:
    def work(s: Any) -> dict[str, Any]:
        cid = marketing.why_not_contacted(s, actor, customer_number)["customer"]["id"] if customer_number else None
        return {"items": marketing.list_do_not_disturb(s, actor, cid)}
    return uow(work)


@router.post("/dnd", status_code=201)
def add_dnd(body: DndIn, actor: Actor) -> dict[str, Any]:
    """Put a customer on do-not-disturb on one channel or all, until a time or until removed (audited)."""
    def work(s: Any) -> dict[str, Any]:
        actor.require("marketing.suppress")
        cid = marketing.why_not_contacted(s, actor, body.customer_number)["customer"]["id"]
        return marketing.add_do_not_disturb(s, actor, cid, channel=body.channel, reason=body.reason,
                                            until=body.until)
    return uow(work)


@router.delete("/dnd/{dnd_id}")
def remove_dnd(dnd_id: PathId, actor: Actor) -> dict[str, Any]:
    return uow(lambda s: marketing.remove_do_not_disturb(s, actor, dnd_id))

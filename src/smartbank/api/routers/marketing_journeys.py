"""API: marketing journeys - definitions (create a version, approve by a second person, disable, ask to enable
again), the default journeys, events (recorded by staff for a customer; the domains call
``marketing.emit_event`` directly) and a run's explained history. Authorisation lives in
``smartbank.marketing``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import Field

from smartbank.api.deps import Actor, PathId, uow
from smartbank.api.schemas import MAX_ID, In
from smartbank.marketing import service as marketing

router = APIRouter(prefix="/marketing/journeys", tags=["marketing"])
Code = Path(pattern=r"^[a-z][a-z0-9_]{1,39}$")


class JourneyIn(In):
    code: str = Field(min_length=2, max_length=40)
    name_zh: str = Field(min_length=1, max_length=120)
    name_en: str = Field(min_length=1, max_length=120)
    trigger: str = Field(min_length=1, max_length=40)
    steps: list[dict[str, Any]] = Field(min_length=1, max_length=marketing.MAX_JOURNEY_STEPS)
    reentry_days: int | None = Field(None, ge=0, le=3650, strict=True)


class EventIn(In):
    kind: str = Field(min_length=1, max_length=40)
    customer_id: int = Field(ge=1, le=MAX_ID, strict=True)
    ref: str = Field(min_length=1, max_length=80)


@router.get("")
def list_journeys(actor: Actor) -> dict[str, Any]:
    """Every journey (latest version) with its runs per status."""
    return {"items": uow(lambda s: marketing.list_journeys(s, actor))}


@router.post("", status_code=201)
def create_journey(body: JourneyIn, actor: Actor) -> dict[str, Any]:
    """A new journey or a new version of one: checked, stored as a draft waiting for a second person."""
    return uow(lambda s: marketing.create_journey(s, actor, code=body.code, name_zh=body.name_zh,
                                                  name_en=body.name_en, trigger=body.trigger, steps=body.steps,
                                                  reentry_days=body.reentry_days))


@router.post("/seed")
def seed_journeys(actor: Actor) -> dict[str, Any]:
    """The default journeys that are missing, as drafts waiting for approval."""
    return uow(lambda s: marketing.seed_default_journeys(s, actor))


@router.post("/events", status_code=201)
def emit_event(body: EventIn, actor: Actor) -> dict[str, Any]:
    """Record an event of a customer (idempotent on kind + ref) and start the journeys it triggers."""
    return uow(lambda s: marketing.record_event(s, actor, kind=body.kind, customer_id=body.customer_id,
                                                ref=body.ref))


@router.get("/runs/{run_id}")
def run_history(run_id: PathId, actor: Actor) -> dict[str, Any]:
    """One run with every step it executed and why (which branch, the figures it looked at)."""
    return uow(lambda s: marketing.run_history(s, actor, run_id))


@router.get("/{code}")
def get_journey(actor: Actor, code: str = Code) -> dict[str, Any]:
    """The latest version, its steps, runs per status, the per-step funnel and its versions."""
    return uow(lambda s: marketing.get_journey(s, actor, code))


@router.post("/{code}/approve")
def approve_journey(actor: Actor, code: str = Code) -> dict[str, Any]:
    """Enable the pending version (a second marketer or an administrator, never the maker)."""
    return uow(lambda s: marketing.approve_journey(s, actor, code))


@router.post("/{code}/disable")
def disable_journey(actor: Actor, code: str = Code) -> dict[str, Any]:
    """Start no new runs (runs under way finish)."""
    return uow(lambda s: marketing.disable_journey(s, actor, code))


@router.post("/{code}/request-enable")
def request_enable(actor: Actor, code: str = Code) -> dict[str, Any]:
    """Ask for a disabled journey to be enabled again (a second person approves)."""
    return uow(lambda s: marketing.request_enable(s, actor, code))

"""API: marketing campaigns - drafts, the audience preview, approval by a second person, runs and results.

The service (``smartbank.marketing.service``) checks every permission and validates the campaign (its refusals
carry ``marketing.*`` reasons); every step is audited. A campaign is addressed by its id or its code.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import Field

from smartbank.api.deps import Actor, uow
from smartbank.api.schemas import In
from smartbank.marketing import service as mkt

router = APIRouter(prefix="/marketing/campaigns", tags=["marketing"])
Ref = Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")


class CampaignIn(In):
    code: str = Field(min_length=1, max_length=40)
    name_zh: str = Field(min_length=1, max_length=120)
    name_en: str = Field(min_length=1, max_length=120)
    audience: dict[str, Any] = Field(default_factory=dict,
                                     description='{"expression", "segments", "tags", "model": {"name", "min_score"}}')
    channels: list[str] = Field(min_length=1, max_length=4, description="in order of preference")
    arms: list[dict[str, Any]] = Field(min_length=1, max_length=6,
                                       description='[{"code": "A", "weight": 1, "content": {"zh": {"title", "body"}, '
                                                   '"en": {...}}}]; fields {name}, {first_name}, {segment}')
    holdout_bp: int = Field(1000, description="basis points held out (0..5000)")
    schedule: dict[str, Any] = Field(description='{"kind": "once" | "recurring", "start_at", "every_days", "end_at"}')
    goal: str
    goal_window_days: int = 14
    offer: dict[str, Any] | None = None


class CampaignEditIn(CampaignIn):
    code: str = Field("", max_length=40, description="ignored: a campaign keeps its code")


class PreviewIn(In):
    audience: dict[str, Any] = Field(default_factory=dict)
    channels: list[str] = Field(default_factory=lambda: ["inapp"], min_length=1, max_length=4)


class NoteIn(In):
    note: str = Field("", max_length=500)


@router.get("")
def list_campaigns(actor: Actor, status: str | None = None) -> list[dict[str, Any]]:
    return uow(lambda s: mkt.list_campaigns(s, actor, status=status))


@router.post("", status_code=201)
def create_campaign(body: CampaignIn, actor: Actor) -> dict[str, Any]:
    """A new draft; it runs once a second person approves it."""
    return uow(lambda s: mkt.create_campaign(s, actor, body.model_dump()))


@router.post("/preview")
def preview(body: PreviewIn, actor: Actor) -> dict[str, Any]:
    """How many customers an audience selects now, how many can be reached on the channels, and a sample."""
    return uow(lambda s: mkt.preview_audience(s, actor, body.audience, body.channels))


@router.get("/{code}")
def get_campaign(actor: Actor, code: str = Ref) -> dict[str, Any]:
    return uow(lambda s: mkt.get_campaign(s, actor, code))


@router.put("/{code}")
def edit_campaign(body: CampaignEditIn, actor: Actor, code: str = Ref) -> dict[str, Any]:
    """Change a campaign not yet running; an approved one goes back to draft (version + 1)."""
    return uow(lambda s: mkt.edit_campaign(s, actor, code, body.model_dump()))


@router.get("/{code}/results")
def results(actor: Actor, code: str = Ref) -> dict[str, Any]:
    return uow(lambda s: mkt.campaign_results(s, actor, code))


@router.post("/{code}/submit")
def submit(actor: Actor, code: str = Ref) -> dict[str, Any]:
    return uow(lambda s: mkt.submit_campaign(s, actor, code))


@router.post("/{code}/approve")
def approve(actor: Actor, body: NoteIn | None = None, code: str = Ref) -> dict[str, Any]:
    """By a holder of marketing.campaigns.approve who neither made nor submitted it."""
    return uow(lambda s: mkt.approve_campaign(s, actor, code, note=body.note if body else None))


@router.post("/{code}/reject")
def reject(body: NoteIn, actor: Actor, code: str = Ref) -> dict[str, Any]:
    return uow(lambda s: mkt.reject_campaign(s, actor, code, note=body.note))


@router.post("/{code}/pause")
def pause(actor: Actor, code: str = Ref) -> dict[str, Any]:
    return uow(lambda s: mkt.pause_campaign(s, actor, code))


@router.post("/{code}/resume")
def resume(actor: Actor, code: str = Ref) -> dict[str, Any]:
    return uow(lambda s: mkt.resume_campaign(s, actor, code))


@router.post("/{code}/cancel")
def cancel(actor: Actor, body: NoteIn | None = None, code: str = Ref) -> dict[str, Any]:
    return uow(lambda s: mkt.cancel_campaign(s, actor, code, note=body.note if body else None))


@router.post("/{code}/run")
def run(actor: Actor, code: str = Ref) -> dict[str, Any]:
    """Run it now: its due run, or its current run again (nobody is messaged twice for one run)."""
    return uow(lambda s: mkt.run_campaign(s, code, actor=actor, force=True))

"""API: marketing experiments - each campaign with two arms or more (or an arm and a holdout) read as an
experiment with always-valid statistics.

``GET /marketing/experiments`` lists them with their last decision; ``GET /marketing/experiments/{campaign_id}``
gives the counts per arm, the last read (comparisons with the control: lift, always-valid p-value and interval;
guardrails; decision and reasons) and the reads over time; ``POST /marketing/experiments/{campaign_id}/evaluate``
reads it now (marketers, administrators; a significantly worse guardrail pauses the campaign). Authorisation lives in
``smartbank.marketing``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from smartbank.api.deps import Actor, uow
from smartbank.api.schemas import MAX_ID
from smartbank.marketing import service as marketing

router = APIRouter(prefix="/marketing/experiments", tags=["marketing"])

CampaignId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("")
def list_experiments(actor: Actor) -> dict[str, Any]:
    """Campaigns read as experiments, newest first, each with its last decision."""
    return {"experiments": uow(lambda s: marketing.list_experiments(s, actor))}


@router.get("/{campaign_id}")
def show_experiment(campaign_id: CampaignId, actor: Actor) -> dict[str, Any]:
    """One campaign's experiment: counts per arm now, the last read and the reads over time."""
    return uow(lambda s: marketing.experiment_report(s, actor, campaign_id))


@router.post("/{campaign_id}/evaluate")
def evaluate_experiment(campaign_id: CampaignId, actor: Actor,
                        alpha: Annotated[float, Query(gt=0, lt=0.5)] = 0.05) -> dict[str, Any]:
    """Read the experiment now and store the read: ``winner``, ``no_difference_yet`` or ``stopped_guardrail``."""
    return uow(lambda s: marketing.evaluate_experiment(s, campaign_id, actor=actor, alpha=alpha))

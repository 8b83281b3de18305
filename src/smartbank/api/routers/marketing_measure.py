"""Attribution and ROI: ``/marketing/reports/...``.

``GET /marketing/reports/overview`` the figures of the marketing home (every measured campaign with its ROI, the
funnel, ROI by channel and by segment); ``GET /marketing/reports/roi`` ROI rows per campaign, arm, channel or
segment; ``GET /marketing/reports/campaigns/{campaign_id}`` one campaign's results; ``POST
/marketing/reports/attribution`` finds the conversions now. Money: integers in fen, costs also in 1e-6 yuan
(``cost_micro``). Authorisation lives in ``smartbank.marketing``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from smartbank.api.deps import Actor, uow
from smartbank.api.schemas import MAX_ID, In
from smartbank.marketing import service as marketing

router = APIRouter(prefix="/marketing/reports", tags=["marketing"])

Goal = Literal["wealth_purchase", "loan_application", "top_up", "bill_payment", "deposit", "digital_login"]
Status = Literal["approved", "running", "paused", "completed"]


class AttributionIn(In):
    campaign_id: int | None = Field(None, ge=1, le=MAX_ID, strict=True)


@router.get("/overview")
def overview(actor: Actor, goal: Goal | None = None, status: Status | None = None) -> dict[str, Any]:
    """Every measured campaign with its ROI, the funnel, ROI by channel and by segment."""
    return uow(lambda s: marketing.marketing_overview(s, actor, goal=goal, status=status))


@router.get("/roi")
def roi(actor: Actor, by: Literal["campaign", "arm", "channel", "segment"] = "campaign",
        campaign: str | None = Query(None, min_length=1, max_length=40), goal: Goal | None = None
        ) -> dict[str, Any]:
    """ROI rows: incremental conversions and margin over the holdout's baseline, cost and ROI."""
    return {"by": by, "rows": uow(lambda s: marketing.roi_report(s, actor, campaign=campaign, by=by, goal=goal))}


@router.get("/campaigns/{campaign_id}")
def campaign_results(actor: Actor, campaign_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    """One campaign's funnel, conversions, incremental margin, cost and ROI, by arm, channel and segment."""
    return uow(lambda s: marketing.campaign_report(s, actor, campaign_id))


@router.post("/attribution")
def attribution(body: AttributionIn, actor: Actor) -> dict[str, Any]:
    """Find the conversions now (one campaign, or every measured one)."""
    return uow(lambda s: marketing.run_attribution(s, actor, body.campaign_id))

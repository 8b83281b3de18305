"""API: marketing uplift models.

``GET /marketing/uplift/models`` lists every campaign's latest uplift model with its Qini and AUUC;
``GET /marketing/uplift/report?campaign=CODE`` gives one (optionally a ``version``) with its Qini curve;
``POST /marketing/uplift/train`` (``{"campaign": CODE}``) refits it from the campaign's assignments and
conversions. Authorisation lives in ``smartbank.marketing`` (checked before the campaign is looked up).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field

from smartbank.api.deps import Actor, uow
from smartbank.api.schemas import In
from smartbank.marketing import service as marketing

router = APIRouter(prefix="/marketing/uplift", tags=["marketing"])

CODE_PATTERN = r"^[A-Za-z0-9_.-]*$"


class TrainIn(In):
    campaign: str = Field("", max_length=40, pattern=CODE_PATTERN)
    seed: int = Field(0, ge=0, le=2**31 - 1, strict=True)


@router.get("/models")
def uplift_models(actor: Actor) -> list[dict[str, Any]]:
    """Every campaign's latest uplift model with its validation Qini and AUUC."""
    return uow(lambda s: marketing.list_uplift_models(s, actor))


@router.get("/report")
def uplift_model(actor: Actor, campaign: str = Query("", max_length=40, pattern=CODE_PATTERN),
                 version: str | None = Query(None, max_length=40, pattern=r"^[0-9TZ]+$")) -> dict[str, Any]:
    """One campaign's uplift model: Qini, AUUC, the Qini curve and the random line's end, its versions."""
    return uow(lambda s: marketing.uplift_report(s, actor, campaign, version=version))


@router.post("/train", status_code=201)
def train_uplift(body: TrainIn, actor: Actor) -> dict[str, Any]:
    """Refit the campaign's uplift model (treated arms vs holdout, conversions of its goal) and save it."""
    return uow(lambda s: marketing.train_campaign_uplift(s, actor, body.campaign, seed=body.seed))

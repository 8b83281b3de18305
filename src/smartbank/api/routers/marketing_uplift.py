"""API: marketing uplift models.

``GET /marketing/uplift/models`` lists every campaign's latest uplift model with its Qini and AUUC;
``GET /marketing/uplift/models/{code}`` gives one (optionally a ``version``) with its Qini curve;
``POST /marketing/uplift/models/{code}/train`` refits it from the campaign's assignments and conversions.
Authorisation lives in ``smartbank.marketing``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from smartbank.api.deps import Actor, uow
from smartbank.marketing import service as marketing

router = APIRouter(prefix="/marketing/uplift", tags=["marketing"])

CODE = Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")


@router.get("/models")
def uplift_models(actor: Actor) -> list[dict[str, Any]]:
    """Every campaign's latest uplift model with its validation Qini and AUUC."""
    return uow(lambda s: marketing.list_uplift_models(s, actor))


@router.get("/models/{code}")
def uplift_model(actor: Actor, code: str = CODE,
                 version: str | None = Query(None, max_length=40, pattern=r"^[0-9TZ]+$")) -> dict[str, Any]:
    """One campaign's uplift model: Qini, AUUC, the Qini curve and the random line's end, its versions."""
    return uow(lambda s: marketing.uplift_report(s, actor, code, version=version))


@router.post("/models/{code}/train", status_code=201)
def train_uplift(actor: Actor, code: str = CODE) -> dict[str, Any]:
    """Refit the campaign's uplift model (treated arms vs holdout, conversions of its goal) and save it."""
    return uow(lambda s: marketing.train_campaign_uplift(s, actor, code))

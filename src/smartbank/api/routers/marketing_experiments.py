"""API: marketing experiments - each campaign with two arms or more (or an arm and a holdout) read as an
experiment with always-valid statistics.

``GET /marketing/experiments`` lists them with their last decision; ``GET /marketing/experiments/{code}`` gives
the counts per arm, the last read (comparisons with the control: lift, always-valid p-value and interval;
guardrails; decision and reasons) and the reads over time; ``POST /marketing/experiments/{code}/evaluate`` reads
it now (marketers, administrators; a significantly worse guardrail pauses the campaign). Authorisation lives in
``smartbank.marketing``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from smartbank.api.deps import Actor, uow
from smartbank.marketing import service as marketing

router = APIRouter(prefix="/marketing/experiments", tags=["marketing"])

Code = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("")
def list_experiments(actor: Actor) -> dict[str, Any]:
    """Campaigns read as experiments, newest first, each with its last decision."""
    return {"experiments": uow(lambda s: marketing.list_experiments(s, actor))}


@router.get("/{code}")
def show_experiment(code: Code, actor: Actor) -> dict[str, Any]:
    """One campaign's experiment: counts per arm now, the last read and the reads over time."""
    return uow(lambda s: marketing.experiment_report(s, actor, code))


@router.post("/{code}/evaluate")
def evaluate_experiment(code: Code, actor: Actor,
                        alpha: Annotated[float, Query(gt=0, lt=0.5)] = 0.05) -> dict[str, Any]:
    """Read the experiment now and store the read: ``winner``, ``no_difference_yet`` or ``stopped_guardrail``."""
    return uow(lambda s: marketing.evaluate_experiment(s, code, actor=actor, alpha=alpha))

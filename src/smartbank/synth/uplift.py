"""Uplift models for the synthetic bank: once the demo's campaigns have run (assignments with a holdout, and
conversions found in the bank's records), fit each campaign's uplift model, so that the console's uplift page,
the API and the audience scorers ``uplift:<code>`` / ``uplift:goal:<goal>`` show real figures after
``make run``. A campaign with too little data is skipped with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from smartbank import db
from smartbank.errors import ValidationFailed
from smartbank.marketing import service as marketing
from smartbank.security.service import SYSTEM


def seed_uplift(engine: Engine | None = None, *, seed: int = 0, model_dir: Path | None = None) -> dict[str, Any]:
    """Train every campaign's uplift model (each in its own transaction); returns what was trained or skipped."""
    eng = engine or db.get_engine()
    with db.session_scope(eng) as s:
        codes = list(s.scalars(select(marketing.Campaign.code).order_by(marketing.Campaign.id)))
    trained: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for code in codes:
        def work(s: Session, c: str = code) -> dict[str, Any]:
            return marketing.train_campaign_uplift(s, SYSTEM, c, seed=seed, model_dir=model_dir)

        try:
            res = db.run_in_transaction(work, engine=eng)
        except ValidationFailed as exc:
            skipped[code] = exc.reason or exc.message
            continue
        trained.append({k: res.get(k) for k in ("campaign", "version", "customers", "qini", "auuc")})
    return {"trained": trained, "skipped": skipped}

"""Journeys for the demo bank: the default journeys enabled at once (in the demo only: elsewhere each waits for a
second person's approval), then one pass of the worker's journeys task over the bank's records (accounts opened,
salaries credited, loans paid off, deposits maturing, dormant customers -> events -> runs), and a few passes
later on the bank's clock so that the welcome journey's branches show in the funnel."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from smartbank import db
from smartbank.marketing import service as marketing


def seed_journeys(engine: Engine) -> dict[str, Any]:
    """Enable the default journeys and run the journeys task once; the figures it printed."""
    seeded = db.run_in_transaction(lambda s: marketing.seed_journeys(s, enable=True), engine=engine)
    task = db.run_in_transaction(marketing.run_journeys_task, engine=engine)
    return {"seeded": seeded, "task": task}

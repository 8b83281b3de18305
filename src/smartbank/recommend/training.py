"""Training the recommender: ``smartbank recommend train`` and the demo loader."""

from __future__ import annotations

from typing import Any

from smartbank import db
from smartbank.recommend import events, items
from smartbank.recommend.engine import RecEngine, fit_artefact
from smartbank.security.service import SYSTEM

__all__ = ["train"]


def train(bind: Any) -> dict[str, Any]:
    """Copy the catalogues into ``rec_items``, back-fill holdings and purchases as feedback, then fit and save
    the item-item model on all of it. ``bind``: the SQLAlchemy engine of the bank's database."""
    synced = db.run_in_transaction(lambda s: {"items": items.sync_items(s, SYSTEM),
                                              "feedback": events.sync_wealth(s, SYSTEM)}, engine=bind)
    eng = RecEngine()
    with db.session_scope(bind) as s:
        eng.warm(s, fit=False)
    return {**fit_artefact(eng), **synced}

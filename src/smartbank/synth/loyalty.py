"""Loyalty for the synthetic bank: points earned from the bank's own history (bill payments, salary credits,
scheduled transfers set up, first wealth purchases) by the programme's rules, through the same earning task the
worker runs (lots older than twelve months expire on the way, as they would have); then a share of the customers
who can afford a reward redeem one, and the liability is reconciled.

Call after the history and the wealth book are loaded: ``seed_loyalty(engine, seed=42)``.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.engine import Engine

from smartbank import db
from smartbank.errors import SmartbankError
from smartbank.loyalty import service as loyalty
from smartbank.security.service import Principal


def seed_loyalty(engine: Engine, *, seed: int = 42, redeem_share: float = 0.3, max_rounds: int = 200
                 ) -> dict[str, Any]:
    """Earn from the whole history, let ``redeem_share`` of the customers who can afford a reward redeem one,
    and return the figures with the reconciliation."""
    rng = random.Random(seed)
    earned = {"awarded": 0, "points": 0, "expired_points": 0}
    for _ in range(max_rounds):
        out = db.run_in_transaction(loyalty.run_due, engine=engine)
        earned["awarded"] += out["awarded"]
        earned["points"] += out["points"]
        earned["expired_points"] += out["expired"]["points"]
        if not out["scanned"]:
            break

    rewards = db.run_in_transaction(loyalty.list_rewards, engine=engine)
    redeemed: dict[str, int] = {}
    for cid, points in db.run_in_transaction(loyalty.point_holders, engine=engine):
        affordable = [r for r in rewards if r["cost_points"] <= points]
        if not affordable or rng.random() >= redeem_share:
            continue
        reward = rng.choice(affordable)
        actor = Principal(user_id=0, username=f"customer{cid}", role="customer", customer_id=cid)
        def spend(s: Any, a: Principal = actor, code: str = reward["code"]) -> dict[str, Any]:
            return loyalty.redeem(s, a, code)

        try:
            db.run_in_transaction(spend, engine=engine)
        except SmartbankError:  # no account to pay a cash-back into, and the like: this customer does not redeem
            continue
        redeemed[reward["code"]] = redeemed.get(reward["code"], 0) + 1
    rec = db.run_in_transaction(loyalty.reconcile, engine=engine)
    return {**earned, "redeemed": redeemed, "reconciled": rec["ok"], "outstanding_points": rec["outstanding_points"],
            "liability_minor": rec["liability_minor"]}

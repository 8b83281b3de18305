"""Redemptions at once never spend the same points twice (the lots are locked)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.errors import ValidationFailed
from smartbank.loyalty import service as loyalty
from smartbank.security.service import SYSTEM


@pytest.mark.commits
def test_concurrent_redemptions_spend_each_point_once(engine, bank, member):
    m = member()
    db.run_in_transaction(lambda s: loyalty.adjust_points(s, SYSTEM, m.customer_id, 1200, reason="gift"),
                          engine=engine)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def spend():
        barrier.wait()
        try:
            db.run_in_transaction(lambda s: loyalty.redeem(s, m.actor, "FEE_WAIVER_5"), engine=engine)
            outcomes.append("ok")
        except ValidationFailed as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["loyalty.insufficient_points"] * 2 + ["ok"] * 2, outcomes
    with engine.connect() as c:
        assert c.execute(text("SELECT sum(points) FROM loy_entries")).scalar() == 200
        assert c.execute(text("SELECT sum(remaining) FROM loy_lots")).scalar() == 200
    assert db.run_in_transaction(loyalty.reconcile, engine=engine)["ok"] is True

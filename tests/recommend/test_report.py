"""CTR and conversion per slot and model, checked by hand on a small log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from smartbank import db
from smartbank.errors import Forbidden, ValidationFailed
from smartbank.recommend import report
from smartbank.recommend.models import RecEvent, RecServed
from smartbank.security.service import SYSTEM, Principal

DAY = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _log(engine):
    """Slot home/model A: 2 lists x 3 items; slot home/model B: 1 list x 2 items; slot wealth/A: 1 list x 2."""
    with db.session_scope(engine) as s:
        lists = []
        for slot, mv, n in (("home", "A", 3), ("home", "A", 3), ("home", "B", 2), ("wealth", "A", 2)):
            r = RecServed(customer_id=1, slot=slot, model_version=mv, items=[{"item_id": i} for i in range(1, n + 1)],
                          filtered=[], at=DAY)
            s.add(r)
            s.flush()
            lists.append(r)
            for i in range(1, n + 1):
                s.add(RecEvent(customer_id=1, item_id=i, event="impression", served_id=r.id, slot=slot,
                               model_version=mv, at=DAY))

        def ev(k, item, event, at=DAY):
            r = lists[k]
            s.add(RecEvent(customer_id=1, item_id=item, event=event, served_id=r.id, slot=r.slot,
                           model_version=r.model_version, at=at))

        ev(0, 1, "click")
        ev(0, 1, "click")  # a double click counts once
        ev(0, 2, "click")
        ev(0, 1, "conversion")
        ev(1, 3, "dismiss")
        ev(2, 1, "click")
        ev(2, 1, "conversion")
        ev(3, 2, "click", at=DAY + timedelta(days=40))  # outside the range
        s.add(RecEvent(customer_id=1, item_id=1, event="click", at=DAY))  # not from a list: not counted


def test_figures_by_hand(engine):
    _log(engine)
    out = db.run_in_transaction(lambda s: report.report(s, SYSTEM, date_from=date(2026, 3, 1),
                                                        date_to=date(2026, 3, 31)), engine=engine)
    t = out["total"]
    assert (t["lists"], t["impressions"], t["clicks"], t["conversions"], t["dismissals"]) == (4, 10, 3, 2, 1)
    assert t["ctr"] == 0.3 and t["conversion_rate"] == 0.2 and t["click_conversion"] == round(2 / 3, 6)
    cell = {(r["slot"], r["model_version"]): r for r in out["by_slot_model"]}
    assert (cell[("home", "A")]["impressions"], cell[("home", "A")]["clicks"]) == (6, 2)
    assert cell[("home", "A")]["ctr"] == round(2 / 6, 6) and cell[("home", "A")]["conversion_rate"] == round(1 / 6, 6)
    assert (cell[("home", "B")]["ctr"], cell[("home", "B")]["conversion_rate"]) == (0.5, 0.5)
    assert cell[("wealth", "A")]["clicks"] == 0 and cell[("wealth", "A")]["ctr"] == 0.0
    slots = {r["slot"]: r for r in out["by_slot"]}
    assert slots["home"]["impressions"] == 8 and slots["home"]["clicks"] == 3 and slots["home"]["lists"] == 3
    models = {r["model_version"]: r for r in out["by_model"]}
    assert models["A"]["impressions"] == 8 and models["A"]["clicks"] == 2 and models["A"]["conversions"] == 1
    assert models["B"]["impressions"] == 2 and models["B"]["clicks"] == 1


def test_range_and_roles(engine):
    _log(engine)
    later = db.run_in_transaction(lambda s: report.report(s, SYSTEM, date_from=date(2026, 4, 15),
                                                          date_to=date(2026, 4, 30)), engine=engine)
    assert later["total"]["clicks"] == 1 and later["total"]["impressions"] == 0 and later["total"]["ctr"] is None
    with pytest.raises(ValidationFailed):
        db.run_in_transaction(lambda s: report.report(s, SYSTEM, date_from=date(2026, 5, 1),
                                                      date_to=date(2026, 4, 1)), engine=engine)
    for role in ("customer", "teller", "risk_officer"):
        actor = Principal(user_id=3, username="x", role=role, customer_id=1 if role == "customer" else None)
        with pytest.raises(Forbidden):
            db.run_in_transaction(lambda s, a=actor: report.report(s, a), engine=engine)
    marketer = Principal(user_id=4, username="m", role="marketer", customer_id=None)
    assert db.run_in_transaction(lambda s: report.report(s, marketer), engine=engine)["total"] is not None

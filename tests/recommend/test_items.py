"""rec_items follows the wealth and loan catalogues; helpers shared by the recommender tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from smartbank import clock, db
from smartbank.errors import Forbidden
from smartbank.recommend import engine as rec_engine
from smartbank.recommend import items
from smartbank.recommend.models import RecItem
from smartbank.security.service import SYSTEM, Principal
from smartbank.wealth.models import Holding, RiskAssessment, WealthProduct

# code, kind, risk, asset class, tags
CATALOGUE: tuple[tuple[str, str, str, str, list[str]], ...] = (
    ("TD1Y", "time_deposit", "R1", "cash", ["deposit"]),
    ("TD3Y", "time_deposit", "R1", "cash", ["deposit"]),
    ("WMPCASH", "wmp", "R1", "cash", ["liquidity"]),
    ("BOND1", "fund", "R2", "bond", ["bond"]),
    ("BOND2", "fund", "R2", "bond", ["bond"]),
    ("WMPBOND", "wmp", "R2", "bond", ["bond"]),
    ("MIX1", "fund", "R3", "mixed", ["balanced"]),
    ("EQ1", "fund", "R4", "equity", ["growth"]),
    ("EQ2", "fund", "R5", "equity", ["growth", "tech"]),
    ("INS1", "insurance", "R3", "alternative", ["protection"]),
)


@pytest.fixture(autouse=True)
def _fresh_engine(tmp_path, monkeypatch):
    """Each test starts with no engine and an empty model directory."""
    monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(tmp_path / "models"))
    rec_engine.reset()
    yield
    rec_engine.reset()


def make_products(engine, catalogue=CATALOGUE, *, loans: bool = True) -> dict[str, int]:
    """Wealth products (and the default loan products); returns code -> wealth product id."""
    from smartbank.lending.models import LoanProduct
    from smartbank.lending.seed import DEFAULT_PRODUCTS

    out = {}
    with db.session_scope(engine) as s:
        for code, kind, risk, ac, tags in catalogue:
            td = kind == "time_deposit"
            p = WealthProduct(code=code, name_en=f"Product {code}", name_zh=f"产品{code}", kind=kind,
                              risk_level=risk, asset_class=ac, min_amount_minor=100_00, term_days=365 if td else None,
                              rate_bps=175 if td else None, tags=tags, status="active")
            s.add(p)
            s.flush()
            out[code] = p.id
        if loans:
            for lp in DEFAULT_PRODUCTS:
                s.add(LoanProduct(**lp))
            s.flush()
        items.sync_items(s, SYSTEM)
    return out


def grade(engine, customer_id: int, g: str, *, lapsed: bool = False) -> None:
    now = clock.now()
    with db.session_scope(engine) as s:
        s.add(RiskAssessment(customer_id=customer_id, questionnaire_version=1, answers={}, score=50, grade=g,
                             taken_at=now - timedelta(days=400 if lapsed else 1),
                             expires_at=now - timedelta(days=35) if lapsed else now + timedelta(days=364)))


def hold(engine, customer_id: int, product_id: int) -> None:
    with db.session_scope(engine) as s:
        s.add(Holding(customer_id=customer_id, product_id=product_id, units_micro=1_000_000, cost_minor=100_00))


def customer_actor(customer_id: int, user_id: int = 1) -> Principal:
    return Principal(user_id=user_id, username=f"c{customer_id}", role="customer", customer_id=customer_id)


def item_rows(engine) -> dict[str, Any]:
    with db.session_scope(engine) as s:
        return {i.item_key: (i.status, i.item_type, dict(i.features or {}), i.risk_level)
                for i in s.scalars(select(RecItem))}


def test_sync_copies_both_catalogues_with_content_features(engine):
    make_products(engine)
    rows = item_rows(engine)
    assert rows["wealth:BOND1"][:2] == ("active", "wealth")
    f = rows["wealth:BOND1"][2]
    assert f["kind"] == "fund" and f["asset_class"] == "bond" and f["risk_level"] == "R2" and f["tags"] == ["bond"]
    assert rows["wealth:TD1Y"][2]["term_days"] == 365 and rows["wealth:TD1Y"][2]["rate_bps"] == 175
    assert rows["loan:PERSONAL"][1] == "loan" and rows["loan:PERSONAL"][2]["min_age"] == 18
    assert rows["wealth:BOND1"][3] == "R2" and rows["loan:PERSONAL"][3] is None


def test_sync_follows_status_and_is_idempotent(engine):
    ids = make_products(engine)
    with db.session_scope(engine) as s:
        s.get(WealthProduct, ids["EQ2"]).status = "closed"
        first = items.sync_items(s, SYSTEM)
        again = items.sync_items(s, SYSTEM)
    assert first["updated"] == 1 and again == {"added": 0, "updated": 0, "closed": 0, "items": first["items"]}
    assert item_rows(engine)["wealth:EQ2"][0] == "closed"


@pytest.mark.any_backend
def test_sync_is_for_marketers_and_admins(engine):
    with db.session_scope(engine) as s, pytest.raises(Forbidden):
        items.sync_items(s, Principal(user_id=2, username="t", role="teller", customer_id=None))
    assert items.parse_item_key("wealth:BOND1") == ("wealth", "BOND1") and items.parse_item_key("bad") == ("", "")

"""The wealth API end to end: questionnaire and assessment, catalogue, suitability refusals (kept on record),
the acknowledgement path, idempotent purchases, settlement into holdings, redemption and staff routes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from smartbank import clock, db
from smartbank.wealth import orders, products, seed
from smartbank.wealth.models import RiskAssessment
from tests.api.support import API, assert_error
from tests.changes import approve
from tests.conftest import login


@pytest.fixture
def w(client, bank, engine):
    with db.session_scope(engine) as s:
        seed.seed(s, codes=["TD3M", "TD1Y", "F-BOND", "F-SP500", "WMP-EQ"], years=1)
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=1_000_000)
    bank.account(bob, balance=1_000)
    bank.user("alice", customer_id=alice)
    bank.user("bob", customer_id=bob)
    bank.user("risk1", role="risk_officer")
    bank.user("mark1", role="marketer")
    return {"alice": alice, "a1": a1, "h": {u: login(client, u) for u in ("alice", "bob", "risk1", "mark1")}}


def _checks(engine) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text("SELECT outcome, reason_code, customer_grade, channel"
                                                 " FROM suitability_checks ORDER BY id"))]


def test_assessment_purchase_suitability_and_holdings(client, bank, engine, w):
    h = w["h"]["alice"]
    q = client.get(f"{API}/wealth/questionnaire", headers=h).json()
    assert q["version"] == 1 and len(q["questions"]) == 10
    assert client.get(f"{API}/wealth/assessment", headers=h).json()["never_taken"] is True
    bad = client.post(f"{API}/wealth/assessments", json={"answers": {"age": 1}}, headers=h)
    assert_error(bad, 422, "validation_error")
    assert bank.count("risk_assessments") == 0
    r = client.post(f"{API}/wealth/assessments", json={"answers": {x["id"]: 1 for x in q["questions"]}}, headers=h)
    assert r.status_code == 201 and r.json()["grade"] == "C3" and r.json()["days_left"] in (364, 365)

    cat = client.get(f"{API}/wealth/products?kind=fund", headers=h).json()
    assert {p["code"] for p in cat} == {"F-BOND", "F-SP500"}
    page = client.get(f"{API}/wealth/products/F-SP500", headers=h).json()
    assert page["risk_level"] == "R4" and page["metrics"]["annualised_volatility"] > 0 and page["chart"]

    buy = {"product_code": "WMP-EQ", "account_id": w["a1"], "amount_minor": 100_000, "idempotency_key": "b1"}
    body = assert_error(client.post(f"{API}/wealth/orders/purchase", json=buy, headers=h), 403, "unsuitable_product")
    assert body["details"]["reason_code"] == "SUIT-ABOVE-GRADE" and "风险" in body["details"]["reason_zh"]
    assert _checks(engine) == [("refused", "SUIT-ABOVE-GRADE", "C3", "api")]  # kept although the request failed
    assert bank.count("wealth_orders") == 0 and bank.balance(w["a1"]) == 1_000_000

    buy = {"product_code": "F-SP500", "account_id": w["a1"], "amount_minor": 100_000, "idempotency_key": "b2"}
    body = assert_error(client.post(f"{API}/wealth/orders/purchase", json=buy, headers=h), 409,
                        "acknowledgement_required")
    ack = body["details"]["acknowledgement_en"]
    r = client.post(f"{API}/wealth/orders/purchase", json=buy | {"acknowledgement": ack}, headers=h)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "pending" and order["product_code"] == "F-SP500"
    again = client.post(f"{API}/wealth/orders/purchase", json=buy | {"acknowledgement": ack}, headers=h)
    assert again.status_code == 200 and again.json()["id"] == order["id"] and again.json()["replayed"]
    assert_error(client.post(f"{API}/wealth/orders/purchase", json=buy | {"amount_minor": 200_000,
                                                                            "acknowledgement": ack}, headers=h),
                 409, "idempotency_key_reused")
    assert _checks(engine)[-1] == ("acknowledged", "SUIT-ABOVE-GRADE-ACK", "C3", "api")
    assert bank.balance(w["a1"]) == 900_000

    # bob sees none of it
    hb = w["h"]["bob"]
    assert_error(client.get(f"{API}/wealth/orders/{order['id']}", headers=hb), 404, "not_found")
    assert client.get(f"{API}/wealth/orders", headers=hb).json() == []
    assert client.get(f"{API}/wealth/holdings", headers=hb).json()["holdings"] == []

    # settle (T+2 weekdays) and read the holding
    with db.session_scope(engine) as s:
        settle = orders.settle_day(s, orders.today() + timedelta(days=7))
        assert settle["purchases_settled"] == 1 and settle["fees_minor"] == 1_200
    hold = client.get(f"{API}/wealth/holdings", headers=h).json()
    (item,) = hold["holdings"]
    assert item["code"] == "F-SP500" and item["cost_minor"] == 100_000 and item["units_micro"] > 0
    assert item["market_value_minor"] + 1_200 == pytest.approx(100_000, abs=2)  # same-day NAV: value = net
    assert "annualised_volatility" in item["analytics"] and hold["analytics"] is not None

    r = client.post(f"{API}/wealth/orders/redeem", json={"product_code": "F-SP500", "account_id": w["a1"],
                                                          "idempotency_key": "r1"}, headers=h)
    assert r.status_code == 201 and r.json()["units_micro"] == item["units_micro"]
    with db.session_scope(engine) as s:
        assert orders.settle_day(s, orders.today() + timedelta(days=14))["redemptions_settled"] == 1
    assert client.get(f"{API}/wealth/holdings", headers=h).json()["holdings"] == []
    bank.assert_invariants()

    log = client.get(f"{API}/wealth/suitability-checks?outcome=refused", headers=w["h"]["risk1"]).json()
    assert [c["product_code"] for c in log] == ["WMP-EQ"]
    assert_error(client.get(f"{API}/wealth/suitability-checks", headers=h), 403, "forbidden")


def test_lapsed_assessment_refuses_through_the_api(client, bank, engine, w):
    taken = clock.now() - timedelta(days=400)
    with db.session_scope(engine) as s:
        s.add(RiskAssessment(customer_id=w["alice"], questionnaire_version=1, answers={}, score=90, grade="C5",
                             taken_at=taken, expires_at=taken + timedelta(days=365)))
    st = client.get(f"{API}/wealth/assessment", headers=w["h"]["alice"]).json()
    assert st["lapsed"] is True and st["last_grade"] == "C5"
    buy = {"product_code": "F-BOND", "account_id": w["a1"], "amount_minor": 10_000, "idempotency_key": "x1"}
    body = assert_error(client.post(f"{API}/wealth/orders/purchase", json=buy, headers=w["h"]["alice"]), 403,
                        "unsuitable_product")
    assert body["details"]["reason_code"] == "SUIT-NO-ASSESSMENT"
    assert _checks(engine) == [("refused", "SUIT-NO-ASSESSMENT", None, "api")]
    # a time deposit needs no assessment
    td = buy | {"product_code": "TD3M", "idempotency_key": "x2"}
    assert client.post(f"{API}/wealth/orders/purchase", json=td, headers=w["h"]["alice"]).status_code == 201


def test_staff_manage_products(client, engine, w):
    hm = w["h"]["mark1"]
    new = {"code": "F-API", "name_en": "API fund", "name_zh": "接口基金", "kind": "fund", "risk_level": "R2",
           "asset_class": "bond", "min_amount_minor": 1_000}
    assert_error(client.post(f"{API}/wealth/products", json=new, headers=w["h"]["alice"]), 403, "forbidden")
    r = client.post(f"{API}/wealth/products", json=new, headers=hm)
    assert r.status_code == 202 and client.get(f"{API}/wealth/products/F-API", headers=hm).status_code == 404
    approve(r)
    r = client.post(f"{API}/wealth/products/F-API/navs", json={"day": "2026-03-02", "nav_micro": 1_000_500}, headers=hm)
    assert r.status_code == 201
    assert client.get(f"{API}/wealth/products/F-API/navs", headers=hm).json() == [["2026-03-02", 1_000_500]]
    assert approve(client.patch(f"{API}/wealth/products/F-API", json={"redemption_fee_bps": 20},
                                headers=hm))["after"]["redemption_fee_bps"] == 20
    assert approve(client.post(f"{API}/wealth/products/F-API/close", headers=hm))["after"]["status"] == "closed"
    with db.session_scope(engine) as s:
        assert products.get_product(s, "F-API").status == "closed"

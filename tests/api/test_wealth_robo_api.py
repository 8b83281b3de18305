"""Robo-advice API: propose (validated, refused without a grade, nothing written), list and read own plans,
drift, follow (idempotent), and staff advisers."""

from __future__ import annotations

import pytest

from smartbank import clock, db
from smartbank.wealth.models import Holding
from tests.api.support import API, assert_error, state
from tests.conftest import login
from tests.wealth.test_robo import assess, make_catalogue

R = f"{API}/wealth/robo"


@pytest.fixture
def w(client, bank, engine):
    ids = make_catalogue(engine, until=clock.today(), days=260)
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=1_000_000_00)
    bank.user("alice", customer_id=alice)
    bank.user("bob", customer_id=bob)
    bank.user("agent1", role="service_agent")
    bank.user("teller1", role="teller")
    assess(engine, alice, "C3", at=clock.now())
    h = {u: login(client, u) for u in ("alice", "bob", "agent1", "teller1")}
    return {"alice": alice, "bob": bob, "a1": a1, "h": h, "ids": ids}


def test_propose_read_list_and_drift(client, w, engine):
    h = w["h"]["alice"]
    r = client.post(f"{R}/plans", json={"amount_minor": 200_000_00, "horizon_months": 36}, headers=h)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["grade"] == "C3" and plan["method"] == "risk_parity" and plan["status"] == "proposed"
    assert sum(plan["amounts"].values()) == 200_000_00
    assert sum(plan["weights"].values()) == pytest.approx(1.0, abs=1e-6)
    assert plan["backtest"]["sharpe"] is not None and "equal_weight_sharpe" in plan["backtest"]
    assert {ln["code"] for ln in plan["lines"]} == set(plan["weights"])
    got = client.get(f"{R}/plans/{plan['id']}", headers=h).json()
    assert got["id"] == plan["id"] and got["backtest"]["curve"]["dates"]
    r2 = client.post(f"{R}/plans", json={"amount_minor": 100_000_00, "horizon_months": 6}, headers=h).json()
    plans = client.get(f"{R}/plans", headers=h).json()
    assert [p["id"] for p in plans] == [r2["id"], plan["id"]]
    assert [p["status"] for p in plans] == ["proposed", "superseded"]
    assert "curve" not in plans[0]["backtest"]
    d = client.get(f"{R}/plans/{plan['id']}/drift", headers=h).json()
    assert d["status"] == "not_invested" and d["suggestions"] == []
    # someone else's plan is not found; a teller may not read plans; an adviser may
    assert_error(client.get(f"{R}/plans/{plan['id']}", headers=w["h"]["bob"]), 404, "not_found")
    assert_error(client.get(f"{R}/plans/{plan['id']}/drift", headers=w["h"]["bob"]), 404, "not_found")
    assert_error(client.get(f"{R}/plans?customer_id={w['alice']}", headers=w["h"]["bob"]), 404, "not_found")
    assert_error(client.get(f"{R}/plans/{plan['id']}", headers=w["h"]["teller1"]), 403, "forbidden")
    assert client.get(f"{R}/plans?customer_id={w['alice']}", headers=w["h"]["agent1"]).status_code == 200


def test_refusals_write_nothing(client, w, engine):
    before = state(engine)
    bad = [({"amount_minor": 0, "horizon_months": 12}, 422), ({"amount_minor": 100, "horizon_months": 0}, 422),
           ({"amount_minor": 100, "horizon_months": 400}, 422), ({"amount_minor": "100", "horizon_months": 12}, 422),
           ({"amount_minor": 100_000_00}, 422), ({"amount_minor": 50, "horizon_months": 12}, 422)]
    for body, status in bad:
        assert_error(client.post(f"{R}/plans", json=body, headers=w["h"]["alice"]), status)
    # bob has no assessment
    body = assert_error(client.post(f"{R}/plans", json={"amount_minor": 100_000_00, "horizon_months": 24},
                                    headers=w["h"]["bob"]), 422, "assessment_required")
    assert "assessment" in body["message"]
    assert_error(client.post(f"{R}/plans", json={"amount_minor": 100_000_00, "horizon_months": 24}), 401)
    assert_error(client.post(f"{R}/plans", json={"amount_minor": 100_000_00, "horizon_months": 24,
                                                 "customer_id": w["alice"]}, headers=w["h"]["teller1"]), 403)
    assert state(engine) == before


def test_follow_then_drift(client, w, engine, bank):
    h = w["h"]["alice"]
    plan = client.post(f"{R}/plans", json={"amount_minor": 100_000_00, "horizon_months": 24}, headers=h).json()
    assert_error(client.post(f"{R}/plans/{plan['id']}/follow", json={"account_id": w["a1"]}, headers=h), 422)
    body = {"account_id": w["a1"], "idempotency_key": "robo-follow-1"}
    r = client.post(f"{R}/plans/{plan['id']}/follow", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert {o["product_code"]: o["amount_minor"] for o in r.json()["orders"]} == plan["amounts"]
    r = client.post(f"{R}/plans/{plan['id']}/follow", json=body, headers=h)
    assert r.status_code == 200 and r.json()["replayed"]
    assert bank.balance(w["a1"]) == 900_000_00
    # the orders settle into holdings; put everything in the first product: far outside the band
    first = plan["lines"][0]["code"]
    with db.session_scope(engine) as s:
        s.add(Holding(customer_id=w["alice"], product_id=w["ids"][first], units_micro=100_000 * 1_000_000,
                      cost_minor=100_000_00))
    d = client.get(f"{R}/plans/{plan['id']}/drift", headers=h).json()
    assert d["status"] == "rebalance" and d["rebalance"]
    actions = {x["code"]: x["action"] for x in d["suggestions"]}
    assert actions[first] == "sell" and set(actions.values()) <= {"buy", "sell"}


def test_a_5000_yuan_plan_never_leaves_out_a_1_10_or_50_yuan_product_as_below_its_minimum(client, w, bank, engine):
    carol = bank.customer("张伟")
    bank.user("carol", customer_id=carol)
    assess(engine, carol, "C5", at=clock.now())
    h = login(client, "carol")
    for horizon in (6, 36):
        r = client.post(f"{R}/plans", json={"amount_minor": 5_000_00, "horizon_months": horizon}, headers=h)
        assert r.status_code == 201, r.text
        plan = r.json()
        mins = {p.code: p.min_amount_minor for p in _products(engine)}
        small = [x for x in plan["left_out"] if mins[x["code"]] <= 50_00
                 and x["reason"] in ("below_minimum_amount", "allocation_below_minimum")]
        assert small == [], small
        assert all(a >= mins[k] for k, a in plan["amounts"].items())
        assert sum(plan["amounts"].values()) + plan["uninvested_minor"] == 5_000_00


def _products(engine):
    from sqlalchemy import select

    from smartbank.wealth.models import WealthProduct
    with db.session_scope(engine) as s:
        out = list(s.scalars(select(WealthProduct)))
        s.expunge_all()
        return out


def test_a_plan_is_not_bought_from_an_account_short_of_its_amount(client, w, bank, engine):
    carol = bank.customer("张伟")
    poor = bank.account(carol, balance=8_499_00)
    bank.user("carol", customer_id=carol)
    assess(engine, carol, "C3", at=clock.now())
    h = login(client, "carol")
    plan = client.post(f"{R}/plans", json={"amount_minor": 100_000_00, "horizon_months": 36}, headers=h).json()
    before = state(engine)
    body = assert_error(client.post(f"{R}/plans/{plan['id']}/follow",
                                    json={"account_id": poor, "idempotency_key": "short-1"}, headers=h),
                        422, "plan_insufficient_funds")
    assert body["details"]["available_minor"] == 8_499_00 and body["details"]["needed_minor"] == 100_000_00
    assert body["details"]["shortfall_minor"] == 100_000_00 - 8_499_00
    assert state(engine) == before and bank.balance(poor) == 8_499_00
    assert client.get(f"{R}/plans/{plan['id']}", headers=h).json()["status"] == "proposed"
    # with enough money the same plan is bought, and a replay still answers after the balance went down
    rich = bank.account(carol, balance=150_000_00)
    ok = {"account_id": rich, "idempotency_key": "enough-1"}
    r = client.post(f"{R}/plans/{plan['id']}/follow", json=ok, headers=h)
    assert r.status_code == 201, r.text
    assert bank.balance(rich) == 50_000_00
    r = client.post(f"{R}/plans/{plan['id']}/follow", json=ok, headers=h)
    assert r.status_code == 200 and r.json()["replayed"]

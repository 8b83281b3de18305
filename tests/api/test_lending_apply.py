"""Lending API: products, rates, quotes, prefill, applications (idempotent, validated, own only) and the
loan officers' reviews (roles, maker-checker)."""

from __future__ import annotations

import pytest

from smartbank import db
from smartbank.lending import decision, seed
from tests.api.support import API, assert_error, state
from tests.changes import approve
from tests.conftest import login
from tests.lending.test_applications import FakeScorer


@pytest.fixture
def w(client, bank, engine, monkeypatch):
    with db.session_scope(engine) as s:
        seed.seed(s)
    scorer = FakeScorer(pd=0.01)
    monkeypatch.setattr(decision, "get_scorer", lambda: scorer)
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1, b1 = bank.account(alice, balance=100_000), bank.account(bob)
    bank.user("alice", customer_id=alice)
    bank.user("bob", customer_id=bob)
    for name, role in (("lo1", "loan_officer"), ("lo2", "loan_officer"), ("teller1", "teller"),
                       ("mark1", "marketer"), ("admin1", "admin")):
        bank.user(name, role=role)
    h = {u: login(client, u) for u in ("alice", "bob", "lo1", "lo2", "teller1", "mark1", "admin1")}
    return {"alice": alice, "a1": a1, "b1": b1, "h": h, "scorer": scorer}


def body(w, **kw):
    return {"product": "PERSONAL", "account_id": w["a1"], "amount_minor": 5_000_000, "term_months": 24,
            "method": "equal_installment", "purpose": "装修", "monthly_income_minor": 2_000_000,
            "employment": "employed", "existing_debt_minor": 0, "existing_monthly_repayment_minor": 0,
            "dependents": 1, **kw}


def test_products_rates_quote_prefill(client, w):
    h = w["h"]["alice"]
    items = client.get(f"{API}/lending/products", headers=h).json()["items"]
    assert [p["code"] for p in items] == ["PERSONAL", "SME", "MORTGAGE", "CAR"]
    r = client.get(f"{API}/lending/rates?on=2025-01-01", headers=h).json()
    assert r["in_force"] == {"LPR1Y": 310, "LPR5Y": 360}
    q = client.get(f"{API}/lending/quote?product=PERSONAL&amount_minor=1200000&term_months=12", headers=h).json()
    assert q["best_rate_bps"] == 350 and q["best"][0]["payment_minor"] > 100_000
    assert_error(client.get(f"{API}/lending/quote?product=PERSONAL&amount_minor=1&term_months=12", headers=h),
                 422, "amount_out_of_range")
    p = client.get(f"{API}/lending/applications/prefill?product=PERSONAL", headers=h).json()
    assert p["values"]["account_id"] == w["a1"]
    assert_error(client.get(f"{API}/lending/products"), 401)


def test_apply_idempotent_and_read_own(client, w):
    h = w["h"]["alice"]
    r = client.post(f"{API}/lending/applications", json=body(w), headers={**h, "Idempotency-Key": "a-1"})
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["status"] == "approved" and app["offer"]["monthly_payment_minor"] > 0
    assert [p["state"] for p in app["progress"] if p["done"]] == ["submitted", "scoring", "approved"]
    again = client.post(f"{API}/lending/applications", json=body(w), headers={**h, "Idempotency-Key": "a-1"})
    assert again.status_code == 200 and again.json()["id"] == app["id"]
    assert_error(client.post(f"{API}/lending/applications", json=body(w, amount_minor=6_000_000),
                             headers={**h, "Idempotency-Key": "a-1"}), 409, "idempotency_key_reused")
    assert [a["id"] for a in client.get(f"{API}/lending/applications", headers=h).json()["items"]] == [app["id"]]
    assert client.get(f"{API}/lending/applications", headers=w["h"]["bob"]).json()["items"] == []
    assert_error(client.get(f"{API}/lending/applications/{app['id']}", headers=w["h"]["bob"]), 404, "not_found")
    r = client.post(f"{API}/lending/applications/{app['id']}/withdraw", json={"note": "changed my mind"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert_error(client.post(f"{API}/lending/applications/{app['id']}/accept", headers=h), 409, "illegal_transition")


@pytest.mark.parametrize("change", [
    {"amount_minor": "5000000"}, {"amount_minor": 5_000_000.0}, {"amount_minor": True}, {"term_months": 0},
    {"method": "bullet"}, {"employment": "pirate"}, {"unknown": 1}, {"purpose": ""}, {"amount_minor": 10},
    {"account_id": 10**9}, {"product": "NOPE"}, {"monthly_income_minor": -5},
])
def test_bad_applications_write_nothing(client, w, engine, change):
    before = state(engine)
    r = client.post(f"{API}/lending/applications", json=body(w, **change), headers=w["h"]["alice"])
    assert r.status_code in (404, 422), r.text
    assert_error(r, r.status_code)
    assert state(engine) == before


def test_declined_customer_sees_main_reasons(client, w):
    w["scorer"].pd = 0.5
    app = client.post(f"{API}/lending/applications", json=body(w), headers=w["h"]["alice"]).json()
    assert app["status"] == "declined"
    assert app["decision"]["reasons"][0]["code"] == "MODEL-GRADE-E"
    assert set(app["decision"]["reasons"][0]) == {"code", "en", "zh"}


def test_reviews_are_for_loan_officers_and_large_approvals_need_two(client, w, engine):
    big = body(w, amount_minor=25_000_000, monthly_income_minor=10_000_000, term_months=60)
    app = client.post(f"{API}/lending/applications", json=big, headers=w["h"]["alice"]).json()
    assert app["status"] == "manual_review"
    aid = app["id"]
    for who in ("alice", "teller1", "mark1"):
        before = state(engine)
        assert_error(client.get(f"{API}/lending/reviews", headers=w["h"][who]), 403, "forbidden")
        assert_error(client.post(f"{API}/lending/reviews/{aid}/decision", json={"outcome": "approve"},
                                 headers=w["h"][who]), 403, "forbidden")
        assert state(engine) == before
    q = client.get(f"{API}/lending/reviews", headers=w["h"]["lo1"]).json()
    assert [i["id"] for i in q["items"]] == [aid] and q["items"][0]["needs_two"]
    assert client.post(f"{API}/lending/reviews/{aid}/claim", headers=w["h"]["lo1"]).status_code == 200
    case = client.get(f"{API}/lending/reviews/{aid}", headers=w["h"]["lo1"]).json()
    r = client.post(f"{API}/lending/reviews/{aid}/decision",
                    json={"outcome": "approve", "version": case["application"]["version"]}, headers=w["h"]["lo1"])
    assert r.status_code == 200 and r.json()["stage"] == "maker" and r.json()["status"] == "manual_review"
    assert_error(client.post(f"{API}/lending/reviews/{aid}/decision", json={"outcome": "approve"},
                             headers=w["h"]["lo1"]), 409, "same_officer")
    assert_error(client.post(f"{API}/lending/reviews/{aid}/decision", json={"outcome": "decline"},
                             headers=w["h"]["lo2"]), 422)
    r = client.post(f"{API}/lending/reviews/{aid}/decision", json={"outcome": "approve"}, headers=w["h"]["lo2"])
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["stage"] == "checker"
    assert client.get(f"{API}/lending/applications/{aid}", headers=w["h"]["alice"]).json()["can_accept"]


def test_rates_and_products_are_set_by_admins(client, w):
    new = {"name": "LPR1Y", "rate_bps": 290, "effective_date": "2026-01-20"}
    assert_error(client.post(f"{API}/lending/rates", json=new, headers=w["h"]["lo1"]), 403, "forbidden")
    r = client.post(f"{API}/lending/rates", json=new, headers=w["h"]["admin1"])
    assert r.status_code == 202 and r.json()["status"] == "pending_approval"  # a second administrator approves
    rates = client.get(f"{API}/lending/rates?name=LPR1Y", headers=w["h"]["admin1"]).json()["items"]
    assert not any(x["effective_date"] == "2026-01-20" for x in rates)
    assert_error(client.post(f"{API}/changes/{r.json()['change']['id']}/approve", headers=w["h"]["admin1"]),
                 409, "same_officer")
    assert approve(r)["after"] == {"rate_bps": 290, "effective_date": "2026-01-20"}
    rates = client.get(f"{API}/lending/rates?name=LPR1Y", headers=w["h"]["admin1"]).json()["items"]
    assert any(x["effective_date"] == "2026-01-20" and x["rate_bps"] == 290 for x in rates)
    assert_error(client.post(f"{API}/lending/rates", json=new, headers=w["h"]["admin1"]), 409)
    assert_error(client.patch(f"{API}/lending/products/PERSONAL", json={"max_dti": 0.5}, headers=w["h"]["lo1"]),
                 403, "forbidden")
    # a product's spreads are proposed and applied on approval
    spreads = {"A": 40, "B": 90, "C": 160, "D": 260, "E": 700}
    r = client.patch(f"{API}/lending/products/PERSONAL", json={"spreads_bps": spreads}, headers=w["h"]["admin1"])
    assert r.status_code == 202, r.text
    assert approve(r)["after"]["spreads_bps"] == spreads

"""``POST /lending/loans/{id}/write-off``: risk officers and admins write off a loan classified loss; every
refusal writes nothing."""

from __future__ import annotations

from smartbank.lending import servicing
from tests.api.support import API, assert_error, state
from tests.conftest import login
from tests.lending.support import customer, disbursed, fund
from tests.lending.test_writeoff import bad_loan


def test_write_off_over_the_api(client, bank, engine):
    loan_id, _acct, _me = bad_loan(bank, engine, name="王芳")
    bank.user("alice", customer_id=_me.customer_id)
    for name, role in (("risk1", "risk_officer"), ("officer1", "loan_officer"), ("teller1", "teller")):
        bank.user(name, role=role)
    cid, acct, _ = customer(bank, "李娜", balance=100_000)
    current = disbursed(engine, cid, acct, start=servicing.today(), amount=300_000, rate_bps=600, term=12)
    h = {u: login(client, u) for u in ("alice", "risk1", "officer1", "teller1")}
    url = f"{API}/lending/loans/{loan_id}/write-off"
    before = state(engine)
    for user in ("alice", "officer1", "teller1"):
        assert_error(client.post(url, json={"reason": "uncollectable"}, headers=h[user]), 403, "forbidden")
    for body in ({}, {"reason": ""}, {"reason": "x" * 201}, {"reason": "ok", "amount_minor": 1}):
        assert client.post(url, json=body, headers=h["risk1"]).status_code == 422
    assert client.post(url, content=b"{", headers=h["risk1"] | {"Content-Type": "application/json"}).status_code == 400
    assert_error(
        client.post(f"{API}/lending/loans/{10**9}/write-off", json={"reason": "x"}, headers=h["risk1"]),
        404,
        "not_found",
    )
    body = assert_error(
        client.post(f"{API}/lending/loans/{current}/write-off", json={"reason": "x"}, headers=h["risk1"]), 409
    )
    assert "classified loss" in body["message"]
    assert state(engine) == before

    r = client.post(url, json={"reason": "borrower untraceable"}, headers=h["risk1"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "written_off" and r.json()["written_off_minor"] == 600_000
    after = state(engine)
    assert_error(client.post(url, json={"reason": "again"}, headers=h["risk1"]), 409)
    assert state(engine) == after
    view = client.get(f"{API}/lending/loans/{loan_id}", headers=h["alice"]).json()
    assert view["status"] == "written_off" and view["outstanding_minor"] == 0
    owed = view["still_owed_minor"]
    assert owed == r.json()["still_owed_minor"] > 600_000
    # what is still owed is paid with an ordinary repayment (a recovery), here with money the account lacks
    pay = f"{API}/lending/loans/{loan_id}/repayments"
    assert_error(client.post(pay, json={}, headers=h["alice"] | {"Idempotency-Key": "k1"}), 422, "insufficient_funds")
    assert state(engine) == after
    fund(bank, _acct, 50_000, "found-money")
    r = client.post(pay, json={"amount_minor": 50_000}, headers=h["alice"] | {"Idempotency-Key": "k2"})
    assert r.status_code in (200, 201), r.text
    assert r.json()["kind"] == "recovery" and r.json()["amount_minor"] == 50_000
    view = client.get(f"{API}/lending/loans/{loan_id}", headers=h["alice"]).json()
    assert view["still_owed_minor"] == owed - 50_000 and view["status"] == "written_off"
    body = assert_error(
        client.post(pay, json={"early": True}, headers=h["alice"] | {"Idempotency-Key": "k3"}),
        409,
    )
    assert "written off" in body["message"]
    bank.assert_invariants()


def test_collections_over_the_api(client, bank, engine):
    loan_id, _acct, me = bad_loan(bank, engine, name="赵敏")
    bank.user("risk1", role="risk_officer")
    bank.user("bob", customer_id=me.customer_id)
    h = {u: login(client, u) for u in ("risk1", "bob")}
    r = client.post(f"{API}/lending/loans/{loan_id}/write-off", json={"reason": "gone"}, headers=h["risk1"])
    owed = r.json()["still_owed_minor"]
    url = f"{API}/lending/loans/{loan_id}/collections"
    before = state(engine)
    assert_error(client.post(url, json={"amount_minor": 1_000, "reference": "A1"},
                             headers=h["bob"] | {"Idempotency-Key": "k"}), 403, "forbidden")
    for body in ({"amount_minor": 1_000}, {"amount_minor": 0, "reference": "A1"},
                 {"amount_minor": "10", "reference": "A1"}, {"amount_minor": owed + 1, "reference": "A1"},
                 {"amount_minor": 1_000, "reference": "x" * 101}):
        assert client.post(url, json=body, headers=h["risk1"] | {"Idempotency-Key": "k"}).status_code == 422, body
    assert client.post(url, json={"amount_minor": 1_000, "reference": "A1"}, headers=h["risk1"]).status_code == 422
    assert state(engine) == before
    r = client.post(url, json={"amount_minor": 50_000, "reference": "AGY-1"},
                    headers=h["risk1"] | {"Idempotency-Key": "k"})
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "collected" and r.json()["still_owed_minor"] == owed - 50_000
    again = client.post(url, json={"amount_minor": 50_000, "reference": "AGY-1"},
                        headers=h["risk1"] | {"Idempotency-Key": "k"})
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    view = client.get(f"{API}/lending/loans/{loan_id}", headers=h["bob"]).json()
    assert view["still_owed_minor"] == owed - 50_000
    bank.assert_invariants()

from __future__ import annotations

from tests.conftest import login


def _setup(bank):
    alice = bank.customer("王芳")
    bob = bank.customer("李娜")
    a1 = bank.account(alice, balance=100_000)
    b1 = bank.account(bob)
    bank.user("alice", customer_id=alice)
    bank.user("bob", customer_id=bob)
    return alice, bob, a1, b1


def _number(client, headers, account_id):
    return client.get(f"/api/v1/accounts/{account_id}", headers=headers).json()["number"]


def test_transfer_posts_and_replays(client, bank):
    _, _, a1, b1 = _setup(bank)
    ha, hb = login(client, "alice"), login(client, "bob")
    to = _number(client, hb, b1)
    body = {"from_account_id": a1, "to_account_number": to, "amount_minor": 2_500, "currency": "CNY",
            "memo": "lunch", "idempotency_key": "k-1"}
    r = client.post("/api/v1/transfers", json=body, headers=ha)
    assert r.status_code == 201, r.text
    again = client.post("/api/v1/transfers", json=body, headers=ha)
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    clash = client.post("/api/v1/transfers", json={**body, "amount_minor": 2_600}, headers=ha)
    assert clash.status_code == 409 and clash.json()["code"] == "idempotency_key_reused"
    assert bank.balance(a1) == 97_500 and bank.balance(b1) == 2_500
    assert r.headers.get("x-request-id")
    bank.assert_invariants()


def test_insufficient_funds_writes_nothing(client, bank):
    _, _, a1, b1 = _setup(bank)
    ha, hb = login(client, "alice"), login(client, "bob")
    before = bank.count("transfers")
    r = client.post("/api/v1/transfers", headers=ha, json={
        "from_account_id": a1, "to_account_number": _number(client, hb, b1), "amount_minor": 100_001,
        "idempotency_key": "big"})
    assert r.status_code == 422 and r.json()["code"] == "insufficient_funds"
    assert set(r.json()) == {"code", "reason", "message", "details"}
    assert bank.count("transfers") == before and bank.count("entries") == 2


def test_cannot_spend_from_another_customers_account(client, bank):
    _, _, a1, b1 = _setup(bank)
    hb = login(client, "bob")
    r = client.post("/api/v1/transfers", headers=hb, json={
        "from_account_id": a1, "to_account_number": _number(client, hb, b1), "amount_minor": 1,
        "idempotency_key": "steal"})
    assert r.status_code == 404
    assert client.get(f"/api/v1/accounts/{a1}", headers=hb).status_code == 404
    assert client.get(f"/api/v1/accounts/{a1}/transactions", headers=hb).status_code == 404
    assert bank.balance(a1) == 100_000

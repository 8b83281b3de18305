"""Response bodies have one shape whatever the database behind them."""

from __future__ import annotations

import re

from tests.api.support import API, number
from tests.conftest import login

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")


def test_transfer_timestamps_are_rfc3339_with_a_timezone(client, bank, engine):
    a = bank.customer()
    a1 = bank.account(a, balance=1_000)
    b1 = bank.account(bank.customer())
    bank.user("alice", customer_id=a)
    h = login(client, "alice")
    body = {"from_account_id": a1, "to_account_number": number(engine, b1), "amount_minor": 1, "idempotency_key": "k"}
    created = client.post(f"{API}/transfers", json=body, headers=h).json()
    replayed = client.post(f"{API}/transfers", json=body, headers=h).json()
    fetched = client.get(f"{API}/transfers/{created['id']}", headers=h).json()
    for t in (created, replayed, fetched):
        assert RFC3339.fullmatch(t["created_at"]), t["created_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", t["value_date"])
    assert created["created_at"] == replayed["created_at"] == fetched["created_at"]
    item = client.get(f"{API}/accounts/{a1}/transactions", headers=h).json()["items"][0]
    assert RFC3339.fullmatch(item["created_at"]), item["created_at"]

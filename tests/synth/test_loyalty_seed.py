"""The synthetic bank's loyalty: points earned from its history by the rules, some redeemed, reconciled."""

from __future__ import annotations

from smartbank import db
from smartbank.loyalty import service as loyalty
from smartbank.synth.loyalty import seed_loyalty
from tests.loyalty.conftest import post


def test_seed_earns_from_history_redeems_and_reconciles(bank, engine, bank_clock):
    people = []
    for i in range(3):
        cid = bank.customer(f"客户{i}")
        people.append((cid, bank.account(cid, balance=100_000)))
    for cid, acct in people:
        post(engine, "salary", customer_account=acct, amount=500_000, inbound=True)
        for _ in range(cid):  # 1, 2 and 3 bills
            post(engine, "bill_payment", customer_account=acct)
    out = seed_loyalty(engine, seed=1, redeem_share=1.0)
    assert out["points"] == 3 * 500 + 6 * 50 and out["awarded"] == 9
    assert out["reconciled"] is True
    assert sum(out["redeemed"].values()) == 3  # each can afford the fee waiver (500) at least
    with db.session_scope(engine) as s:
        spent = sum(-p for p in [e.points for e in s.query(loyalty.LoyaltyEntry) if e.kind == "redeem"])
    assert out["outstanding_points"] == 1800 - spent == out["liability_minor"]
    again = seed_loyalty(engine, seed=1, redeem_share=0.0)
    assert again["awarded"] == 0 and again["reconciled"] is True

"""What wealth offers the domains above it: the purchase hook (the recommender's listener is registered through
it, wealth never imports the recommender) and the reads the recommender filters with."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smartbank import db
from smartbank.errors import Conflict
from smartbank.wealth import hooks
from smartbank.wealth import service as wealth
from smartbank.wealth.models import WealthOrder
from tests.lending.support import customer
from tests.wealth.test_orders import MON, TRADE, buy, grade, make_product, settle

NAVS = {TRADE + timedelta(days=d): 1_000_000 for d in range(5)}


@pytest.fixture
def listeners(monkeypatch: pytest.MonkeyPatch) -> list:
    """The registered purchase listeners, restored after the test."""
    monkeypatch.setattr(hooks, "_listeners", list(hooks._listeners))
    return hooks._listeners


def test_a_purchase_tells_every_listener_in_its_transaction(bank, engine, listeners):
    cid, acct, me = customer(bank, balance=500_000)
    make_product(engine, "F-HOOK", navs=NAVS)
    grade(engine, cid, "C3")
    seen: list[tuple[int, wealth.Purchase, int]] = []

    def listener(session, actor, purchase):
        # the order is already written in the same transaction
        n = session.scalar(select(func.count()).select_from(WealthOrder).where(WealthOrder.id == purchase.order_id))
        seen.append((actor.customer_id, purchase, n))

    assert wealth.on_purchase(listener) is listener
    wealth.on_purchase(listener)  # registered once
    o = buy(engine, me, "F-HOOK", acct, 100_000, "h1", recommendation_id=42)
    assert seen == [(cid, wealth.Purchase(customer_id=cid, product_code="F-HOOK", order_id=o["id"],
                                          recommendation_id=42, at=MON), 1)]
    buy(engine, me, "F-HOOK", acct, 100_000, "h1", recommendation_id=42)  # an idempotent replay is no new purchase
    assert len(seen) == 1


def test_a_listener_that_fails_aborts_the_purchase(bank, engine, listeners):
    cid, acct, me = customer(bank, balance=500_000)
    make_product(engine, "F-HOOK2", navs=NAVS)
    grade(engine, cid, "C3")

    def refuse(session, actor, purchase):
        raise Conflict("not now")

    wealth.on_purchase(refuse)
    with pytest.raises(Conflict):
        buy(engine, me, "F-HOOK2", acct, 100_000, "h2")
    assert bank.balance(acct) == 500_000
    with db.session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(WealthOrder)) == 0


def test_what_the_recommender_reads_about_holdings_orders_and_products(bank, engine, listeners):
    a_id, a_acct, a = customer(bank, "甲", balance=500_000)
    b_id, b_acct, b = customer(bank, "乙", balance=500_000)
    p1 = make_product(engine, "F-R1", navs=NAVS, settlement_days=1)
    p2 = make_product(engine, "F-R2", navs=NAVS, risk="R3", settlement_days=3)
    p3 = make_product(engine, "F-R3", navs=NAVS, status="closed")
    grade(engine, a_id, "C3")
    grade(engine, b_id, "C3")
    buy(engine, a, "F-R1", a_acct, 100_000, "r1")
    buy(engine, a, "F-R2", a_acct, 50_000, "r2")
    buy(engine, b, "F-R1", b_acct, 70_000, "r3", recommendation_id=7)
    settle(engine, TRADE + timedelta(days=1))  # F-R1 settles; F-R2 is still pending
    with db.session_scope(engine) as s:
        assert wealth.held_products(s, a_id) == {p1, p2}  # one held, one being bought
        assert wealth.held_products(s, b_id) == {p1}
        assert wealth.held_products(s, 999_999) == set()
        assert sorted(wealth.holders(s)) == sorted([(a_id, p1), (b_id, p1)])  # a pending purchase holds no units yet
        starts = wealth.holding_starts(s)
        assert sorted((c, p) for c, p, _ in starts) == sorted([(a_id, p1), (b_id, p1)])
        assert all(at is not None for _, _, at in starts)
        orders = wealth.purchase_orders(s)
        assert [(c, p, r) for c, p, _, r in orders] == [(a_id, p1, None), (a_id, p2, None), (b_id, p1, 7)]
        assert wealth.product_facts(s, [p1, p3]) == {p1: ("active", "fund", "R2"), p3: ("closed", "fund", "R2")}
        assert wealth.product_facts(s, []) == {}
        assert [p.id for p in wealth.all_products(s)] == [p1, p2, p3]

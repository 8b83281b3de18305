"""Purchases and redemptions: suitability first, cash through the ledger, settlement at trade-date NAV with fees,
idempotency, time deposits at maturity, cancellation, and the unit arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from smartbank import db
from smartbank.errors import Conflict, IdempotencyConflict, InsufficientFunds, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.security.service import Principal
from smartbank.wealth import orders, products, suitability
from smartbank.wealth.models import Holding, ProductNav, RiskAssessment, SuitabilityCheck, WealthOrder
from tests.lending.support import customer

MON = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
TRADE = date(2026, 3, 2)


def make_product(engine, code: str, *, kind: str = "fund", risk: str = "R2", navs: dict[date, int] | None = None,
                 **kw: Any) -> int:
    fields = {"code": code, "name_en": code, "name_zh": code, "kind": kind, "risk_level": risk,
              "asset_class": kw.pop("asset_class", "bond"), "min_amount_minor": kw.pop("min_amount_minor", 1_000),
              "launched_on": kw.pop("launched_on", TRADE - timedelta(days=30)), **kw}
    with db.session_scope(engine) as s:
        p = products.add_product(s, fields)
        for d, n in (navs or {}).items():
            s.add(ProductNav(product_id=p.id, day=d, nav_micro=n))
        return p.id


def grade(engine, customer_id: int, g: str, *, taken: datetime = MON - timedelta(days=10), days: int = 365) -> None:
    with db.session_scope(engine) as s:
        s.add(RiskAssessment(customer_id=customer_id, questionnaire_version=1, answers={}, score=0, grade=g,
                             taken_at=taken, expires_at=taken + timedelta(days=days)))


def buy(engine, actor: Principal, code: str, account: int, amount: int, key: str, **kw: Any) -> dict[str, Any]:
    with db.session_scope(engine) as s:
        o = orders.purchase(s, actor, product_code=code, account_id=account, amount_minor=amount,
                            idempotency_key=key, now=kw.pop("now", MON), **kw)
        return {"id": o.id, "replayed": orders.was_replayed(o), "settle_date": o.settle_date, "status": o.status}


def settle(engine, day: date) -> dict[str, int]:
    with db.session_scope(engine) as s:
        return orders.settle_day(s, day)


def custody_balance(engine, product_id: int) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT a.credits_posted - a.debits_posted FROM accounts a JOIN wealth_products p"
                                  " ON p.custody_account_id = a.id WHERE p.id = :p"), {"p": product_id}).scalar())


def fees_balance(engine) -> int:
    with db.session_scope(engine) as s:
        return sum(ledger.internal_balances(s, "fees").values())


NAVS = {TRADE: 1_250_000, TRADE + timedelta(days=1): 1_260_000, TRADE + timedelta(days=2): 1_300_000,
        TRADE + timedelta(days=3): 1_310_000}


def test_purchase_and_redemption_balance_in_the_ledger(bank, engine):
    cid, acct, me = customer(bank, balance=1_000_000)
    pid = make_product(engine, "F-T1", navs=NAVS, subscription_fee_bps=120, redemption_fee_bps=50,
                       settlement_days=1)
    grade(engine, cid, "C3")
    o = buy(engine, me, "F-T1", acct, 100_000, "k1")
    assert o["status"] == "pending" and o["settle_date"] == TRADE + timedelta(days=1)
    assert bank.balance(acct) == 900_000 and custody_balance(engine, pid) == 100_000
    assert settle(engine, TRADE)["purchases_settled"] == 0  # not due yet
    r = settle(engine, TRADE + timedelta(days=1))
    assert r["purchases_settled"] == 1 and r["fees_minor"] == 1_200
    # fee 1% of 100,000 fen half-even = 1,200; units = floor(98,800 * 10^10 / 1,250,000) = 790.4 units
    with db.session_scope(engine) as s:
        order = s.get(WealthOrder, o["id"])
        assert (order.fee_minor, order.nav_micro, order.units_micro, order.status) == (1_200, 1_250_000, 790_400_000,
                                                                                       "settled")
        h = s.scalars(select(Holding).where(Holding.customer_id == cid)).one()
        assert (h.units_micro, h.cost_minor, h.opened_on) == (790_400_000, 100_000, TRADE)
    assert custody_balance(engine, pid) == 98_800 and fees_balance(engine) == 1_200
    again = settle(engine, TRADE + timedelta(days=1))  # rerun: nothing new
    assert again["purchases_settled"] == 0 and fees_balance(engine) == 1_200
    # sell half on day 3 at 1.30: gross floor(395.2 * 1.30 * 100) = 51,376 fen, fee 0.5% = 257 (half-even)
    with db.session_scope(engine) as s:
        red = orders.redeem(s, me, product_code="F-T1", units_micro=395_200_000, account_id=acct,
                            idempotency_key="r1", now=MON + timedelta(days=2))
        rid = red.id
        assert s.scalars(select(Holding)).one().pending_units_micro == 395_200_000
    settle(engine, TRADE + timedelta(days=3))
    with db.session_scope(engine) as s:
        red2 = s.get(WealthOrder, rid)
        assert (red2.nav_micro, red2.fee_minor, red2.proceeds_minor) == (1_300_000, 257, 51_119)
        h = s.scalars(select(Holding)).one()
        assert (h.units_micro, h.pending_units_micro, h.cost_minor) == (395_200_000, 0, 50_000)
    assert bank.balance(acct) == 900_000 + 51_119
    assert fees_balance(engine) == 1_200 + 257
    assert custody_balance(engine, pid) == 100_000 - 1_200 - 51_119 - 257
    bank.assert_invariants()


def test_idempotency_same_key_same_order_different_body_conflicts(bank, engine):
    cid, acct, me = customer(bank, balance=500_000)
    make_product(engine, "F-T2", navs=NAVS)
    grade(engine, cid, "C2")
    first = buy(engine, me, "F-T2", acct, 10_000, "same")
    again = buy(engine, me, "F-T2", acct, 10_000, "same")
    assert again["id"] == first["id"] and again["replayed"] and not first["replayed"]
    assert bank.balance(acct) == 490_000
    with pytest.raises(IdempotencyConflict):
        buy(engine, me, "F-T2", acct, 20_000, "same")
    assert bank.count("wealth_orders") == 1 and bank.count("suitability_checks") == 1


def test_refusal_keeps_its_check_and_moves_nothing(bank, engine):
    cid, acct, me = customer(bank, balance=500_000)
    make_product(engine, "WMP-T", kind="wmp", risk="R4", navs=NAVS)
    grade(engine, cid, "C2")
    with pytest.raises(suitability.Unsuitable) as e:
        buy(engine, me, "WMP-T", acct, 10_000, "w1")
    assert e.value.status_code == 403 and e.value.code == "unsuitable_product"
    assert e.value.details["reason_code"] == "SUIT-ABOVE-GRADE" and "本行不能向您销售" in e.value.details["reason_zh"]
    with db.session_scope(engine) as s:
        c = s.scalars(select(SuitabilityCheck)).one()
        assert (c.outcome, c.customer_grade, c.product_risk, c.order_id) == ("refused", "C2", "R4", None)
    assert bank.count("wealth_orders") == 0 and bank.balance(acct) == 500_000


def test_lapsed_assessment_is_refused(bank, engine):
    cid, acct, me = customer(bank, balance=500_000)
    make_product(engine, "F-T3", risk="R1", navs=NAVS)
    grade(engine, cid, "C5", taken=MON - timedelta(days=400))  # lapsed 35 days ago
    with pytest.raises(suitability.Unsuitable) as e:
        buy(engine, me, "F-T3", acct, 10_000, "l1")
    assert e.value.details["reason_code"] == "SUIT-NO-ASSESSMENT"
    with db.session_scope(engine) as s:
        assert s.scalars(select(SuitabilityCheck.customer_grade)).one() is None


def test_fund_above_grade_needs_the_exact_acknowledgement(bank, engine):
    cid, acct, me = customer(bank, balance=500_000)
    make_product(engine, "F-T4", risk="R4", navs=NAVS, asset_class="equity")
    grade(engine, cid, "C3")
    with pytest.raises(suitability.AcknowledgementRequired) as e:
        buy(engine, me, "F-T4", acct, 10_000, "a1")
    assert e.value.status_code == 409
    text_zh = e.value.details["acknowledgement_zh"]
    assert bank.count("suitability_checks") == 0 and bank.count("wealth_orders") == 0
    with pytest.raises(ValidationFailed):
        buy(engine, me, "F-T4", acct, 10_000, "a1", acknowledgement="ok")
    o = buy(engine, me, "F-T4", acct, 10_000, "a1", acknowledgement=text_zh)
    with db.session_scope(engine) as s:
        c = s.scalars(select(SuitabilityCheck)).one()
        assert (c.outcome, c.acknowledgement, c.order_id) == ("acknowledged", text_zh, o["id"])


def test_minimum_step_funds_and_foreign_accounts(bank, engine):
    cid, acct, me = customer(bank, balance=50_000)
    _, other_acct, _ = customer(bank, "李娜", balance=50_000)
    make_product(engine, "INS-T", kind="insurance", risk="R1", navs=NAVS, min_amount_minor=10_000, step_minor=1_000)
    grade(engine, cid, "C1")
    for amount, exc in ((5_000, ValidationFailed), (10_500, ValidationFailed), (60_000, InsufficientFunds)):
        with pytest.raises(exc):
            buy(engine, me, "INS-T", acct, amount, f"m{amount}")
    with pytest.raises(NotFound):
        buy(engine, me, "INS-T", other_acct, 10_000, "m-other")
    assert bank.count("wealth_orders") == 0 and bank.count("suitability_checks") == 0


def test_time_deposit_matures_with_simple_interest_and_cannot_be_redeemed_early(bank, engine):
    cid, acct, me = customer(bank, balance=2_000_000)
    pid = make_product(engine, "TD-T", kind="time_deposit", risk="R1", asset_class="cash", term_days=91,
                       rate_bps=65, settlement_days=0, min_amount_minor=5_000)
    o = buy(engine, me, "TD-T", acct, 1_000_000, "td1")  # no assessment needed
    assert o["settle_date"] == TRADE
    settle(engine, TRADE)
    with db.session_scope(engine) as s, pytest.raises(Conflict) as e:
        orders.redeem(s, me, product_code="TD-T", units_micro=None, account_id=acct, idempotency_key="tdr",
                      now=MON + timedelta(days=5))
    assert e.value.details["maturities"] == [(TRADE + timedelta(days=91)).isoformat()]
    assert settle(engine, TRADE + timedelta(days=90))["matured"] == 0
    r = settle(engine, TRADE + timedelta(days=91))
    interest = 1_621  # 1,000,000 * 0.65% * 91 / 365 = 1,620.55 -> 1,621
    assert r["matured"] == 1 and r["paid_out_minor"] == 1_000_000 + interest
    assert settle(engine, TRADE + timedelta(days=92))["matured"] == 0
    assert bank.balance(acct) == 2_000_000 + interest and custody_balance(engine, pid) == 0
    with db.session_scope(engine) as s:
        h = s.scalars(select(Holding)).one()
        assert (h.units_micro, h.pending_units_micro, h.cost_minor) == (0, 0, 0)
    bank.assert_invariants()


def test_cancel_on_trade_day_returns_the_cash(bank, engine):
    cid, acct, me = customer(bank, balance=100_000)
    make_product(engine, "F-T5", navs=NAVS)
    grade(engine, cid, "C2")
    o = buy(engine, me, "F-T5", acct, 10_000, "c1")
    _, _, bob = customer(bank, "李娜")
    with db.session_scope(engine) as s, pytest.raises(NotFound):
        orders.cancel(s, bob, o["id"], now=MON)
    with db.session_scope(engine) as s, pytest.raises(Conflict):
        orders.cancel(s, me, o["id"], now=MON + timedelta(days=1))
    with db.session_scope(engine) as s:
        assert orders.cancel(s, me, o["id"], now=MON).status == "cancelled"
    assert bank.balance(acct) == 100_000 and settle(engine, TRADE + timedelta(days=2))["purchases_settled"] == 0
    bank.assert_invariants()


def test_another_customer_never_sees_orders(bank, engine):
    cid, acct, me = customer(bank, balance=100_000)
    _, _, bob = customer(bank, "李娜")
    make_product(engine, "F-T6", navs=NAVS)
    grade(engine, cid, "C2")
    o = buy(engine, me, "F-T6", acct, 10_000, "v1")
    with db.session_scope(engine) as s:
        with pytest.raises(NotFound):
            orders.get_order(s, bob, o["id"])
        with pytest.raises(NotFound):
            orders.list_orders(s, bob, cid)
        assert orders.list_orders(s, bob) == []
        assert [x["id"] for x in orders.list_orders(s, me)] == [o["id"]]


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(1, 10**12), nav=st.integers(1, 10**9), bps=st.integers(0, 500))
def test_units_never_pay_out_more_than_was_put_in(amount, nav, bps):
    fee = orders.fee_for(amount, bps)
    units = orders.units_for(amount - fee, nav)
    back = orders.proceeds_for(units, nav)
    assert 0 <= back <= amount - fee
    # the loss to rounding is below one unit's worth plus a fen
    assert amount - fee - back <= nav // orders.SCALE + 1


@pytest.mark.commits
def test_the_same_key_bought_twice_at_once_buys_once(bank, engine, is_pg, monkeypatch):
    """Both requests look the key up before either has written (held at a barrier right after the look-up):
    the second one's order is refused by the unique key and it returns the first one's order, replayed."""
    import threading

    if not is_pg:
        pytest.skip("concurrent writers: PostgreSQL (SQLite serialises them)")
    cid, acct, me = customer(bank, balance=1_000_000)
    pid = make_product(engine, "F-RACE", navs=NAVS)
    grade(engine, cid, "C3")
    barrier = threading.Barrier(2, timeout=10)
    first = threading.local()
    real_by_key = orders._by_key

    def by_key_then_wait(session, key):
        found = real_by_key(session, key)
        if not getattr(first, "done", False):
            first.done = True
            barrier.wait()
        return found

    monkeypatch.setattr(orders, "_by_key", by_key_then_wait)
    results: list[Any] = []

    def go():
        try:
            results.append(db.run_in_transaction(lambda s: (lambda o: (o.id, orders.was_replayed(o)))(
                orders.purchase(s, me, product_code="F-RACE", account_id=acct, amount_minor=100_000,
                                idempotency_key="same", now=MON)), engine=engine))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and all(isinstance(r, tuple) for r in results), results
    assert results[0][0] == results[1][0] and sorted(r[1] for r in results) == [False, True]
    assert bank.balance(acct) == 900_000 and custody_balance(engine, pid) == 100_000
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM wealth_orders WHERE product_id = :p"), {"p": pid}).scalar() == 1
    bank.assert_invariants()

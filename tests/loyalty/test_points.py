"""The points ledger: exact earning by rules (caps, once per customer, idempotent), FIFO expiry on the bank's
clock, redemption (refused when short, nothing written), the liability in the ledger, and reconciliation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from smartbank import db
from smartbank.errors import Conflict, Forbidden, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.loyalty import service as loyalty
from smartbank.loyalty.points import on_wealth_purchase
from smartbank.wealth import service as wealth
from tests.loyalty.conftest import post


def _liability(engine) -> int:
    with db.session_scope(engine) as s:
        return ledger.internal_balances(s, "loyalty_liability").get("CNY", 0)


def _run(engine, fn):
    return db.run_in_transaction(fn, engine=engine)


def test_bill_payments_earn_per_bill_capped_per_month_and_once(engine, bank, member, bank_clock):
    m = member()
    for _ in range(5):
        post(engine, "bill_payment", customer_account=m.account_id)
    out = _run(engine, loyalty.run_due)
    # 50 a bill, at most 200 a month: four bills earn, the fifth finds the cap used up
    assert out["awarded"] == 4 and out["points"] == 200
    assert _run(engine, loyalty.run_due)["awarded"] == 0  # nothing earns twice
    with db.session_scope(engine) as s:
        assert loyalty.balance(s, m.customer_id) == 200
        rows = s.execute(select(loyalty.LoyaltyEntry.rule_code, loyalty.LoyaltyEntry.rule_version,
                                loyalty.LoyaltyEntry.points)).all()
        assert rows == [("BILL_PAY", 1, 50)] * 4
    assert _liability(engine) == 200 * loyalty.POINT_VALUE_MINOR
    bank_clock.advance(timedelta(days=10))  # 2026-12-04: a new month
    post(engine, "bill_payment", customer_account=m.account_id)
    assert _run(engine, loyalty.run_due)["points"] == 50
    assert _liability(engine) == 250
    assert _run(engine, loyalty.reconcile)["ok"] is True


def test_cap_trims_an_award_and_says_so(engine, bank, member, staff, bank_clock):
    m = member()
    _run(engine, lambda s: loyalty.set_rule(s, staff("admin"), "BILL_PAY", behaviour="bill_payment", points=80,
                                          cap_per_month=200))
    for _ in range(3):
        post(engine, "bill_payment", customer_account=m.account_id)
    assert _run(engine, loyalty.run_due)["points"] == 200  # 80 + 80 + 40
    with db.session_scope(engine) as s:
        e = s.scalars(select(loyalty.LoyaltyEntry).order_by(loyalty.LoyaltyEntry.id.desc())).first()
        assert (e.points, e.rule_version) == (40, 2) and "capped" in e.note


def test_salary_and_first_wealth_purchase_earn_once_per_customer(engine, bank, member, bank_clock):
    m = member()
    post(engine, "salary", customer_account=m.account_id, amount=800_000, inbound=True)
    post(engine, "salary", customer_account=m.account_id, amount=800_000, inbound=True)
    purchase = wealth.Purchase(customer_id=m.customer_id, product_code="F1", order_id=1, recommendation_id=None,
                               at=None)
    for _ in range(2):  # the hook wealth calls after a purchase
        _run(engine, lambda s: on_wealth_purchase(s, m.actor, purchase))
    out = _run(engine, loyalty.run_due)
    assert out["points"] == 500  # the salary, once; the purchase was earned by the hook, once
    with db.session_scope(engine) as s:
        assert loyalty.balance(s, m.customer_id) == 1500
    assert _liability(engine) == 1500


def test_expiry_is_fifo_on_the_bank_clock(engine, bank, member, staff, bank_clock):
    m, admin = member(), staff("admin")
    _run(engine, lambda s: loyalty.adjust_points(s, admin, m.customer_id, 600, reason="opening gift"))
    bank_clock.advance(timedelta(days=180))
    _run(engine, lambda s: loyalty.adjust_points(s, admin, m.customer_id, 600, reason="second gift"))
    out = _run(engine, lambda s: loyalty.redeem(s, m.actor, "FEE_WAIVER_5"))
    assert out["balance"] == 700 and out["voucher_code"].startswith("LY")
    with db.session_scope(engine) as s:
        lots = s.execute(select(loyalty.LoyaltyLot.remaining).order_by(loyalty.LoyaltyLot.id)).scalars().all()
    assert lots == [100, 600]  # the oldest lot paid the 500
    bank_clock.advance(timedelta(days=190))  # the first lot is 12 months old, the second is not
    assert _run(engine, lambda s: loyalty.expire_due(s)) == {"lots": 1, "points": 100}
    assert _run(engine, lambda s: loyalty.expire_due(s)) == {"lots": 0, "points": 0}
    with db.session_scope(engine) as s:
        assert loyalty.balance(s, m.customer_id) == 600
        summary = loyalty.liability_summary(s)
    assert summary["breakage_minor"] == 100 and summary["liability_minor"] == 600
    assert summary["expense_minor"] == 1200
    assert _run(engine, loyalty.reconcile)["ok"] is True


def test_redemption_refused_when_short_writes_nothing(engine, bank, member, staff, bank_clock):
    m = member()
    _run(engine, lambda s: loyalty.adjust_points(s, staff("admin"), m.customer_id, 499, reason="gift"))

    def counts():
        with engine.connect() as c:
            return tuple(c.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                         for t in ("loy_entries", "loy_redemptions", "transfers", "loy_lots"))

    before = counts()
    with pytest.raises(ValidationFailed) as exc:
        _run(engine, lambda s: loyalty.redeem(s, m.actor, "FEE_WAIVER_5"))
    assert exc.value.reason == "loyalty.insufficient_points"
    assert exc.value.details == {"needed": 500, "available": 499}
    assert counts() == before


def test_cash_back_credits_the_account_through_the_ledger(engine, bank, member, staff, bank_clock):
    m = member(balance=10_000)
    _run(engine, lambda s: loyalty.adjust_points(s, staff("admin"), m.customer_id, 2500, reason="gift"))
    out = _run(engine, lambda s: loyalty.redeem(s, m.actor, "CASHBACK_20"))
    assert out["status"] == "paid" and out["value_minor"] == 2000 and out["balance"] == 500
    assert bank.balance(m.account_id) == 12_000
    assert _liability(engine) == 500
    with db.session_scope(engine) as s:
        t = ledger.get_transfer(s, out["transfer_id"])
        assert (t["kind"], t["amount_minor"], t["credit_account_id"]) == ("loyalty", 2000, m.account_id)
    bank.assert_invariants()
    assert _run(engine, loyalty.reconcile)["ok"] is True


def test_the_same_key_redeems_once(engine, bank, member, staff, bank_clock):
    """A form sent twice (or a retried API call) with the same key answers the first redemption and spends nothing
    more; the key for another reward is refused."""
    m = member(balance=10_000)
    _run(engine, lambda s: loyalty.adjust_points(s, staff("admin"), m.customer_id, 5000, reason="gift"))
    first = _run(engine, lambda s: loyalty.redeem(s, m.actor, "CASHBACK_20", idempotency_key="form-key-0001"))
    again = _run(engine, lambda s: loyalty.redeem(s, m.actor, "CASHBACK_20", idempotency_key="form-key-0001"))
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["id"] == first["id"] and again["balance"] == 3000
    assert bank.balance(m.account_id) == 12_000
    with pytest.raises(Conflict) as exc:
        _run(engine, lambda s: loyalty.redeem(s, m.actor, "TOPUP_10", idempotency_key="form-key-0001"))
    assert exc.value.reason == "loyalty.key_reused"
    with pytest.raises(ValidationFailed) as bad:
        _run(engine, lambda s: loyalty.redeem(s, m.actor, "TOPUP_10", idempotency_key="a b"))
    assert bad.value.reason == "loyalty.bad_key"
    other = _run(engine, lambda s: loyalty.redeem(s, m.actor, "CASHBACK_20", idempotency_key="form-key-0002"))
    assert other["balance"] == 1000 and bank.balance(m.account_id) == 14_000
    assert _run(engine, loyalty.reconcile)["ok"] is True


def test_voucher_is_used_once_by_a_later_payment(engine, bank, member, staff, bank_clock):
    m = member()
    _run(engine, lambda s: loyalty.adjust_points(s, staff("admin"), m.customer_id, 1000, reason="gift"))
    v = _run(engine, lambda s: loyalty.redeem(s, m.actor, "TOPUP_10"))
    used = _run(engine, lambda s: loyalty.use_voucher(s, m.actor, v["voucher_code"], used_ref="topup:1"))
    assert used["status"] == "used"
    with pytest.raises(Exception) as exc:
        _run(engine, lambda s: loyalty.use_voucher(s, m.actor, v["voucher_code"], used_ref="topup:2"))
    assert getattr(exc.value, "reason", "") == "loyalty.voucher_unusable"


def test_wrong_roles_are_refused(engine, bank, member, staff):
    m, teller = member(), staff("teller")
    with pytest.raises(Forbidden):
        _run(engine, lambda s: loyalty.set_rule(s, teller, "X", behaviour="bill_payment", points=10))
    with pytest.raises(Forbidden):
        _run(engine, lambda s: loyalty.list_rules(s, m.actor))
    with pytest.raises(Forbidden):
        _run(engine, lambda s: loyalty.redeem(s, teller, "CASHBACK_20"))
    with pytest.raises(Forbidden):
        _run(engine, lambda s: loyalty.adjust_points(s, teller, m.customer_id, 10, reason="x"))
    with db.session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(loyalty.LoyaltyRule)
                        .where(loyalty.LoyaltyRule.code == "X")) == 0


def test_rule_changes_are_versioned_and_audited(engine, bank, staff):
    admin = staff("admin")
    _run(engine, lambda s: loyalty.set_rule(s, admin, "BILL_PAY", behaviour="bill_payment", points=60,
                                          cap_per_month=240))
    rules = _run(engine, lambda s: loyalty.list_rules(s, admin, history=True))
    assert [(r["version"], r["points"]) for r in rules if r["code"] == "BILL_PAY"] == [(1, 50), (2, 60)]
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_log WHERE action = 'loyalty.rule.set'")).scalar() == 1
    with pytest.raises(ValidationFailed):
        _run(engine, lambda s: loyalty.set_rule(s, admin, "BILL_PAY", behaviour="bill_payment", points=0))


def test_an_edit_behind_the_service_is_detected(engine, bank, member, staff):
    m = member()
    _run(engine, lambda s: loyalty.adjust_points(s, staff("admin"), m.customer_id, 300, reason="gift"))
    assert _run(engine, loyalty.reconcile)["ok"] is True
    with engine.begin() as c:
        c.execute(text("UPDATE loy_entries SET points = points + 1"))
    rec = _run(engine, loyalty.reconcile)
    assert rec["ok"] is False and rec["difference_minor"] == -1 and rec["customers_mismatched"] == 1

"""Whatever sequence of earning, redemption, adjustment and expiry happens, the points liability in the ledger
equals outstanding points x value, the lots hold exactly what the entries sum to, and each customer's balance is
what the sequence implies."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartbank import clock, db
from smartbank.errors import ValidationFailed
from smartbank.loyalty import service as loyalty
from smartbank.loyalty.points import _add_months, _utc

_refs = itertools.count(1)

step = st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 3000)),
    st.tuples(st.just("redeem"), st.sampled_from(["FEE_WAIVER_5", "TOPUP_10", "CASHBACK_20"])),
    st.tuples(st.just("take"), st.integers(1, 2000)),
    st.tuples(st.just("wait"), st.integers(1, 200)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=14))
def test_liability_lots_and_entries_always_agree(engine, bank, member, staff, bank_clock, steps):
    m, admin = member(), staff("admin")
    expected = 0
    lots: list[list] = []  # [remaining, expires_at] in earn order: the model of FIFO

    def now():
        return clock.now()

    def expire_model():
        nonlocal expected
        for lot in lots:
            if lot[1] <= now():
                expected -= lot[0]
                lot[0] = 0

    def take_model(n):
        for lot in lots:
            t = min(lot[0], n)
            lot[0] -= t
            n -= t

    for kind, arg in steps:
        if kind == "earn":
            db.run_in_transaction(lambda s, a=arg: loyalty.adjust_points(s, admin, m.customer_id, a, reason="test",
                                                                         source_ref=f"prop:{next(_refs)}"),
                                  engine=engine)
            lots.append([arg, _add_months(_utc(now()), loyalty.EXPIRY_MONTHS)])
            expected += arg
        elif kind in ("redeem", "take"):
            cost = {"FEE_WAIVER_5": 500, "TOPUP_10": 1000, "CASHBACK_20": 2000}.get(arg) if kind == "redeem" else arg
            live = sum(lot[0] for lot in lots if lot[1] > now())
            try:
                if kind == "redeem":
                    db.run_in_transaction(lambda s, a=arg: loyalty.redeem(s, m.actor, a), engine=engine)
                else:
                    db.run_in_transaction(lambda s, a=arg: loyalty.adjust_points(s, admin, m.customer_id, -a,
                                                                                  reason="t"),
                                          engine=engine)
            except ValidationFailed as exc:
                assert exc.reason == "loyalty.insufficient_points" and live < cost
            else:
                assert live >= cost
                if kind == "redeem":
                    expire_model()  # a redemption sweeps what is due first
                take_model(cost)
                expected -= cost
        else:
            bank_clock.advance(timedelta(days=arg))
            db.run_in_transaction(lambda s: loyalty.expire_due(s), engine=engine)
            expire_model()
        rec = db.run_in_transaction(loyalty.reconcile, engine=engine)
        assert rec["ok"], rec
        with db.session_scope(engine) as s:
            assert loyalty.balance(s, m.customer_id) == expected
    bank.assert_invariants()

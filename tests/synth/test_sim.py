"""The simulation (no database): it applies the ledger's rules to running balances, and the history
looks like a year of banking (monthly pay, bills, seasonal spending)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, timedelta

import numpy as np
import pytest

from smartbank.synth import sim as S
from smartbank.synth.catalog import CATEGORY_KEYS, SPRING_FESTIVAL
from smartbank.synth.render import Renderer, meta_json, request_hash
from smartbank.synth.world import DAY_US, HOUR_US, N_INTERNAL, build_world

END = date(2026, 11, 24)


@pytest.fixture(scope="module")
def run():
    w = build_world(customers=400, months=14, seed=3, end=END, default_limit=50_000_00)
    sim = S.Simulator(w, [0] * N_INTERNAL)
    batches = list(sim.run())
    return w, sim, batches


def _all(batches, attr):
    return np.concatenate([getattr(b, attr) for b in batches])


def day_of(w, t: int) -> date:
    return w.start + timedelta(days=int(t // DAY_US))


def test_replaying_the_history_gives_the_recorded_balances_and_never_overdraws(run):
    w, sim, batches = run
    bal = [0] * w.n_slots
    limit = w.slot_limit.tolist()
    last_t = -1
    k = 0
    for b in batches:
        assert b.k0 == k
        for s, d, a, bs, bd, t in zip(b.src.tolist(), b.dst.tolist(), b.amount.tolist(), b.bal_src.tolist(),
                                      b.bal_dst.tolist(), b.t.tolist(), strict=True):
            assert a > 0 and s != d
            assert t >= last_t  # posted in time order
            last_t = t
            bal[s] -= a
            bal[d] += a
            assert (bal[s], bal[d]) == (bs, bd)
            if limit[s] >= 0:
                assert bal[s] >= -limit[s], "a payment took an account past its overdraft limit"
            k += 1
    assert bal == sim.bal
    assert sum(bal) == 0  # money only moves
    assert sim.k == k > 100_000


def test_frozen_accounts_pay_nothing_and_closed_accounts_are_untouched(run):
    w, sim, batches = run
    frozen_at: dict[int, int] = {}
    closed_at: dict[int, int] = {}
    for b in batches:
        for pos, et, aux in b.events:
            if et == S.FREEZE:
                frozen_at[aux] = pos
            elif et == S.CLOSE:
                closed_at[aux] = pos
    assert frozen_at and closed_at
    src, dst = _all(batches, "src"), _all(batches, "dst")
    k = np.arange(len(src))
    for slot, pos in frozen_at.items():
        assert not ((src == slot) & (k >= pos)).any()
    for slot, pos in closed_at.items():
        assert not (((src == slot) | (dst == slot)) & (k >= pos)).any()
        assert sim.bal[slot] == 0


def test_salaries_arrive_once_a_month(run):
    w, sim, batches = run
    et, aux, cust, t = _all(batches, "et"), _all(batches, "aux"), _all(batches, "cust"), _all(batches, "t")
    sal = (et == S.SALARY) & (aux == 0)
    per = Counter()
    for c, tt in zip(cust[sal].tolist(), t[sal].tolist(), strict=True):
        d = day_of(w, tt)
        per[(c, d.year, d.month)] += 1
    assert max(per.values()) == 1
    salaried = [i for i in range(w.n) if sim.occ_pay[i] == "salary" and not w.joiner[i]
                and w.churn_t[i] > S.DAY_US * w.n_days]
    full_months = {(d.year, d.month) for d in sim.days if d.day == 1 and (d.replace(day=28) <= END)}
    full_months = {m for m in full_months if date(m[0], m[1], 1) >= w.start}
    paid = sum(per[(c, y, m)] for c in salaried for y, m in full_months)
    assert paid >= 0.99 * len(salaried) * len(full_months)
    # paydays are working days, in the morning
    for tt in t[sal].tolist():
        assert day_of(w, tt).weekday() < 5
        assert 9 * HOUR_US <= tt % DAY_US < 12 * HOUR_US
    assert (et == S.PENSION).sum() > 0
    assert all(day_of(w, tt).day == 5 for tt in t[et == S.PENSION].tolist())


def test_daily_limits_hold_and_match_the_counters(run):
    w, sim, batches = run
    used: dict[tuple[int, int], int] = defaultdict(int)
    owner = w.slot_owner
    for b in batches:
        for s, d, a, e, t in zip(b.src.tolist(), b.dst.tolist(), b.amount.tolist(), b.enforce.tolist(),
                                 b.t.tolist(), strict=True):
            if e and owner[s] >= 0 and owner[s] != owner[d]:
                used[(int(owner[s]), t // DAY_US)] += a
    assert all(v <= w.daily_limit[c] for (c, _), v in used.items())
    assert sorted((c, sim.days[d], v) for (c, d), v in used.items()) == sim.usage_rows()


def test_bills_are_paid_once_after_issue_and_some_stay_unpaid(run):
    w, sim, batches = run
    bills = sim.bills
    et, aux, amount = _all(batches, "et"), _all(batches, "aux"), _all(batches, "amount")
    paid = aux[et == S.BILL]
    assert len(paid) == len(set(paid.tolist()))
    ks = np.flatnonzero(et == S.BILL)
    for k, bno in zip(ks.tolist(), paid.tolist(), strict=True):
        assert bills.paid_k[bno] == k
        assert amount[k] == bills.amount[bno]
    unpaid = sum(1 for k in bills.paid_k if k < 0) / len(bills.paid_k)
    assert 0.02 < unpaid < 0.2
    periods = Counter(bills.period)
    assert len(periods) >= 13  # every month of the window has bills


def test_spending_is_seasonal(run):
    w, sim, batches = run
    et, aux, t = _all(batches, "et"), _all(batches, "aux"), _all(batches, "t")
    card = et == S.CARD
    cat = sim.merchants.category[aux[card] >> 1]
    days = (t[card] // DAY_US)
    shop = CATEGORY_KEYS.index("shopping")
    travel = CATEGORY_KEYS.index("travel")

    def per_day(ci: int, first: date, last: date) -> float:
        lo, hi = (first - w.start).days, (last - w.start).days
        return ((cat == ci) & (days >= lo) & (days <= hi)).sum() / (hi - lo + 1)

    double11 = per_day(shop, date(2025, 11, 11), date(2025, 11, 11))
    october = per_day(shop, date(2025, 10, 1), date(2025, 10, 31))
    assert double11 > 3 * october
    assert per_day(travel, date(2026, 7, 1), date(2026, 8, 31)) > 1.5 * per_day(travel, date(2026, 3, 1),
                                                                                  date(2026, 4, 30))
    # red packets cluster around the Spring Festival
    red = (et == S.P2P) & (aux == S.P2P_RED_PACKET)
    sf = SPRING_FESTIVAL[2026]
    assert red.sum() > 100
    for tt in t[red].tolist():
        assert -1 <= (day_of(w, tt) - sf).days <= 5
    # people eat at lunch and dinner time
    hours = (t[card][cat == CATEGORY_KEYS.index("dining")] % DAY_US) // HOUR_US
    assert np.isin(hours, [11, 12, 13, 17, 18, 19, 20]).mean() > 0.5


def test_declines_are_rare_and_interest_is_paid_monthly(run):
    w, sim, batches = run
    assert sim.declined["funds"] < 0.06 * sim.k
    et, t = _all(batches, "et"), _all(batches, "t")
    months = {(day_of(w, x).year, day_of(w, x).month) for x in t[et == S.INTEREST].tolist()}
    assert len(months) >= 13
    for x in t[et == S.INTEREST].tolist():
        d = day_of(w, x)
        assert (d + timedelta(days=1)).day == 1  # month end


def test_rendered_transfers_carry_meta_and_hash_like_the_ledger(run):
    w, sim, batches = run
    rend = Renderer(w, sim.merchants, sim.bills, np.arange(w.n_slots) + 1, "t-")
    rend.bill_base = 0
    kinds = Counter()
    for b in batches[:3]:
        for r in rend.rows(b):
            kinds[r.kind] += 1
            assert r.meta["category"] and r.meta["channel"]
            if r.kind == "card_payment":
                assert r.meta["merchant"] == r.memo and r.meta["channel"] in ("card", "app")
                assert r.meta["category"] in CATEGORY_KEYS
            cmd = r.command()
            assert request_hash(r) == cmd.request_hash()
            assert meta_json(r.meta) == json.dumps(cmd.meta)
    assert {"card_payment", "salary", "bill_payment", "transfer", "opening"} <= set(kinds)
    assert kinds["card_payment"] > kinds["transfer"] > kinds["salary"] > 0

"""The month-by-month simulation: candidate events, then one pass in time order that applies the
ledger's rules to running balances.

Each calendar month of the window is one chunk. Candidate events (salaries, rent, bills, card
spending, transfers, ...) are drawn in bulk with numpy, sorted by time, and replayed one by one
against the accounts' running balances, statuses and daily-limit counters exactly as
``ledger.service.transfer`` would judge them: a payment the payer cannot afford, a debit from a frozen
account, anything touching a closed account, or a payment over the daily limit is declined and never
posted. What survives is a :class:`Batch` of accepted transfers with their balances after posting,
ready for either loader. Events dated after the chunk are carried into the next one.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from faker.providers.person.zh_CN import Provider as _ZhPerson

from smartbank.synth.catalog import (
    CARRIERS,
    CATEGORIES,
    CITIES,
    HOUR_PROFILES,
    OCCUPATIONS,
    SPRING_FESTIVAL,
    TOPUP_AMOUNTS_YUAN,
    TOPUP_WEIGHTS,
)
from smartbank.synth.world import (
    BILLER_INDEX,
    DAY_US,
    HOUR_US,
    SLOT_BILLER0,
    SLOT_FEES,
    SLOT_INTEREST,
    SLOT_MERCHANT0,
    SLOT_SETTLEMENT,
    UTILITIES,
    World,
)

# event types ---------------------------------------------------------------------------------
OPENING, DEPOSIT, SALARY, PENSION, INCOME, RENT, BILL, TOPUP, CARD, P2P = range(1, 11)
TO_SAV, FROM_SAV, INTEREST, FEE, ATM, REVENUE, SUPPLIER, CLOSE_SWEEP, CLOSE_OUT, SWEEP, INVEST = range(11, 22)
BILL_ISSUE, FREEZE, CLOSE = 50, 51, 52
DYNAMIC = (FROM_SAV, INTEREST, CLOSE_SWEEP, CLOSE_OUT, SWEEP, INVEST)

KIND = {
    OPENING: "opening", DEPOSIT: "deposit", SALARY: "salary", PENSION: "salary", INCOME: "deposit",
    RENT: "transfer", BILL: "bill_payment", TOPUP: "bill_payment", CARD: "card_payment", P2P: "transfer",
    TO_SAV: "transfer", FROM_SAV: "transfer", INTEREST: "interest", FEE: "fee", ATM: "withdrawal",
    REVENUE: "deposit", SUPPLIER: "transfer", CLOSE_SWEEP: "transfer", CLOSE_OUT: "withdrawal",
    SWEEP: "transfer", INVEST: "transfer",
}

# sub-kinds of person-to-person transfers (aux)
P2P_FRIENDS, P2P_RED_PACKET, P2P_ALLOWANCE, P2P_520 = 0, 1, 2, 3

UTILITY_ISSUE_DAY = {"electricity": 3, "water": 6, "gas": 8, "broadband": 1}
UTILITY_DUE_DAYS = {"electricity": 20, "water": 25, "gas": 20, "broadband": 15}
UTILITY_BASE_YUAN = {"electricity": 175.0, "water": 45.0, "gas": 80.0}
_ELEC_SOUTH = (1.1, 1.0, 0.9, 0.9, 1.1, 1.5, 2.0, 2.0, 1.5, 1.0, 0.9, 1.0)
_ELEC_NORTH = (1.3, 1.2, 1.0, 0.9, 0.9, 1.2, 1.6, 1.6, 1.1, 0.9, 1.0, 1.2)
_GAS_NORTH = (2.2, 2.0, 1.5, 1.0, 0.7, 0.6, 0.6, 0.6, 0.7, 1.0, 1.6, 2.0)
_GAS_SOUTH = (1.4, 1.3, 1.1, 1.0, 0.9, 0.8, 0.8, 0.8, 0.9, 1.0, 1.1, 1.3)
_WATER = (0.9, 0.9, 0.9, 1.0, 1.1, 1.2, 1.3, 1.3, 1.1, 1.0, 0.9, 0.9)
RED_PACKETS_YUAN = (66, 88, 100, 168, 188, 200, 288, 500, 666, 888, 1000, 1888)
RED_PACKET_P = (0.06, 0.12, 0.1, 0.08, 0.1, 0.14, 0.08, 0.12, 0.06, 0.07, 0.05, 0.02)
ATM_YUAN = (100, 200, 300, 500, 800, 1000, 2000)
ATM_P = (0.1, 0.2, 0.1, 0.25, 0.1, 0.2, 0.05)


def season_factor(cat: str, d: date) -> float:
    """Relative daily intensity of a spending category (1.0 = an ordinary weekday)."""
    f = 1.0
    wd = d.weekday()
    weekend = wd >= 5
    sf = SPRING_FESTIVAL.get(d.year)
    sf_next = SPRING_FESTIVAL.get(d.year + 1)
    rel = (d - sf).days if sf else 999
    if sf_next and abs((d - sf_next).days) < abs(rel):
        rel = (d - sf_next).days
    golden_week = d.month == 10 and d.day <= 7
    summer = d.month in (7, 8)
    if cat == "groceries":
        f *= 1.2 if weekend else 1.0
        f *= 1.8 if -14 <= rel <= -1 else 0.7 if 0 <= rel <= 6 else 1.0
    elif cat == "dining":
        f *= 1.4 if weekend else 1.0
        f *= 1.5 if -3 <= rel <= 7 else 1.0
        f *= 1.3 if golden_week else 1.0
        f *= 1.1 if d.month == 12 else 1.0
    elif cat == "shopping":
        if d.month == 11 and d.day == 11:
            f *= 6.0
        elif d.month == 11 and d.day <= 10:
            f *= 1.6
        elif d.month == 11 and d.day == 12:
            f *= 1.5
        elif d.month == 6 and d.day == 18:
            f *= 3.0
        elif d.month == 6 and d.day < 18:
            f *= 1.3
        elif d.month == 12 and d.day == 12:
            f *= 2.0
        f *= 1.6 if -20 <= rel <= -1 else 1.0
        f *= 1.15 if weekend else 1.0
    elif cat == "travel":
        f *= 2.2 if summer else 1.0
        f *= 2.5 if -10 <= rel <= 7 else 1.0
        f *= 3.0 if golden_week else 1.0
        f *= 2.0 if d.month == 5 and d.day <= 5 else 1.0
        f *= 1.5 if d.month == 4 and 4 <= d.day <= 6 else 1.0
    elif cat == "transport":
        f *= 0.8 if weekend else 1.15
        f *= 0.5 if 0 <= rel <= 6 else 1.0
        f *= 0.8 if golden_week else 1.0
    elif cat == "entertainment":
        f *= 1.6 if weekend else 1.0
        f *= 1.8 if 0 <= rel <= 6 else 1.0
        f *= 1.3 if summer else 1.0
    elif cat == "health":
        f *= 1.3 if d.month in (12, 1, 2) else 1.0
        f *= 0.7 if weekend else 1.0
    elif cat == "education":
        if (d.month == 2 and d.day >= 15) or (d.month == 3 and d.day <= 10):
            f *= 3.0
        elif (d.month == 8 and d.day >= 20) or (d.month == 9 and d.day <= 15):
            f *= 3.5
        else:
            f *= 0.55
    return f


def amount_factor(cat: str, d: date) -> float:
    """Relative size of a purchase: baskets grow before the Spring Festival and on Double 11."""
    sf = SPRING_FESTIVAL.get(d.year)
    rel = (d - sf).days if sf else 999
    if cat == "shopping" and d.month == 11 and d.day == 11:
        return 1.6
    if cat in ("groceries", "shopping") and -14 <= rel <= -1:
        return 1.35
    return 1.0


@dataclass
class Merchants:
    names: list[str]
    category: np.ndarray
    factor: np.ndarray  # amount multiplier (metro fares are small, fuel is large)
    city: np.ndarray  # -1 for national brands and online shops
    # per (category, city): candidate merchant indices and cumulative weights, in-person and online
    pools: dict[tuple[int, int, bool], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def build_merchants(rng: np.random.Generator) -> Merchants:
    surnames = list(_ZhPerson.last_names.keys())[:120]
    names: list[str] = []
    cat_l: list[int] = []
    fac: list[float] = []
    city_l: list[int] = []
    for ci, c in enumerate(CATEGORIES):
        for nm in c.national:
            names.append(nm)
            cat_l.append(ci)
            fac.append(12.0 if nm in ("中国石化", "中国石油") else 1.6 if c.key == "transport" else 1.0)
            city_l.append(-1)
        for ki, city in enumerate(CITIES):
            if c.key == "transport":
                names.append(city.metro)
                cat_l.append(ci)
                fac.append(0.25)
                city_l.append(ki)
            for _ in range(6 if c.local_suffixes else 0):
                sn = surnames[int(rng.integers(0, len(surnames)))]
                suffix = c.local_suffixes[int(rng.integers(0, len(c.local_suffixes)))]
                names.append(f"{city.zh}{sn}记{suffix}")
                cat_l.append(ci)
                fac.append(1.0)
                city_l.append(ki)
    m = Merchants(names=names, category=np.array(cat_l), factor=np.array(fac), city=np.array(city_l))
    for ci in range(len(CATEGORIES)):
        for ki in range(len(CITIES)):
            for in_person in (True, False):
                idx = np.flatnonzero((m.category == ci) & ((m.city == ki) | (m.city == -1)))
                if not in_person:
                    idx = idx[m.city[idx] == -1]
                wts = 1.0 / np.arange(1, len(idx) + 1) ** 0.8  # a few big names take most of the trade
                if in_person:
                    wts = np.where(m.city[idx] == ki, wts * 2.5, wts)
                perm = rng.permutation(len(idx))
                idx = idx[perm]
                cum = np.cumsum(wts)
                m.pools[(ci, ki, in_person)] = (idx, cum / cum[-1])
    return m


@dataclass
class Batch:
    """Accepted transfers of one chunk, in posting order, and the other events among them."""

    k0: int  # global index of the first transfer
    et: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    amount: np.ndarray
    aux: np.ndarray
    cust: np.ndarray
    t: np.ndarray  # microseconds from the window start, local time
    bal_src: np.ndarray  # balance of the debit account after posting
    bal_dst: np.ndarray
    enforce: np.ndarray
    # non-transfer events: (transfers posted before it, type, aux)
    events: list[tuple[int, int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.et)


@dataclass
class Bills:
    """Every bill the generator issued, in issue order (= bill id order)."""

    biller: list[int] = field(default_factory=list)  # biller index (world.BILLERS)
    cust: list[int] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)
    period: list[str] = field(default_factory=list)
    amount: list[int] = field(default_factory=list)
    due: list[date] = field(default_factory=list)
    paid_k: list[int] = field(default_factory=list)  # global transfer index, -1 unpaid


class _Ev:
    __slots__ = ("parts",)

    def __init__(self):
        self.parts: list[tuple] = []

    def add(self, t, et, src, dst, amt, aux, cust, enforce) -> None:
        t = np.asarray(t, dtype=np.int64)
        n = t.shape[0]
        if n == 0:
            return

        def col(v, dtype):
            a = np.asarray(v, dtype=dtype)
            return np.full(n, a, dtype=dtype) if a.ndim == 0 else a

        self.parts.append((t, col(et, np.int16), col(src, np.int64), col(dst, np.int64), col(amt, np.int64),
                           col(aux, np.int64), col(cust, np.int64), col(enforce, np.bool_)))

    def arrays(self) -> tuple[np.ndarray, ...]:
        if not self.parts:
            e = np.zeros(0, dtype=np.int64)
            return (e, e.astype(np.int16), e, e, e, e, e, e.astype(np.bool_))
        return tuple(np.concatenate([p[j] for p in self.parts]) for j in range(8))


class Simulator:
    def __init__(self, w: World, internal_balances: list[int], internal_status: list[str] | None = None):
        self.w = w
        self.rng = np.random.default_rng([w.seed, 7])
        self.merchants = build_merchants(self.rng)
        self.bal = [int(b) for b in internal_balances] + [0] * (w.n_slots - len(internal_balances))
        self.limit = w.slot_limit.tolist()
        self.status = [0] * w.n_slots  # 0 open, 1 frozen, 2 closed
        for i, st in enumerate(internal_status or []):
            self.status[i] = {"open": 0, "frozen": 1, "closed": 2}[st]
        self.owner = w.slot_owner.tolist()
        self.rate = w.slot_rate_ppm.tolist()
        self.cust_limit = w.daily_limit.tolist()
        self.usage: dict[int, int] = {}
        self.k = 0
        self.bills = Bills()
        self._bill_gen: list[tuple[int, int, str, str, int, date]] = []  # generated, not yet issued
        self._bill_no: dict[int, int] = {}
        self.declined = {"funds": 0, "status": 0, "daily_limit": 0}
        self.skipped = 0
        self.debits = np.zeros(w.n_slots, dtype=np.int64)
        self.credits = np.zeros(w.n_slots, dtype=np.int64)
        self._carry: tuple[np.ndarray, ...] | None = None
        self.days = [w.start + timedelta(days=i) for i in range(w.n_days)]
        self.window_us = w.n_days * DAY_US
        cats = [c.key for c in CATEGORIES]
        self.season = np.array([[season_factor(c, d) for d in self.days] for c in cats])
        self.amount_season = np.array([[amount_factor(c, d) for d in self.days] for c in cats])
        self.hour_p = {k: np.array(v) / sum(v) for k, v in HOUR_PROFILES.items()}
        self.occ_pay = np.array([OCCUPATIONS[o].pay if o >= 0 else "business" for o in w.occ])
        self.chunks = _month_chunks(w.start, w.n_days)

    # -----------------------------------------------------------------------------------------
    def run(self) -> Iterator[Batch]:
        for ci, (y, m, d0, d1) in enumerate(self.chunks):
            ev = _Ev()
            if ci == 0:
                self._one_offs(ev)
            self._month(ev, y, m, d0, d1)
            cand = ev.arrays()
            if self._carry is not None:
                cand = tuple(np.concatenate([a, b]) for a, b in zip(self._carry, cand, strict=True))
            t_end = d1 * DAY_US
            later = cand[0] >= t_end
            keep_later = later & (cand[0] < self.window_us)
            self._carry = tuple(a[keep_later] for a in cand)
            now = tuple(a[~later] for a in cand)
            order = np.argsort(now[0], kind="stable")
            yield self._apply(tuple(a[order] for a in now))

    # -----------------------------------------------------------------------------------------
    def _times(self, days: np.ndarray, profile: str) -> np.ndarray:
        rng = self.rng
        n = len(days)
        hours = rng.choice(24, size=n, p=self.hour_p[profile])
        return days.astype(np.int64) * DAY_US + hours * HOUR_US + rng.integers(0, HOUR_US, n)

    def _active(self, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        w = self.w
        return (t >= w.join_t[cust] + HOUR_US) & (t < w.churn_t[cust])

    def _one_offs(self, ev: _Ev) -> None:
        w, rng = self.w, self.rng
        n = w.n
        cust = np.arange(n)
        pre = ~w.joiner
        # balances brought into the window, booked at its first instant
        d = w.demand_slot
        op = w.opening[d]
        sel = pre & (op > 0)
        ev.add(cust[sel], OPENING, SLOT_SETTLEMENT, d[sel], op[sel], 0, cust[sel], False)
        has_sav = w.savings_slot >= 0
        s_op = np.where(has_sav, w.opening[np.maximum(w.savings_slot, 0)], 0)
        sel = pre & has_sav & (s_op > 0)
        ev.add(n + cust[sel], OPENING, SLOT_SETTLEMENT, w.savings_slot[sel], s_op[sel], 0, cust[sel], False)
        # new customers bring a first deposit
        j = np.flatnonzero(w.joiner)
        amt = (w.monthly[j] * np.where(w.kind[j] == 1, 1.0, rng.uniform(0.2, 1.0, len(j)))).astype(np.int64)
        amt = np.maximum(amt // 100_00 * 100_00, 100_00)
        ev.add(w.join_t[j] + HOUR_US, DEPOSIT, SLOT_SETTLEMENT, d[j], amt, 0, j, False)
        # frozen accounts, departures (move everything out, then close)
        f = np.flatnonzero(w.freeze_t < self.window_us)
        ev.add(w.freeze_t[f], FREEZE, d[f], d[f], 0, d[f], f, False)
        c = np.flatnonzero(w.churn_t < self.window_us)
        cs = c[w.savings_slot[c] >= 0]
        ev.add(w.churn_t[cs], CLOSE_SWEEP, w.savings_slot[cs], d[cs], 0, 0, cs, False)
        ev.add(w.churn_t[c] + 1_000_000, CLOSE_OUT, d[c], SLOT_SETTLEMENT, 0, 0, c, False)
        ev.add(w.churn_t[c] + 2_000_000, CLOSE, d[c], d[c], 0, d[c], c, False)
        ev.add(w.churn_t[cs] + 2_000_001, CLOSE, w.savings_slot[cs], w.savings_slot[cs], 0, w.savings_slot[cs],
               cs, False)

    def _month(self, ev: _Ev, y: int, m: int, d0: int, d1: int) -> None:
        w, rng = self.w, self.rng
        n = w.n
        n_days = d1 - d0
        cust = np.arange(n)
        mlen = calendar.monthrange(y, m)[1]
        full_month = n_days / mlen

        def day_index(dom: Any) -> Any:
            """Window day index of day-of-month ``dom`` in this month (may fall outside the chunk)."""
            return (np.asarray(dom) - 1) + (date(y, m, 1) - w.start).days

        def in_chunk(di: Any) -> Any:
            return (di >= d0) & (di < d1)

        ind = w.kind == 0
        demand = w.demand_slot

        # -- pay -----------------------------------------------------------------------------
        salaried = (self.occ_pay == "salary")
        pd = np.minimum(w.payday, mlen)
        pdi = day_index(pd)
        wd = (w.start.weekday() + pdi) % 7
        pdi = pdi - np.where(wd == 5, 1, np.where(wd == 6, 2, 0))  # paid on the Friday before a weekend
        t = pdi * DAY_US + 9 * HOUR_US + (w.employer % 7 + 1) * 600_000_000 + rng.integers(0, 60_000_000, n)
        sel = salaried & in_chunk(pdi) & self._active(cust, t)
        src = np.where(w.employer >= 0, demand[np.maximum(w.employer, 0)], SLOT_SETTLEMENT)
        amt = (w.monthly * rng.uniform(0.97, 1.06, n)).astype(np.int64)
        ev.add(t[sel], SALARY, src[sel], demand[sel], amt[sel], 0, cust[sel], False)
        sf = SPRING_FESTIVAL.get(y)
        bonus_day = sf - timedelta(days=15) if sf else None
        if bonus_day is not None and bonus_day.year == y and bonus_day.month == m:
            selb = sel & (w.bonus > 0)
            ev.add(t[selb] + HOUR_US, SALARY, src[selb], demand[selb], w.bonus[selb], 1, cust[selb], False)
        # pensions on the 5th
        pen = self.occ_pay == "pension"
        t5 = day_index(5) * DAY_US + 8 * HOUR_US + rng.integers(0, HOUR_US, n)
        sel = pen & in_chunk(np.full(n, day_index(5))) & self._active(cust, t5)
        ev.add(t5[sel], PENSION, SLOT_SETTLEMENT, demand[sel], w.monthly[sel], 0, cust[sel], False)
        # self-employed and freelancers: irregular incoming transfers
        lam = np.where(self.occ_pay == "self", 4.0, np.where(self.occ_pay == "freelance", 2.0, 0.0)) * full_month
        cnt = rng.poisson(lam)
        ci = np.repeat(cust, cnt)
        if len(ci):
            ti = self._times(rng.integers(d0, d1, len(ci)), "day")
            share = np.repeat(np.where(self.occ_pay == "self", 4.0, 2.0), cnt)
            a = (w.monthly[ci] / share * rng.lognormal(-0.125, 0.5, len(ci))).astype(np.int64)
            ok = self._active(ci, ti) & (a > 0)
            ev.add(ti[ok], INCOME, SLOT_SETTLEMENT, demand[ci[ok]], a[ok], 0, ci[ok], False)
        # students: an allowance from a parent at the bank, or from outside
        stud = self.occ_pay == "allowance"
        di = day_index(1 + cust % 3)
        ta = di * DAY_US + 9 * HOUR_US + rng.integers(0, 12 * HOUR_US, n)
        base = stud & in_chunk(di) & self._active(cust, ta)
        amt = (w.monthly * rng.uniform(0.9, 1.1, n) / 100_00).astype(np.int64) * 100_00
        inside = base & (w.parent >= 0)
        par = np.maximum(w.parent, 0)
        inside &= self._active(par, ta)
        ev.add(ta[inside], P2P, demand[par[inside]], demand[inside], amt[inside], P2P_ALLOWANCE, par[inside], True)
        outside = base & ~(w.parent >= 0)
        ev.add(ta[outside], INCOME, SLOT_SETTLEMENT, demand[outside], amt[outside], 1, cust[outside], False)

        # -- rent ----------------------------------------------------------------------------
        tenant = w.landlord >= 0
        di = day_index(1 + cust % 5)
        tr = di * DAY_US + self._times(np.zeros(n, dtype=np.int64), "awake")
        ll = np.maximum(w.landlord, 0)
        sel = tenant & in_chunk(di) & self._active(cust, tr) & self._active(ll, tr)
        ev.add(tr[sel], RENT, demand[sel], demand[ll[sel]], w.rent[sel], 0, cust[sel], True)

        # -- utility bills (issued now, paid later) ------------------------------------------
        prev = (y, m - 1) if m > 1 else (y - 1, 12)
        north = np.array([CITIES[c].north for c in w.city])
        for u, util in enumerate(UTILITIES):
            di = day_index(UTILITY_ISSUE_DAY[util])
            if not (d0 <= di < d1):
                continue
            ti = di * DAY_US + 6 * HOUR_US + rng.integers(0, HOUR_US, n)
            sel = w.subs[:, u] & (np.where(w.joiner, w.join_t + 25 * DAY_US, -1) <= ti) & (ti < w.churn_t)
            idx = np.flatnonzero(sel)
            if not len(idx):
                continue
            if util == "broadband":
                period = f"{y:04d}-{m:02d}"
                amounts = w.bb_fee[idx]
                codes = [BILLER_INDEX[f"BB-{CARRIERS[w.bb_carrier[i]].key}"] for i in idx]
            else:
                period = f"{prev[0]:04d}-{prev[1]:02d}"
                pm = prev[1] - 1
                if util == "electricity":
                    sf_ = np.where(north[idx], _ELEC_NORTH[pm], _ELEC_SOUTH[pm])
                elif util == "gas":
                    sf_ = np.where(north[idx], _GAS_NORTH[pm], _GAS_SOUTH[pm])
                else:
                    sf_ = np.full(len(idx), _WATER[pm])
                yuan = UTILITY_BASE_YUAN[util] * sf_ * w.usage_scale[idx] * rng.lognormal(0, 0.15, len(idx))
                amounts = np.maximum(np.round(yuan * 100).astype(np.int64), 500)
                prefix = {"electricity": "ELEC", "water": "WATER", "gas": "GAS"}[util]
                codes = [BILLER_INDEX[f"{prefix}-{CITIES[w.city[i]].key}"] for i in idx]
            due = self.days[di] + timedelta(days=UTILITY_DUE_DAYS[util])
            style = w.bill_style[idx]
            r = rng.random(len(idx))
            delay_days = np.where(style == 0, rng.integers(0, 5, len(idx)),
                                  np.where(style == 1, UTILITY_DUE_DAYS[util] - rng.integers(0, 6, len(idx)),
                                           np.where(style == 2, UTILITY_DUE_DAYS[util] + rng.integers(1, 21, len(idx)),
                                                    rng.integers(0, UTILITY_DUE_DAYS[util], len(idx)))))
            never_pay = (r < 0.015) | ((style == 3) & (r < 0.4))
            g0 = len(self._bill_gen)
            for j, i in enumerate(idx):
                self._bill_gen.append((codes[j], int(i), f"{w.refs[i, u]:010d}", period, int(amounts[j]), due))
            g = np.arange(g0, g0 + len(idx))
            ev.add(ti[idx], BILL_ISSUE, 0, 0, 0, g, idx, False)
            tp = (di + delay_days) * DAY_US + self._times(np.zeros(len(idx), dtype=np.int64), "awake")
            tp = np.maximum(tp, ti[idx] + HOUR_US)
            ok = ~never_pay & (tp < w.churn_t[idx])
            dst = SLOT_BILLER0 + np.array(codes, dtype=np.int64)
            ev.add(tp[ok], BILL, demand[idx[ok]], dst[ok], amounts[ok], g[ok], idx[ok], True)

        # -- mobile top-ups --------------------------------------------------------------------
        cnt = rng.poisson(np.where(w.prepaid, 0.9 * full_month, 0.0))
        ci = np.repeat(cust, cnt)
        if len(ci):
            ti = self._times(rng.integers(d0, d1, len(ci)), "awake")
            a = np.array(TOPUP_AMOUNTS_YUAN)[rng.choice(len(TOPUP_AMOUNTS_YUAN), len(ci), p=TOPUP_WEIGHTS)] * 100
            dst = SLOT_BILLER0 + np.array([BILLER_INDEX[f"MOB-{CARRIERS[c].key}"] for c in range(len(CARRIERS))])[
                w.carrier[ci]]
            ok = self._active(ci, ti)
            ev.add(ti[ok], TOPUP, demand[ci[ok]], dst[ok], a[ok], 0, ci[ok], True)

        # -- card spending by category ---------------------------------------------------------
        scale = np.clip(w.monthly / 8000_00, 0.25, 6.0)
        for c_i, cat in enumerate(CATEGORIES):
            wts = self.season[c_i, d0:d1]
            rate = cat.per_month * w.activity * (wts.sum() / 30.4) * ind * scale ** 0.15
            if cat.key == "education":
                rate = rate * np.where(self.occ_pay == "allowance", 1.5, np.where(w.age > 55, 0.3, 1.0))
            elif cat.key == "travel":
                rate = rate * np.where(self.occ_pay == "allowance", 0.5, 1.0) * np.clip(scale, 0.5, 2.5)
            elif cat.key == "shopping":
                rate = rate * np.where(w.age > 60, 0.5, 1.0)
            cnt = rng.poisson(rate)
            ci = np.repeat(cust, cnt)
            if not len(ci):
                continue
            p = wts / wts.sum()
            dd = d0 + rng.choice(n_days, size=len(ci), p=p)
            ti = self._times(dd, cat.hours)
            in_person = rng.random(len(ci)) < cat.in_person
            pick = rng.random(len(ci))
            merch = np.empty(len(ci), dtype=np.int64)
            cities = w.city[ci]
            for key_city in np.unique(cities):
                for ip in (True, False):
                    mask = (cities == key_city) & (in_person == ip)
                    if not mask.any():
                        continue
                    pool, cum = self.merchants.pools[(c_i, int(key_city), ip)]
                    merch[mask] = pool[np.searchsorted(cum, pick[mask], side="right").clip(0, len(pool) - 1)]
            yuan = (cat.median_yuan * scale[ci] ** 0.5 * self.merchants.factor[merch] *
                    self.amount_season[c_i, dd] * rng.lognormal(0, cat.sigma, len(ci)))
            a = np.round(yuan * 100).astype(np.int64)
            a = np.where(cat.key == "digital", (np.round(yuan) * 100 - 2).astype(np.int64), a)
            a = np.maximum(a, 100)
            # in-person purchases also record the till (card); online ones the app
            aux = merch * 2 + np.where(in_person, 1, 0)
            ok = self._active(ci, ti)
            ev.add(ti[ok], CARD, demand[ci[ok]], SLOT_MERCHANT0 + c_i, a[ok], aux[ok], ci[ok], True)

        # -- transfers between people ----------------------------------------------------------
        has_c = np.array([len(c) > 0 for c in w.contacts])
        cnt = rng.poisson(np.where(has_c & ind, 1.1 * w.activity * full_month, 0.0))
        ci = np.repeat(cust, cnt)
        if len(ci):
            ti = self._times(rng.integers(d0, d1, len(ci)), "awake")
            to = np.array([w.contacts[c][int(rng.integers(0, len(w.contacts[c])))] for c in ci], dtype=np.int64)
            yuan = rng.lognormal(np.log(200), 1.0, len(ci)) * np.clip(w.monthly[ci] / 8000_00, 0.3, 4.0) ** 0.5
            r = rng.random(len(ci))
            yuan = np.where(r < 0.3, np.round(yuan / 100) * 100, np.where(r < 0.8, np.round(yuan / 10) * 10, yuan))
            a = np.maximum(np.round(yuan * 100).astype(np.int64), 100)
            ok = self._active(ci, ti) & self._active(to, ti)
            ev.add(ti[ok], P2P, demand[ci[ok]], demand[to[ok]], a[ok], P2P_FRIENDS, ci[ok], True)
        sf_this = SPRING_FESTIVAL.get(y)
        if sf_this is not None:
            eve = (sf_this - w.start).days - 1  # New Year's Eve; red packets until the 6th day
            lo, hi = eve, min(eve + 7, w.n_days)
            if d0 <= eve < d1:
                cnt = np.where(has_c & ind & (rng.random(n) < 0.6), rng.integers(1, 6, n), 0)
                ci = np.repeat(cust, cnt)
                if len(ci):
                    dd = np.where(rng.random(len(ci)) < 0.6, np.clip(eve, lo, hi - 1), rng.integers(lo, hi, len(ci)))
                    ti = self._times(dd, "evening")
                    to = np.array([w.contacts[c][int(rng.integers(0, len(w.contacts[c])))] for c in ci],
                                  dtype=np.int64)
                    a = np.array(RED_PACKETS_YUAN)[rng.choice(len(RED_PACKETS_YUAN), len(ci), p=RED_PACKET_P)] * 100
                    ok = self._active(ci, ti) & self._active(to, ti)
                    ev.add(ti[ok], P2P, demand[ci[ok]], demand[to[ok]], a[ok], P2P_RED_PACKET, ci[ok], True)
        if m == 5:
            di = day_index(20)
            if d0 <= di < d1:
                sel = np.flatnonzero(has_c & ind & (rng.random(n) < 0.08) & (w.age < 45))
                if len(sel):
                    ti = self._times(np.full(len(sel), di), "evening")
                    to = np.array([w.contacts[c][0] for c in sel], dtype=np.int64)
                    a = np.where(rng.random(len(sel)) < 0.7, 520_00, 1314_00)
                    ok = self._active(sel, ti) & self._active(to, ti)
                    ev.add(ti[ok], P2P, demand[sel[ok]], demand[to[ok]], a[ok], P2P_520, sel[ok], True)

        # -- savings ---------------------------------------------------------------------------
        sav = w.savings_slot
        has = sav >= 0
        earner = np.isin(self.occ_pay, ["salary", "pension", "self", "freelance"])
        dday = np.where(salaried, pdi + 1 + cust % 3, day_index(np.minimum(27, mlen)))
        ts = dday * DAY_US + self._times(np.zeros(n, dtype=np.int64), "evening")
        amt = (w.monthly * w.save_frac / 100_00).astype(np.int64) * 100_00
        sel = has & earner & in_chunk(np.where(salaried, pdi, dday)) & (amt > 0) & self._active(cust, ts)
        ev.add(ts[sel], TO_SAV, demand[sel], sav[sel], amt[sel], 0, cust[sel], False)
        out = has & (rng.random(n) < 0.08 * full_month)
        to_ = self._times(rng.integers(d0, d1, n), "awake")
        sel = out & self._active(cust, to_)
        permille = rng.integers(200, 600, n)
        ev.add(to_[sel], FROM_SAV, sav[sel], demand[sel], 0, permille[sel], cust[sel], False)
        # month end: what exceeds a cushion of pay moves to savings, or (no savings account) to a
        # securities account elsewhere
        di = day_index(min(26, mlen))
        if d0 <= di < d1:
            tw = di * DAY_US + 20 * HOUR_US + rng.integers(0, 3 * HOUR_US, n)
            base = ind & earner & self._active(cust, tw)
            sel = base & has
            ev.add(tw[sel], SWEEP, demand[sel], sav[sel], 0, (w.monthly[sel] * 5 // 2), cust[sel], False)
            sel = base & ~has & w.invests
            ev.add(tw[sel], INVEST, demand[sel], SLOT_SETTLEMENT, 0, w.monthly[sel] * 3, cust[sel], True)
        if d1 - 1 == day_index(mlen):  # month end inside the window: interest is paid
            ti = day_index(mlen) * DAY_US + 23 * HOUR_US + 50 * 60_000_000 + cust
            sel = has & self._active(cust, ti)
            ev.add(ti[sel], INTEREST, SLOT_INTEREST, sav[sel], 0, 0, cust[sel], False)

        # -- fees and cash ---------------------------------------------------------------------
        di = day_index(20)
        if d0 <= di < d1:
            tf = di * DAY_US + 3 * HOUR_US + cust * 1000
            sel = w.sms_fee & self._active(cust, tf)
            ev.add(tf[sel], FEE, demand[sel], SLOT_FEES, 2_00, 0, cust[sel], False)
        cnt = rng.poisson(np.where(ind, (0.2 + 0.5 * (w.age > 55)) * full_month, 0.0))
        ci = np.repeat(cust, cnt)
        if len(ci):
            ti = self._times(rng.integers(d0, d1, len(ci)), "day")
            a = np.array(ATM_YUAN)[rng.choice(len(ATM_YUAN), len(ci), p=ATM_P)] * 100
            ok = self._active(ci, ti)
            ev.add(ti[ok], ATM, demand[ci[ok]], SLOT_SETTLEMENT, a[ok], 0, ci[ok], False)

        # -- businesses: sales receipts and supplier payments ------------------------------------
        biz = w.kind == 1
        if biz.any():
            # costs paid to suppliers at other banks (through the settlement account)
            cnt = rng.poisson(np.where(biz, 6.0 * full_month, 0.0))
            ci = np.repeat(cust, cnt)
            if len(ci):
                ti = self._times(rng.integers(d0, d1, len(ci)), "office")
                a = (w.monthly[ci] * rng.uniform(0.1, 0.19, len(ci)) / 100).astype(np.int64) * 100
                payee = 1 + rng.integers(0, len(w.ext_companies), len(ci))
                ok = self._active(ci, ti) & (a > 0)
                ev.add(ti[ok], SUPPLIER, demand[ci[ok]], SLOT_SETTLEMENT, a[ok], payee[ok], ci[ok], True)
            cnt = rng.poisson(np.where(biz, 10.0 * full_month, 0.0))
            ci = np.repeat(cust, cnt)
            if len(ci):
                ti = self._times(rng.integers(d0, d1, len(ci)), "office")
                a = (w.monthly[ci] / 10 * rng.lognormal(-0.08, 0.4, len(ci))).astype(np.int64)
                ok = self._active(ci, ti) & (a > 0)
                ev.add(ti[ok], REVENUE, SLOT_SETTLEMENT, demand[ci[ok]], a[ok], 0, ci[ok], False)
            bidx = np.flatnonzero(biz)
            if len(bidx) > 1:
                cnt = rng.poisson(np.where(biz, w.supplier_rate * full_month, 0.0))
                ci = np.repeat(cust, cnt)
                if len(ci):
                    ti = self._times(rng.integers(d0, d1, len(ci)), "office")
                    to = bidx[rng.integers(0, len(bidx), len(ci))]
                    to = np.where(to == ci, bidx[(np.searchsorted(bidx, ci) + 1) % len(bidx)], to)
                    a = (w.monthly[ci] * rng.uniform(0.02, 0.1, len(ci)) / 100).astype(np.int64) * 100
                    ok = self._active(ci, ti) & self._active(to, ti) & (a > 0)
                    ev.add(ti[ok], SUPPLIER, demand[ci[ok]], demand[to[ok]], a[ok], 0, ci[ok], True)

    # -----------------------------------------------------------------------------------------
    def _apply(self, cand: tuple[np.ndarray, ...]) -> Batch:
        """Replay the candidates in time order against the running state; keep what the ledger
        would accept."""
        t_a, et_a, src_a, dst_a, amt_a, aux_a, cust_a, enf_a = cand
        ts, ets, srcs, dsts = t_a.tolist(), et_a.tolist(), src_a.tolist(), dst_a.tolist()
        amts, auxs, enfs = amt_a.tolist(), aux_a.tolist(), enf_a.tolist()
        bal, limit, status, owner = self.bal, self.limit, self.status, self.owner
        usage, cust_limit = self.usage, self.cust_limit
        n_days = self.w.n_days
        declined = self.declined
        k0 = self.k
        k = k0
        out_i: list[int] = []
        out_amt: list[int] = []
        out_bs: list[int] = []
        out_bd: list[int] = []
        events: list[tuple[int, int, int]] = []
        bills = self.bills
        bill_no = self._bill_no
        for i in range(len(ets)):
            e = ets[i]
            if e >= BILL_ISSUE:
                if e == BILL_ISSUE:
                    g = auxs[i]
                    code, c, ref, period, amount, due = self._bill_gen[g]
                    bill_no[g] = len(bills.biller)
                    bills.biller.append(code)
                    bills.cust.append(c)
                    bills.reference.append(ref)
                    bills.period.append(period)
                    bills.amount.append(amount)
                    bills.due.append(due)
                    bills.paid_k.append(-1)
                    events.append((k, e, bill_no[g]))
                elif e == FREEZE:
                    if status[srcs[i]] == 0:
                        status[srcs[i]] = 1
                        events.append((k, e, srcs[i]))
                else:  # CLOSE
                    s = srcs[i]
                    if status[s] != 2 and bal[s] == 0:
                        status[s] = 2
                        events.append((k, e, s))
                continue
            s = srcs[i]
            d = dsts[i]
            a = amts[i]
            if e in DYNAMIC:
                if e == INTEREST:
                    num = bal[d] * self.rate[d]
                    q, r = divmod(num, 12_000_000)
                    a = q + (1 if r * 2 > 12_000_000 or (r * 2 == 12_000_000 and q % 2) else 0)
                elif e == FROM_SAV:
                    a = bal[s] * auxs[i] // 1000 // 100_00 * 100_00
                elif e == SWEEP:  # move what exceeds the cushion, in thousands
                    a = (bal[s] - auxs[i]) // 1000_00 * 1000_00
                elif e == INVEST:  # the same, within the customer's daily limit
                    a = min(bal[s] - auxs[i], cust_limit[owner[s]]) // 1000_00 * 1000_00
                else:
                    a = bal[s]
                if a <= 0:
                    self.skipped += 1
                    continue
            if e == BILL and bills.paid_k[bill_no[auxs[i]]] >= 0:  # never pay one bill twice
                self.skipped += 1
                continue
            if status[s] != 0 or status[d] == 2:
                declined["status"] += 1
                continue
            lim = limit[s]
            if lim >= 0 and bal[s] - a < -lim:
                declined["funds"] += 1
                continue
            if enfs[i]:
                c = owner[s]
                if c >= 0 and c != owner[d]:
                    key = c * n_days + ts[i] // DAY_US
                    used = usage.get(key, 0) + a
                    if used > cust_limit[c]:
                        declined["daily_limit"] += 1
                        continue
                    usage[key] = used
            bal[s] -= a
            bal[d] += a
            if e == BILL:
                bno = bill_no[auxs[i]]
                bills.paid_k[bno] = k
                auxs[i] = bno
            out_i.append(i)
            out_amt.append(a)
            out_bs.append(bal[s])
            out_bd.append(bal[d])
            k += 1
        self.k = k
        sel = np.array(out_i, dtype=np.int64)
        amount = np.array(out_amt, dtype=np.int64)
        src = src_a[sel]
        dst = dst_a[sel]
        np.add.at(self.debits, src, amount)
        np.add.at(self.credits, dst, amount)
        return Batch(k0=k0, et=et_a[sel], src=src, dst=dst, amount=amount,
                     aux=np.array(auxs, dtype=np.int64)[sel], cust=cust_a[sel], t=t_a[sel],
                     bal_src=np.array(out_bs, dtype=np.int64), bal_dst=np.array(out_bd, dtype=np.int64),
                     enforce=enf_a[sel], events=events)

    def usage_rows(self) -> list[tuple[int, date, int]]:
        """(customer index, day, amount) of the daily-limit counters, as the ledger keeps them."""
        n_days = self.w.n_days
        out = []
        for key in sorted(self.usage):
            c, d = divmod(key, n_days)
            out.append((c, self.days[d], self.usage[key]))
        return out


def _month_chunks(start: date, n_days: int) -> list[tuple[int, int, int, int]]:
    out = []
    d = 0
    while d < n_days:
        cur = start + timedelta(days=d)
        mlen = calendar.monthrange(cur.year, cur.month)[1]
        d1 = min(n_days, d + (mlen - cur.day + 1))
        out.append((cur.year, cur.month, d, d1))
        d = d1
    return out


__all__ = ["KIND", "Batch", "Bills", "Simulator", "season_factor"]

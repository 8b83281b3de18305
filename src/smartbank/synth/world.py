"""The synthetic population: customers, their accounts and the relationships between them.

Everything is drawn from one ``numpy.random.default_rng(seed)`` and one seeded Faker (zh_CN), in a
fixed order, so a seed always gives the same people. Nothing here touches a database.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeAlias

import numpy as np
from faker import Faker

from smartbank.customers.service import make_resident_id, normalise_phone, parse_resident_id
from smartbank.ledger.service import new_account_number
from smartbank.synth.catalog import (
    BROADBAND_FEES_YUAN,
    CARRIERS,
    CATEGORIES,
    CITIES,
    OCC_INDEX,
    OCCUPATIONS,
    ORIGIN_REGIONS,
    SAVINGS_RATE_WEIGHTS,
    SAVINGS_RATES,
    biller_specs,
)

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
TZ_OFFSET = timedelta(hours=8)  # China Standard Time: local = UTC + 8h, no daylight saving

AREA_CODES = {"BJ": "010", "SH": "021", "GZ": "020", "SZ": "0755", "HZ": "0571", "CD": "028", "WH": "027",
              "NJ": "025", "XA": "029", "CQ": "023"}

# slots of the bank-side accounts, in the order of Catalog.internal_account_ids()
SLOT_SETTLEMENT = 0
SLOT_INTEREST = 1
SLOT_FEES = 2
SLOT_MERCHANT0 = 3
SLOT_BILLER0 = SLOT_MERCHANT0 + len(CATEGORIES)
BILLERS = biller_specs()
BILLER_INDEX = {b[0]: i for i, b in enumerate(BILLERS)}
N_INTERNAL = SLOT_BILLER0 + len(BILLERS)

UTILITIES = ("electricity", "water", "gas", "broadband")

# ----------------------------------------------------------------------------------------------
# unified social credit code (GB 32100-2015), with its embedded organisation code (GB 11714-1997)

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code_check(body8: str) -> str:
    total = sum(int(ch) * w for ch, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def uscc_check(first17: str) -> str:
    total = sum(_USCC_CHARS.index(ch) * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def make_uscc(region: str, org_digits: int) -> str:
    """An 18-character unified social credit code for an enterprise (authority 9, type 1)."""
    body8 = f"{org_digits % 10**8:08d}"
    first17 = "91" + region + body8 + org_code_check(body8)
    return first17 + uscc_check(first17)


def valid_uscc(code: str) -> bool:
    if len(code) != 18 or any(ch not in _USCC_CHARS for ch in code):
        return False
    return org_code_check(code[8:16]) == code[16] and uscc_check(code[:17]) == code[17]


# ----------------------------------------------------------------------------------------------


def add_months(d: date, months: int) -> date:
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    import calendar

    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


Arr: TypeAlias = Any  # a numpy array, filled in by build_world


class Permutation:
    """A bijection of range(10**digits), so numbers drawn with it never collide within a run."""

    def __init__(self, rng: np.random.Generator, digits: int):
        self.mod = 10**digits
        a = int(rng.integers(10**(digits - 1), self.mod))
        while math.gcd(a, 10) != 1:
            a += 1
        self.a = a
        self.b = int(rng.integers(0, self.mod))

    def __call__(self, i: int) -> int:
        return (self.a * i + self.b) % self.mod


@dataclass
class World:
    seed: int
    start: date
    end: date
    n_days: int
    # customers -------------------------------------------------------------------------------
    rows: list[dict] = field(default_factory=list)  # the customers table rows (without id)
    kind: Arr = None  # 0 individual, 1 business
    city: Arr = None
    age: Arr = None
    occ: Arr = None  # occupation index, -1 for businesses
    monthly: Arr = None  # net monthly pay / allowance / pension / revenue, minor units
    bonus: Arr = None  # year-end bonus, minor units
    activity: Arr = None
    app_share: Arr = None
    join_t: Arr = None  # microseconds from the window start (0 = customer before the window)
    churn_t: Arr = None  # closes every account at this time (big = never)
    payday: Arr = None
    employer: Arr = None  # business customer index paying the salary, or -1
    employer_name: list[str] = field(default_factory=list)
    ext_companies: list[str] = field(default_factory=list)  # employers and suppliers at other banks
    invests: Arr = None  # without a savings account: moves surplus to a securities account
    landlord: Arr = None
    rent: Arr = None
    parent: Arr = None
    contacts: list[Arr] = field(default_factory=list)
    carrier: Arr = None
    phone: list[str] = field(default_factory=list)
    subs: Arr = None  # (n, 4) bool: electricity, water, gas, broadband
    bb_carrier: Arr = None
    bb_fee: Arr = None
    usage_scale: Arr = None
    bill_style: Arr = None  # 0 punctual, 1 near the due date, 2 late, 3 forgetful
    refs: Arr = None  # (n, 4) customer reference numbers at the utilities
    sms_fee: Arr = None
    prepaid: Arr = None
    save_frac: Arr = None
    daily_limit: Arr = None  # effective limit used by the generator (minor units)
    freeze_t: Arr = None  # demand account frozen at this time (big = never)
    supplier_rate: Arr = None
    # accounts --------------------------------------------------------------------------------
    acct_rows: list[dict] = field(default_factory=list)  # customer accounts, slot = N_INTERNAL + index
    demand_slot: Arr = None
    savings_slot: Arr = None
    slot_owner: Arr = None  # customer index per slot, -1 for bank accounts
    slot_limit: Arr = None  # overdraft limit per slot, -1 = unlimited
    slot_rate_ppm: Arr = None  # savings interest rate in millionths
    opening: Arr = None  # opening balance per slot (minor units)
    joiner: Arr = None

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def n_slots(self) -> int:
        return N_INTERNAL + len(self.acct_rows)


def _lognormal_mean1(rng: np.random.Generator, sigma: float, size: int) -> np.ndarray:
    return rng.lognormal(-sigma * sigma / 2, sigma, size)


def build_world(*, customers: int, months: int, seed: int, end: date, default_limit: int,
                on_customer: Callable[[int], None] | None = None) -> World:
    """The population. ``on_customer(n)`` reports progress (n more customers drawn)."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    rng = np.random.default_rng(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    start = add_months(end, -months) + timedelta(days=1)
    n_days = (end - start).days + 1
    window_us = n_days * DAY_US
    never = np.int64(window_us * 4)
    w = World(seed=seed, start=start, end=end, n_days=n_days)
    n = customers

    n_biz = int(round(n * 0.05)) if n >= 10 else 0
    kind = np.zeros(n, dtype=np.int8)
    if n_biz:
        kind[rng.choice(n, size=n_biz, replace=False)] = 1
    city_w = np.array([c.weight for c in CITIES])
    city = rng.choice(len(CITIES), size=n, p=city_w / city_w.sum())

    # ages 18-80: adult age structure
    brackets = np.array([[18, 24], [25, 34], [35, 44], [45, 54], [55, 64], [65, 80]])
    bw = np.array([0.12, 0.24, 0.20, 0.18, 0.14, 0.12])
    br = rng.choice(len(brackets), size=n, p=bw)
    age = rng.integers(brackets[br, 0], brackets[br, 1] + 1)
    age = np.where(kind == 1, 0, age)
    male = rng.random(n) < 0.5

    # occupations
    work = [i for i, o in enumerate(OCCUPATIONS) if o.weight > 0]
    work_p = np.array([OCCUPATIONS[i].weight for i in work])
    work_p = work_p / work_p.sum()
    occ = np.array(work, dtype=np.int64)[rng.choice(len(work), size=n, p=work_p)]
    u = rng.random(n)
    student = ((age <= 22) & (u < 0.75)) | ((age >= 23) & (age <= 24) & (u < 0.25))
    retire_age = np.where(male, 60, 55)
    retired = (age >= retire_age) & (rng.random(n) < 0.85)
    occ = np.where(student, OCC_INDEX["student"], occ)
    occ = np.where(retired, OCC_INDEX["retired"], occ)
    occ = np.where(kind == 1, -1, occ)

    # incomes: log-normal per occupation, scaled by city and age
    med = np.array([OCCUPATIONS[o].median_yuan if o >= 0 else 0 for o in occ], dtype=float)
    sig = np.array([OCCUPATIONS[o].sigma if o >= 0 else 0.9 for o in occ])
    cityf = np.array([CITIES[c].income_factor for c in city])
    agef = np.interp(age, [18, 22, 30, 40, 50, 60, 80], [0.7, 0.75, 0.95, 1.1, 1.1, 1.0, 1.0])
    annual_yuan = med * cityf * agef * rng.lognormal(0.0, sig)
    revenue_yuan = rng.lognormal(math.log(300_000), 0.9, n)  # businesses: monthly revenue
    bonus_m = np.array([OCCUPATIONS[o].bonus_months if o >= 0 else 0 for o in occ])
    pay = [OCCUPATIONS[o].pay if o >= 0 else "business" for o in occ]
    monthly = np.zeros(n, dtype=np.int64)
    bonus = np.zeros(n, dtype=np.int64)
    for i in range(n):
        p = pay[i]
        if p == "salary":
            net = annual_yuan[i] * 0.78 / (12 + bonus_m[i])
            monthly[i] = int(round(net * 100))
            bonus[i] = int(round(net * bonus_m[i] * rng.lognormal(0, 0.3) * 100)) if rng.random() < 0.7 else 0
        elif p in ("self", "freelance"):
            monthly[i] = int(round(annual_yuan[i] * 0.9 / 12 * 100))
        elif p == "pension":
            monthly[i] = int(round(annual_yuan[i] / 12 * 100))
        elif p == "allowance":
            monthly[i] = int(rng.choice([1500, 1800, 2000, 2500, 3000, 3500])) * 100
        else:
            monthly[i] = int(round(revenue_yuan[i] * 100))
    annual_income = np.where(kind == 1, monthly * 12, np.round(annual_yuan * 100).astype(np.int64))
    annual_income = np.where(occ == OCC_INDEX["student"], monthly * 12, annual_income)

    # when they became customers: 80% before the window, the rest join during it
    joiner = (rng.random(n) < 0.2) & (kind == 0)  # businesses (employers) predate the window
    join_day = rng.integers(1, max(n_days - 20, 2), n)
    join_t = np.where(joiner, join_day * DAY_US + 10 * HOUR_US + rng.integers(0, 6 * HOUR_US, n), 0)
    years_before = rng.uniform(0.1, 15.0, n)

    # names, documents, contact details (Faker zh_CN, seeded)
    rows: list[dict] = []
    used_ids: set[str] = set()
    used_phones: set[str] = set()
    cust_perm = Permutation(rng, 10)
    org_perm = Permutation(rng, 8)
    carrier_p = np.array([c.weight for c in CARRIERS])
    carrier = rng.choice(len(CARRIERS), size=n, p=carrier_p / carrier_p.sum())
    phone_digits = rng.integers(0, 10**8, n)
    phone_style = rng.integers(0, 4, n)
    prefix_pick = rng.random(n)
    origin = rng.random(n) < 0.3
    origin_pick = rng.integers(0, len(ORIGIN_REGIONS), n)
    district_pick = rng.integers(0, 5, n)
    birth_offset = rng.integers(0, 365, n)
    id_seq = rng.integers(0, 500, n)
    has_email = rng.random(n) < 0.45
    building = rng.integers(1, 300, n)
    unit = rng.integers(1, 7, n)
    room = rng.integers(101, 2800, n)
    landline = rng.random(n) < 0.5
    landline_digits = rng.integers(2 * 10**7, 9 * 10**7, n)
    risk = rng.choice(3, size=n, p=[0.85, 0.12, 0.03])
    limit_pick = rng.choice(3, size=n, p=[0.8, 0.1, 0.1])
    phones: list[str] = []
    for i in range(n):
        if on_customer is not None and i % 1000 == 999:
            on_customer(1000)
        c = CITIES[city[i]]
        region, district = c.districts[district_pick[i]]
        if kind[i] == 1:
            name = fake.company()
            id_number = make_uscc(region, org_perm(i))
            birth = None
            gender = None
        else:
            gender = "M" if male[i] else "F"
            name = fake.name_male() if male[i] else fake.name_female()
            birth = _birth_date(end, int(age[i]), int(birth_offset[i]))
            src_region = ORIGIN_REGIONS[origin_pick[i]] if origin[i] else region
            seq = int(id_seq[i]) * 2 + (1 if male[i] else 0)
            id_number = make_resident_id(src_region, birth, seq)
            while id_number in used_ids:
                seq = (seq + 2) % 1000
                id_number = make_resident_id(src_region, birth, seq)
        used_ids.add(id_number)
        car = CARRIERS[carrier[i]]
        digits = int(phone_digits[i])
        while True:
            mobile = car.prefixes[int(prefix_pick[i] * len(car.prefixes))] + f"{digits:08d}"
            if mobile not in used_phones:
                break
            digits = (digits + 7919) % 10**8
        used_phones.add(mobile)
        phones.append("+86" + mobile)
        if kind[i] == 1 and landline[i]:
            raw = f"{AREA_CODES[c.key]}-{int(landline_digits[i])}"
        else:
            raw = (mobile, f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}", f"+86 {mobile}", f"0086-{mobile}")[
                phone_style[i]]
        street = fake.street_name()
        if kind[i] == 1:
            address = f"{c.zh}市{district}{street}{building[i]}号{unit[i]}楼{room[i] % 100 + 1}室"
        else:
            address = f"{c.zh}市{district}{street}{building[i]}号{unit[i]}单元{room[i]}室"
        rows.append({
            "number": f"C{cust_perm(i):010d}",
            "kind": "business" if kind[i] == 1 else "individual",
            "name": name,
            "id_type": "business_licence" if kind[i] == 1 else "resident_id",
            "id_number": id_number,
            "birth_date": birth,
            "gender": gender,
            "phone_raw": raw,
            "phone": normalise_phone(raw),
            "email": fake.free_email() if has_email[i] else None,
            "city": c.zh,
            "address": address,
            "occupation": OCCUPATIONS[occ[i]].zh if occ[i] >= 0 else None,
            "annual_income_minor": int(annual_income[i]),
            "kyc_status": "verified",
            "risk_level": ("low", "medium", "high")[risk[i]],
            "daily_limit_minor": (5_000_000_00 if kind[i] == 1 else
                                  (None, 20_000_00, 100_000_00)[limit_pick[i]]),
            "status": "active",
        })
    # customers turning 18 during the window join on (or after) their 18th birthday
    for i in range(n):
        b = rows[i]["birth_date"]
        if b is None:
            continue
        b18 = _add_years(b, 18)
        t18 = (b18 - start).days * DAY_US + 10 * HOUR_US
        if t18 > 0 and join_t[i] < t18:
            join_t[i] = min(t18, window_us - DAY_US)
            joiner[i] = True
        if not joiner[i]:
            earliest = max((b18 - start).days, -int(years_before[i] * 365))
            years_before[i] = -earliest / 365.0
    created = []
    for i in range(n):
        if joiner[i]:
            created.append(_utc(start, int(join_t[i])))
        else:
            days_before = max(int(years_before[i] * 365), 1)
            created.append(_utc(start, -days_before * DAY_US + 10 * HOUR_US + int(room[i]) * 1_000_000))
        rows[i]["created_at"] = created[i]
        rows[i]["kyc_method"] = "synthetic"  # verified when the customer joined, before the simulated window
        rows[i]["kyc_verified_at"] = created[i]

    # employers, landlords, families, contacts ---------------------------------------------------
    ind = np.flatnonzero(kind == 0)
    biz = np.flatnonzero(kind == 1)
    salaried = np.array([pay[i] == "salary" for i in range(n)])
    employer = np.full(n, -1, dtype=np.int64)
    if len(biz):
        takes = salaried & (rng.random(n) < 0.2)
        for i in np.flatnonzero(takes).tolist():
            same = biz[city[biz] == city[i]]
            pool = same if len(same) else biz
            employer[i] = int(pool[rng.integers(0, len(pool))])
    n_ext = max(5, n // 15)
    ext_names = [fake.company() for _ in range(n_ext)]
    ext_pick = rng.integers(0, n_ext, n)
    employer_name = [rows[employer[i]]["name"] if employer[i] >= 0 else ext_names[ext_pick[i]] for i in range(n)]
    payday = rng.choice([5, 10, 15, 20, 25, 28], size=n, p=[0.1, 0.3, 0.25, 0.1, 0.15, 0.1])
    payday = np.where(employer >= 0, payday[np.maximum(employer, 0)], payday)  # one payday per employer
    payday = np.where(occ == OCC_INDEX["retired"], 5, payday)

    landlord = np.full(n, -1, dtype=np.int64)
    rent = np.zeros(n, dtype=np.int64)
    if len(ind) >= 10:
        rich = ind[(age[ind] >= 35) & (annual_income[ind] >= np.median(annual_income[ind]))]
        n_land = max(1, int(round(len(ind) * 0.08)))
        landlords = rng.choice(rich, size=min(n_land, len(rich)), replace=False) if len(rich) else np.array([], int)
        is_landlord = np.zeros(n, dtype=bool)
        is_landlord[landlords] = True
        tier1 = np.isin(city, [0, 1, 2, 3])
        worker = (kind == 0) & ~student & ~retired & (age >= 22) & (age <= 45) & ~is_landlord
        tenant = worker & (rng.random(n) < np.where(tier1, 0.4, 0.3))
        rent_noise = rng.lognormal(0, 0.35, n)
        for i in np.flatnonzero(tenant).tolist():
            if not len(landlords):
                break
            same = landlords[city[landlords] == city[i]]
            pool = same if len(same) else landlords
            landlord[i] = int(pool[rng.integers(0, len(pool))])
            rent[i] = max(800, int(round(CITIES[city[i]].rent * rent_noise[i] / 100)) * 100) * 100

    parent = np.full(n, -1, dtype=np.int64)
    elders = ind[(age[ind] >= 42) & (age[ind] <= 65)]
    by_surname: dict[str, list[int]] = {}
    for e in elders:
        by_surname.setdefault(rows[e]["name"][0], []).append(int(e))
    for i in np.flatnonzero(student).tolist():
        if len(elders) and rng.random() < 0.6:
            same = by_surname.get(rows[i]["name"][0])
            parent[i] = same[int(rng.integers(0, len(same)))] if same else int(elders[rng.integers(0, len(elders))])

    contacts: list[Arr] = []
    k = rng.integers(3, 9, n)
    by_city = [ind[city[ind] == c] for c in range(len(CITIES))]
    for i in range(n):
        if kind[i] == 1 or len(ind) < 2:
            contacts.append(np.array([], dtype=np.int64))
            continue
        local = by_city[city[i]]
        pick_local = rng.random(k[i]) < 0.7
        a = local[rng.integers(0, len(local), k[i])] if len(local) else ind[rng.integers(0, len(ind), k[i])]
        b = ind[rng.integers(0, len(ind), k[i])]
        cs = np.where(pick_local, a, b)
        extra = [parent[i]] if parent[i] >= 0 else []
        cs = np.unique(np.concatenate([cs, np.array(extra, dtype=np.int64)]))
        contacts.append(cs[cs != i])

    # utilities and habits --------------------------------------------------------------------
    north = np.array([CITIES[c].north for c in city])
    adult_home = (kind == 0) & ~student
    subs = np.zeros((n, 4), dtype=bool)
    subs[:, 0] = adult_home & (rng.random(n) < 0.85)
    subs[:, 1] = adult_home & (rng.random(n) < 0.8)
    subs[:, 2] = adult_home & (rng.random(n) < np.where(north, 0.75, 0.5))
    subs[:, 3] = adult_home & (rng.random(n) < 0.6)
    bb_carrier = np.where(rng.random(n) < 0.5, carrier, rng.integers(0, len(CARRIERS), n))
    bb_fee = np.array(BROADBAND_FEES_YUAN)[rng.integers(0, len(BROADBAND_FEES_YUAN), n)] * 100
    usage_scale = rng.lognormal(0, 0.3, n) * np.clip(np.sqrt(np.maximum(monthly, 1) / 8000_00), 0.6, 1.8)
    bill_style = rng.choice(4, size=n, p=[0.55, 0.33, 0.08, 0.04])
    refs = np.zeros((n, 4), dtype=np.int64)
    for j in range(4):
        perm = Permutation(rng, 10)
        refs[:, j] = [perm(i) for i in range(n)]
    sms_fee = (kind == 0) & (rng.random(n) < 0.35)
    prepaid = (kind == 0) & (rng.random(n) < 0.7)
    save_frac = rng.uniform(0.05, 0.35, n)
    invests = rng.random(n) < 0.5

    activity = _lognormal_mean1(rng, 0.45, n) * np.interp(age, [18, 30, 50, 65, 80], [1.15, 1.1, 1.0, 0.75, 0.5])
    app_share = np.interp(age, [18, 50, 65, 80], [0.97, 0.92, 0.7, 0.45])
    limits = np.array([r["daily_limit_minor"] or default_limit for r in rows], dtype=np.int64)

    # frozen accounts and departures
    freeze_t = np.full(n, never, dtype=np.int64)
    churn_t = np.full(n, never, dtype=np.int64)
    if len(ind):
        n_freeze = int(round(len(ind) * 0.004))
        n_churn = int(round(len(ind) * 0.01))
        pick = rng.permutation(ind)
        for i in pick[:n_freeze].tolist():
            ft = max(int(rng.uniform(0.3, 0.95) * window_us), int(join_t[i]) + 30 * DAY_US)
            if ft < window_us:
                freeze_t[i] = ft
                rows[i]["risk_level"] = "high"
        for i in pick[n_freeze:n_freeze + n_churn].tolist():
            churn_t[i] = max(int(rng.uniform(0.4, 0.95) * window_us), int(join_t[i]) + 30 * DAY_US)
            if churn_t[i] >= window_us:
                churn_t[i] = never
            else:
                rows[i]["status"] = "closed"
    supplier_rate = np.where(kind == 1, rng.uniform(1.0, 4.0, n), 0.0)

    # accounts --------------------------------------------------------------------------------
    acct_rows: list[dict] = []
    demand_slot = np.full(n, -1, dtype=np.int64)
    savings_slot = np.full(n, -1, dtype=np.int64)
    p_sav = np.clip(0.35 + 0.3 * (age > 35) + 0.15 * (annual_income > np.median(annual_income)), 0, 0.9)
    p_sav = np.where(student, 0.15, p_sav)
    has_sav = (kind == 0) & (rng.random(n) < p_sav)
    rate_pick = rng.choice(len(SAVINGS_RATES), size=n, p=np.array(SAVINGS_RATE_WEIGHTS))
    biz_od = (kind == 1) & (rng.random(n) < 0.3)
    acct_perm = Permutation(rng, 12)
    sav_open_delay = rng.uniform(0, 1, n)
    opening_demand = (monthly * rng.lognormal(math.log(1.5), 0.7, n)).astype(np.int64)
    opening_demand = np.where(kind == 1, (monthly * rng.uniform(1.0, 2.5, n)).astype(np.int64), opening_demand)
    age_wealth = np.interp(age, [18, 30, 45, 60, 80], [1.0, 3.0, 8.0, 14.0, 16.0])
    opening_savings = (monthly * age_wealth * rng.lognormal(0, 0.8, n)).astype(np.int64)
    openings: list[int] = []
    slot_limit: list[int] = []
    slot_rate: list[int] = []
    slot_owner: list[int] = []
    for i in range(n):
        status = "closed" if churn_t[i] < never else "open"
        opened = (created[i] + TZ_OFFSET).date()
        od = 0
        if biz_od[i]:
            od = int(round(monthly[i] * 0.2 / 1000_00)) * 1000_00
        demand_slot[i] = N_INTERNAL + len(acct_rows)
        acct_rows.append({
            "number": new_account_number("621700", acct_perm(len(acct_rows))), "customer_index": i,
            "kind": "demand", "name": "企业结算账户" if kind[i] == 1 else "活期账户", "currency": "CNY",
            "status": "frozen" if freeze_t[i] < never and status == "open" else status,
            "overdraft_limit_minor": od, "interest_rate": None, "opened_on": opened, "created_at": created[i],
        })
        openings.append(0 if joiner[i] else int(opening_demand[i]))
        slot_limit.append(od)
        slot_rate.append(0)
        slot_owner.append(i)
        if has_sav[i]:
            if joiner[i]:
                sav_created = created[i]
            else:
                span = (_utc(start, 0) - created[i]).total_seconds()
                sav_created = created[i] + timedelta(seconds=int(span * sav_open_delay[i] * 0.9))
            savings_slot[i] = N_INTERNAL + len(acct_rows)
            rate = SAVINGS_RATES[rate_pick[i]]
            acct_rows.append({
                "number": new_account_number("621700", acct_perm(len(acct_rows))), "customer_index": i,
                "kind": "savings", "name": "储蓄账户", "currency": "CNY", "status": status,
                "overdraft_limit_minor": 0, "interest_rate": Decimal(rate),
                "opened_on": (sav_created + TZ_OFFSET).date(), "created_at": sav_created,
            })
            openings.append(0 if joiner[i] else int(opening_savings[i]))
            slot_limit.append(0)
            slot_rate.append(int(Decimal(rate) * 1_000_000))
            slot_owner.append(i)

    w.rows = rows
    w.kind, w.city, w.age, w.occ = kind, city, age, occ
    w.monthly, w.bonus, w.activity, w.app_share = monthly, bonus, activity, app_share
    w.join_t, w.churn_t, w.payday = join_t.astype(np.int64), churn_t, payday
    w.employer, w.employer_name, w.ext_companies, w.invests = employer, employer_name, ext_names, invests
    w.landlord, w.rent, w.parent, w.contacts = landlord, rent, parent, contacts
    w.carrier, w.phone = carrier, phones
    w.subs, w.bb_carrier, w.bb_fee, w.usage_scale = subs, bb_carrier, bb_fee, usage_scale
    w.bill_style, w.refs, w.sms_fee, w.prepaid, w.save_frac = bill_style, refs, sms_fee, prepaid, save_frac
    w.daily_limit, w.freeze_t, w.supplier_rate = limits, freeze_t, supplier_rate
    w.acct_rows, w.demand_slot, w.savings_slot = acct_rows, demand_slot, savings_slot
    w.slot_owner = np.concatenate([np.full(N_INTERNAL, -1, dtype=np.int64), np.array(slot_owner, dtype=np.int64)])
    internal_limits = [-1] * N_INTERNAL
    for b in range(len(BILLERS)):
        internal_limits[SLOT_BILLER0 + b] = 0  # biller settlement accounts are opened with a zero limit
    w.slot_limit = np.array(internal_limits + slot_limit, dtype=np.int64)
    w.slot_rate_ppm = np.array([0] * N_INTERNAL + slot_rate, dtype=np.int64)
    w.opening = np.array([0] * N_INTERNAL + openings, dtype=np.int64)
    w.joiner = joiner
    return w


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _birth_date(end: date, age: int, offset_days: int) -> date:
    """A birth date at which the person is exactly ``age`` on ``end``."""
    latest = _add_years(end, -age)  # birthday on `end` itself
    born = latest - timedelta(days=offset_days)
    if _add_years(born, age + 1) <= end:  # offset crossed a whole year (leap years)
        born = born + timedelta(days=1)
    return born


def _utc(start: date, t_us: int) -> datetime:
    return datetime(start.year, start.month, start.day, tzinfo=UTC) - TZ_OFFSET + timedelta(microseconds=t_us)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def check_world(w: World) -> None:
    """Cheap self-checks of the population (used by the tests as well)."""
    for r in w.rows:
        if r["id_type"] == "resident_id":
            rid = parse_resident_id(r["id_number"], today=w.end)
            assert rid.birth_date == r["birth_date"]
            assert rid.gender == r["gender"]
            assert 18 <= age_on(rid.birth_date, w.end) <= 80
        else:
            assert valid_uscc(r["id_number"]), r["id_number"]

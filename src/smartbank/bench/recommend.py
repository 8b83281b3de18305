"""``smartbank bench recommend``: top-10 for one customer, end to end through the service, measured.

Builds a bank (a temporary SQLite file, or the given database) with ``customers`` customers in a few
tastes (cash, bond, mixed, equity savers) and segments, ``items`` wealth products plus the default loan
products, risk grades for most customers, holdings and clicks/views that follow each taste, then syncs the
items, warms the engine (EASE fitted in-process) and times ``requests`` calls of
``db.run_in_transaction(recommend(..., n=10))`` for random customers: ranking, the filters' reads, the
reasons and the recording of the list and its impressions, committed.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, insert, pool, select
from sqlalchemy.orm import Session

from smartbank import clock, db
from smartbank.customers.service import Customer
from smartbank.db import make_engine, run_in_transaction, session_scope
from smartbank.insight.service import CustomerProfile
from smartbank.lending.service import DEFAULT_PRODUCTS, LoanProduct
from smartbank.ops.service import upgrade
from smartbank.recommend import service as recommend
from smartbank.recommend.service import RecEvent, RecItem
from smartbank.security.service import SYSTEM, Principal
from smartbank.wealth.service import Holding, RiskAssessment, WealthProduct

PREFIX = "RBENCH"
TASTES = (("cash", ("R1", "R2")), ("bond", ("R2", "R3")), ("mixed", ("R3", "R4")), ("equity", ("R4", "R5")))
GRADE_OF = {"cash": "C2", "bond": "C3", "mixed": "C4", "equity": "C5"}


def build(url: str, *, customers: int, items: int, seed: int = 7) -> dict[str, Any]:
    """Create the schema and the bench bank (skipped when one of this size is there); returns counts."""

    upgrade(url)
    engine = make_engine(url, poolclass=pool.NullPool)
    rng = random.Random(seed)
    now = clock.now()
    with session_scope(engine) as s:
        have = s.scalar(select(func.count(Customer.id)).where(Customer.number.like(f"{PREFIX}%"))) or 0
        if have >= customers:
            engine.dispose()
            return {"built": False, "customers": have}
        if s.scalar(select(func.count(LoanProduct.id))) == 0:
            s.execute(insert(LoanProduct), [dict(p) for p in DEFAULT_PRODUCTS])
        prods: list[dict[str, Any]] = []
        kinds = ("wmp", "fund", "fund", "insurance")
        for j in range(items):
            ac, risks = TASTES[j % len(TASTES)]
            kind = "time_deposit" if ac == "cash" and j % 3 == 0 else kinds[j % len(kinds)]
            risk = "R1" if kind == "time_deposit" else rng.choice(risks)
            prods.append({"code": f"RB{j:05d}", "name_en": f"Bench {ac} product {j}", "name_zh": f"基准{ac}产品{j}",
                          "kind": kind, "risk_level": risk, "asset_class": ac, "currency": "CNY",
                          "min_amount_minor": 1_000_00, "step_minor": 1, "term_days": 365 if kind == "time_deposit"
                          else None, "rate_bps": 175 if kind == "time_deposit" else None, "subscription_fee_bps": 0,
                          "redemption_fee_bps": 0, "management_fee_bps": 0, "settlement_days": 1, "issuer": "bench",
                          "status": "active", "description_en": "", "description_zh": "", "tags": [ac, kind]})
        s.execute(insert(WealthProduct), prods)
        pids = {c: i for c, i in s.execute(select(WealthProduct.code, WealthProduct.id)
                                           .where(WealthProduct.code.like("RB%")))}
        by_taste: dict[str, list[int]] = {t: [] for t, _ in TASTES}
        for p in prods:
            by_taste[p["asset_class"]].append(pids[p["code"]])
        rows = [{"number": f"{PREFIX}{i:08d}", "kind": "individual", "name": f"bench {i}", "id_type": "bench",
                 "id_number": f"RB-{i}", "birth_date": date(rng.randint(1950, 2003), rng.randint(1, 12), 1),
                 "kyc_status": "verified", "risk_level": "low", "status": "active"} for i in range(have, customers)]
        for k in range(0, len(rows), 5000):
            s.execute(insert(Customer), rows[k:k + 5000])
        cids = list(s.scalars(select(Customer.id).where(Customer.number.like(f"{PREFIX}%")).order_by(Customer.id)))
        # item ids are known only after the sync: events are written by product, mapped below
        assess: list[dict[str, Any]] = []
        holds: list[dict[str, Any]] = []
        profiles: list[dict[str, Any]] = []
        feedback: list[tuple[int, int, str]] = []
        for c in cids:
            taste = TASTES[rng.randrange(len(TASTES))][0]
            if rng.random() < 0.85:
                assess.append({"customer_id": c, "questionnaire_version": 1, "answers": {}, "score": 50,
                               "grade": GRADE_OF[taste], "channel": "web", "taken_at": now - timedelta(days=10),
                               "expires_at": now + timedelta(days=355)})
            profiles.append({"customer_id": c, "as_of": now.date(), "computed_at": now, "features": {},
                             "segment": f"{taste}_savers"})
            pool_ = by_taste[taste]
            for pid in rng.sample(pool_, min(len(pool_), rng.randint(0, 3))):
                holds.append({"customer_id": c, "product_id": pid, "units_micro": 1_000_000, "pending_units_micro": 0,
                              "cost_minor": 1_000_00})
            for pid in rng.sample(pool_, min(len(pool_), rng.randint(0, 4))):
                feedback.append((c, pid, rng.choice(("view", "view", "click"))))
        for k in range(0, len(assess), 5000):
            s.execute(insert(RiskAssessment), assess[k:k + 5000])
        for k in range(0, len(holds), 5000):
            s.execute(insert(Holding), holds[k:k + 5000])
        for k in range(0, len(profiles), 5000):
            s.execute(insert(CustomerProfile), profiles[k:k + 5000])

    run_in_transaction(lambda s: recommend.sync_items(s, SYSTEM), engine=engine)
    with session_scope(engine) as s:
        item_of = {int(r): int(i) for i, r in s.execute(select(RecItem.id, RecItem.ref_id)
                                                        .where(RecItem.item_type == "wealth")) if r is not None}
        ev = [{"customer_id": c, "item_id": item_of[p], "event": e, "weight": 1.0, "at": now - timedelta(days=1)}
              for c, p, e in feedback]
        for k in range(0, len(ev), 5000):
            s.execute(insert(RecEvent), ev[k:k + 5000])
    engine.dispose()
    return {"built": True, "customers": len(cids), "holdings": len(holds), "events": len(feedback)}


def _one(session: Session, *, actor: Principal) -> dict[str, Any]:
    return recommend.recommend(session, actor, slot="bench", n=10)


def run(url: str | None, *, customers: int = 10_000, items: int = 300, requests: int = 2000,
        seed: int = 7) -> dict[str, Any]:

    tmp = None
    if not url:
        tmp = tempfile.mkdtemp(prefix="sb-bench-rec-")
        url = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
    t0 = time.perf_counter()
    built = build(url, customers=customers, items=items, seed=seed)
    build_s = time.perf_counter() - t0
    engine = db.get_engine(url)
    recommend.reset_engines()
    t1 = time.perf_counter()
    with db.session_scope(engine) as s:
        eng = recommend.get_engine(s)
        cids = list(s.scalars(select(Customer.id).where(Customer.number.like(f"{PREFIX}%"))))
    warm_s = time.perf_counter() - t1
    rng = random.Random(seed + 1)
    lat: list[float] = []
    shown = 0
    for k in range(requests + 50):
        actor = Principal(user_id=0, username="bench", role="customer", customer_id=rng.choice(cids))
        t = time.perf_counter()
        out = db.run_in_transaction(partial(_one, actor=actor), engine=engine)
        dt = time.perf_counter() - t
        if k >= 50:  # the first calls warm caches and connections
            lat.append(dt)
            shown += len(out["items"])
    lat.sort()
    n = len(lat)

    def pct(p: float) -> float:
        return round(lat[min(n - 1, int(p * n))] * 1000, 3) if n else 0.0

    res = {"database": url.split("://", 1)[0], "customers": len(cids), "items": len(eng.items or []),
           "requests": n, "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
           "max_ms": round(lat[-1] * 1000, 3) if n else 0.0,
           "mean_ms": round(statistics.fmean(lat) * 1000, 3) if n else 0.0,
           "avg_items_shown": round(shown / n, 2) if n else 0.0, "model_version": eng.model_version,
           "build_seconds": round(build_s, 2), "warm_seconds": round(warm_s, 3), "built": built.get("built")}
    if tmp is not None:
        db.dispose_engines()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return res

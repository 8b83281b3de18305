"""``run``: build a deterministic synthetic bank in a database.

The same seed always gives the same bank: the population comes from
``numpy.random.default_rng(seed)`` and a seeded Faker (zh_CN); the history from a second numpy stream
derived from the seed. Two loaders write it: through the domain services (small banks, ``bulk=False``)
or in bulk (``COPY`` on PostgreSQL). Into an empty database both write identical rows.

This module is the synthetic bank's front door (:data:`__all__`), with the catalogue it seeds and the loan
and wealth books the demo adds.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import pool

from smartbank import clock, db
from smartbank.config import get_settings
from smartbank.ops import service as ops
from smartbank.security import service as security
from smartbank.synth import bulk as bulk_loader
from smartbank.synth import through_services
from smartbank.synth.campaigns import seed_campaigns
from smartbank.synth.catalog import Catalog, seed_catalog
from smartbank.synth.experiments import seed_experiments
from smartbank.synth.journeys import seed_journeys
from smartbank.synth.loans import seed_loan_book
from smartbank.synth.loyalty import seed_loyalty
from smartbank.synth.marketing import seed_marketing
from smartbank.synth.opinion import seed_opinion
from smartbank.synth.progress import Progress
from smartbank.synth.render import run_tag
from smartbank.synth.uplift import seed_uplift
from smartbank.synth.wealth import seed_wealth_book
from smartbank.synth.world import build_world

__all__ = ["Catalog", "run", "seed_catalog", "seed_loan_book", "seed_wealth_book",
           # the demo's marketing: campaigns with a known effect, experiments, uplift models, journeys, points, opinion
           "seed_campaigns", "seed_experiments", "seed_journeys", "seed_loyalty", "seed_marketing", "seed_opinion",
           "seed_uplift"]

# customer-months above which ``bulk=None`` picks the bulk loader (about 20,000 transfers)
BULK_THRESHOLD = 600


def run(url: str, *, customers: int, months: int, seed: int, bulk: bool | None = None,
        end_date: date | None = None, progress: bool = True) -> dict[str, Any]:
    """Generate ``customers`` customers with ``months`` months of history ending at ``end_date``
    (default: today) into the database at ``url`` (schema already migrated), seal the journal and
    return a summary. ``bulk=None`` uses the bulk loader for large runs."""
    t0 = time.perf_counter()
    end = end_date or clock.today()
    engine = db.make_engine(url, poolclass=pool.NullPool)
    try:
        with db.session_scope(engine) as s:
            catalog = seed_catalog(s)
        with Progress(progress) as prog:
            t_w = time.perf_counter()
            task = prog.add("drawing customers", total=customers, unit="customers")
            world = build_world(customers=customers, months=months, seed=seed, end=end,
                                default_limit=get_settings().default_daily_limit_minor,
                                on_customer=lambda k: prog.advance(task, k))
            prog.advance(task, customers % 1000)
            world_seconds = time.perf_counter() - t_w
            use_bulk = bulk if bulk is not None else customers * months > BULK_THRESHOLD
            key_prefix = f"syn{seed}-{run_tag(seed, customers, months, end)}-"
            loader = bulk_loader if use_bulk else through_services
            with security.keys_of(engine):  # the identity fields are encrypted under that database's keys
                stats = loader.load(engine, world, catalog, key_prefix=key_prefix, progress=prog)
        # the generated history ran every day before ``end`` (interest, bills, schedules): close of day
        # continues from ``end``, and never re-runs or skips a day of it
        with db.session_scope(engine) as s:
            ops.mark_closed_through(s, end - timedelta(days=1), source="synth")
    finally:
        engine.dispose()
    total = time.perf_counter() - t0
    sim = stats.pop("sim")
    bills = sim.bills
    paid = sum(1 for k in bills.paid_k if k >= 0)
    overdue = sum(1 for k, d in zip(bills.paid_k, bills.due, strict=True) if k < 0 and d < end)
    n_transfers = stats["transfers"]
    load_s = stats["load_seconds"]
    summary = {
        "database": engine.dialect.name,
        "mode": "bulk" if use_bulk else "service",
        "seed": seed,
        "start_date": world.start.isoformat(),
        "end_date": end.isoformat(),
        "months": months,
        "customers": world.n,
        "individuals": int((world.kind == 0).sum()),
        "businesses": int((world.kind == 1).sum()),
        "accounts": len(world.acct_rows),
        "savings_accounts": int((world.savings_slot >= 0).sum()),
        "frozen_accounts": sum(1 for a in world.acct_rows if a["status"] == "frozen"),
        "closed_accounts": sum(1 for a in world.acct_rows if a["status"] == "closed"),
        "transfers": n_transfers,
        "entries": stats["entries"],
        "bills": len(bills.biller),
        "bills_paid": paid,
        "bills_overdue": overdue,
        "bills_unpaid": len(bills.biller) - paid - overdue,
        "declined": dict(sim.declined),
        "world_seconds": round(world_seconds, 3),
        "load_seconds": load_s,
        "transfers_per_second": round(n_transfers / load_s) if load_s > 0 else None,
        "seal_seconds": stats["seal_seconds"],
        "seconds": round(total, 3),
    }
    for k in ("phases", "commit_seconds", "analyze_seconds", "index_rebuild_seconds", "indexes_rebuilt",
              "seal_workers"):
        if k in stats:
            summary[k] = stats[k]
    if progress:
        print(f"synth: {n_transfers:,} transfers loaded in {load_s:.1f}s "
              f"({summary['transfers_per_second'] or 0:,} transfers/s, {summary['mode']} path, "
              f"{summary['database']}); journal sealed in {stats['seal_seconds']:.1f}s", file=sys.stderr)
    return summary

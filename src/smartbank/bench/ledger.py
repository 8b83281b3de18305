"""``smartbank bench ledger``: concurrent transfers through the ledger service, measured.

Each client is a separate process (so Python's GIL does not cap the load) with its own
connection, running random customer-to-customer payments through :func:`ledger.service.transfer`
inside :func:`db.run_single_write` - the same path the API takes, without HTTP.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
import uuid
from functools import partial
from typing import Any

from sqlalchemy import pool, select, text

from smartbank.bench.pgbench import checkpoint, run_pgbench
from smartbank.customers.service import Customer
from smartbank.db import make_engine, run_in_transaction, run_single_write, session_scope
from smartbank.errors import SmartbankError
from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account, seal
from smartbank.ops.service import upgrade

BENCH_PREFIX = "BENCH"


def prepare(url: str, accounts: int, opening_minor: int = 1_000_000_00) -> list[int]:
    """Create the schema (if missing) and ``accounts`` funded bench accounts (if missing)."""
    upgrade(url)
    engine = make_engine(url, poolclass=pool.NullPool)
    with session_scope(engine) as s:
        ids = list(s.scalars(select(Account.id).join(Customer, Customer.id == Account.customer_id)
                             .where(Customer.number.like(f"{BENCH_PREFIX}%")).order_by(Account.id)))
        if len(ids) >= accounts:
            return ids[:accounts]
        settle = ledger.internal_account(s, "settlement", "CNY")
        for i in range(len(ids), accounts):
            c = Customer(number=f"{BENCH_PREFIX}{i:08d}", kind="business", name=f"bench {i}",
                         id_type="bench", id_number=f"BENCH-{i}", kyc_status="verified", risk_level="low",
                         daily_limit_minor=10**14, status="active")
            s.add(c)
            s.flush()
            a = ledger.open_account(s, customer_id=c.id, kind="demand", name=f"bench {i}",
                                    number=ledger.new_account_number("621799", i))
            ledger.transfer(s, ledger.TransferCommand(
                key=f"bench-open-{a.id}", debit_account_id=settle.id, credit_account_id=a.id,
                amount_minor=opening_minor, currency="CNY", kind="deposit"))
            ids.append(a.id)
    engine.dispose()
    return ids


def _worker(url: str, ids: list[int], seconds: float, seed: int, start_at: float, q: Any) -> None:
    engine = make_engine(url, pool_size=1, max_overflow=0) if not url.startswith("sqlite") else make_engine(url)
    rng = random.Random(seed)
    lat: list[float] = []
    rejected = 0
    run = uuid.uuid4().hex[:8]
    n = 0
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    while True:
        t0 = time.perf_counter()
        if time.time() >= end:
            break
        a, b = rng.sample(ids, 2)
        n += 1
        cmd = ledger.TransferCommand(key=f"bench:{run}:{seed}:{n}", debit_account_id=a, credit_account_id=b,
                                     amount_minor=rng.randint(1, 10_000), currency="CNY",
                                     initiated_by=None, enforce_daily_limit=True)
        try:
            run_single_write(partial(ledger.transfer, cmd=cmd), engine=engine)
        except SmartbankError:
            rejected += 1
        lat.append(time.perf_counter() - t0)
    engine.dispose()
    q.put((lat, rejected))


def seal_backlog(url: str) -> int:
    """Chain every transfer still waiting for the journal (outside any measured window), so that one
    benchmark's transfers are not sealed during the next one's measurement."""
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        return run_in_transaction(lambda s: seal(s), engine=engine)
    finally:
        engine.dispose()


def total_balance(url: str, ids: list[int]) -> tuple[int, bool]:
    """The bench accounts' total, and whether the ledger is sound overall: every currency sums to zero
    and no account is below its overdraft limit."""
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as c:
        ours = c.execute(text("SELECT COALESCE(sum(credits_posted - debits_posted), 0) FROM accounts"
                              " WHERE id IN (" + ",".join(str(int(i)) for i in ids) + ")")).scalar()
        nonzero = c.execute(text("SELECT count(*) FROM (SELECT currency FROM accounts GROUP BY currency"
                                 " HAVING sum(credits_posted - debits_posted) <> 0) x")).scalar()
        overdrawn = c.execute(text("SELECT count(*) FROM accounts WHERE overdraft_limit_minor IS NOT NULL AND"
                                   " credits_posted - debits_posted < -overdraft_limit_minor")).scalar()
    engine.dispose()
    return int(ours or 0), not nonzero and not overdrawn


def run(url: str, *, clients: int, seconds: float, accounts: int = 1000) -> dict[str, Any]:
    ids = prepare(url, accounts)
    before, _ = total_balance(url, ids)
    if url.startswith("postgresql"):
        checkpoint(url, vacuum=("accounts", "transfers", "entries", "ledger_unsealed", "customer_daily_usage"))
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [ctx.Process(target=_worker, args=(url, ids, seconds, i + 1, start_at, q)) for i in range(clients)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    lat = sorted(x for r, _ in results for x in r)
    rejected = sum(r for _, r in results)
    after, sound = total_balance(url, ids)
    seal_backlog(url)
    n = len(lat)

    def pct(p: float) -> float:
        return round(lat[min(n - 1, int(p * n))] * 1000, 3) if n else 0.0

    return {
        "database": url.split("://", 1)[0], "clients": clients, "seconds": seconds, "accounts": len(ids),
        "transfers": n - rejected, "rejected": rejected, "tps": round((n - rejected) / seconds, 1),
        "p50_ms": pct(0.50), "p99_ms": pct(0.99), "conserved": before == after and sound,
    }


def compare(url: str, *, clients: int, seconds: float, accounts: int = 1000, rounds: int = 4) -> dict[str, Any]:
    """The ledger side by side with ``pgbench -b tpcb-like`` on the same server, in alternating
    rounds of ``seconds / rounds`` each, so that both sides meet the same moments of a shared,
    noisy machine (disk flush latency drifts over tens of seconds here)."""
    part = max(1, round(seconds / rounds))  # pgbench counts whole seconds
    seconds = part * rounds
    pg_tps: list[float] = []
    runs: list[dict[str, Any]] = []
    for _ in range(rounds):
        pg_tps.append(run_pgbench(url, clients=clients, seconds=part, init=not pg_tps)["tps"])
        runs.append(run(url, clients=clients, seconds=part, accounts=accounts))
    transfers = sum(r["transfers"] for r in runs)
    out = {**runs[-1], "seconds": seconds, "rounds": rounds, "transfers": transfers,
           "rejected": sum(r["rejected"] for r in runs), "tps": round(transfers / seconds, 1),
           # percentiles of the rounds: the worst round's p99, the middle of the p50s
           "p50_ms": sorted(r["p50_ms"] for r in runs)[len(runs) // 2], "p99_ms": max(r["p99_ms"] for r in runs),
           "conserved": all(r["conserved"] for r in runs),
           "pgbench_tps": round(sum(pg_tps) / len(pg_tps), 1), "pgbench_round_tps": [round(t) for t in pg_tps],
           "ledger_round_tps": [r["tps"] for r in runs]}
    out["vs_pgbench"] = round(out["tps"] / out["pgbench_tps"], 3) if out["pgbench_tps"] else None
    return out

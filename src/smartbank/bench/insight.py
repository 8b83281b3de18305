"""``smartbank bench insight``: deterministic generated activity, customers and holdings in the insight read
model's schemas, and the columnar feature + default tag computation over them, timed."""

from __future__ import annotations

import resource
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from smartbank.insight import service as insight
from smartbank.insight.service import ACTIVITY_SCHEMA, CUSTOMER_SCHEMA, HOLDINGS_SCHEMA


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


_KINDS = ("card_payment", "transfer", "bill_payment", "salary", "withdrawal", "interest", "fee")
_KIND_P = (0.62, 0.14, 0.06, 0.05, 0.04, 0.05, 0.04)
_CATS = ("groceries", "dining", "transport", "shopping", "travel", "entertainment", "health", "education",
         "digital")
_CHANNELS = ("app", "card", "counter", "atm", "online", "payroll", "system")
_CITIES = ("上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "西安")
_JOBS = ("engineer", "teacher", "doctor", "clerk", "student", "retired", "self_employed")


def generate(customers: int, transactions: int, *, seed: int = 7, as_of: date = date(2025, 6, 30)) -> dict[str, Any]:
    """Deterministic activity, customers and holdings frames in the read model's schemas."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    end_us = int(datetime.combine(as_of + timedelta(days=1), datetime.min.time(), UTC).timestamp() * 1e6)
    span_us = 400 * 86_400 * 1_000_000
    # activity per customer is skewed: a few very active customers, many quiet ones
    weight = rng.pareto(1.5, customers) + 0.2
    cust = rng.choice(customers, size=transactions, p=weight / weight.sum()).astype(np.int64) + 1
    ts = end_us - rng.integers(1, span_us, size=transactions, dtype=np.int64)
    kind = rng.choice(len(_KINDS), size=transactions, p=_KIND_P).astype(np.int8)
    cat = rng.integers(0, len(_CATS), size=transactions, dtype=np.int8)
    amount = np.round(rng.lognormal(8.5, 1.1, size=transactions)).astype(np.int64) + 1
    incoming = (kind == 3) | (kind == 5) | ((kind == 1) & (rng.random(transactions) < 0.4))
    amount = np.where(incoming, amount * np.where(kind == 3, 40, 1), -amount)
    chan = np.select([kind == 3, kind >= 5, kind == 4, kind == 0], [5, 6, 3, 1],
                     rng.choice([0, 2, 4], size=transactions, p=[0.8, 0.1, 0.1]))
    merchant = rng.integers(0, 20_000, size=transactions, dtype=np.int32)

    def labels(codes: Any, names: tuple[str, ...]) -> pl.Series:
        return pl.Series(codes).replace_strict(dict(enumerate(names)), return_dtype=pl.Utf8)

    activity = pl.DataFrame({
        "customer_id": cust,
        "ts": pl.Series(ts).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "amount_minor": amount,
        "currency": pl.repeat("CNY", transactions, dtype=pl.Utf8, eager=True),
        "kind": labels(kind, _KINDS),
        "channel": labels(chan, _CHANNELS),
        "category": labels(cat, _CATS),
        "counterparty": pl.Series(merchant).cast(pl.Utf8),
        "source": pl.repeat("ledger", transactions, dtype=pl.Utf8, eager=True),
        "account_kind": pl.repeat("demand", transactions, dtype=pl.Utf8, eager=True),
        "own_account": pl.repeat(False, transactions, dtype=pl.Boolean, eager=True),
    }, schema=ACTIVITY_SCHEMA)
    k = pl.col("kind")
    activity = activity.with_columns(
        pl.when(k == "salary").then(pl.lit("salary")).when(k == "bill_payment").then(pl.lit("electricity"))
        .when(k.is_in(["interest", "fee", "withdrawal"])).then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(pl.col("category")).alias("category"))
    del cust, ts, kind, cat, amount, chan, merchant
    ids = np.arange(1, customers + 1, dtype=np.int64)
    born = (np.datetime64("1950-01-01") + rng.integers(0, 20_000, customers).astype("timedelta64[D]"))
    created = end_us - rng.integers(86_400_000_000, 3650 * 86_400_000_000, customers, dtype=np.int64)
    custs = pl.DataFrame({
        "customer_id": ids, "kind": pl.repeat("individual", customers, dtype=pl.Utf8, eager=True),
        "birth_date": born, "gender": labels(rng.integers(0, 2, customers), ("F", "M")),
        "city": labels(rng.integers(0, len(_CITIES), customers), _CITIES),
        "occupation": labels(rng.integers(0, len(_JOBS), customers), _JOBS),
        "annual_income_minor": rng.integers(3_000_000, 50_000_000, customers, dtype=np.int64),
        "created_at": pl.Series(created).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "status": pl.repeat("active", customers, dtype=pl.Utf8, eager=True),
        "risk_level": labels(rng.choice(3, customers, p=[0.85, 0.12, 0.03]), ("low", "medium", "high")),
    }, schema=CUSTOMER_SCHEMA)
    holdings = pl.DataFrame({
        "customer_id": np.concatenate([ids, ids]),
        "account_kind": ["demand"] * customers + ["savings"] * customers,
        "currency": "CNY",
        "accounts": np.ones(2 * customers, dtype=np.int64),
        "balance_minor": np.concatenate([rng.integers(0, 5_000_000, customers),
                                         rng.integers(0, 80_000_000, customers)]).astype(np.int64),
        "overdraft_used_minor": np.zeros(2 * customers, dtype=np.int64),
    }, schema=HOLDINGS_SCHEMA)
    return {"activity": activity, "customers": custs, "holdings": holdings, "as_of": as_of}


def run_bench(customers: int, transactions: int, *, seed: int = 7) -> dict[str, Any]:
    t0 = time.perf_counter()
    data = generate(customers, transactions, seed=seed)
    t1 = time.perf_counter()
    profiles = insight.compute_features(data["activity"], data["customers"], data["as_of"], holdings=data["holdings"])
    t2 = time.perf_counter()
    tagged = insight.assign_tags(profiles, list(insight.DEFAULT_TAGS))
    t3 = time.perf_counter()
    seconds = t3 - t1
    return {"customers": customers, "transactions": transactions, "seconds": round(seconds, 3),
            "generate_seconds": round(t1 - t0, 3), "feature_seconds": round(t2 - t1, 3),
            "tag_seconds": round(t3 - t2, 3), "tagged": tagged.height,
            "transactions_per_second": round(transactions / seconds, 1) if seconds else 0.0,
            "customers_per_second": round(customers / seconds, 1) if seconds else 0.0,
            "peak_rss_mb": peak_rss_mb()}

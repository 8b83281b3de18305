"""A small generated activity frame with three behaviour groups and customers who fade out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

START = datetime(2018, 4, 1, tzinfo=UTC)
DAYS = 153  # 2018-04-01 .. 2018-08-31
AS_OF = date(2018, 9, 1)
GROUPS = {
    # name: (customers, payments a day, ticket mean (minor), night probability, channel, category)
    "daily": (40, 1.5, 3_000, 0.05, "app", "groceries"),
    "night": (25, 0.6, 40_000, 0.80, "card", "entertainment"),
    "weekly": (25, 0.25, 12_000, 0.05, "counter", "travel"),
}


def make_frames(seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("customer_id", "ts", "amount_minor", "kind", "channel", "category",
                                             "counterparty")}
    customers = []
    cid = 0
    for _name, (n, rate, ticket, night_p, channel, category) in GROUPS.items():
        for _ in range(n):
            cid += 1
            # a quarter of the customers fade out at a random day (activity drops to a tenth)
            fade = int(rng.integers(40, DAYS)) if rng.random() < 0.25 else DAYS + 1
            customers.append({"customer_id": cid, "created_at": START, "status": "active",
                              "annual_income_minor": int(rng.integers(5_000_000, 50_000_000))})
            for day in range(DAYS):
                lam = rate if day < fade else rate * 0.1
                for _ in range(rng.poisson(lam)):
                    hour = int(rng.integers(22, 30)) % 24 if rng.random() < night_p else int(rng.integers(8, 21))
                    ts = START + timedelta(days=day, hours=hour, minutes=int(rng.integers(0, 60)))
                    rows["customer_id"].append(cid)
                    rows["ts"].append(ts)
                    rows["amount_minor"].append(-max(100, int(rng.gamma(4.0, ticket / 4.0))))
                    rows["kind"].append("card_payment")
                    rows["channel"].append(channel)
                    rows["category"].append(category)
                    rows["counterparty"].append(f"m{int(rng.integers(0, 30))}")
            # a monthly salary (not customer-initiated)
            for m in range(4, 9):
                rows["customer_id"].append(cid)
                rows["ts"].append(datetime(2018, m, 25, 9, tzinfo=UTC))
                rows["amount_minor"].append(int(rng.integers(500_000, 2_000_000)))
                rows["kind"].append("salary")
                rows["channel"].append("payroll")
                rows["category"].append("salary")
                rows["counterparty"].append("employer")
    activity = pl.DataFrame(rows).with_columns(
        pl.col("customer_id").cast(pl.Int64), pl.col("ts").cast(pl.Datetime("us", "UTC")),
        pl.col("amount_minor").cast(pl.Int64), pl.lit("CNY").alias("currency"), pl.lit("synthetic").alias("source"),
    ).sort("customer_id", "ts")
    cust = pl.DataFrame(customers).with_columns(
        pl.col("customer_id").cast(pl.Int64), pl.col("created_at").cast(pl.Datetime("us", "UTC")),
        pl.lit("person").alias("kind"), pl.lit(None, dtype=pl.Date).alias("birth_date"),
        pl.lit(None, dtype=pl.Utf8).alias("gender"), pl.lit(None, dtype=pl.Utf8).alias("city"),
        pl.lit(None, dtype=pl.Utf8).alias("occupation"),
    )
    return activity, cust


def group_of(customer_id: int) -> str:
    edge = 0
    for name, spec in GROUPS.items():
        edge += spec[0]
        if customer_id <= edge:
            return name
    raise ValueError(customer_id)

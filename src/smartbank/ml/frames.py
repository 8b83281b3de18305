"""Helpers over the activity frame (the contract of ``smartbank.insight.extract.load_activity``).

activity: ``customer_id`` Int64, ``ts`` Datetime(UTC), ``amount_minor`` Int64 (signed from the customer's
view: + in, - out), ``currency``, ``kind``, ``channel``, ``category``, ``counterparty``, ``source``,
``account_kind`` (the customer's account the row is on: demand / savings / loan; null for imported rows) and
``own_account`` (the other side is another account of the same customer; null when unknown).
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from smartbank.config import get_settings

# kinds that the customer does not initiate (the bank or an employer does); all others count as activity
PASSIVE_KINDS = ("salary", "interest", "fee", "scheduled", "opening")
NIGHT_HOURS = (22, 6)  # [22:00, 06:00) local time of the timestamp (UTC for imported data)

ACTIVITY_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Int64,
    "ts": pl.Datetime("us", "UTC"),
    "amount_minor": pl.Int64,
    "currency": pl.Utf8,
    "kind": pl.Utf8,
    "channel": pl.Utf8,
    "category": pl.Utf8,
    "counterparty": pl.Utf8,
    "source": pl.Utf8,
    "account_kind": pl.Utf8,
    "own_account": pl.Boolean,
}


def at_midnight(d: date | datetime) -> datetime:
    if isinstance(d, datetime):
        return d if d.tzinfo else d.replace(tzinfo=UTC)
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def normalise(activity: pl.DataFrame) -> pl.DataFrame:
    """Cast to the contract's types (missing optional columns become nulls)."""
    cols = []
    for name, dtype in ACTIVITY_SCHEMA.items():
        if name in activity.columns:
            col = pl.col(name)
            if name == "ts":
                dt = activity.schema["ts"]
                if isinstance(dt, pl.Datetime) and dt.time_zone is None:
                    col = col.dt.replace_time_zone("UTC")
                col = col.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
            else:
                col = col.cast(dtype)
            cols.append(col.alias(name))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    return activity.select(cols)


def before(activity: pl.DataFrame, cutoff: date | datetime) -> pl.DataFrame:
    """Rows strictly before ``cutoff`` (a date means its midnight UTC)."""
    return activity.filter(pl.col("ts") < at_midnight(cutoff))


def window(activity: pl.DataFrame, start: date | datetime, end: date | datetime) -> pl.DataFrame:
    return activity.filter((pl.col("ts") >= at_midnight(start)) & (pl.col("ts") < at_midnight(end)))


def initiated(activity: pl.DataFrame) -> pl.DataFrame:
    """Customer-initiated rows (everything but salary, interest, fees, scheduled runs and openings)."""
    return activity.filter(~pl.col("kind").is_in(list(PASSIVE_KINDS)))


def data_hash(activity: pl.DataFrame) -> str:
    """SHA-256 over the sorted (customer_id, ts, amount_minor) columns: identifies the training data."""
    df = activity.select("customer_id", "ts", "amount_minor").sort("customer_id", "ts", "amount_minor")
    h = hashlib.sha256()
    for name in df.columns:
        arr = df[name].to_physical().fill_null(0).to_numpy()
        h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
    return h.hexdigest()


def card_fraud_path(datasets_dir: Path | None = None) -> Path:
    if datasets_dir is None:
        datasets_dir = Path(get_settings().datasets_dir)
    return Path(datasets_dir) / "card_fraud" / "transactions_2018-04-01_2018-08-31.csv.gz"


def major_to_minor(col: str) -> pl.Expr:
    """Exact conversion of a decimal string in major units ("57.16") to integer minor units (5716)."""
    s = pl.col(col).str.strip_chars()
    neg = s.str.starts_with("-")
    s = s.str.strip_chars_start("-")
    whole = s.str.split(".").list.get(0, null_on_oob=True)
    frac = s.str.split(".").list.get(1, null_on_oob=True).fill_null("")
    frac2 = (frac + pl.lit("00")).str.slice(0, 2)
    minor = whole.cast(pl.Int64) * 100 + frac2.cast(pl.Int64)
    return pl.when(neg).then(-minor).otherwise(minor)


def load_card_fraud(path: Path | None = None, *, currency: str = "CNY") -> tuple[pl.DataFrame, pl.DataFrame]:
    """The card_fraud dataset as (activity, customers) frames of the insight contract.

    Every row is a card payment (amount negative: money out), the terminal is the counterparty. The
    dataset has no customer attributes; ``created_at`` is the first transaction's time.
    """
    path = path or card_fraud_path()
    with gzip.open(path, "rb") as f:
        raw = pl.read_csv(f.read(), schema_overrides={"TX_AMOUNT": pl.Utf8, "TERMINAL_ID": pl.Utf8})
    activity = raw.select(
        pl.col("CUSTOMER_ID").cast(pl.Int64).alias("customer_id"),
        pl.col("TX_DATETIME").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S").dt.replace_time_zone("UTC")
        .alias("ts"),
        (-major_to_minor("TX_AMOUNT")).alias("amount_minor"),
        pl.lit(currency).alias("currency"),
        pl.lit("card_payment").alias("kind"),
        pl.lit("card").alias("channel"),
        pl.lit(None, dtype=pl.Utf8).alias("category"),
        pl.col("TERMINAL_ID").alias("counterparty"),
        pl.lit("card_fraud").alias("source"),
    ).sort("customer_id", "ts")
    customers = (
        activity.group_by("customer_id")
        .agg(pl.col("ts").min().alias("created_at"))
        .sort("customer_id")
        .with_columns(
            pl.lit("person").alias("kind"),
            pl.lit(None, dtype=pl.Date).alias("birth_date"),
            pl.lit(None, dtype=pl.Utf8).alias("gender"),
            pl.lit(None, dtype=pl.Utf8).alias("city"),
            pl.lit(None, dtype=pl.Utf8).alias("occupation"),
            pl.lit(None, dtype=pl.Int64).alias("annual_income_minor"),
            pl.lit("active").alias("status"),
        )
        .select("customer_id", "kind", "birth_date", "gender", "city", "occupation", "annual_income_minor",
                "created_at", "status")
    )
    return activity, customers


def month_start(d: date) -> date:
    return date(d.year, d.month, 1)


def add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


__all__ = [
    "PASSIVE_KINDS",
    "add_months",
    "at_midnight",
    "before",
    "card_fraud_path",
    "data_hash",
    "initiated",
    "load_card_fraud",
    "month_start",
    "normalise",
    "window",
]

"""Point-in-time fraud features for card payments, computed with Polars.

Every feature of a payment at time ``t`` is a function of rows strictly before ``t`` (rows with the same
timestamp are not seen either) plus the payment's own amount, time, customer and terminal. Fraud labels are
used only where they are *known*: a label of a payment at ``s`` becomes known at ``s + delay``, so every
label-based window ends at ``t - delay`` (windows ``[t - delay - w, t - delay)``).

The transaction frame (see :func:`load_transactions`):
``tx_id`` Int64, ``ts`` Datetime(us), ``customer_id`` Int64, ``terminal_id`` Int64, ``amount_minor`` Int64
(integer fen, exact), ``fraud`` Int8 (1 fraud, 0 genuine, null unknown).

The feature definitions live in one place, :data:`FEATURES` (name -> definition), and one function computes
them, :func:`build_features`. Online scoring of ONE incoming payment reuses the same function on the
customer's and terminal's recent history plus the payment (:func:`features_for_payment`), so batch and
online features cannot drift apart.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from smartbank.ml import service as ml

__all__ = [
    "CUSTOMER_WINDOWS",
    "FEATURES",
    "FEATURE_NAMES",
    "HISTORY_DAYS",
    "PEER_FEATURES",
    "TERMINAL_WINDOWS",
    "TX_SCHEMA",
    "build_features",
    "build_peer_features",
    "features_for_payment",
    "load_transactions",
    "transactions_hash",
]

TX_SCHEMA: dict[str, Any] = {
    "tx_id": pl.Int64,
    "ts": pl.Datetime("us"),
    "customer_id": pl.Int64,
    "terminal_id": pl.Int64,
    "amount_minor": pl.Int64,
    "fraud": pl.Int8,
}

CUSTOMER_WINDOWS: dict[str, str] = {"1h": "1h", "1d": "1d", "7d": "7d", "30d": "30d"}
TERMINAL_WINDOWS: dict[str, int] = {"1d": 1, "7d": 7, "30d": 30}
KNOWN_FRAUD_WINDOWS: dict[str, int] = {"7d": 7, "14d": 14, "30d": 30}
HIGH_RATIO = 3.0  # an amount this many times the customer's 30-day median counts as unusually high
# the longest look-back of any feature, excluding the label delay: history needed for online scoring
HISTORY_DAYS = 30


def _feature_table() -> dict[str, str]:
    f: dict[str, str] = {
        "amount": "the payment's amount in major units (yuan)",
        "hour": "hour of day of the payment (0-23)",
        "is_weekend": "1 if the payment is on a Saturday or Sunday",
        "is_night": "1 if the payment is at 00:00-06:59 (the handbook's TX_DURING_NIGHT: hour <= 6)",
        "secs_since_prev": "seconds since the customer's previous payment (null for the first one)",
    }
    for w in CUSTOMER_WINDOWS:
        f[f"cust_n_{w}"] = f"number of the customer's payments in the {w} before t"
        f[f"cust_sum_{w}"] = f"sum of the customer's amounts in the {w} before t"
        f[f"cust_mean_{w}"] = f"mean of the customer's amounts in the {w} before t (null if none)"
        f[f"cust_max_{w}"] = f"largest of the customer's amounts in the {w} before t (null if none)"
    f.update({
        "cust_median_30d": "median of the customer's amounts in the 30d before t",
        "amount_ratio_mean_30d": "amount / cust_mean_30d",
        "amount_ratio_median_30d": "amount / cust_median_30d",
        "amount_ratio_max_30d": "amount / cust_max_30d",
        "amount_z_30d": "(amount - cust_mean_30d) / standard deviation of the customer's amounts in the 30d before t",
        "cust_n_high_14d": f"number of the customer's payments in the 14d before t whose own amount_ratio_median_30d "
                           f"was above {HIGH_RATIO:g} (unlabelled sign of a compromised card)",
        "cust_hour_mean_30d": "mean hour of day of the customer's payments in the 30d before t",
        "hour_dev_30d": "|hour - cust_hour_mean_30d|",
        "cust_term_n_prev": "number of earlier payments of this customer at this terminal (all history)",
        "new_terminal": "1 if the customer never paid at this terminal before",
    })
    for w in TERMINAL_WINDOWS:
        f[f"term_n_{w}"] = f"number of payments at the terminal in the {w} before t (no labels: no delay)"
    for w in TERMINAL_WINDOWS:
        f[f"term_known_n_{w}"] = f"number of payments at the terminal in [t - delay - {w}, t - delay)"
        f[f"term_risk_{w}"] = f"share of frauds among the terminal's payments in [t - delay - {w}, t - delay) " \
                              f"(0 if none): labels known by t"
    for w in KNOWN_FRAUD_WINDOWS:
        f[f"cust_known_fraud_{w}"] = f"number of the customer's frauds in [t - delay - {w}, t - delay)"
    f["term_days_since_known_fraud"] = "days from the terminal's last fraud before t - delay to t (null if none)"
    f["cust_days_since_known_fraud"] = "days from the customer's last fraud before t - delay to t (null if none)"
    return f


FEATURES: dict[str, str] = _feature_table()
FEATURE_NAMES: list[str] = list(FEATURES)

PEER_FEATURES: list[str] = [
    "TX_AMOUNT", "TX_DURING_WEEKEND", "TX_DURING_NIGHT",
    "CUSTOMER_ID_NB_TX_1DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
    "CUSTOMER_ID_NB_TX_7DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW",
    "CUSTOMER_ID_NB_TX_30DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
    "TERMINAL_ID_NB_TX_1DAY_WINDOW", "TERMINAL_ID_RISK_1DAY_WINDOW",
    "TERMINAL_ID_NB_TX_7DAY_WINDOW", "TERMINAL_ID_RISK_7DAY_WINDOW",
    "TERMINAL_ID_NB_TX_30DAY_WINDOW", "TERMINAL_ID_RISK_30DAY_WINDOW",
]


# ---------------------------------------------------------------------------------------------------- loading


def _major_to_minor(col: str) -> pl.Expr:
    return ml.major_to_minor(col)


def load_transactions(path: str | Path) -> pl.DataFrame:
    """Read a card_fraud-style file (gzip CSV, plain CSV or Parquet, detected from its first bytes).

    Amounts become integer fen exactly (decimal strings are parsed, never through a float). Sorted by time.
    """
    path = Path(path)
    with path.open("rb") as f:
        magic = f.read(4)
    if magic == b"PAR1":
        raw = pl.read_parquet(path)
        if raw.schema.get("TX_AMOUNT") != pl.Utf8:
            # a float column holds the decimal printed with at most 2 places: format it, then parse exactly
            raw = raw.with_columns(pl.col("TX_AMOUNT").cast(pl.Float64).round(2)
                                   .map_elements(lambda v: f"{v:.2f}", return_dtype=pl.Utf8))
    else:
        overrides = {"TX_AMOUNT": pl.Utf8, "TX_DATETIME": pl.Utf8}
        if magic[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as g:
                raw = pl.read_csv(g.read(), schema_overrides=overrides)
        else:
            raw = pl.read_csv(path, schema_overrides=overrides)
    ts = pl.col("TX_DATETIME")
    if raw.schema["TX_DATETIME"] == pl.Utf8:
        ts = ts.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    else:
        ts = ts.cast(pl.Datetime("us"))
    fraud = pl.col("TX_FRAUD").cast(pl.Int8) if "TX_FRAUD" in raw.columns else pl.lit(None, dtype=pl.Int8)
    tx_id = pl.col("TRANSACTION_ID").cast(pl.Int64) if "TRANSACTION_ID" in raw.columns \
        else pl.int_range(pl.len(), dtype=pl.Int64)
    return raw.select(
        tx_id.alias("tx_id"),
        ts.alias("ts"),
        pl.col("CUSTOMER_ID").cast(pl.Int64).alias("customer_id"),
        pl.col("TERMINAL_ID").cast(pl.Int64).alias("terminal_id"),
        _major_to_minor("TX_AMOUNT").alias("amount_minor"),
        fraud.alias("fraud"),
    ).sort("ts", "tx_id")


def transactions_hash(tx: pl.DataFrame) -> str:
    """SHA-256 over (tx_id, ts, customer_id, terminal_id, amount_minor, fraud): identifies training data."""
    h = hashlib.sha256()
    for name in ("tx_id", "ts", "customer_id", "terminal_id", "amount_minor", "fraud"):
        arr = tx[name].to_physical().fill_null(-1).to_numpy()
        h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------- features


def _delayed_sum(col: pl.Expr, by: str, delay_days: int, window_days: int) -> pl.Expr:
    """Sum of ``col`` over rows at ``[t - delay - w, t - delay)``, as a difference of two left-closed windows."""
    wide = col.rolling_sum_by(by, window_size=f"{delay_days + window_days}d", closed="left")
    if delay_days == 0:
        return wide.fill_null(0)
    recent = col.rolling_sum_by(by, window_size=f"{delay_days}d", closed="left")
    return (wide.fill_null(0) - recent.fill_null(0))


def build_features(tx: pl.DataFrame, *, delay_days: int) -> pl.DataFrame:
    """Add every column of :data:`FEATURES` to ``tx`` (a frame of :data:`TX_SCHEMA`); row order is by time.

    ``fraud`` may be null (unknown) for any row: it then counts as neither known fraud nor known genuine.
    Rows before a window's full length of history get features from the history there is.
    """
    if delay_days < 0:
        raise ValueError("delay_days must be >= 0")
    amt = (pl.col("amount_minor").cast(pl.Float64) / 100.0)
    df = tx.with_columns(amt.alias("amount"), pl.col("ts").dt.hour().cast(pl.Int32).alias("hour"),
                         pl.lit(1.0).alias("_one"))
    # -- per customer (sorted by customer, time; same-time rows are excluded by closed="left")
    df = df.sort("customer_id", "ts", "tx_id")
    a = pl.col("amount")
    cust: list[pl.Expr] = [
        (pl.col("ts") - pl.col("ts").shift(1)).dt.total_seconds().over("customer_id").cast(pl.Float64)
        .alias("secs_since_prev"),
        pl.col("ts").dt.weekday().ge(6).cast(pl.Int8).alias("is_weekend"),
        pl.col("hour").le(6).cast(pl.Int8).alias("is_night"),
    ]
    for name, w in CUSTOMER_WINDOWS.items():
        n = pl.col("_one").rolling_sum_by("ts", window_size=w, closed="left").fill_null(0)
        s = a.rolling_sum_by("ts", window_size=w, closed="left").fill_null(0.0)
        cust += [
            n.over("customer_id").alias(f"cust_n_{name}"),
            s.over("customer_id").alias(f"cust_sum_{name}"),
            a.rolling_max_by("ts", window_size=w, closed="left").over("customer_id").alias(f"cust_max_{name}"),
        ]
    cust += [
        a.rolling_median_by("ts", window_size="30d", closed="left").over("customer_id").alias("cust_median_30d"),
        a.rolling_std_by("ts", window_size="30d", closed="left", min_samples=2).over("customer_id")
        .alias("_cust_std_30d"),
        pl.col("hour").cast(pl.Float64).rolling_mean_by("ts", window_size="30d", closed="left").over("customer_id")
        .alias("cust_hour_mean_30d"),
    ]
    known = pl.col("fraud").fill_null(0).cast(pl.Float64)
    for name, kdays in KNOWN_FRAUD_WINDOWS.items():
        cust.append(_delayed_sum(known, "ts", delay_days, kdays).over("customer_id").alias(f"cust_known_fraud_{name}"))
    df = df.with_columns(cust)
    means = [
        pl.when(pl.col(f"cust_n_{w}") > 0).then(pl.col(f"cust_sum_{w}") / pl.col(f"cust_n_{w}"))
        .otherwise(None).alias(f"cust_mean_{w}") for w in CUSTOMER_WINDOWS
    ]
    df = df.with_columns(means)
    df = df.with_columns(
        (a / pl.col("cust_mean_30d")).alias("amount_ratio_mean_30d"),
        (a / pl.col("cust_median_30d")).alias("amount_ratio_median_30d"),
        (a / pl.col("cust_max_30d")).alias("amount_ratio_max_30d"),
        pl.when(pl.col("_cust_std_30d") > 0)
        .then((a - pl.col("cust_mean_30d")) / pl.col("_cust_std_30d")).otherwise(None).alias("amount_z_30d"),
        (pl.col("hour").cast(pl.Float64) - pl.col("cust_hour_mean_30d")).abs().alias("hour_dev_30d"),
    )
    high = (pl.col("amount_ratio_median_30d") > HIGH_RATIO).fill_null(False).cast(pl.Int32)
    df = df.with_columns(
        high.rolling_sum_by("ts", window_size="14d", closed="left").fill_null(0).over("customer_id")
        .alias("cust_n_high_14d"),
    )
    # -- customer x terminal (earlier payments only; ties at the same second are ordered by tx_id)
    df = df.sort("customer_id", "terminal_id", "ts", "tx_id").with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).over("customer_id", "terminal_id").alias("cust_term_n_prev"),
    ).with_columns((pl.col("cust_term_n_prev") == 0).cast(pl.Int8).alias("new_terminal"))
    # -- per terminal
    df = df.sort("terminal_id", "ts", "tx_id")
    term: list[pl.Expr] = []
    one = pl.col("_one")
    for name, tdays in TERMINAL_WINDOWS.items():
        term.append(one.rolling_sum_by("ts", window_size=f"{tdays}d", closed="left").fill_null(0).over("terminal_id")
                    .alias(f"term_n_{name}"))
        labelled = pl.col("fraud").is_not_null().cast(pl.Float64)
        term.append(_delayed_sum(labelled, "ts", delay_days, tdays).over("terminal_id").alias(f"term_known_n_{name}"))
        term.append(_delayed_sum(known, "ts", delay_days, tdays).over("terminal_id").alias(f"_term_fraud_{name}"))
    df = df.with_columns(term).with_columns([
        pl.when(pl.col(f"term_known_n_{w}") > 0).then(pl.col(f"_term_fraud_{w}") / pl.col(f"term_known_n_{w}"))
        .otherwise(0.0).alias(f"term_risk_{w}") for w in TERMINAL_WINDOWS
    ])
    df = _days_since_known_fraud(df, "terminal_id", delay_days, "term_days_since_known_fraud")
    df = _days_since_known_fraud(df, "customer_id", delay_days, "cust_days_since_known_fraud")
    df = df.sort("ts", "tx_id")
    return df.select(*tx.columns, *[pl.col(c).cast(pl.Float64) for c in FEATURE_NAMES])


def _days_since_known_fraud(df: pl.DataFrame, key: str, delay_days: int, name: str) -> pl.DataFrame:
    """As-of join: the last fraud of ``key`` strictly before ``t - delay``, as days before ``t``."""
    frauds = (df.filter(pl.col("fraud") == 1).select(pl.col(key), pl.col("ts").alias("_fraud_ts"))
              .unique().sort(key, "_fraud_ts"))
    probe = df.with_columns((pl.col("ts") - timedelta(days=delay_days)).alias("_known_until")).sort("_known_until")
    joined = probe.join_asof(frauds.sort("_fraud_ts"), left_on="_known_until", right_on="_fraud_ts", by=key,
                             strategy="backward", allow_exact_matches=False,
                             check_sortedness=False)
    return joined.with_columns(
        ((pl.col("ts") - pl.col("_fraud_ts")).dt.total_seconds() / 86400.0).alias(name)
    ).drop("_known_until", "_fraud_ts")


def features_for_payment(history: pl.DataFrame, payment: Mapping[str, Any], *, delay_days: int) -> dict[str, float]:
    """Features of ONE incoming payment from the recent history of its customer and terminal.

    ``history`` holds earlier payments (TX_SCHEMA; at least the customer's and the terminal's last
    ``HISTORY_DAYS + delay_days`` days, plus the customer's payments at this terminal for ``new_terminal``);
    ``payment`` has ``ts``, ``customer_id``, ``terminal_id``, ``amount_minor`` (``tx_id`` optional). The
    same code as the batch features computes them, so the online score equals the batch score.
    """
    ts = payment["ts"]
    if not isinstance(ts, datetime):
        raise TypeError("payment['ts'] must be a datetime")
    horizon = ts - timedelta(days=HISTORY_DAYS + delay_days + 1)
    hist = history.filter((pl.col("ts") < ts) & (pl.col("ts") >= horizon)
                          | (pl.col("customer_id") == payment["customer_id"])
                          & (pl.col("terminal_id") == payment["terminal_id"]) & (pl.col("ts") < ts))
    new_id = payment.get("tx_id")
    if new_id is None:
        new_id = (int(hist["tx_id"].max()) + 1) if hist.height else 0  # type: ignore[arg-type]
    row = pl.DataFrame([{
        "tx_id": new_id, "ts": ts, "customer_id": payment["customer_id"], "terminal_id": payment["terminal_id"],
        "amount_minor": payment["amount_minor"], "fraud": None,
    }], schema=TX_SCHEMA)
    hist = hist.select(list(TX_SCHEMA)).cast(TX_SCHEMA)  # type: ignore[arg-type]
    feats = build_features(pl.concat([hist, row]), delay_days=delay_days)
    out = feats.filter(pl.col("tx_id") == new_id).select(FEATURE_NAMES).row(0, named=True)
    return {k: (float(v) if v is not None else float("nan")) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------------- the peer


def build_peer_features(tx: pl.DataFrame, *, delay_days: int) -> pl.DataFrame:
    """The Fraud Detection Handbook's features (chapter 3.4), same names.

    Customer windows include the current payment (as the handbook's ``rolling`` does); terminal windows are
    ``(t - delay - w, t - delay]`` computed the handbook's way (rolling over delay + w minus rolling over delay).
    """
    a = pl.col("amount_minor").cast(pl.Float64) / 100.0
    df = tx.with_columns(a.alias("TX_AMOUNT"), pl.lit(1.0).alias("_one")).sort("customer_id", "ts", "tx_id")
    cust: list[pl.Expr] = [
        pl.col("ts").dt.weekday().ge(6).cast(pl.Float64).alias("TX_DURING_WEEKEND"),
        pl.col("ts").dt.hour().le(6).cast(pl.Float64).alias("TX_DURING_NIGHT"),
    ]
    for w in (1, 7, 30):
        n = pl.col("_one").rolling_sum_by("ts", window_size=f"{w}d").over("customer_id")
        s = pl.col("TX_AMOUNT").rolling_sum_by("ts", window_size=f"{w}d").over("customer_id")
        cust += [n.alias(f"CUSTOMER_ID_NB_TX_{w}DAY_WINDOW"), (s / n).alias(f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW")]
    df = df.with_columns(cust).sort("terminal_id", "ts", "tx_id")
    f = pl.col("fraud").fill_null(0).cast(pl.Float64)
    one = pl.col("_one")

    def win(e: pl.Expr, days: int) -> pl.Expr:
        return e.rolling_sum_by("ts", window_size=f"{days}d").over("terminal_id") if days > 0 else pl.lit(0.0)

    term: list[pl.Expr] = []
    for w in (1, 7, 30):
        n = win(one, delay_days + w) - win(one, delay_days)
        k = win(f, delay_days + w) - win(f, delay_days)
        term += [n.alias(f"TERMINAL_ID_NB_TX_{w}DAY_WINDOW"),
                 pl.when(n > 0).then(k / n).otherwise(0.0).alias(f"TERMINAL_ID_RISK_{w}DAY_WINDOW")]
    df = df.with_columns(term).sort("ts", "tx_id")
    return df.select(*tx.columns, *[pl.col(c).cast(pl.Float64) for c in PEER_FEATURES])

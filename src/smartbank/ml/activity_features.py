"""Per-customer behaviour features as of a date, from activity strictly before it.

Every figure of a customer depends on that customer's rows only (no population statistics), so a
subset of customers gets exactly the values it would get inside the whole population.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from smartbank.ml.frames import NIGHT_HOURS, at_midnight, before, initiated

RECENCY_CAP_DAYS = 365.0  # recency of a customer without any activity (and the largest value reported)

BEHAVIOUR_FEATURES = [
    "recency_days",
    "tenure_days",
    "n_7",
    "n_30",
    "n_prev30",
    "n_90",
    "active_days_30",
    "trend_30",
    "spend_30",
    "spend_90",
    "inflow_90",
    "ticket_mean_90",
    "night_share_90",
    "weekend_share_90",
    "counterparty_diversity_90",
    "max_gap_days_90",
]


def _days_before(t: datetime) -> pl.Expr:
    return (pl.lit(t) - pl.col("ts")).dt.total_microseconds().cast(pl.Float64) / 86_400_000_000.0


def customer_ids(activity: pl.DataFrame, customers: pl.DataFrame | None) -> pl.DataFrame:
    ids = activity.select("customer_id")
    if customers is not None and customers.height:
        ids = pl.concat([ids, customers.select(pl.col("customer_id").cast(pl.Int64))])
    return ids.unique().sort("customer_id")


def behaviour(
    activity: pl.DataFrame,
    as_of: date | datetime,
    *,
    customers: pl.DataFrame | None = None,
    ids: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per customer (those in ``ids``, else in activity/customers) with ``BEHAVIOUR_FEATURES``."""
    t = at_midnight(as_of)
    past = before(activity, t)
    if ids is None:
        ids = customer_ids(past, customers)
    act = initiated(past).with_columns(_days_before(t).alias("age"))
    recent = act.filter(pl.col("age") < 90).sort("customer_id", "ts")
    hour = pl.col("ts").dt.hour()
    night = (hour >= NIGHT_HOURS[0]) | (hour < NIGHT_HOURS[1])
    out_amt = pl.when(pl.col("amount_minor") < 0).then(-pl.col("amount_minor")).otherwise(0).cast(pl.Float64)
    agg90 = recent.group_by("customer_id").agg(
        (pl.col("age") < 7).sum().cast(pl.Float64).alias("n_7"),
        (pl.col("age") < 30).sum().cast(pl.Float64).alias("n_30"),
        ((pl.col("age") >= 30) & (pl.col("age") < 60)).sum().cast(pl.Float64).alias("n_prev30"),
        pl.len().cast(pl.Float64).alias("n_90"),
        pl.col("ts").filter(pl.col("age") < 30).dt.date().n_unique().cast(pl.Float64).alias("active_days_30"),
        out_amt.filter(pl.col("age") < 30).sum().alias("spend_30"),
        out_amt.sum().alias("spend_90"),
        pl.col("amount_minor").abs().cast(pl.Float64).mean().alias("ticket_mean_90"),
        night.cast(pl.Float64).mean().alias("night_share_90"),
        (pl.col("ts").dt.weekday() >= 6).cast(pl.Float64).mean().alias("weekend_share_90"),
        (pl.col("counterparty").n_unique().cast(pl.Float64) / pl.len()).alias("counterparty_diversity_90"),
        (pl.col("ts").diff().dt.total_microseconds().cast(pl.Float64) / 86_400_000_000.0).max()
        .alias("max_gap_days_90"),
    )
    last = act.group_by("customer_id").agg(pl.col("age").min().alias("recency_days"),
                                            pl.col("age").max().alias("first_age"))
    inflow = (
        past.filter((pl.col("amount_minor") > 0) & (pl.col("ts") >= t - timedelta(days=90)))
        .group_by("customer_id")
        .agg(pl.col("amount_minor").sum().cast(pl.Float64).alias("inflow_90"))
    )
    df = ids.join(agg90, on="customer_id", how="left").join(last, on="customer_id", how="left")
    df = df.join(inflow, on="customer_id", how="left")
    created = None
    if customers is not None and "created_at" in customers.columns and customers.height:
        c = customers.select(pl.col("customer_id").cast(pl.Int64), pl.col("created_at"))
        dt = c.schema["created_at"]
        if dt == pl.Date:
            c = c.with_columns(pl.col("created_at").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
        elif isinstance(dt, pl.Datetime):
            if dt.time_zone is None:
                c = c.with_columns(pl.col("created_at").dt.replace_time_zone("UTC"))
            c = c.with_columns(pl.col("created_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
        created = c.with_columns(
            ((pl.lit(t) - pl.col("created_at")).dt.total_microseconds().cast(pl.Float64) / 86_400_000_000.0)
            .alias("created_age")
        ).select("customer_id", "created_age")
        df = df.join(created, on="customer_id", how="left")
    else:
        df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias("created_age"))
    zero_fill = ["n_7", "n_30", "n_prev30", "n_90", "active_days_30", "spend_30", "spend_90", "inflow_90",
                 "ticket_mean_90", "night_share_90", "weekend_share_90", "counterparty_diversity_90"]
    df = df.with_columns([pl.col(c).fill_null(0.0) for c in zero_fill])
    df = df.with_columns(
        pl.col("recency_days").fill_null(RECENCY_CAP_DAYS).clip(0.0, RECENCY_CAP_DAYS),
        pl.max_horizontal(pl.col("created_age").fill_null(0.0), pl.col("first_age").fill_null(0.0)).alias(
            "tenure_days"),
        ((pl.col("n_30") + 1.0) / (pl.col("n_prev30") + 1.0)).alias("trend_30"),
        pl.col("max_gap_days_90").fill_null(90.0),
    )
    return df.select(["customer_id", *BEHAVIOUR_FEATURES])

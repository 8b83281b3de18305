"""Lifecycle stage per customer by documented rules (checked in this order, first match wins):

1. ``churned``      status closed/churned, or no customer-initiated activity for ``CHURNED_AFTER_DAYS``
2. ``acquisition``  tenure (since ``created_at``, else first activity) below ``ACQUISITION_DAYS``
3. ``decline``      no activity for ``DECLINE_RECENCY_DAYS``, or the last 30 days' count fell below
                    ``DECLINE_TREND`` x the 30 days before (counts +1 smoothed)
4. ``growth``       the last 30 days' count is at least ``GROWTH_TREND`` x the 30 days before
5. ``maturity``     everyone else: established and steady
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from smartbank.ml.service import behaviour, normalise

__all__ = ["STAGES", "lifecycle", "lifecycle_from_features"]

STAGES = ("acquisition", "growth", "maturity", "decline", "churned")
CHURNED_AFTER_DAYS = 90.0
ACQUISITION_DAYS = 90.0
DECLINE_RECENCY_DAYS = 30.0
DECLINE_TREND = 0.6
GROWTH_TREND = 1.3
CLOSED_STATUSES = ("closed", "churned", "deceased")


def lifecycle_from_features(feats: pl.DataFrame, customers: pl.DataFrame | None = None) -> pl.DataFrame:
    df = feats
    if customers is not None and "status" in customers.columns and customers.height:
        df = df.join(customers.select(pl.col("customer_id").cast(pl.Int64), pl.col("status").cast(pl.Utf8)),
                     on="customer_id", how="left")
    else:
        df = df.with_columns(pl.lit(None, dtype=pl.Utf8).alias("status"))
    closed = pl.col("status").is_in(list(CLOSED_STATUSES)).fill_null(False)
    stage = (
        pl.when(closed | (pl.col("recency_days") >= CHURNED_AFTER_DAYS)).then(pl.lit("churned"))
        .when(pl.col("tenure_days") < ACQUISITION_DAYS).then(pl.lit("acquisition"))
        .when((pl.col("recency_days") >= DECLINE_RECENCY_DAYS) | (pl.col("trend_30") < DECLINE_TREND))
        .then(pl.lit("decline"))
        .when(pl.col("trend_30") >= GROWTH_TREND).then(pl.lit("growth"))
        .otherwise(pl.lit("maturity"))
    )
    return df.select("customer_id", stage.alias("lifecycle"))


def lifecycle(activity: pl.DataFrame, customers: pl.DataFrame | None, as_of: date | datetime,
              *, ids: pl.DataFrame | None = None) -> pl.DataFrame:
    """customer_id, lifecycle."""
    activity = normalise(activity)
    return lifecycle_from_features(behaviour(activity, as_of, customers=customers, ids=ids), customers)

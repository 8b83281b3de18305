"""RFM: recency, frequency and monetary value per customer as of a date, scored 1-5 by quintiles.

- recency: days from the last customer-initiated activity to ``as_of`` (smaller is better -> score 5)
- frequency: number of customer-initiated transactions in the ``window_days`` before ``as_of``
- monetary: sum of their absolute amounts (minor units) in that window

``RFMScorer.fit`` learns the quintile edges from a population; ``transform`` applies the saved edges to
any set of customers, so scoring a subset gives the same codes as scoring everyone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from smartbank.ml.service import RECENCY_CAP_DAYS, at_midnight, before, customer_ids, initiated

__all__ = ["RFMScorer", "rfm_values", "score_by_edges"]

DEFAULT_WINDOW_DAYS = 365

# Fixed score edges used before any model is trained (transparent and the same for every customer, so a
# subset scores as inside the population): recency in days (<= 7 days scores 5), customer-initiated
# transactions in 365 days, and their volume in minor units (CNY 1,000 / 5,000 / 20,000 / 50,000).
RULE_EDGES: dict[str, list[float]] = {
    "recency_days": [7.0, 14.0, 30.0, 90.0],
    "frequency": [6.0, 12.0, 24.0, 52.0],
    "monetary_minor": [100_000.0, 500_000.0, 2_000_000.0, 5_000_000.0],
}


def rfm_values(
    activity: pl.DataFrame,
    as_of: date | datetime,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    customers: pl.DataFrame | None = None,
    ids: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """customer_id, recency_days (float), frequency (int), monetary_minor (int)."""
    t = at_midnight(as_of)
    past = before(activity, t)
    if ids is None:
        ids = customer_ids(past, customers)
    act = initiated(past)
    last = act.group_by("customer_id").agg(pl.col("ts").max().alias("last_ts"))
    win = act.filter(pl.col("ts") >= t - timedelta(days=window_days)).group_by("customer_id").agg(
        pl.len().cast(pl.Int64).alias("frequency"),
        pl.col("amount_minor").abs().sum().cast(pl.Int64).alias("monetary_minor"),
    )
    df = ids.join(last, on="customer_id", how="left").join(win, on="customer_id", how="left")
    return df.select(
        "customer_id",
        ((pl.lit(t) - pl.col("last_ts")).dt.total_microseconds().cast(pl.Float64) / 86_400_000_000.0)
        .fill_null(RECENCY_CAP_DAYS)
        .clip(0.0, RECENCY_CAP_DAYS)
        .alias("recency_days"),
        pl.col("frequency").fill_null(0),
        pl.col("monetary_minor").fill_null(0),
    )


def score_by_edges(values: np.ndarray, edges: list[float], *, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1-5: ``edges`` are the 20/40/60/80% quantiles; a value above k edges scores k+1."""
    v = np.asarray(values, dtype=float)
    score = 1 + np.searchsorted(np.asarray(edges, dtype=float), v, side="right")
    score = np.clip(score, 1, 5)
    return score if higher_is_better else 6 - score


class RFMScorer:
    """Quintile RFM scorer (an estimator: ``fit`` learns ``edges_``)."""

    def __init__(self, *, window_days: int = DEFAULT_WINDOW_DAYS):
        self.window_days = window_days

    def fit(self, activity: pl.DataFrame, as_of: date | datetime, *, customers: pl.DataFrame | None = None
            ) -> RFMScorer:
        vals = rfm_values(activity, as_of, window_days=self.window_days, customers=customers)
        self.edges_ = self._edges(vals)
        self.n_customers_ = vals.height
        return self

    @staticmethod
    def _edges(vals: pl.DataFrame) -> dict[str, list[float]]:
        qs = [0.2, 0.4, 0.6, 0.8]
        out: dict[str, list[float]] = {}
        for col in ("recency_days", "frequency", "monetary_minor"):
            arr = vals[col].cast(pl.Float64).to_numpy()
            out[col] = [float(x) for x in np.quantile(arr, qs)] if arr.size else [0.0, 0.0, 0.0, 0.0]
        # recency: a smaller value is better, so a value at or below an edge belongs to the better bin
        return out

    def transform(self, activity: pl.DataFrame, as_of: date | datetime, *, customers: pl.DataFrame | None = None,
                  ids: pl.DataFrame | None = None) -> pl.DataFrame:
        vals = rfm_values(activity, as_of, window_days=self.window_days, customers=customers, ids=ids)
        e = self.edges_
        # recency: count the edges strictly below the value (value equal to an edge stays in the lower bin)
        rec = vals["recency_days"].to_numpy()
        r = 5 - np.searchsorted(np.asarray(e["recency_days"]), rec, side="left")
        r = np.clip(r, 1, 5)
        f = score_by_edges(vals["frequency"].to_numpy(), e["frequency"])
        m = score_by_edges(vals["monetary_minor"].to_numpy(), e["monetary_minor"])
        # a customer without any activity scores 1 on every axis
        none = vals["frequency"].to_numpy() == 0
        none_ever = vals["recency_days"].to_numpy() >= RECENCY_CAP_DAYS
        r = np.where(none_ever, 1, r)
        f = np.where(none, 1, f)
        m = np.where(none, 1, m)
        return vals.with_columns(
            pl.Series("r_score", r.astype(np.int8)),
            pl.Series("f_score", f.astype(np.int8)),
            pl.Series("m_score", m.astype(np.int8)),
        ).with_columns(
            pl.concat_str([pl.col("r_score").cast(pl.Utf8), pl.col("f_score").cast(pl.Utf8),
                           pl.col("m_score").cast(pl.Utf8)]).alias("rfm")
        )

    @classmethod
    def rules(cls) -> RFMScorer:
        """A scorer with the fixed :data:`RULE_EDGES` (nothing learned)."""
        return cls.from_dict({"window_days": DEFAULT_WINDOW_DAYS, "edges": RULE_EDGES, "n_customers": 0})

    def to_dict(self) -> dict[str, Any]:
        return {"window_days": self.window_days, "edges": self.edges_, "n_customers": self.n_customers_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RFMScorer:
        obj = cls(window_days=int(d["window_days"]))
        obj.edges_ = {k: [float(x) for x in v] for k, v in d["edges"].items()}
        obj.n_customers_ = int(d.get("n_customers", 0))
        return obj


# Classic RFM segment names, used as the transparent fallback when no segmentation model is trained.
def rfm_rule_segment(r: int, f: int, m: int) -> str:
    fm = (f + m) / 2
    if r >= 4 and fm >= 4:
        return "champions"
    if r >= 3 and fm >= 3:
        return "loyal"
    if r >= 4 and fm < 3:
        return "new_or_promising"
    if r <= 2 and fm >= 3:
        return "at_risk"
    if r <= 1:
        return "lost"
    return "needs_attention"

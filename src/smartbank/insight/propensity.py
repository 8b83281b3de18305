"""Product propensity: loan, savings, wealth.

Where the data carries labels - the synthetic bank's transfers to a savings account (category
``savings``) and to securities (category ``investment``) - a model is trained: a customer without such
activity before a cutoff is positive when it appears within ``horizon_days`` after it. A logistic
regression on log behaviour features, trained on the earlier cutoff and evaluated on the later one,
then refitted on both. A product needs ``MIN_POSITIVES`` positives (and as many negatives) at each
cutoff, otherwise - and always for loans, which no dataset here labels - the transparent rules below
give the score, flagged ``method: "rules"``:

- savings = 0.6 x surplus ratio ((inflow - spend) / inflow over 90 days, clipped 0..1)
          + 0.4 x regularity (active days in the last 30 / 30)
- loan    = 0.5 x spend pressure (spend / (inflow + spend) over 90 days)
          + 0.5 x min(1, monthly spend / ``LOAN_SPEND_REF_MINOR``)
- wealth  = 0.5 x min(1, annual income / ``WEALTH_INCOME_REF_MINOR``) (inflow x 4 when income is unknown)
          + 0.5 x min(1, average payment / ``WEALTH_TICKET_REF_MINOR``)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from smartbank.ml.activity_features import BEHAVIOUR_FEATURES, behaviour
from smartbank.ml.frames import at_midnight, before, initiated, window

__all__ = ["LABELLED_PRODUCTS", "PRODUCTS", "PropensityModel", "rule_propensity"]

PRODUCTS = ("loan", "savings", "wealth")
LABELLED_PRODUCTS = {"savings": "savings", "wealth": "investment"}  # product -> activity category
HORIZON_DAYS = 60
MIN_POSITIVES = 20
LOAN_SPEND_REF_MINOR = 10_000_00
WEALTH_INCOME_REF_MINOR = 300_000_00
WEALTH_TICKET_REF_MINOR = 1_000_00
FEATURES = list(BEHAVIOUR_FEATURES)


def rule_propensity(feats: pl.DataFrame, customers: pl.DataFrame | None = None) -> dict[str, np.ndarray]:
    df = feats
    if customers is not None and "annual_income_minor" in customers.columns and customers.height:
        df = df.join(customers.select(pl.col("customer_id").cast(pl.Int64),
                                      pl.col("annual_income_minor").cast(pl.Float64)), on="customer_id", how="left")
    else:
        df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias("annual_income_minor"))
    inflow = df["inflow_90"].to_numpy()
    spend = df["spend_90"].to_numpy()
    surplus = np.clip((inflow - spend) / np.maximum(inflow, 1.0), 0.0, 1.0)
    savings = 0.6 * surplus + 0.4 * np.clip(df["active_days_30"].to_numpy() / 30.0, 0.0, 1.0)
    pressure = spend / np.maximum(inflow + spend, 1.0)
    loan = 0.5 * pressure + 0.5 * np.minimum(1.0, spend / 3.0 / LOAN_SPEND_REF_MINOR)
    income = df["annual_income_minor"].to_numpy().astype(float)
    income = np.where(np.isnan(income), inflow * 4.0, income)
    wealth = 0.5 * np.minimum(1.0, income / WEALTH_INCOME_REF_MINOR) + 0.5 * np.minimum(
        1.0, df["ticket_mean_90"].to_numpy() / WEALTH_TICKET_REF_MINOR)
    return {"loan": loan, "savings": savings, "wealth": wealth}


def _labels(activity: pl.DataFrame, cutoff: datetime, category: str, horizon_days: int) -> pl.DataFrame:
    act = initiated(activity)
    had = before(act, cutoff).filter(pl.col("category") == category).select("customer_id").unique()
    eligible = before(act, cutoff).select("customer_id").unique().join(had, on="customer_id", how="anti")
    pos = window(act, cutoff, cutoff + timedelta(days=horizon_days)).filter(pl.col("category") == category)
    pos = pos.select("customer_id").unique().with_columns(pl.lit(1, dtype=pl.Int8).alias("y"))
    return eligible.join(pos, on="customer_id", how="left").with_columns(pl.col("y").fill_null(0)).sort("customer_id")


def _x(feats: pl.DataFrame) -> np.ndarray:
    return np.log1p(np.maximum(feats.select(FEATURES).to_numpy().astype(float), 0.0))


class PropensityModel:
    """Per-product propensity: trained where labels exist, rules elsewhere (an estimator)."""

    def __init__(self, *, horizon_days: int = HORIZON_DAYS, min_positives: int = MIN_POSITIVES, random_state: int = 0):
        self.horizon_days = horizon_days
        self.min_positives = min_positives
        self.random_state = random_state

    def fit(self, activity: pl.DataFrame, as_of: date | datetime, *, customers: pl.DataFrame | None = None
            ) -> PropensityModel:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        t = at_midnight(as_of)
        eval_cut = t - timedelta(days=self.horizon_days)
        train_cut = eval_cut - timedelta(days=self.horizon_days)
        self.models_: dict[str, Any] = {}
        self.report_: dict[str, Any] = {}
        for product in PRODUCTS:
            category = LABELLED_PRODUCTS.get(product)
            if category is None or "category" not in activity.columns:
                self.report_[product] = {"method": "rules", "reason": "no labels for this product in the data"}
                continue
            parts = []
            for cut in (train_cut, eval_cut):
                lab = _labels(activity, cut, category, self.horizon_days)
                feats = behaviour(activity, cut, customers=customers, ids=lab.select("customer_id"))
                parts.append(feats.join(lab, on="customer_id"))
            n_pos = [int(p["y"].sum()) for p in parts]
            n_neg = [int(p.height - k) for p, k in zip(parts, n_pos, strict=True)]
            if min(n_pos) < self.min_positives or min(n_neg) < self.min_positives:
                self.report_[product] = {"method": "rules", "reason": f"too few labelled examples (positives {n_pos})"}
                continue

            def model() -> Any:
                return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000,
                                                                          random_state=self.random_state))

            m = model().fit(_x(parts[0]), parts[0]["y"].to_numpy())
            auc = float(roc_auc_score(parts[1]["y"].to_numpy(), m.predict_proba(_x(parts[1]))[:, 1]))
            full = pl.concat(parts)
            self.models_[product] = model().fit(_x(full), full["y"].to_numpy())
            self.report_[product] = {"method": "model", "eval_auc": auc, "train_cutoff": train_cut.date().isoformat(),
                                     "eval_cutoff": eval_cut.date().isoformat(), "positives": n_pos}
        return self

    def score_features(self, feats: pl.DataFrame, customers: pl.DataFrame | None = None) -> list[dict[str, Any]]:
        rules = rule_propensity(feats, customers)
        scores: dict[str, tuple[np.ndarray, str]] = {}
        for product in PRODUCTS:
            m = getattr(self, "models_", {}).get(product)
            if m is not None and feats.height:
                scores[product] = (m.predict_proba(_x(feats))[:, 1], "model")
            else:
                scores[product] = (rules[product], "rules")
        return [{p: {"score": round(float(scores[p][0][i]), 4), "method": scores[p][1]} for p in PRODUCTS}
                for i in range(feats.height)]

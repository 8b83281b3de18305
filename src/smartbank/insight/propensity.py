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

Reasons (``reasons`` beside each product's ``score``: ``{feature, en, zh, contribution}``, at most three,
largest first) are given only for a material score: above the product's base rate for a model (the positive
rate of the rows it was fitted on), at least :data:`RULE_MATERIAL_SCORE` for the rules. A model's contributions
are its coefficients times the customer's standardised features (log-odds against the average customer, at least
:data:`MIN_CONTRIBUTION`); the rules' are their weighted parts (at least :data:`RULE_MATERIAL_PART`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from smartbank.insight.churn import reason_words
from smartbank.ml.service import BEHAVIOUR_FEATURES, at_midnight, before, behaviour, initiated, window
from smartbank.money import format_minor

__all__ = ["LABELLED_PRODUCTS", "PRODUCTS", "PropensityModel", "rule_parts", "rule_propensity"]

PRODUCTS = ("loan", "savings", "wealth")
LABELLED_PRODUCTS = {"savings": "savings", "wealth": "investment"}  # product -> activity category
HORIZON_DAYS = 60
MIN_POSITIVES = 20
LOAN_SPEND_REF_MINOR = 10_000_00
WEALTH_INCOME_REF_MINOR = 300_000_00
WEALTH_TICKET_REF_MINOR = 1_000_00
FEATURES = list(BEHAVIOUR_FEATURES)
MIN_CONTRIBUTION = 0.1  # log-odds
RULE_MATERIAL_SCORE = 0.5
RULE_MATERIAL_PART = 0.2
_RULE_WORDS: dict[str, tuple[str, str]] = {
    "surplus": ("kept {surplus:.0%} of the money received in the last 90 days", "近90天入账中留存了{surplus:.0%}"),
    "pressure": ("spending was {pressure:.0%} of the money moving in and out in the last 90 days",
                 "近90天支出占收支总额的{pressure:.0%}"),
    "income": ("income of about {income_yuan} a year", "年收入约{income_yuan}"),
}
# each rule's weighted parts: product -> [(part, the feature or rule word that names it)]
_RULE_PARTS: dict[str, list[tuple[str, str]]] = {
    "savings": [("surplus", "surplus"), ("regularity", "active_days_30")],
    "loan": [("pressure", "pressure"), ("spend_level", "spend_90")],
    "wealth": [("income", "income"), ("ticket", "ticket_mean_90")],
}


def rule_propensity(feats: pl.DataFrame, customers: pl.DataFrame | None = None) -> dict[str, np.ndarray]:
    parts, _ = rule_parts(feats, customers)
    return {p: np.sum(list(parts[p].values()), axis=0) for p in PRODUCTS}


def rule_parts(feats: pl.DataFrame, customers: pl.DataFrame | None = None
               ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """(product -> weighted part -> values, the figures the parts' words quote)."""
    df = feats
    if customers is not None and "annual_income_minor" in customers.columns and customers.height:
        df = df.join(customers.select(pl.col("customer_id").cast(pl.Int64),
                                      pl.col("annual_income_minor").cast(pl.Float64)), on="customer_id", how="left")
    else:
        df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias("annual_income_minor"))
    inflow = df["inflow_90"].to_numpy()
    spend = df["spend_90"].to_numpy()
    surplus = np.clip((inflow - spend) / np.maximum(inflow, 1.0), 0.0, 1.0)
    pressure = spend / np.maximum(inflow + spend, 1.0)
    income = df["annual_income_minor"].to_numpy().astype(float)
    income = np.where(np.isnan(income), inflow * 4.0, income)
    parts = {
        "savings": {"surplus": 0.6 * surplus,
                    "regularity": 0.4 * np.clip(df["active_days_30"].to_numpy() / 30.0, 0.0, 1.0)},
        "loan": {"pressure": 0.5 * pressure,
                 "spend_level": 0.5 * np.minimum(1.0, spend / 3.0 / LOAN_SPEND_REF_MINOR)},
        "wealth": {"income": 0.5 * np.minimum(1.0, income / WEALTH_INCOME_REF_MINOR),
                   "ticket": 0.5 * np.minimum(1.0, df["ticket_mean_90"].to_numpy() / WEALTH_TICKET_REF_MINOR)},
    }
    return parts, {"surplus": surplus, "pressure": pressure, "income_major": income / 100}


def _words(name: str, row: dict[str, Any]) -> dict[str, str]:
    if name in _RULE_WORDS:
        en, zh = _RULE_WORDS[name]
        # the income is an estimate (yuan, a float): about so many whole yuan
        yuan = format_minor(round(row.get("income_major", 0.0)) * 100, grouping=True, drop_zero_fraction=True)
        r = {**row, "income_yuan": yuan}
        return {"feature": name, "en": en.format(**r), "zh": zh.format(**r)}
    return reason_words(name, row)


def _top(named: list[tuple[str, float]], row: dict[str, Any], floor: float) -> list[dict[str, Any]]:
    named = sorted((x for x in named if x[1] >= floor), key=lambda x: -x[1])[:3]
    return [{**_words(n, row), "contribution": round(float(c), 4)} for n, c in named]


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
                                     "eval_cutoff": eval_cut.date().isoformat(), "positives": n_pos,
                                     "base_rate": float(full["y"].to_numpy().mean())}
        return self

    def _model_reasons(self, product: str, m: Any, feats: pl.DataFrame, p: np.ndarray, rows: list[dict[str, Any]]
                       ) -> list[list[dict[str, Any]]]:
        base = (getattr(self, "report_", {}).get(product) or {}).get("base_rate", 0.5)
        scaler, lr = m[0], m[-1]
        contrib = (_x(feats) - scaler.mean_) / scaler.scale_ * lr.coef_[0]
        return [_top(list(zip(FEATURES, contrib[i], strict=True)), rows[i], MIN_CONTRIBUTION) if p[i] > base else []
                for i in range(len(rows))]

    def score_features(self, feats: pl.DataFrame, customers: pl.DataFrame | None = None) -> list[dict[str, Any]]:
        """Per customer: product -> {score, method (model | rules), reasons} (see the module docstring)."""
        parts, figures = rule_parts(feats, customers)
        rows = feats.to_dicts()
        for i, row in enumerate(rows):
            row.update({k: float(v[i]) for k, v in figures.items()})
        scores: dict[str, tuple[np.ndarray, str, list[list[dict[str, Any]]]]] = {}
        for product in PRODUCTS:
            m = getattr(self, "models_", {}).get(product)
            if m is not None and feats.height:
                p = m.predict_proba(_x(feats))[:, 1]
                scores[product] = (p, "model", self._model_reasons(product, m, feats, p, rows))
            else:
                p = np.sum(list(parts[product].values()), axis=0)
                reasons = [_top([(word, float(parts[product][part][i])) for part, word in _RULE_PARTS[product]],
                                rows[i], RULE_MATERIAL_PART) if p[i] >= RULE_MATERIAL_SCORE else []
                           for i in range(len(rows))]
                scores[product] = (p, "rules", reasons)
        return [{p: {"score": round(float(scores[p][0][i]), 4), "method": scores[p][1], "reasons": scores[p][2][i]}
                 for p in PRODUCTS} for i in range(feats.height)]

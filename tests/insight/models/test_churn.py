from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from smartbank.insight.churn import ChurnModel, churn_labels, lift_table
from smartbank.ml.frames import at_midnight
from tests.insight.models.synthetic import AS_OF


def test_training_cutoffs_end_before_the_evaluation_cutoff(frames) -> None:
    m = ChurnModel()
    train, ev = m.cutoffs(frames[0], AS_OF)
    assert train and ev == at_midnight(AS_OF) - timedelta(days=m.horizon_days)
    assert all(c + timedelta(days=m.horizon_days) <= ev for c in train)
    assert train == sorted(train) and max(train) < ev


def test_features_ignore_everything_after_the_cutoff(frames) -> None:
    act = frames[0]
    m = ChurnModel()
    cut = m.cutoffs(act, AS_OF)[1]
    before = m.dataset(act, cut)
    # alter every row on or after the cutoff: drop half, multiply amounts, move some hours
    after = act.filter(pl.col("ts") >= cut)
    altered = pl.concat([
        act.filter(pl.col("ts") < cut),
        after.sample(fraction=0.5, seed=1).with_columns(pl.col("amount_minor") * 7,
                                                        pl.col("ts") + timedelta(hours=3)),
    ])
    again = m.dataset(altered, cut)
    feats = [c for c in before.columns if c not in ("churned", "cutoff")]
    assert again.select(feats).sort("customer_id").equals(before.select(feats).sort("customer_id"))
    # ... while the labels, which look after the cutoff, do change
    assert again["churned"].sum() > before["churned"].sum()


def test_label_is_an_activity_drop_among_customers_active_before(frames) -> None:
    act = frames[0]
    cut = at_midnight(AS_OF) - timedelta(days=30)
    lab = churn_labels(act, cut, horizon_days=30, drop_ratio=0.5)
    assert (lab["pre"] >= 2).all()
    assert ((lab["post"] < 0.5 * lab["pre"]).cast(pl.Int8) == lab["churned"]).all()


def test_fit_reports_time_split_metrics_and_reasons(frames) -> None:
    act, cust = frames
    m = ChurnModel(n_estimators=50, min_child_samples=5).fit(act, AS_OF, customers=cust)
    ev = m.evaluation_
    assert ev["eval_cutoff"] > max(ev["train_cutoffs"])
    assert 0.0 <= ev["auc"] <= 1.0 and ev["lift_top_decile"] >= 0
    out = m.predict(act, AS_OF, customers=cust)
    assert out["churn_score"].is_between(0, 1).all()
    worst = out.sort("churn_score", descending=True).row(0, named=True)
    assert 1 <= len(worst["churn_reasons"]) <= 3
    assert all(r["en"] and r["zh"] and r["contribution"] > 0 for r in worst["churn_reasons"])


def test_lift_table() -> None:
    y = np.array([1] * 10 + [0] * 90)
    p = np.linspace(1, 0, 100)
    lt = lift_table(y, p)
    assert lt[0]["lift"] == pytest.approx(10.0) and lt[0]["capture"] == pytest.approx(1.0)

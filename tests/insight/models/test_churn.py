from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from smartbank.insight.churn import ChurnModel, churn_labels, lift_table
from smartbank.ml.activity_features import behaviour
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


def test_a_model_that_loses_to_its_recency_baseline_is_not_served(frames) -> None:
    """A model that cannot split (every leaf needs more rows than there are) ranks nobody: AUC 0.5, below the
    recency baseline, which is then what scores customers; the evaluation keeps both figures and says why."""
    from smartbank.insight.churn import baseline_scores

    act, cust = frames
    m = ChurnModel(n_estimators=5, min_child_samples=10**6).fit(act, AS_OF, customers=cust)
    ev = m.evaluation_
    assert ev["auc"] == pytest.approx(0.5) and ev["baseline_auc"] > ev["auc"]
    assert ev["baseline_auc"] == pytest.approx(ev["baseline_auc_recency"])
    assert ev["served"] == "recency_baseline" == m.served_ and "below the recency baseline" in ev["served_reason"]
    out = m.predict(act, AS_OF, customers=cust).sort("customer_id")
    feats = behaviour(act, AS_OF, customers=cust).sort("customer_id")
    assert np.allclose(out["churn_score"].to_numpy(), baseline_scores(ev["baseline"], feats)[0])
    # reasons: only for scores above the base rate, and only recency
    for row in out.iter_rows(named=True):
        if row["churn_score"] <= ev["base_rate"]:
            assert row["churn_reasons"] == []
        else:
            assert [r["feature"] for r in row["churn_reasons"]] in ([], ["recency_days"])
    assert any(r["churn_reasons"] for r in out.iter_rows(named=True))


def test_the_model_is_served_when_it_beats_the_baseline_and_low_scores_have_no_reasons(frames) -> None:
    from smartbank.insight.churn import served_choice

    assert served_choice(0.74, 0.73)[0] == "model" and served_choice(0.71, 0.73)[0] == "recency_baseline"
    assert served_choice(None, 0.73)[0] == "model"
    act, cust = frames
    m = ChurnModel(n_estimators=50, min_child_samples=5).fit(act, AS_OF, customers=cust)
    m.evaluation_ = {**m.evaluation_, "served": "model"}  # as saved by a model that won its comparison
    out = m.predict(act, AS_OF, customers=cust)
    x = behaviour(act, AS_OF, customers=cust).sort("customer_id").select(m.features_).to_numpy()
    assert np.allclose(out.sort("customer_id")["churn_score"].to_numpy(), m.booster_.predict(x))
    base = m.evaluation_["base_rate"]
    low = out.filter(pl.col("churn_score") <= base)
    assert low.height and all(rs == [] for rs in low["churn_reasons"].to_list())
    high = out.filter(pl.col("churn_score") > base)["churn_reasons"].to_list()
    assert any(high) and all(r["contribution"] >= 0.1 for rs in high for r in rs)


def test_rule_fallback_explains_only_material_scores() -> None:
    from smartbank.insight.churn import rule_scores

    feats = pl.DataFrame({"customer_id": [1, 2, 3], "recency_days": [20.0, 90.0, 45.0], "trend_30": [0.7, 0.0, 0.3],
                          "n_30": [7.0, 0.0, 3.0], "n_prev30": [10.0, 8.0, 10.0]})
    out = rule_scores(feats).sort("customer_id")
    reasons = out["churn_reasons"].to_list()
    assert out["churn_score"][0] < 0.5 and reasons[0] == []  # 20 days, activity down 30%: no reasons
    assert {r["feature"] for r in reasons[1]} == {"recency_days", "trend_30"}
    assert {r["feature"] for r in reasons[2]} == {"recency_days", "trend_30"}

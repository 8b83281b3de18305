from __future__ import annotations

import polars as pl
import pytest

from smartbank.insight.analytics import enrich, train_all
from tests.insight.models.synthetic import AS_OF

COLUMNS = ["customer_id", "segment", "rfm", "lifecycle", "value_minor", "clv_minor", "churn_score", "churn_reasons",
           "propensity", "model_versions"]


@pytest.fixture(scope="module")
def trained(frames, tmp_path_factory):
    act, cust = frames
    model_dir = tmp_path_factory.mktemp("models")
    metrics = train_all(act, cust, AS_OF, model_dir=model_dir, seed=0)
    return model_dir, metrics


def test_train_all_reports_metrics(trained) -> None:
    _, m = trained
    for key in ("churn_auc", "churn_lift_top_decile", "segments", "clv_customers", "forecast_mae_minor",
                "forecast_wape", "baseline_wape", "train_seconds"):
        assert key in m
    assert set(m["versions"]) == {"rfm", "segments", "clv", "churn", "propensity", "forecast"}
    assert m["propensity"]["loan"] == "rules"


def test_enrich_subset_equals_the_same_rows_of_everyone(frames, trained) -> None:
    act, cust = frames
    model_dir, _ = trained
    everyone = enrich(act, cust, AS_OF, model_dir=model_dir)
    assert everyone.columns[: len(COLUMNS)] == COLUMNS
    assert everyone.schema["value_minor"] == pl.Int64 and everyone.schema["clv_minor"] == pl.Int64
    assert everyone.schema["churn_reasons"] == pl.List(pl.Utf8)
    subset_ids = [3, 41, 70, 88]
    sub = enrich(act.filter(pl.col("customer_id").is_in(subset_ids)),
                 cust.filter(pl.col("customer_id").is_in(subset_ids)), AS_OF, model_dir=model_dir)
    expected = everyone.filter(pl.col("customer_id").is_in(subset_ids)).sort("customer_id")
    assert sub.sort("customer_id").to_dicts() == expected.to_dicts()
    versions = sub["model_versions"][0]
    assert not any(str(v).startswith("rules") for v in versions.values())


def test_enrich_without_models_falls_back_and_says_so(frames, tmp_path) -> None:
    act, cust = frames
    out = enrich(act, cust, AS_OF, model_dir=tmp_path)
    versions = out["model_versions"][0]
    assert versions["churn"].startswith("rules") and versions["segments"].startswith("rules")
    assert out["churn_score"].is_not_null().all()
    assert {p["method"] for p in out["propensity"][0].values()} == {"rules"}


def test_too_little_history_skips_the_time_split_models_and_keeps_the_previous_ones(frames, trained, tmp_path):
    """Six weeks of activity: churn and the forecasters cannot be learned from time splits; the rest is
    trained, the reasons are reported, and a model saved earlier stays the one in use."""
    import shutil
    from datetime import timedelta

    from smartbank.ml import registry

    act, cust = frames
    first = act["ts"].max() - timedelta(days=42)
    short = act.filter(pl.col("ts") >= first)
    model_dir, _ = trained
    shutil.copytree(model_dir, tmp_path / "models")
    before = registry.load_model("churn", model_dir=tmp_path / "models").version
    m = train_all(short, cust, AS_OF, model_dir=tmp_path / "models", seed=0)
    assert {"churn", "forecast"} <= set(m["skipped"]) and "not enough history" in m["skipped"]["churn"]
    assert m["churn_auc"] is None and m["forecast_wape"] is None
    assert {"rfm", "segments", "clv"} <= set(m["versions"]) and "churn" not in m["versions"]
    assert registry.load_model("churn", model_dir=tmp_path / "models").version == before


def test_the_served_churn_scorer_is_recorded_and_reported(frames, trained) -> None:
    """On these frames the churn model ranks churners worse than recency alone: training records that the
    baseline is served (with both AUCs), and every scored profile says so."""
    from smartbank.ml import registry

    act, cust = frames
    model_dir, m = trained
    assert m["churn_served"] == "recency_baseline" and m["churn_auc"] < m["churn_baseline_auc_recency"]
    saved = registry.load_model("churn", model_dir=model_dir)
    assert saved.meta["metrics"]["served"] == "recency_baseline"
    assert {"auc", "baseline_auc", "base_rate"} <= set(saved.meta["metrics"])
    out = enrich(act, cust, AS_OF, model_dir=model_dir)
    versions = out["model_versions"][0]
    assert versions["churn_served"] == "recency_baseline" and "recency baseline served" in versions["churn"]
    assert versions["churn"].startswith(saved.version)
    assert all("reasons" in v for row in out["propensity"].to_list() for v in row.values())

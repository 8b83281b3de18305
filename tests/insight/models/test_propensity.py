"""Propensity: scores with reasons, only where the score is material."""

from __future__ import annotations

import polars as pl

from smartbank.insight.propensity import PRODUCTS, RULE_MATERIAL_SCORE, PropensityModel
from smartbank.ml.activity_features import behaviour
from tests.insight.models.synthetic import AS_OF


def test_rule_scores_have_reasons_only_when_material(frames) -> None:
    act, cust = frames
    feats = behaviour(act, AS_OF, customers=cust)
    out = PropensityModel().score_features(feats, cust)  # nothing fitted: rules for every product
    assert len(out) == feats.height
    seen = 0
    for row in out:
        assert set(row) == set(PRODUCTS)
        for p in PRODUCTS:
            r = row[p]
            assert r["method"] == "rules" and 0 <= r["score"] <= 1
            if r["score"] < RULE_MATERIAL_SCORE:
                assert r["reasons"] == []
            else:
                assert 1 <= len(r["reasons"]) <= 2
                assert all(x["en"] and x["zh"] and x["contribution"] >= 0.2 for x in r["reasons"])
                seen += 1
    assert seen


def test_model_scores_have_top_contributions_as_reasons(frames) -> None:
    act, cust = frames
    pm = PropensityModel(min_positives=5).fit(act, AS_OF, customers=cust)
    trained = [p for p, rep in pm.report_.items() if rep["method"] == "model"]
    if not trained:  # the synthetic frames carry no savings/investment labels
        feats = behaviour(act, AS_OF, customers=cust)
        assert all(row[p]["method"] == "rules" for row in pm.score_features(feats, cust) for p in PRODUCTS)
        return
    feats = behaviour(act, AS_OF, customers=cust)
    out = pm.score_features(feats, cust)
    for p in trained:
        base = pm.report_[p]["base_rate"]
        for row in out:
            r = row[p]
            if r["score"] <= base:
                assert r["reasons"] == []
            else:
                assert all(x["contribution"] >= 0.1 for x in r["reasons"])
        assert any(row[p]["reasons"] for row in out)


def test_labelled_products_are_modelled_with_reasons() -> None:
    """A hand-made population where saving follows a high inflow: the savings model explains its high scores."""
    from datetime import UTC, datetime, timedelta

    import numpy as np

    rng = np.random.default_rng(3)
    rows = []
    end = datetime(2024, 6, 30, tzinfo=UTC)
    for cid in range(1, 401):
        rich = cid % 3 == 0
        for d in range(1, 240, 3):
            ts = end - timedelta(days=d, hours=int(rng.integers(0, 12)))
            rows.append((cid, ts, int(rng.integers(30_000, 60_000)) * (20 if rich else 1), "salary" if d % 30 < 3
                         else "transfer", "app", "salary" if d % 30 < 3 else "shopping", f"m{cid % 17}"))
            rows.append((cid, ts, -int(rng.integers(5_000, 20_000)), "card_payment", "card", "dining", f"r{d % 11}"))
        if rich and rng.random() < 0.8:
            first = int(rng.integers(2, 200))
            rows.append((cid, end - timedelta(days=first), -500_000, "transfer", "app", "savings", "own"))
    act = pl.DataFrame(rows, schema={"customer_id": pl.Int64, "ts": pl.Datetime("us", "UTC"),
                                     "amount_minor": pl.Int64, "kind": pl.Utf8, "channel": pl.Utf8,
                                     "category": pl.Utf8, "counterparty": pl.Utf8}, orient="row").with_columns(
        pl.lit("CNY").alias("currency"), pl.lit("ledger").alias("source")).sort("customer_id", "ts")
    as_of = end.date() + timedelta(days=1)
    pm = PropensityModel(min_positives=5).fit(act, as_of)
    assert pm.report_["savings"]["method"] == "model", pm.report_
    assert 0 < pm.report_["savings"]["base_rate"] < 1
    feats = behaviour(act, as_of)
    out = pm.score_features(feats)
    base = pm.report_["savings"]["base_rate"]
    explained = [row["savings"] for row in out if row["savings"]["score"] > base]
    quiet = [row["savings"] for row in out if row["savings"]["score"] <= base]
    assert explained and quiet
    assert all(r["reasons"] == [] for r in quiet)
    assert any(r["reasons"] for r in explained)
    assert all(x["contribution"] >= 0.1 and x["en"] and x["zh"] for r in explained for x in r["reasons"])

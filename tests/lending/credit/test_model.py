"""The credit model on synthetic data: quality, the production scorer's interface, training and saving,
the HTML report and the ``eval credit`` / ``lending train`` / ``lending report`` commands."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smartbank.lending.credit.evaluate import auc, evaluate_credit
from smartbank.lending.credit.model import CreditModel, points_of_pd
from smartbank.lending.credit.report import LABELS, bin_label, composition, load_latest, report_document
from smartbank.lending.credit.scorer import (
    FEATURES,
    TARGET,
    CreditScore,
    load_scorer,
    synthetic_credit,
)


@pytest.fixture
def production(credit_model):
    """The fast production model of the session (tests/conftest.py: credit_model)."""
    return credit_model


def test_model_learns_a_mixed_synthetic_problem():
    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.uniform(size=n),
                       "city": rng.choice(["a", "b", "c", None], size=n), "noise": rng.normal(size=n)})
    df.loc[rng.random(n) < 0.1, "x1"] = np.nan
    z = -2 + 1.2 * df["x1"].fillna(1.0) + 2 * (df["x2"] > 0.7) + df["city"].map({"a": 0.8, "b": 0.0, "c": -0.8}) \
        .fillna(0.4)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    Xtr, Xte, ytr, yte = df.iloc[:2200], df.iloc[2200:], y[:2200], y[2200:]
    m = CreditModel(seed=0, fast=True).fit(Xtr, ytr)
    p = m.predict_pd(Xte)
    truth = auc(yte, 1 / (1 + np.exp(-z[2200:])))
    assert p.min() >= 0 and p.max() <= 1
    assert auc(yte, p) > truth - 0.03 and auc(yte, p) > 0.75, (auc(yte, p), truth)
    assert abs(p.mean() - yte.mean()) < 0.03  # calibrated on average
    assert 0.0 <= m.weight_ <= 1.0 and m.cv_["folds"] >= 2
    assert "noise" not in [v["name"] for v in m.scorecard_.variables] or len(m.scorecard_.variables) >= 3


def test_evaluate_credit_keys_and_peer():
    df = synthetic_credit(2000, seed=5)
    res = evaluate_credit(df.iloc[:1500], df.iloc[1500:], TARGET, fast=True)
    for k in ("auc", "ks", "gini", "train_seconds", "lgbm_default_auc", "lgbm_default_ks", "lgbm_default_gini",
              "n_train", "n_test", "model"):
        assert k in res, k
    assert res["n_train"] == 1500 and res["n_test"] == 500 and 0.6 < res["auc"] <= 1
    assert res["gini"] == pytest.approx(2 * res["auc"] - 1)


def test_production_training_in_fast_mode(production):
    """What the fast mode saves (its training time: ``smartbank bench models``)."""
    res = production["res"]
    assert res["fast"] is True and res["version"] and res["auc"] > 0.7
    lm = load_latest(production["models"])
    assert lm.meta["params"]["fast"] is True and lm.meta["features"] == list(FEATURES)
    ev = lm.objects["evaluation"]
    assert {"champion", "challenger", "roc", "ks_curve", "calibration", "bands", "distribution"} <= set(ev)
    assert sum(ev["distribution"]["pd_shares"]) == pytest.approx(1.0)


def test_scorer_interface(production):
    scorer = load_scorer(production["models"])
    assert scorer is not None and scorer.version == production["res"]["version"]
    assert load_scorer(production["models"]) is scorer  # cached per version
    good = {"RevolvingUtilizationOfUnsecuredLines": 0.05, "age": 60, "NumberOfTime30-59DaysPastDueNotWorse": 0,
            "DebtRatio": 0.1, "MonthlyIncome": 15000, "NumberOfOpenCreditLinesAndLoans": 8,
            "NumberOfTimes90DaysLate": 0, "NumberRealEstateLoansOrLines": 1,
            "NumberOfTime60-89DaysPastDueNotWorse": 0, "NumberOfDependents": 0}
    bad = {**good, "RevolvingUtilizationOfUnsecuredLines": 1.1, "age": 24, "NumberOfTime30-59DaysPastDueNotWorse": 4,
           "NumberOfTimes90DaysLate": 3, "DebtRatio": 2.5}
    g, b = scorer.score(good), scorer.score(bad)
    assert isinstance(g, CreditScore) and g.model_version == scorer.version
    assert 0 < g.pd < b.pd < 1 and g.points > b.points
    assert g.points == int(round(float(points_of_pd(g.pd))))
    assert b.challenger_version == f"{scorer.version}:scorecard" and 0 < b.challenger_pd < 1
    assert 1 <= len(b.reasons) <= 4
    impacts = [r["impact"] for r in b.reasons]
    assert impacts == sorted(impacts, reverse=True)
    assert {"code", "feature", "en", "zh", "impact"} <= set(b.reasons[0])
    assert b.reasons[0]["code"].startswith("CR-")
    # missing values and a partial mapping are allowed
    sparse = scorer.score({"age": 40, "MonthlyIncome": None, "DebtRatio": None})
    assert 0 < sparse.pd < 1 and isinstance(sparse.points, int)
    assert any(r["code"].endswith("-NA") for r in scorer.score({}).reasons)
    # the scorer gives what the batch model gives
    df = synthetic_credit(50, seed=9)[list(FEATURES)]
    batch = _batch_pd(production["models"], df)
    single = [scorer.score(dict(zip(FEATURES, row, strict=True))).pd for row in df.itertuples(index=False)]
    assert np.allclose(batch, single, atol=1e-9)
    assert all(scorer.score(bad) == b for _ in range(20))  # the same answer every call (its cost: bench models)


def _batch_pd(models, df):
    from smartbank.lending.credit.data import FrameSchema
    from smartbank.lending.credit.model import WoeScorecard, logit, sigmoid

    lm = load_latest(models)
    m = lm.objects["model"]
    Xs = FrameSchema.from_dict(m["schema"]).apply(df)
    zs = WoeScorecard.from_dict(lm.objects["scorecard"]).predict_logit(Xs)
    w = m["weight_lgbm"] if "booster" in lm.objects else 0.0
    z = w * logit(lm.objects["booster"].predict(Xs.to_numpy())) + (1 - w) * zs if w > 0 else zs
    a, b = m["calibration"]
    return sigmoid(a + b * z)


def test_no_model_means_no_scorer(tmp_path):
    assert load_scorer(tmp_path) is None
    assert "no-model" in report_document(None)


def test_report_sections(production):
    lm = load_latest(production["models"])
    doc = report_document(lm, {"days": 30, "n": 0, "pd": [], "points": []})
    for ident in ("model-meta", "metrics", "champion-challenger", "chart-roc", "chart-ks", "chart-calibration",
                  "score-bands", "no-recent", "points-table"):
        assert f"id='{ident}'" in doc, ident
    assert "data:image/svg+xml;base64," in doc and "<script" not in doc
    recent = {"days": 7, "n": 3, "pd": [0.01, 0.2, 0.5], "points": []}
    doc = report_document(lm, recent, lang="zh")
    assert "id='psi'" in doc and "信用评分模型报告" in doc


def test_bins_read_as_intervals():
    assert bin_label("(-inf, 3304.00)", money=True) == "(−∞, ¥3,304.00)"
    assert bin_label("[3304.00, 16486.00)", money=True) == "[¥3,304.00, ¥16,486.00)"
    assert bin_label("[16486.00, inf)", money=True) == "[¥16,486.00, +∞)"
    assert bin_label("[0.13, 0.50)") == "[0.13, 0.5)" and bin_label("[61.50, inf)") == "[61.5, +∞)"
    assert bin_label("[A, B]") == "[A, B]"


def test_composition_in_words_from_the_models_facts():
    model = {"weight_lgbm": 0.8, "rounds": 1043, "description": "blend 0.8 LightGBM + 0.2 scorecard",
             "summary": {"cv": {"folds": 3}, "scorecard_features": ["age"] * 10}}
    zh = composition(model, LABELS["zh"])
    assert "权重 0.8" in zh and "权重 0.2" in zh and "3 折交叉验证" in zh and "1,043 棵树" in zh and "10 个特征" in zh
    assert "blend" not in zh and "<span translate='no'>LightGBM</span>" in zh
    en = composition({**model, "weight_lgbm": 0.0}, LABELS["en"])
    assert en.startswith("The scorecard alone") and "trees" not in en


def test_report_pages_words(production):
    lm = load_latest(production["models"])
    for lang in ("zh", "en"):
        doc = report_document(lm, {"days": 30, "n": 0, "pd": [], "points": []}, lang=lang)
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<img[^>]*>|<span translate='no'>[^<]*</span>|<code[^>]*>[^<]*</code>",
                                              " ", doc))
        assert "inf" not in text.split() and "-inf" not in doc and not re.search(r"\b\d{4,}\.\d\d\b", text)
        assert "¥" in doc and "role='region' tabindex='0' aria-label=" in doc
        if lang == "zh":
            assert not re.search(r"\b(blend|scorecard|trees|features|Gini|Brier|WoE)\b", text)


def test_cli_commands(production, tmp_path, monkeypatch):
    from smartbank.cli import app

    df = synthetic_credit(2000, seed=11)
    df.insert(0, "ID", np.arange(1, len(df) + 1))
    df[TARGET] = df[TARGET].map({1: "bad", 0: "good"})
    df.iloc[:1500].to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    df.iloc[1500:].to_csv(tmp_path / "test.tsv", sep="\t", index=False)
    runner = CliRunner()
    r = runner.invoke(app, ["eval", "credit", "--train", str(tmp_path / "train.tsv"), "--test",
                            str(tmp_path / "test.tsv"), "--target", TARGET, "--sep", "\\t"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for k in ("auc", "ks", "gini", "train_seconds", "lgbm_default_auc", "lgbm_default_ks", "lgbm_default_gini",
              "n_train", "n_test", "model"):
        assert k in out, k
    assert out["dropped_ids"] == ["ID"] and out["n_test"] == 500
    r = runner.invoke(app, ["eval", "credit", "--train", str(tmp_path / "train.tsv"), "--test",
                            str(tmp_path / "test.tsv"), "--target", "nope", "--sep", "\\t"])
    assert r.exit_code != 0
    monkeypatch.setenv("SMARTBANK_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    out_html = tmp_path / "r.html"
    r = runner.invoke(app, ["lending", "report", "--out", str(out_html), "--model-dir", str(production["models"])])
    assert r.exit_code == 0, r.output
    assert "champion-challenger" in out_html.read_text()
    r = runner.invoke(app, ["lending", "train", "--data", str(production["path"]), "--fast", "--model-dir",
                            str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["fast"] is True and (tmp_path / "m" / "credit" / res["version"] / "meta.json").is_file()

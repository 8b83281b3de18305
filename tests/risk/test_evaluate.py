from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from smartbank.risk import evaluate as ev
from smartbank.risk.evaluate import card_precision_at_k, evaluate_fraud, split_windows
from smartbank.risk.features import FEATURE_NAMES
from smartbank.risk.fraud_model import FraudModel, load_fraud_model


def test_card_precision_by_hand() -> None:
    # day 1: customers by max score a=0.9 (fraud), b=0.8 (genuine), c=0.7 (fraud); top-2 -> 1 of 2
    # day 2: d=0.95 (two payments, one fraud), e=0.1 -> top-2 -> 1 of 2 ; f has a fraud but is not in the top 2
    day = [1, 1, 1, 1, 2, 2, 2, 2]
    cust = ["a", "b", "c", "a", "d", "d", "e", "f"]
    score = [0.9, 0.8, 0.7, 0.2, 0.95, 0.1, 0.5, 0.05]
    fraud = [0, 0, 1, 1, 0, 1, 0, 1]
    assert card_precision_at_k(day, cust, score, fraud, k=2) == pytest.approx(0.5)
    assert card_precision_at_k(day, cust, score, fraud, k=1) == pytest.approx(1.0)  # a, d
    assert card_precision_at_k([1, 1], ["a", "b"], [0.1, 0.9], [1, 0], k=1) == 0.0


def test_windows() -> None:
    tx = pl.DataFrame({"ts": [datetime(2018, 4, 1, 5), datetime(2018, 8, 31)]})
    w = split_windows(tx, test_start=date(2018, 8, 1), test_days=30, delay_days=7)
    assert w["train_end"] == datetime(2018, 7, 25) and w["test_end"] == datetime(2018, 8, 31)
    assert w["peer_train_start"] == datetime(2018, 7, 4) and w["train_start"] == datetime(2018, 5, 1)


def test_training_ends_before_the_delay_window(tx: pl.DataFrame, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    seen: dict[str, pl.DataFrame] = {}
    real = ev.select_and_fit

    def spy(train: pl.DataFrame, **kw):  # type: ignore[no-untyped-def]
        seen["train"] = train
        return real(train, **kw)

    monkeypatch.setattr(ev, "select_and_fit", spy)
    res = evaluate_fraud(tx, test_start=date(2018, 5, 15), test_days=7, delay_days=7, model_dir=tmp_path)
    assert seen["train"]["ts"].max() < datetime(2018, 5, 8)
    assert res["windows"]["train_end"] == "2018-05-08T00:00:00"
    for k in ("auc", "average_precision", "card_precision_at_100", "train_seconds", "peer_auc",
              "peer_average_precision", "peer_card_precision_at_100"):
        assert isinstance(res[k], float), k
    assert 0.5 < res["auc"] <= 1.0
    assert Path(res["model_path"], "meta.json").is_file()


def test_save_and_load_round_trip(tx: pl.DataFrame, tmp_path: Path) -> None:
    from smartbank.risk.features import build_features, transactions_hash

    f = build_features(tx, delay_days=7).filter(pl.col("ts") < datetime(2018, 5, 1))
    m = FraudModel(n_estimators=20, random_state=1).fit(f, f["fraud"].to_numpy())
    m.save(data_hash=transactions_hash(f), metrics={"auc": 0.5}, model_dir=tmp_path)
    back = load_fraud_model(model_dir=tmp_path)
    assert back.features == FEATURE_NAMES and back.random_state == 1
    assert np.allclose(back.predict_proba(f)[:, 1], m.predict_proba(f)[:, 1])


def test_model_is_reproducible(tx: pl.DataFrame) -> None:
    from smartbank.risk.features import build_features

    f = build_features(tx, delay_days=7).filter(pl.col("ts") < datetime(2018, 5, 1))
    y = f["fraud"].to_numpy()
    p1 = FraudModel(n_estimators=30, random_state=3).fit(f, y).predict_proba(f)[:, 1]
    p2 = FraudModel(n_estimators=30, random_state=3).fit(f, y).predict_proba(f)[:, 1]
    assert np.array_equal(p1, p2)


def test_eval_fraud_command_prints_json_last(gz_file: Path) -> None:
    from smartbank.cli import app

    start = (datetime(2018, 4, 1) + timedelta(days=45)).date().isoformat()
    r = CliRunner().invoke(app, ["eval", "fraud", "--transactions", str(gz_file), "--test-start", start,
                                 "--test-days", "7", "--delay-days", "7"])
    assert r.exit_code == 0, r.output
    last = json.loads(r.stdout.strip().splitlines()[-1])
    for k in ("auc", "average_precision", "card_precision_at_100", "train_seconds", "peer_auc",
              "peer_average_precision", "peer_card_precision_at_100"):
        assert k in last
    assert 0.0 <= last["card_precision_at_100"] <= 1.0


def test_an_evaluation_never_saves_into_the_live_registry(tx: pl.DataFrame, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    """The newest fraud model in the live registry goes live on restart: an evaluation, which checks no minimum
    of labels and beats no champion, must not put one there."""
    from smartbank import config
    from smartbank.errors import ValidationFailed

    live = tmp_path / "live"
    monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(live))
    config.reset_settings()
    try:
        with pytest.raises(ValidationFailed, match="live model registry"):
            evaluate_fraud(tx, test_start=date(2018, 5, 15), test_days=7, delay_days=7, model_dir=live)
        assert not live.exists() or not any(live.rglob("*"))
    finally:
        config.reset_settings()

"""Time-split evaluation of the fraud model against a same-run peer (the Fraud Detection Handbook's baseline).

Windows, for ``test_start``, ``test_days`` N and ``delay_days`` D::

    [ warm-up | training ............ )[ delay D )[ test N days )
                                      ^ train_end = test_start - D

* our model trains on rows in ``[data_start + warmup, train_end)`` (every label there is known at
  ``test_start``); its hyper-parameters are chosen on the last days of that period (``select_and_fit``);
* the peer, a scikit-learn random forest on the handbook's features, trains on ``[train_end - 21 days,
  train_end)``;
* both score the test rows in time order with features that see only the past (labels only up to t - D).

Metrics: ROC AUC, average precision, and card precision@100 (the mean over test days of the share of
customers with at least one fraud that day among the 100 customers with the highest score that day, a
customer's score being the max over their payments that day).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from smartbank.config import get_settings
from smartbank.errors import ValidationFailed
from smartbank.risk.features import PEER_FEATURES, build_features, build_peer_features, transactions_hash
from smartbank.risk.fraud_model import select_and_fit

__all__ = ["PEER_TRAIN_DAYS", "card_precision_at_k", "evaluate_fraud", "split_windows"]

PEER_TRAIN_DAYS = 21


def card_precision_at_k(day: Any, customer: Any, score: Any, fraud: Any, *, k: int = 100) -> float:
    """Mean over days of (customers with a fraud that day among the day's top-k customers by max score) / k."""
    df = pl.DataFrame({"day": day, "customer": customer, "score": score, "fraud": fraud})
    per_cust = df.group_by("day", "customer").agg(pl.col("score").max(), pl.col("fraud").max())
    per_day = (per_cust.sort("score", descending=True)
               .group_by("day").agg(pl.col("fraud").head(k).sum().alias("hits")))
    if per_day.height == 0:
        return float("nan")
    return float((per_day["hits"].cast(pl.Float64) / k).mean())  # type: ignore[arg-type]


def _metrics(y: np.ndarray, score: np.ndarray, day: Any, customer: Any, prefix: str = "") -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    both = 0 < y.sum() < len(y)
    return {
        f"{prefix}auc": float(roc_auc_score(y, score)) if both else float("nan"),
        f"{prefix}average_precision": float(average_precision_score(y, score)) if both else float("nan"),
        f"{prefix}card_precision_at_100": card_precision_at_k(day, customer, score, y, k=100),
    }


def _midnight(d: date | datetime) -> datetime:
    if isinstance(d, datetime):
        return d.replace(tzinfo=None)
    return datetime(d.year, d.month, d.day)


def split_windows(tx: pl.DataFrame, *, test_start: date | datetime, test_days: int, delay_days: int,
                  warmup_days: int = 30) -> dict[str, datetime]:
    """The window boundaries (see the module docstring). The warm-up is shortened if it would leave fewer
    than 7 training days."""
    ts0 = _midnight(test_start)
    train_end = ts0 - timedelta(days=delay_days)
    data_start: datetime = tx["ts"].min()  # type: ignore[assignment]
    train_start = _midnight(data_start.date()) + timedelta(days=warmup_days)
    if (train_end - train_start).days < 7:
        train_start = min(train_start, max(_midnight(data_start.date()), train_end - timedelta(days=7)))
    return {
        "train_start": train_start, "train_end": train_end,
        "peer_train_start": max(train_end - timedelta(days=PEER_TRAIN_DAYS), _midnight(data_start.date())),
        "test_start": ts0, "test_end": ts0 + timedelta(days=test_days),
    }


def _in(df: pl.DataFrame, a: datetime, b: datetime) -> pl.DataFrame:
    return df.filter((pl.col("ts") >= a) & (pl.col("ts") < b))


def evaluate_fraud(
    tx: pl.DataFrame,
    *,
    test_start: date | datetime,
    test_days: int,
    delay_days: int,
    random_state: int = 0,
    n_jobs: int = 2,
    warmup_days: int = 30,
    with_peer: bool = True,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """Train on the past, score the test window, compare with the peer; returns the metrics as a dict.

    ``tx`` is a transaction frame (:func:`smartbank.risk.features.load_transactions`). With ``model_dir``
    the trained model is also saved there through the registry - never into the live registry
    (``settings.model_dir``), whose newest fraud model goes live on restart: only ``smartbank risk train``, which
    checks the labels and beats the current model first, registers a live model.
    """
    if model_dir is not None:
        live = Path(get_settings().model_dir)
        if Path(model_dir).resolve() == live.resolve():
            raise ValidationFailed(
                "an evaluation does not save into the live model registry; save it elsewhere, or register a live "
                "model with `smartbank risk train`, which checks labels and compares with the current model",
                details={"model_dir": str(model_dir)})
    w = split_windows(tx, test_start=test_start, test_days=test_days, delay_days=delay_days,
                      warmup_days=warmup_days)
    # features only ever need the past: rows after the test window are dropped before computing them
    tx = tx.filter(pl.col("ts") < w["test_end"])
    t0 = time.perf_counter()
    feats = build_features(tx, delay_days=delay_days)
    feature_seconds = time.perf_counter() - t0
    train = _in(feats, w["train_start"], w["train_end"]).filter(pl.col("fraud").is_not_null())
    test = _in(feats, w["test_start"], w["test_end"]).sort("ts", "tx_id")
    if train.height == 0 or test.height == 0:
        raise ValueError(f"empty window: {train.height} training rows, {test.height} test rows")
    t1 = time.perf_counter()
    model, sel = select_and_fit(train, delay_days=delay_days, random_state=random_state, n_jobs=n_jobs)
    train_seconds = time.perf_counter() - t1
    score = model.predict_proba(test)[:, 1]
    y = test["fraud"].fill_null(0).to_numpy().astype(int)
    day = test["ts"].dt.date()
    out: dict[str, Any] = _metrics(y, score, day, test["customer_id"])
    out["train_seconds"] = round(train_seconds, 2)
    out.update({
        "feature_seconds": round(feature_seconds, 2),
        "train_rows": train.height, "train_frauds": int(train["fraud"].sum()),
        "test_rows": test.height, "test_frauds": int(y.sum()),
        "windows": {k: v.isoformat() for k, v in w.items()},
        "chosen": {**sel.params, "n_estimators": sel.n_estimators, **sel.validation},
        "top_features": list(model.feature_importance())[:8],
    })
    if model_dir is not None:
        metrics = {k: out[k] for k in ("auc", "average_precision", "card_precision_at_100")}
        out["model_path"] = str(model.save(data_hash=transactions_hash(train), metrics=metrics, model_dir=model_dir,
                                           extra={"delay_days": delay_days}))
    if with_peer:
        out.update(_peer(tx, w, delay_days=delay_days, random_state=random_state, n_jobs=n_jobs))
    return out


def _peer(tx: pl.DataFrame, w: dict[str, datetime], *, delay_days: int, random_state: int,
          n_jobs: int) -> dict[str, Any]:
    """The handbook's baseline: a random forest on its own features, 21 training days before the delay."""
    from sklearn.ensemble import RandomForestClassifier

    pf = build_peer_features(tx, delay_days=delay_days)
    train = _in(pf, w["peer_train_start"], w["train_end"]).filter(pl.col("fraud").is_not_null())
    test = _in(pf, w["test_start"], w["test_end"]).sort("ts", "tx_id")
    t0 = time.perf_counter()
    rf = RandomForestClassifier(n_estimators=100, max_depth=20, random_state=random_state, n_jobs=n_jobs)
    rf.fit(train.select(PEER_FEATURES).to_numpy(), train["fraud"].to_numpy())
    secs = time.perf_counter() - t0
    score = rf.predict_proba(test.select(PEER_FEATURES).to_numpy())[:, 1] if len(rf.classes_) == 2 \
        else np.zeros(test.height)
    y = test["fraud"].fill_null(0).to_numpy().astype(int)
    out = _metrics(y, score, test["ts"].dt.date(), test["customer_id"], prefix="peer_")
    out["peer_train_seconds"] = round(secs, 2)
    out["peer_train_rows"] = train.height
    return out


"""The fraud model: LightGBM (binary) on the point-in-time features of :mod:`smartbank.risk.features`.

:class:`FraudModel` is a scikit-learn style estimator (``fit`` returns self, learned state ends in ``_``,
randomness only through ``random_state``). :func:`select_and_fit` chooses the hyper-parameters (including
the class-imbalance weight and the number of trees) on a validation window carved from the END of the
training period - never on a test window - and refits on the whole training period. Saving and loading go
through :mod:`smartbank.ml.registry` (``meta.json`` with the feature list, the data hash and the metrics).

A trained model goes live when a server restarts (the newest ``fraud_lgbm`` version), so it is registered only
when it clears :class:`RegistrationBar` (:func:`judge`): enough labels of both kinds, a time-based validation
window with enough frauds, and a validation average precision above the current model's on the SAME window
(no current model: above what a score that knows nothing gets, the window's fraud rate).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from smartbank.ml.service import load_model, save_model
from smartbank.risk.features import FEATURE_NAMES

__all__ = ["DEFAULT_GRID", "FraudModel", "MODEL_NAME", "RegistrationBar", "Selection", "Verdict", "judge",
           "label_counts", "load_fraud_model", "select_and_fit"]

MODEL_NAME = "fraud_lgbm"

# candidates tried on the validation window; "pos_weight" is LightGBM's scale_pos_weight, where
# "sqrt" means sqrt(negatives / positives) of the training rows (a softened balancing).
DEFAULT_GRID: list[dict[str, Any]] = [
    {"num_leaves": 31, "min_child_samples": 50, "pos_weight": 1.0},
    {"num_leaves": 31, "min_child_samples": 50, "pos_weight": "sqrt"},
    {"num_leaves": 63, "min_child_samples": 100, "pos_weight": 1.0},
    {"num_leaves": 15, "min_child_samples": 100, "pos_weight": "sqrt"},
]


class FraudModel:
    """LightGBM binary classifier for fraud. ``predict_proba(X)[:, 1]`` is the fraud score."""

    def __init__(
        self,
        *,
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        pos_weight: float | str = 1.0,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        random_state: int = 0,
        n_jobs: int = 2,
        features: Sequence[str] | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.pos_weight = pos_weight
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.features = list(features) if features is not None else list(FEATURE_NAMES)

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("n_estimators", "learning_rate", "num_leaves", "min_child_samples",
                                              "pos_weight", "subsample", "colsample", "reg_lambda",
                                              "random_state", "n_jobs")}

    def _lgb_params(self, y: np.ndarray) -> dict[str, Any]:
        pw = self.pos_weight
        if pw == "sqrt":
            pos = max(int(y.sum()), 1)
            pw = math.sqrt(max(len(y) - pos, 1) / pos)
        return {
            "objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples, "scale_pos_weight": float(pw),
            "bagging_fraction": self.subsample, "bagging_freq": 1, "feature_fraction": self.colsample,
            "lambda_l2": self.reg_lambda, "seed": self.random_state, "num_threads": self.n_jobs,
            "deterministic": True, "force_row_wise": True, "verbose": -1,
        }

    def _matrix(self, X: Any) -> np.ndarray:
        if isinstance(X, pl.DataFrame):
            return X.select(self.features).to_numpy().astype(np.float64)
        return np.asarray(X, dtype=np.float64)

    def fit(self, X: Any, y: Any, *, eval_set: tuple[Any, Any] | None = None) -> FraudModel:
        """Train. With ``eval_set`` the rounds stop early on its average precision (``best_iteration_``)."""
        import lightgbm as lgb

        Xm, ym = self._matrix(X), np.asarray(y, dtype=np.float64)
        dtrain = lgb.Dataset(Xm, ym, feature_name=self.features, free_raw_data=True)
        params = self._lgb_params(ym)
        callbacks: list[Any] = []
        valid: list[Any] = []
        if eval_set is not None:
            params["metric"] = "average_precision"
            valid = [lgb.Dataset(self._matrix(eval_set[0]), np.asarray(eval_set[1], dtype=np.float64),
                                 reference=dtrain)]
            callbacks.append(lgb.early_stopping(50, first_metric_only=True, verbose=False))
        self.booster_ = lgb.train(params, dtrain, num_boost_round=self.n_estimators, valid_sets=valid,
                                  callbacks=callbacks)
        self.best_iteration_ = int(self.booster_.best_iteration or self.n_estimators)
        if eval_set is not None:
            self.best_score_ = float(self.booster_.best_score["valid_0"]["average_precision"])
        self.n_features_in_ = len(self.features)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        p = np.asarray(self.booster_.predict(self._matrix(X), num_iteration=self.best_iteration_), dtype=np.float64)
        return np.column_stack([1.0 - p, p])

    def feature_importance(self) -> dict[str, float]:
        gain = self.booster_.feature_importance(importance_type="gain")
        return dict(sorted(zip(self.features, (float(g) for g in gain), strict=True), key=lambda kv: -kv[1]))

    def save(self, *, data_hash: str, metrics: dict[str, Any] | None = None, model_dir: Path | None = None,
             extra: dict[str, Any] | None = None) -> Path:
        """Write the booster and its parameters as a new version of ``fraud_lgbm``; returns the folder."""
        params = {**self.get_params(), "best_iteration": self.best_iteration_, **(extra or {})}
        saved = save_model(MODEL_NAME, {"booster": self.booster_, "params": params}, features=self.features,
                           data_hash=data_hash, metrics=metrics, seed=self.random_state, params=params,
                           model_dir=model_dir)
        return saved.path


def load_fraud_model(*, model_dir: Path | None = None, version: str | None = None) -> FraudModel:
    """Load a saved model; refuses an artefact with a different feature list or library major versions."""
    lm = load_model(MODEL_NAME, version=version, features=FEATURE_NAMES, model_dir=model_dir)
    p = dict(lm.objects["params"])
    best = int(p.pop("best_iteration"))
    known = FraudModel().get_params()
    m = FraudModel(**{k: v for k, v in p.items() if k in known}, features=lm.features)
    m.booster_ = lm.objects["booster"]
    m.best_iteration_ = best
    m.n_features_in_ = len(m.features)
    return m


@dataclass
class Selection:
    """What :func:`select_and_fit` chose and why."""

    params: dict[str, Any]
    n_estimators: int
    validation: dict[str, Any]
    candidates: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    # the validation window and the chosen candidate's scores on it (trained without it): what a champion is
    # compared on; None when there was no validation window
    val_frame: pl.DataFrame | None = field(default=None, repr=False)
    val_scores: np.ndarray | None = field(default=None, repr=False)


def select_and_fit(
    train: pl.DataFrame,
    *,
    delay_days: int,
    val_days: int = 14,
    grid: Sequence[dict[str, Any]] | None = None,
    random_state: int = 0,
    n_jobs: int = 2,
    max_rounds: int = 600,
) -> tuple[FraudModel, Selection]:
    """Choose the hyper-parameters on a validation window at the end of ``train``, then refit on all of it.

    ``train`` has the feature columns, ``ts`` and ``fraud`` (all labels known). The validation window is the
    last ``val_days`` days; its sub-model trains on rows before ``val_start - delay`` - the same label-delay
    gap as between training and test. Candidates are ranked by validation average precision; the number
    of trees is the early-stopping point, scaled by the share of extra training data at the refit.
    """
    t0 = time.perf_counter()
    end: datetime = train["ts"].max()  # type: ignore[assignment]
    start: datetime = train["ts"].min()  # type: ignore[assignment]
    span_days = (end - start).total_seconds() / 86400
    val_days = max(1, min(val_days, int(span_days // 3)))
    val_start = datetime(end.year, end.month, end.day) + timedelta(days=1) - timedelta(days=val_days)
    sub = train.filter(pl.col("ts") < val_start - timedelta(days=delay_days))
    val = train.filter(pl.col("ts") >= val_start)
    ok = sub.height > 0 and val.height > 0 and sub["fraud"].sum() > 0 and val["fraud"].sum() > 0
    candidates: list[dict[str, Any]] = []
    grid = list(grid or DEFAULT_GRID)
    val_scores: np.ndarray | None = None
    if ok:
        scores: list[np.ndarray] = []
        for cand in grid:
            m = FraudModel(**cand, n_estimators=max_rounds, random_state=random_state, n_jobs=n_jobs)
            m.fit(sub, sub["fraud"].to_numpy(), eval_set=(val, val["fraud"].to_numpy()))
            candidates.append({**cand, "best_iteration": m.best_iteration_, "val_average_precision": m.best_score_})
            scores.append(m.predict_proba(val)[:, 1])
        best_i = max(range(len(candidates)), key=lambda i: candidates[i]["val_average_precision"])
        best = candidates[best_i]
        val_scores = scores[best_i]
        params = {k: best[k] for k in grid[0]}
        rounds = int(round(best["best_iteration"] * max(1.0, train.height / max(sub.height, 1))))
        validation = {"val_start": val_start.isoformat(), "val_days": val_days, "sub_rows": sub.height,
                      "val_rows": val.height, "val_average_precision": best["val_average_precision"]}
    else:  # too little data for a validation window: the first candidate with a fixed number of trees
        params, rounds = dict(grid[0]), 200
        validation = {"skipped": "not enough labelled data for a validation window"}
    model = FraudModel(**params, n_estimators=max(rounds, 10), random_state=random_state, n_jobs=n_jobs)
    model.fit(train, train["fraud"].to_numpy())
    return model, Selection(params=params, n_estimators=model.n_estimators, validation=validation,
                            candidates=candidates, seconds=time.perf_counter() - t0,
                            val_frame=val if ok else None, val_scores=val_scores)


# ------------------------------------------------------------------------------------------------
# may a trained model go live?


@dataclass(frozen=True)
class RegistrationBar:
    """What a newly trained model must show before it is registered (and so goes live at the next restart).

    - ``min_frauds`` / ``min_genuine``: labelled training payments of each kind. Tens of frauds are the least a
      gradient-boosted model can learn a pattern from rather than memorise a few payments;
    - ``min_validation_frauds``: frauds in the validation window (the last days of the training period,
      scored by a model trained without them), so the comparison below is not decided by one or two payments;
    - ``min_gain``: the validation average precision must exceed the current model's on the same window by
      more than this (no current model: the window's fraud rate, what a score that knows nothing gets).
    """

    min_frauds: int = 50
    min_genuine: int = 50
    min_validation_frauds: int = 5
    min_gain: float = 0.0


@dataclass
class Verdict:
    """Whether the trained model may be registered, and why (``reason`` in plain words)."""

    register: bool
    code: str  # ok | too_few_frauds | too_few_genuine | no_validation | too_few_validation_frauds | not_better
    reason: str
    comparison: dict[str, Any] = field(default_factory=dict)


def label_counts(train: pl.DataFrame) -> tuple[int, int]:
    """(frauds, genuine) among the labelled rows of ``train``."""
    y = train["fraud"].drop_nulls()
    frauds = int(y.sum())
    return frauds, int(y.len()) - frauds


def check_labels(train: pl.DataFrame, bar: RegistrationBar) -> Verdict | None:
    """A refusal when there are too few labels to train a model worth registering (None: enough)."""
    frauds, genuine = label_counts(train)
    if frauds < bar.min_frauds:
        return Verdict(False, "too_few_frauds",
                       f"only {frauds} confirmed fraud(s) to learn from; at least {bar.min_frauds} are needed "
                       "before a fraud model may decide payments")
    if genuine < bar.min_genuine:
        return Verdict(False, "too_few_genuine",
                       f"only {genuine} genuine payment(s) to learn from; at least {bar.min_genuine} are needed")
    return None


def _average_precision(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, score))


def _roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def judge(train: pl.DataFrame, sel: Selection, *, champion: FraudModel | None, champion_version: str | None,
          bar: RegistrationBar) -> Verdict:
    """May the model chosen by ``sel`` replace ``champion`` (None: decisions are made by rules only)?

    Both are scored on the same validation window: the challenger by its sub-model, trained only on payments
    before the window (less the label delay); the champion as it is. Average precision (PR-AUC) decides, as
    frauds are rare; ROC AUC is reported alongside.
    """
    refused = check_labels(train, bar)
    if refused is not None:
        return refused
    if sel.val_frame is None or sel.val_scores is None:
        return Verdict(False, "no_validation",
                       "not enough labelled history for a validation window (frauds both before and inside the "
                       "last days of the period): the model cannot be checked, so it is not registered")
    y = sel.val_frame["fraud"].to_numpy().astype(int)
    val_frauds = int(y.sum())
    if val_frauds < bar.min_validation_frauds:
        return Verdict(False, "too_few_validation_frauds",
                       f"the validation window holds only {val_frauds} fraud(s); at least "
                       f"{bar.min_validation_frauds} are needed to compare models")
    comparison: dict[str, Any] = {
        "metric": "average_precision", "val_rows": int(len(y)), "val_frauds": val_frauds,
        "challenger_average_precision": _average_precision(y, sel.val_scores),
        "challenger_auc": _roc_auc(y, sel.val_scores) if 0 < val_frauds < len(y) else None,
        "champion": champion_version, "min_gain": bar.min_gain,
    }
    if champion is not None:
        cs = champion.predict_proba(sel.val_frame)[:, 1]
        comparison.update(champion_average_precision=_average_precision(y, cs),
                          champion_auc=_roc_auc(y, cs) if 0 < val_frauds < len(y) else None)
        bar_value, against = comparison["champion_average_precision"], f"the current model {champion_version}"
    else:
        comparison["baseline_average_precision"] = val_frauds / len(y)
        bar_value, against = comparison["baseline_average_precision"], "a score that knows nothing (the fraud rate)"
    comparison["bar"] = bar_value
    ours = comparison["challenger_average_precision"]
    if ours <= bar_value + bar.min_gain:
        return Verdict(False, "not_better",
                       f"validation average precision {ours:.4f} does not beat {against} ({bar_value:.4f}"
                       + (f" + {bar.min_gain:g}" if bar.min_gain else "") + ") on the same window", comparison)
    return Verdict(True, "ok", f"validation average precision {ours:.4f} beats {against} ({bar_value:.4f})",
                   comparison)

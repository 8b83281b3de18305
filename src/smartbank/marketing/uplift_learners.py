"""Uplift learners and the Hillstrom-style evaluation (``smartbank eval uplift``).

The project's uplift model is an S-learner: one strongly regularised LightGBM classifier on the features plus the
treatment flag, whose uplift is ``p(y | x, t=1) - p(y | x, t=0)``. It was chosen over a two-model LightGBM, a
class-transformation model, an X-learner, a transformed-outcome regression, a two-model logistic regression and
averages of these, by the Qini coefficient on eight random 70/30 validation splits of the Hillstrom training file
(see docs/MARKETING.md). The baseline is the two-model LightGBM with default parameters.

Metrics: scikit-uplift's ``qini_auc_score`` (the Qini coefficient: area between the model's Qini curve and the
random line, divided by the same area of the perfect model; ``negative_effect=True``) and ``uplift_auc_score``
(the area between the uplift curve and the random line, divided by the perfect model's; both normalised, 0 =
random, 1 = perfect). Heavy libraries are imported inside the functions.
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["S_LEARNER_PARAMS", "SLearner", "evaluate_uplift", "qini_curve", "uplift_metrics"]

# chosen by repeated validation on the Hillstrom training file (docs/MARKETING.md)
S_LEARNER_PARAMS: dict[str, Any] = {
    "n_estimators": 400, "learning_rate": 0.02, "num_leaves": 6, "min_child_samples": 400, "subsample": 0.8,
    "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 5.0,
}
TREATMENT_FEATURE = "treatment_"


@dataclass
class SLearner:
    """One classifier on ``X + [t]``; uplift = its prediction with ``t=1`` minus with ``t=0``."""

    params: dict[str, Any] = field(default_factory=lambda: dict(S_LEARNER_PARAMS))
    seed: int = 0
    booster_: Any = None
    features_: list[str] = field(default_factory=list)

    def fit(self, x: np.ndarray, y: np.ndarray, t: np.ndarray, features: list[str]) -> SLearner:
        import lightgbm as lgb

        xt = np.column_stack([np.asarray(x, dtype=float), np.asarray(t, dtype=float)])
        m = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=self.seed, **self.params)
        m.fit(xt, np.asarray(y, dtype=int))
        self.booster_ = m.booster_
        self.features_ = list(features)
        return self

    def predict_uplift(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        ones, zeros = np.ones((len(x), 1)), np.zeros((len(x), 1))
        p1 = self.booster_.predict(np.hstack([x, ones]))
        p0 = self.booster_.predict(np.hstack([x, zeros]))
        return np.asarray(p1 - p0, dtype=float)


def two_model_uplift(x_train: np.ndarray, y: np.ndarray, t: np.ndarray, x_test: np.ndarray, *, seed: int = 0,
                     **params: Any) -> np.ndarray:
    """The baseline: one LGBMClassifier on the treated, one on the control; uplift = difference of the two."""
    import lightgbm as lgb

    t = np.asarray(t).astype(bool)
    a = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed, **params).fit(x_train[t], y[t])
    b = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed, **params).fit(x_train[~t], y[~t])
    return np.asarray(np.asarray(a.predict_proba(x_test))[:, 1] - np.asarray(b.predict_proba(x_test))[:, 1],
                      dtype=float)


def uplift_metrics(y: np.ndarray, uplift: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """scikit-uplift's normalised Qini coefficient and AUUC (0 = random, 1 = perfect)."""
    from sklift.metrics import qini_auc_score, uplift_auc_score

    y, t = np.asarray(y, dtype=int), np.asarray(t, dtype=int)
    if len(set(t.tolist())) < 2 or len(set(y.tolist())) < 2:
        return {"qini": float("nan"), "auuc": float("nan")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn's notice about a helper sklift uses
        return {"qini": float(qini_auc_score(y, uplift, t)), "auuc": float(uplift_auc_score(y, uplift, t))}


def qini_curve(y: np.ndarray, uplift: np.ndarray, t: np.ndarray, *, points: int = 50) -> dict[str, Any]:
    """The Qini curve (incremental conversions among the top ``k`` scored, control scaled to the treated count),
    thinned to about ``points`` points, with the random line's end and the perfect curve for the same data."""
    from sklift.metrics import perfect_qini_curve
    from sklift.metrics import qini_curve as _qc

    y, t = np.asarray(y, dtype=int), np.asarray(t, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        x_actual, y_actual = _qc(y, uplift, t)
        x_perfect, y_perfect = perfect_qini_curve(y, t)

    def thin(xs: np.ndarray, ys: np.ndarray) -> tuple[list[float], list[float]]:
        if len(xs) > points:
            idx = np.unique(np.linspace(0, len(xs) - 1, points).round().astype(int))
            xs, ys = xs[idx], ys[idx]
        return [float(v) for v in xs], [float(v) for v in ys]

    xa, ya = thin(np.asarray(x_actual), np.asarray(y_actual))
    xp, yp = thin(np.asarray(x_perfect), np.asarray(y_perfect))
    return {"x": xa, "y": ya, "perfect_x": xp, "perfect_y": yp,
            "random_end": float(y_actual[-1]) if len(y_actual) else 0.0, "n": float(len(y))}


# --- the Hillstrom-style evaluation ---------------------------------------------------------------------------

def _treatment(df: Any, col: str) -> np.ndarray:
    from smartbank.errors import ValidationFailed

    s = df[col]
    if set(s.dropna().unique().tolist()) <= {0, 1, "0", "1"}:
        return s.astype(int).to_numpy()
    if col == "segment" or "No E-Mail" in set(s.unique().tolist()):
        return (s != "No E-Mail").astype(int).to_numpy()
    raise ValidationFailed("the treatment column must be 0/1 or Hillstrom's segment", reason="marketing.bad_treatment",
                           details={"column": col})


def _design(train: Any, test: Any, drop: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One-hot the text columns (levels from train), keep the numeric ones; returns both matrices."""
    import pandas as pd

    cols = [c for c in train.columns if c not in drop]
    both = pd.concat([train[cols], test[cols]], keys=["tr", "te"])
    cats = [c for c in cols if not pd.api.types.is_numeric_dtype(both[c])]
    both = pd.get_dummies(both, columns=cats, dtype=float)
    both.columns = [re.sub(r"[^A-Za-z0-9_]", "_", str(c)) for c in both.columns]
    both = both.astype(float)
    return both.loc["tr"].to_numpy(), both.loc["te"].to_numpy(), list(both.columns)


def evaluate_uplift(train: Any, test: Any, *, treatment: str, outcome: str, seed: int = 0,
                    baseline: bool = True) -> dict[str, Any]:
    """Fit the S-learner on ``train`` only, score ``test``; the same for the two-model LightGBM baseline."""
    from smartbank.errors import ValidationFailed

    for name, df in (("train", train), ("test", test)):
        missing = [c for c in (treatment, outcome) if c not in df.columns]
        if missing:
            raise ValidationFailed("a column is missing", reason="marketing.missing_column",
                                   details={"file": name, "columns": ", ".join(missing)})
    t_tr, t_te = _treatment(train, treatment), _treatment(test, treatment)
    y_tr, y_te = train[outcome].astype(int).to_numpy(), test[outcome].astype(int).to_numpy()
    # the other outcomes of the experiment (Hillstrom's conversion and spend) are never features
    drop = [treatment, outcome] + [c for c in ("segment", "visit", "conversion", "spend") if c in train.columns]
    x_tr, x_te, feats = _design(train, test, drop)
    t0 = time.perf_counter()
    model = SLearner(seed=seed).fit(x_tr, y_tr, t_tr, feats)
    u = model.predict_uplift(x_te)
    secs = time.perf_counter() - t0
    ours = uplift_metrics(y_te, u, t_te)
    order = np.argsort(-u)
    top = order[: max(1, len(order) * 3 // 10)]
    res: dict[str, Any] = {
        "model": "s_learner_lgbm", "qini": ours["qini"], "auuc": ours["auuc"],
        "metrics": "sklift qini_auc_score (Qini coefficient, normalised by the perfect model, negative_effect) "
                   "and uplift_auc_score (area between uplift curve and random, normalised by the perfect model)",
        "n_train": int(len(y_tr)), "n_test": int(len(y_te)), "treated_rate": float(t_tr.mean()),
        "n_features": len(feats), "treatment": treatment, "outcome": outcome, "seed": seed,
        "ate_test": float(y_te[t_te == 1].mean() - y_te[t_te == 0].mean()),
        "observed_uplift_top30": float(y_te[top][t_te[top] == 1].mean() - y_te[top][t_te[top] == 0].mean())
        if (t_te[top] == 1).any() and (t_te[top] == 0).any() else None,
        "train_seconds": secs, "params": dict(model.params),
    }
    if baseline:
        t1 = time.perf_counter()
        ub = two_model_uplift(x_tr, y_tr, t_tr, x_te, seed=seed)
        b = uplift_metrics(y_te, ub, t_te)
        res.update(baseline_model="two_model_lgbm_default", baseline_qini=b["qini"], baseline_auuc=b["auuc"],
                   baseline_seconds=time.perf_counter() - t1)
    return res

"""The campaign response model (``smartbank eval campaign``): who answers yes to a term-deposit call.

Trained on the UCI bank-marketing data (Moro et al. 2014). The call's ``duration`` is dropped ALWAYS: it is known
only after the call and would leak the outcome. Features: the client's attributes, the campaign's contacts
(``campaign``, ``previous``, ``poutcome``, ``pdays`` with 999 read as "never contacted" - a flag plus the days as
missing), the month and day of the week, and the macro-economic indicators as they are. The model is the average
of three probabilities: a regularised LightGBM (one-hot splits on the categories, shallow trees) whose number of
trees is chosen by early stopping on inner stratified folds of the training data only and then refitted on all of
it; a LightGBM with default parameters; and a logistic regression on one-hot categories and spline-expanded
numbers. This blend had the best 5-fold cross-validated AUC on the training file among the designs compared in
docs/MARKETING.md. Heavy libraries are imported inside the functions.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["RESPONSE_PARAMS", "cross_validate_campaign", "evaluate_campaign", "response_features"]

LEAKY = ("duration",)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# chosen by 5-fold cross-validation of the training file (docs/MARKETING.md)
RESPONSE_PARAMS: dict[str, Any] = {
    "learning_rate": 0.01, "num_leaves": 7, "min_child_samples": 50, "subsample": 0.8, "subsample_freq": 1,
    "colsample_bytree": 0.3, "reg_lambda": 10.0, "cat_smooth": 50, "min_data_per_group": 200,
    "max_cat_threshold": 16, "max_cat_to_onehot": 64, "max_bin": 63, "min_sum_hessian_in_leaf": 1.0,
}
LOGIT_C = 0.1
INNER_FOLDS = 4
MAX_TREES = 3000


def response_features(df: Any, categories: dict[str, list[str]] | None = None
                      ) -> tuple[Any, dict[str, list[str]]]:
    """The model's frame: ``duration`` and the target removed by the caller; text columns as categories with the
    training file's levels (``categories``), engineered columns added. Returns the frame and the levels."""
    import pandas as pd

    d = df.drop(columns=[c for c in LEAKY if c in df.columns]).copy()
    text = [c for c in d.columns if not pd.api.types.is_numeric_dtype(d[c])]
    levels = categories if categories is not None else {c: sorted(d[c].astype(str).unique().tolist()) for c in text}
    if "pdays" in d.columns:
        d["never_contacted"] = (d["pdays"] == 999).astype(int)
        d["pdays"] = d["pdays"].where(d["pdays"] != 999, np.nan)
    if "previous" in d.columns:
        d["previously_contacted"] = (d["previous"] > 0).astype(int)
    if "month" in d.columns:
        d["month_no"] = d["month"].astype(str).map({m: i for i, m in enumerate(MONTHS)}).astype(float)
    if "day_of_week" in d.columns:
        d["weekday_no"] = d["day_of_week"].astype(str).map({m: i for i, m in enumerate(DAYS)}).astype(float)
    if "euribor3m" in d.columns and "emp.var.rate" in d.columns:
        d["euribor_minus_emp"] = d["euribor3m"] - d["emp.var.rate"]
    for c, lv in levels.items():
        if c in d.columns:
            v = d[c].astype(str)
            d[c] = pd.Categorical(v.where(v.isin(lv)), categories=lv)
    d.columns = [str(c).replace(".", "_") for c in d.columns]
    return d, levels


def _target(df: Any, target: str) -> np.ndarray:
    from smartbank.errors import ValidationFailed

    if target not in df.columns:
        raise ValidationFailed("the target column is missing", reason="marketing.missing_column",
                               details={"file": "train/test", "columns": target})
    s = df[target]
    vals = set(s.astype(str).str.lower().unique().tolist())
    if vals <= {"yes", "no"}:
        return (s.astype(str).str.lower() == "yes").astype(int).to_numpy()
    if vals <= {"0", "1", "0.0", "1.0", "true", "false"}:
        return s.astype(str).str.lower().isin(["1", "1.0", "true"]).astype(int).to_numpy()
    raise ValidationFailed("the target must be yes/no or 0/1", reason="marketing.bad_target",
                           details={"column": target})


def fit_response(x: Any, y: np.ndarray, *, seed: int = 0, params: dict[str, Any] | None = None) -> tuple[Any, int]:
    """Early stopping on ``INNER_FOLDS`` stratified folds of (x, y) gives the number of trees; refit on all."""
    import lightgbm as lgb
    from sklearn.model_selection import StratifiedKFold

    p = dict(params or RESPONSE_PARAMS)
    best: list[int] = []
    for tr, va in StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed).split(x, y):
        m = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed, n_estimators=MAX_TREES, **p)
        m.fit(x.iloc[tr], y[tr], eval_X=(x.iloc[va],), eval_y=(y[va],), eval_metric="auc",
              callbacks=[lgb.early_stopping(150, verbose=False)])
        best.append(int(m.best_iteration_ or MAX_TREES))
    n = max(50, int(np.mean(best) * 1.1))
    final = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed, n_estimators=n, **p).fit(x, y)
    return final, n


def fit_logit(x: Any, y: np.ndarray) -> Any:
    """Logistic regression on one-hot categories (rare levels pooled) and spline-expanded numbers."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, SplineTransformer

    cats = [c for c in x.columns if isinstance(x[c].dtype, pd.CategoricalDtype)]
    nums = [c for c in x.columns if c not in cats]
    as_text = FunctionTransformer(lambda d: d.astype(object).where(d.notna(), "missing").astype(str))
    ct = ColumnTransformer([
        ("cat", make_pipeline(as_text, OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20)), cats),
        ("num", make_pipeline(SimpleImputer(strategy="median"), SplineTransformer(n_knots=5)), nums),
    ])
    return make_pipeline(ct, LogisticRegression(C=LOGIT_C, max_iter=3000)).fit(x, y)


class ResponseBlend:
    """The fitted response model: the mean of its parts' probabilities."""

    def __init__(self, parts: list[Any], n_trees: int) -> None:
        self.parts, self.n_trees = parts, n_trees

    def predict_proba(self, x: Any) -> np.ndarray:
        p = np.mean([np.asarray(m.predict_proba(x))[:, 1] for m in self.parts], axis=0)
        return np.column_stack([1 - p, p])


def fit_blend(x: Any, y: np.ndarray, *, seed: int = 0) -> ResponseBlend:
    import lightgbm as lgb

    tuned, n = fit_response(x, y, seed=seed)
    default = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed).fit(x, y)
    return ResponseBlend([tuned, default, fit_logit(x, y)], n)


def cross_validate_campaign(train: Any, *, target: str = "y", folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Stratified ``folds``-fold AUC of the blend and of a default LightGBM on the training file alone."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    y = _target(train, target)
    ours, base = [], []
    for tr, va in StratifiedKFold(folds, shuffle=True, random_state=seed).split(train, y):
        a, b = train.iloc[tr], train.iloc[va]
        xa, lv = response_features(a.drop(columns=[target]))
        xb, _ = response_features(b.drop(columns=[target]), lv)
        ours.append(float(roc_auc_score(y[va], fit_blend(xa, y[tr], seed=seed).predict_proba(xb)[:, 1])))
        ra, lv2 = _as_categories(a.drop(columns=[target, *[c for c in LEAKY if c in a.columns]]), None)
        rb, _ = _as_categories(b.drop(columns=[target, *[c for c in LEAKY if c in b.columns]]), lv2)
        m = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed).fit(ra, y[tr])
        base.append(float(roc_auc_score(y[va], np.asarray(m.predict_proba(rb))[:, 1])))
    return {"cv_folds": folds, "cv_auc": ours, "cv_auc_mean": float(np.mean(ours)), "cv_auc_sd": float(np.std(ours)),
            "cv_baseline_auc_mean": float(np.mean(base)), "cv_baseline_auc_sd": float(np.std(base))}


def evaluate_campaign(train: Any, test: Any, *, target: str = "y", seed: int = 0,
                      baseline: bool = True) -> dict[str, Any]:
    """Fit the response model on ``train``, AUC on ``test``; the same for a default LGBMClassifier."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    y_tr, y_te = _target(train, target), _target(test, target)
    dropped = [c for c in LEAKY if c in train.columns]
    x_tr, levels = response_features(train.drop(columns=[target]))
    x_te, _ = response_features(test.drop(columns=[target]), levels)
    t0 = time.perf_counter()
    model = fit_blend(x_tr, y_tr, seed=seed)
    n_trees = model.n_trees
    p = np.asarray(model.predict_proba(x_te))[:, 1]
    secs = time.perf_counter() - t0
    res: dict[str, Any] = {
        "model": "blend_lgbm_regularised_lgbm_default_logit_splines", "auc": float(roc_auc_score(y_te, p)),
        "n_train": int(len(y_tr)),
        "n_test": int(len(y_te)), "positive_rate_train": float(y_tr.mean()), "positive_rate_test": float(y_te.mean()),
        "dropped": dropped, "n_features": int(x_tr.shape[1]), "n_estimators": n_trees, "seed": seed,
        "train_seconds": secs, "params": dict(RESPONSE_PARAMS),
    }
    if baseline:
        # the default LightGBM sees the same columns without the engineered ones (duration dropped as well)
        raw_tr = train.drop(columns=[target, *dropped])
        raw_te = test.drop(columns=[target, *dropped])
        b_tr, lv = _as_categories(raw_tr, None)
        b_te, _ = _as_categories(raw_te, lv)
        b = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed).fit(b_tr, y_tr)
        pb = np.asarray(b.predict_proba(b_te))[:, 1]
        res.update(baseline_model="lgbm_default", baseline_auc=float(roc_auc_score(y_te, pb)))
    return res


def _as_categories(df: Any, levels: dict[str, list[str]] | None) -> tuple[Any, dict[str, list[str]]]:
    import pandas as pd

    d = df.copy()
    text = [c for c in d.columns if not pd.api.types.is_numeric_dtype(d[c])]
    lv = levels if levels is not None else {c: sorted(d[c].astype(str).unique().tolist()) for c in text}
    for c, cats in lv.items():
        v = d[c].astype(str)
        d[c] = pd.Categorical(v.where(v.isin(cats)), categories=cats)
    d.columns = [str(c).replace(".", "_") for c in d.columns]
    return d, lv

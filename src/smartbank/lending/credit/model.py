"""The credit model: a WoE scorecard blended with a conservative LightGBM, chosen by cross-validation.

* **Scorecard** (champion component, transparent): each feature is binned by optbinning's
  ``BinningProcess`` (optimal binning, monotone trend chosen automatically, missing values as their own
  bin); the weight of evidence of the bins feeds a logistic regression. Features whose coefficient comes
  out with the wrong sign (higher WoE = safer must lower the PD) are dropped and the regression refitted.
  Points follow PDO scaling (:data:`POINTS`): 600 points at good:bad odds of 50:1, 20 points to double the
  odds; each bin's points are ``-factor * (coef * woe + intercept / n) + offset / n``.
* **Gradient boosting** (challenger component): LightGBM with small trees, bagging, feature subsampling and
  L2 (:data:`LGBM_PARAMS`), learning rate 0.02; the number of trees is the mean early-stopping point over
  the folds, times 1.1.
* **Blend**: ``logit(pd) = a + b * (w * logit(p_lgbm) + (1 - w) * logit(p_scorecard))``. Stratified
  K-fold cross-validation inside the training data gives out-of-fold predictions of both components;
  ``w`` (0, 0.1, .., 1) maximises the out-of-fold AUC, and ``a, b`` (Platt scaling on the out-of-fold blend)
  keep the PD calibrated. No test data is involved in any choice.

The scorecard is stored as plain data (:class:`WoeScorecard`: splits or category groups, WoE and points per
bin) so that scoring one application is a few array look-ups, without optbinning at run time.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from smartbank.lending.credit.data import FrameSchema

__all__ = ["CreditModel", "LGBM_PARAMS", "POINTS", "WoeScorecard", "logit", "sigmoid"]

POINTS = {"base_points": 600.0, "base_odds": 50.0, "pdo": 20.0}  # 600 points at 50:1 good:bad, 20 to double
LGBM_PARAMS: dict[str, Any] = {
    "objective": "binary", "learning_rate": 0.02, "num_leaves": 15, "min_child_samples": 100,
    "bagging_fraction": 0.8, "bagging_freq": 1, "feature_fraction": 0.6, "lambda_l2": 5.0,
    "verbose": -1, "deterministic": True, "force_row_wise": True,
}
EPS = 1e-6


def logit(p: Any) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.asarray(np.log(q / (1 - q)))


def sigmoid(z: Any) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))))


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def points_scale() -> tuple[float, float]:
    """(factor, offset) of the PDO scaling: points = offset + factor * ln(good:bad odds)."""
    factor = POINTS["pdo"] / math.log(2)
    return factor, POINTS["base_points"] - factor * math.log(POINTS["base_odds"])


def points_of_pd(pd_: Any) -> np.ndarray:
    factor, offset = points_scale()
    p = np.clip(np.asarray(pd_, dtype=np.float64), EPS, 1 - EPS)
    return np.asarray(offset + factor * np.log((1 - p) / p))


# ---------------------------------------------------------------------------------------------- scorecard
@dataclass
class WoeScorecard:
    """Binned features, their WoE and points, and the logistic regression on the WoE."""

    variables: list[dict[str, Any]] = field(default_factory=list)  # one per feature kept
    intercept: float = 0.0
    dropped: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, X: pd.DataFrame, y: np.ndarray, *, schema: FrameSchema, min_iv: float = 0.005,
            C: float = 1.0) -> WoeScorecard:
        from optbinning import BinningProcess
        from sklearn.linear_model import LogisticRegression

        names = list(X.columns)
        cat = [c for c in names if c in schema.categories]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bp = BinningProcess(names, categorical_variables=cat, min_prebin_size=0.02, max_n_prebins=20)
            bp.fit(X, y)
        variables: list[dict[str, Any]] = []
        dropped: list[str] = []
        for c in names:
            ob = bp.get_binned_variable(c)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = ob.binning_table.build()
            iv = float(t.loc["Totals", "IV"]) if "IV" in t.columns else 0.0
            regular = t.iloc[:-3]  # bins, then Special, Missing, Totals
            miss = t.iloc[-2]
            woe = [float(v) for v in regular["WoE"]]
            if len(woe) < 2 and int(miss["Count"]) == 0 or iv < min_iv:
                dropped.append(c)
                continue
            v: dict[str, Any] = {
                "name": c, "kind": "categorical" if c in cat else "numeric", "iv": iv,
                "labels": [str(b) if not isinstance(b, list | np.ndarray) else "[" + ", ".join(map(str, b)) + "]"
                           for b in regular["Bin"]],
                "woe": woe, "counts": [int(n) for n in regular["Count"]],
                "event_rates": [float(r) for r in regular["Event rate"]],
                "missing_count": int(miss["Count"]), "missing_event_rate": float(miss["Event rate"]),
                # a missing-value bin seen in training keeps its WoE; never seen: neutral
                "missing_woe": float(miss["WoE"]) if int(miss["Count"]) > 0 else 0.0,
            }
            if c in cat:
                v["groups"] = [[str(x) for x in g] for g in ob.splits]
            else:
                v["splits"] = [float(s) for s in ob.splits]
            variables.append(v)
        sc = cls(variables=variables, dropped=dropped)
        W = sc.woe_matrix(X)
        lr = None
        keep = list(range(len(variables)))
        for _ in range(len(variables) + 1):
            if not keep:
                break
            lr = LogisticRegression(C=C, max_iter=2000).fit(W[:, keep], y)
            wrong = [keep[i] for i, b in enumerate(lr.coef_[0]) if b > 0]  # higher WoE (safer) must lower the PD
            if not wrong:
                break
            keep = [k for k in keep if k not in wrong]
        sc.dropped += [variables[i]["name"] for i in range(len(variables)) if i not in keep]
        sc.variables = [variables[i] for i in keep]
        if lr is None or not keep:
            rate = float(np.clip(np.mean(y), EPS, 1 - EPS))
            sc.intercept = math.log(rate / (1 - rate))
            sc.variables = []
        else:
            sc.intercept = float(lr.intercept_[0])
            for v, b in zip(sc.variables, lr.coef_[0], strict=True):
                v["coef"] = float(b)
        sc._points()
        return sc

    def _points(self) -> None:
        factor, offset = points_scale()
        n = max(len(self.variables), 1)
        for v in self.variables:
            def pts(w: float, b: float = v["coef"]) -> float:
                return -factor * (b * w + self.intercept / n) + offset / n
            v["points"] = [round(pts(w), 2) for w in v["woe"]]
            v["missing_points"] = round(pts(v["missing_woe"]), 2)
            v["unseen_points"] = round(pts(0.0), 2)
            v["best_points"] = max(v["points"] + ([v["missing_points"]] if v["missing_count"] else []))

    # --- scoring
    def bin_index(self, v: dict[str, Any], col: Any) -> np.ndarray:
        """Bin of each value: 0..k-1, -1 missing, -2 a category never seen in training."""
        if v["kind"] == "numeric":
            x = pd.to_numeric(pd.Series(col), errors="coerce").to_numpy(dtype=np.float64)
            idx = np.searchsorted(np.asarray(v["splits"], dtype=np.float64), x, side="right")
            return np.where(np.isnan(x), -1, idx)
        lookup = {c: i for i, g in enumerate(v["groups"]) for c in g}
        s = pd.Series(col, dtype=object)
        return np.array([-1 if (x is None or (isinstance(x, float) and math.isnan(x))) else lookup.get(str(x), -2)
                         for x in s.tolist()], dtype=np.int64)

    def _lookup(self, v: dict[str, Any], idx: np.ndarray, key: str) -> np.ndarray:
        table = np.asarray(v[key], dtype=np.float64)
        miss = v["missing_woe"] if key == "woe" else v["missing_points"]
        unseen = 0.0 if key == "woe" else v["unseen_points"]
        return np.where(idx >= 0, table[np.clip(idx, 0, len(table) - 1)], np.where(idx == -1, miss, unseen))

    def woe_matrix(self, X: pd.DataFrame) -> np.ndarray:
        if not self.variables:
            return np.zeros((len(X), 0))
        return np.column_stack([self._lookup(v, self.bin_index(v, X[v["name"]]), "woe") for v in self.variables])

    def predict_logit(self, X: pd.DataFrame) -> np.ndarray:
        W = self.woe_matrix(X)
        b = np.array([v["coef"] for v in self.variables], dtype=np.float64)
        return np.asarray(self.intercept + (W @ b if len(b) else 0.0))

    def points(self, X: pd.DataFrame) -> np.ndarray:
        if not self.variables:
            return np.full(len(X), points_scale()[1] - points_scale()[0] * self.intercept)
        return np.column_stack([self._lookup(v, self.bin_index(v, X[v["name"]]), "points")
                                for v in self.variables]).sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {"variables": self.variables, "intercept": self.intercept, "dropped": self.dropped,
                "scaling": dict(POINTS)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WoeScorecard:
        return cls(variables=list(d["variables"]), intercept=float(d["intercept"]), dropped=list(d.get("dropped", [])))


# ------------------------------------------------------------------------------------------------ the blend
def _lgb_train(X: pd.DataFrame, y: np.ndarray, *, rounds: int, seed: int, n_jobs: int, params: dict[str, Any],
               valid: tuple[pd.DataFrame, np.ndarray] | None = None) -> Any:
    import lightgbm as lgb

    p = {**LGBM_PARAMS, **params, "seed": seed, "num_threads": n_jobs}
    p["min_child_samples"] = int(max(5, min(p["min_child_samples"], len(y) // 10)))
    dtrain = lgb.Dataset(X, y.astype(np.float64), free_raw_data=True)
    valid_sets: list[Any] = []
    callbacks: list[Any] = []
    if valid is not None:
        p["metric"] = "auc"
        valid_sets = [lgb.Dataset(valid[0], valid[1].astype(np.float64), reference=dtrain)]
        callbacks = [lgb.early_stopping(150, first_metric_only=True, verbose=False)]
    return lgb.train(p, dtrain, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks)


class CreditModel:
    """Scorecard + LightGBM blend (see the module docstring). ``predict_pd(X)`` is the probability of default.

    ``fast`` trains fewer folds and trees (for a demo bank); everything else is the same code path.
    """

    def __init__(self, *, seed: int = 42, folds: int = 4, max_rounds: int = 3000, n_jobs: int = 1,
                 fast: bool = False, lgbm_params: dict[str, Any] | None = None) -> None:
        self.seed = seed
        self.folds = folds
        self.max_rounds = max_rounds
        self.n_jobs = n_jobs
        self.fast = fast
        self.lgbm_params = dict(lgbm_params or {})

    def fit(self, X: pd.DataFrame, y: Any) -> CreditModel:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        t0 = time.perf_counter()
        y = np.asarray(y, dtype=np.int8)
        if len(np.unique(y)) != 2:
            raise ValueError("the training target needs both good (0) and bad (1) rows")
        self.schema_ = FrameSchema.fit(X)
        Xs = self.schema_.apply(X)
        params = dict(self.lgbm_params)
        max_rounds = self.max_rounds
        folds = self.folds
        if self.fast:
            params.setdefault("learning_rate", 0.08)
            max_rounds, folds = min(max_rounds, 600), min(folds, 3)
        min_class = int(min(y.sum(), len(y) - y.sum()))
        folds = max(2, min(folds, min_class))
        oof_l = np.zeros(len(y))
        oof_s = np.zeros(len(y))
        best_its: list[int] = []
        fold_auc: list[dict[str, float]] = []
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
        for k, (tr, va) in enumerate(skf.split(np.zeros(len(y)), y)):
            Xtr, Xva = Xs.iloc[tr], Xs.iloc[va]
            b = _lgb_train(Xtr, y[tr], rounds=max_rounds, seed=self.seed + k, n_jobs=self.n_jobs, params=params,
                           valid=(Xva, y[va]))
            best = int(b.best_iteration or max_rounds)
            best_its.append(best)
            oof_l[va] = b.predict(Xva, num_iteration=best)
            sc = WoeScorecard.fit(Xtr, y[tr], schema=self.schema_)
            oof_s[va] = sigmoid(sc.predict_logit(Xva))
            fold_auc.append({"lgbm": _auc(y[va], oof_l[va]), "scorecard": _auc(y[va], oof_s[va])})
        grid = [round(w, 1) for w in np.linspace(0, 1, 11)]
        zl, zs = logit(oof_l), logit(oof_s)
        cv = {w: _auc(y, w * zl + (1 - w) * zs) for w in grid}
        w = max(grid, key=lambda g: (round(cv[g], 5), g))  # ties: more weight on the boosted trees' side
        platt = LogisticRegression(C=1e6, max_iter=1000).fit((w * zl + (1 - w) * zs).reshape(-1, 1), y)
        self.cv_ = {"folds": folds, "best_iterations": best_its, "fold_auc": fold_auc,
                    "oof_auc": {"lgbm": _auc(y, oof_l), "scorecard": _auc(y, oof_s), "blend": cv[w]},
                    "weight_auc": {str(g): round(a, 5) for g, a in cv.items()}}
        self.weight_ = float(w)
        self.calibration_ = (float(platt.intercept_[0]), float(platt.coef_[0][0]))
        self.rounds_ = max(10, int(round(float(np.mean(best_its)) * 1.1)))
        self.booster_ = _lgb_train(Xs, y, rounds=self.rounds_, seed=self.seed, n_jobs=self.n_jobs, params=params) \
            if self.weight_ > 0 else None
        self.scorecard_ = WoeScorecard.fit(Xs, y, schema=self.schema_)
        self.lgbm_effective_params_ = {**LGBM_PARAMS, **params}
        self.n_train_ = len(y)
        self.base_rate_ = float(np.mean(y))
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    # --- prediction
    def components(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        Xs = self.schema_.apply(X)
        zs = self.scorecard_.predict_logit(Xs)
        out = {"scorecard": sigmoid(zs), "scorecard_points": self.scorecard_.points(Xs)}
        if self.booster_ is not None:
            out["lgbm"] = np.asarray(self.booster_.predict(Xs), dtype=np.float64)
        z = self.weight_ * logit(out["lgbm"]) + (1 - self.weight_) * zs if self.booster_ is not None else zs
        a, b = self.calibration_
        out["pd"] = sigmoid(a + b * z)
        return out

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        return self.components(X)["pd"]

    def describe(self) -> str:
        if self.weight_ >= 1.0:
            kind = "LightGBM alone"
        elif self.weight_ <= 0.0:
            kind = "scorecard alone"
        else:
            kind = f"blend {self.weight_:.1f} LightGBM + {1 - self.weight_:.1f} scorecard"
        return (f"{kind} (chosen by {self.cv_['folds']}-fold CV on train; LightGBM {self.rounds_} trees, "
                f"scorecard {len(self.scorecard_.variables)} features)")

    def summary(self) -> dict[str, Any]:
        return {"weight_lgbm": self.weight_, "rounds": self.rounds_, "calibration": list(self.calibration_),
                "cv": self.cv_, "scorecard_features": [v["name"] for v in self.scorecard_.variables],
                "scorecard_dropped": self.scorecard_.dropped, "fast": self.fast, "seed": self.seed,
                "lgbm_params": self.lgbm_effective_params_, "fit_seconds": round(self.fit_seconds_, 2)}

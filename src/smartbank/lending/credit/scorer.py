"""The production credit model: trained on the Give Me Some Credit file, used for every loan decision.

``train_production`` fits :class:`~smartbank.lending.credit.model.CreditModel` (the same class and code path
``smartbank eval credit`` measures) on exactly :data:`FEATURES`, keeps a stratified 20% of the file aside to
measure it (AUC, KS, Gini, curves, calibration, points bands, the score distribution for PSI, the champion
against its challenger and a default LightGBM), and saves it through :mod:`smartbank.ml.registry` as
``credit``. The saved model is the one that was measured.

``load_scorer`` returns a :class:`Scorer` for the newest saved version (cached per version). Scoring one
application takes well under a millisecond or two: the scorecard is a few bisections, LightGBM one row.

* ``pd``: the champion, i.e. the blend chosen by cross-validation (calibrated probability of default);
* ``points``: PDO-scaled points of that PD (600 at 50:1 good:bad odds, 20 points double the odds);
* ``challenger_pd``: the scorecard alone (version ``<version>:scorecard``), run side by side;
* ``reasons``: at most 4, most adverse first, ranked by the scorecard points lost against each feature's
  best bin (:mod:`smartbank.lending.credit.reasons`);
* ``contributions``: the same for every feature (the whole explanation, kept with the decision for staff);
  what a customer is told is filtered by :mod:`smartbank.lending.adverse`.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from smartbank.config import get_settings
from smartbank.lending.credit.data import coerce_target, read_table
from smartbank.lending.credit.evaluate import default_lgbm, model_evaluation
from smartbank.lending.credit.model import CreditModel, WoeScorecard, points_of_pd
from smartbank.lending.credit.reasons import reasons_from_points
from smartbank.ml.service import default_model_dir, latest_version, load_model, save_model

__all__ = ["FEATURES", "MODEL_NAME", "TARGET", "CreditScore", "Scorer", "load_scorer", "synthetic_credit",
           "train_production"]

FEATURES: tuple[str, ...] = ("RevolvingUtilizationOfUnsecuredLines", "age", "NumberOfTime30-59DaysPastDueNotWorse",
                             "DebtRatio", "MonthlyIncome", "NumberOfOpenCreditLinesAndLoans", "NumberOfTimes90DaysLate",
                             "NumberRealEstateLoansOrLines", "NumberOfTime60-89DaysPastDueNotWorse",
                             "NumberOfDependents")
TARGET = "SeriousDlqin2yrs"
MODEL_NAME = "credit"
DATA_FILE = ("give_me_some_credit", "train.csv")
FAST_ROWS = 30_000


@dataclass(frozen=True)
class CreditScore:
    model_version: str
    pd: float                      # probability of default (the champion / project model)
    points: int | None             # scorecard points, higher = safer
    reasons: list[dict[str, Any]]  # adverse-action reasons, most adverse first, at most 4
    challenger_version: str | None
    challenger_pd: float | None
    # every feature's points lost against its best bin, most adverse first (age included): the full explanation
    # kept with the decision for staff and model-risk review; customers see only allow-listed reasons
    contributions: list[dict[str, Any]] = field(default_factory=list)


def _float(v: Any) -> float:
    if v is None:
        return math.nan
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


class Scorer:
    """One saved version of the credit model, ready to score single applications."""

    def __init__(self, version: str, *, scorecard: WoeScorecard, booster: Any, weight: float,
                 calibration: tuple[float, float], meta: dict[str, Any] | None = None) -> None:
        self.version = version
        self.scorecard = scorecard
        self.booster = booster
        self.weight = float(weight) if booster is not None else 0.0
        self.calibration = (float(calibration[0]), float(calibration[1]))
        self.meta = dict(meta or {})
        self.challenger_version = f"{version}:scorecard"
        self._vars = []
        for v in scorecard.variables:
            if v["kind"] != "numeric":  # production features are all numbers
                raise ValueError(f"the production scorecard has a categorical feature {v['name']!r}")
            self._vars.append((v["name"], list(v["splits"]), list(v["woe"]), list(v["points"]), v["missing_woe"],
                               v["missing_points"], v["best_points"], v["coef"]))

    def score(self, features: Mapping[str, float | None]) -> CreditScore:
        x = [_float(features.get(f)) for f in FEATURES]
        vals = dict(zip(FEATURES, x, strict=True))
        z_sc = self.scorecard.intercept
        lost: list[tuple[str, float, bool]] = []
        for name, splits, woe, pts, m_woe, m_pts, best, coef in self._vars:
            v = vals[name]
            if math.isnan(v):
                w, p, missing = m_woe, m_pts, True
            else:
                i = bisect.bisect_right(splits, v)
                w, p, missing = woe[i], pts[i], False
            z_sc += coef * w
            lost.append((name, best - p, missing))
        challenger = 1.0 / (1.0 + math.exp(-z_sc))
        z = z_sc
        if self.booster is not None and self.weight > 0:
            p_l = float(self.booster.predict(np.asarray([x], dtype=np.float64), num_threads=1)[0])
            p_l = min(max(p_l, 1e-6), 1 - 1e-6)
            z = self.weight * math.log(p_l / (1 - p_l)) + (1 - self.weight) * z_sc
        a, b = self.calibration
        pd_ = 1.0 / (1.0 + math.exp(-(a + b * z)))
        return CreditScore(model_version=self.version, pd=pd_, points=int(round(float(points_of_pd(pd_)))),
                           reasons=reasons_from_points(lost), challenger_version=self.challenger_version,
                           challenger_pd=challenger,
                           contributions=reasons_from_points(lost, limit=len(lost), min_points=float("-inf")))


# ----------------------------------------------------------------------------------------------- loading
_cache: dict[tuple[str, str], Scorer] = {}
_lock = threading.Lock()


def _model_dir(model_dir: Path | None) -> Path:
    return Path(model_dir) if model_dir is not None else default_model_dir()


def load_scorer(model_dir: Path | None = None) -> Scorer | None:
    """The newest trained production model (cached per version), or None when none was trained."""
    root = _model_dir(model_dir)
    version = latest_version(MODEL_NAME, model_dir=root)
    if version is None:
        return None
    key = (str(root.resolve()), version)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    with _lock:
        if key in _cache:
            return _cache[key]
        lm = load_model(MODEL_NAME, version=version, features=FEATURES, model_dir=root)
        m = lm.objects["model"]
        scorer = Scorer(version, scorecard=WoeScorecard.from_dict(lm.objects["scorecard"]),
                        booster=lm.objects.get("booster"), weight=m["weight_lgbm"],
                        calibration=(m["calibration"][0], m["calibration"][1]), meta=lm.meta)
        _cache[key] = scorer
        return scorer


# ---------------------------------------------------------------------------------------------- training
def synthetic_credit(n: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Give-Me-Some-Credit-like rows (FEATURES + target) whose default risk follows the usual drivers, with
    missing incomes and dependants; for tests and for a demo bank without the shared data set."""
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 85, n).astype(float)
    util = np.clip(rng.beta(0.7, 1.6, n) * 1.2, 0, None)
    income = np.round(rng.lognormal(8.5, 0.6, n))
    debt = np.clip(rng.gamma(1.5, 0.25, n), 0, 5)
    lines = rng.poisson(8, n).astype(float)
    re_loans = rng.poisson(1, n).astype(float)
    dependants = rng.poisson(0.8, n).astype(float)
    lam = 0.05 + 0.8 * util
    d30, d60, d90 = rng.poisson(lam * 0.8), rng.poisson(lam * 0.25), rng.poisson(lam * 0.25)
    z = (-3.6 + 1.6 * util + 0.55 * d30 + 0.9 * d60 + 1.1 * d90 - 0.025 * (age - 45) + 0.4 * debt
         - 0.25 * (np.log(income) - 8.5) + 0.05 * dependants - 0.02 * lines)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    income[rng.random(n) < 0.15] = np.nan
    dependants[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame({TARGET: y, "RevolvingUtilizationOfUnsecuredLines": util, "age": age,
                         "NumberOfTime30-59DaysPastDueNotWorse": d30.astype(float), "DebtRatio": debt,
                         "MonthlyIncome": income, "NumberOfOpenCreditLinesAndLoans": lines,
                         "NumberOfTimes90DaysLate": d90.astype(float), "NumberRealEstateLoansOrLines": re_loans,
                         "NumberOfTime60-89DaysPastDueNotWorse": d60.astype(float),
                         "NumberOfDependents": dependants})


def default_data_path() -> Path:
    return Path(get_settings().datasets_dir).joinpath(*DATA_FILE)


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def train_production(data: Path | None = None, *, model_dir: Path | None = None, fast: bool = False,
                     seed: int = 42) -> dict[str, Any]:
    """Fit, measure on a held-out 20% and save the production credit model; returns the metrics.

    ``data``: a Give-Me-Some-Credit style file (default: the shared data set). ``fast``: at most
    30,000 rows and the fast settings of :class:`CreditModel` (a demo bank's model in seconds).
    """
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    path = Path(data) if data is not None else default_data_path()
    df = read_table(path)
    missing = [c for c in (*FEATURES, TARGET) if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}")
    y_all = coerce_target(df[TARGET])
    keep = ~np.isnan(y_all)
    X_all = df.loc[keep, list(FEATURES)].apply(pd.to_numeric, errors="coerce").astype(float).reset_index(drop=True)
    y_all = y_all[keep].astype(np.int8)
    if fast and len(y_all) > FAST_ROWS:
        X_all, _, y_all, _ = train_test_split(X_all, y_all, train_size=FAST_ROWS, stratify=y_all, random_state=seed)
    X, Xh, y, yh = train_test_split(X_all, y_all, test_size=0.2, stratify=y_all, random_state=seed)
    t1 = time.perf_counter()
    model = CreditModel(seed=seed, fast=fast).fit(X, y)
    train_seconds = time.perf_counter() - t1
    comp = model.components(Xh)
    peer = None
    if not fast:
        peer = default_lgbm(model.schema_.apply(X), y).predict_proba(model.schema_.apply(Xh))[:, 1]
    evaluation = model_evaluation(yh, comp, peer=peer)
    summary = model.summary()
    metrics = {**{k: evaluation["champion"][k] for k in ("auc", "ks", "gini")},
               "challenger_auc": evaluation["challenger"]["auc"], "n_train": int(len(y)), "n_holdout": int(len(yh)),
               "bad_rate": float(np.mean(y_all)), "train_seconds": round(train_seconds, 2), "fast": fast}
    if peer is not None:
        metrics["lgbm_default_auc"] = evaluation["lgbm_default"]["auc"]
    objects: dict[str, Any] = {
        "model": {"weight_lgbm": model.weight_, "calibration": list(model.calibration_), "rounds": model.rounds_,
                  "schema": model.schema_.to_dict(), "summary": summary, "description": model.describe()},
        "scorecard": model.scorecard_.to_dict(),
        "evaluation": evaluation,
    }
    if model.booster_ is not None:
        objects["booster"] = model.booster_
    saved = save_model(MODEL_NAME, objects, features=FEATURES, data_hash=_file_hash(path), metrics=metrics,
                       seed=seed, model_dir=model_dir,
                       params={"fast": fast, "data": str(path), "weight_lgbm": model.weight_, "rounds": model.rounds_,
                               "challenger": "scorecard", "description": model.describe()})
    return {**metrics, "version": saved.version, "path": str(saved.path), "model": model.describe(),
            "total_seconds": round(time.perf_counter() - t0, 2)}

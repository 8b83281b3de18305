"""Credit model figures: AUC, KS, Gini, ROC/KS curves, calibration, score bands, PSI; ``eval credit``.

* KS: the largest gap between the cumulative share of bad and of good rows when rows are taken from the
  riskiest score down (ties taken together), as a fraction 0..1.
* Gini = 2 * AUC - 1.
* PSI = sum over bins of (a - e) * ln(a / e), bins = deciles of the expected (training) distribution, shares
  floored at 1e-4.

:func:`evaluate_credit` fits the project's model (:class:`~smartbank.lending.credit.model.CreditModel`, the
same class production training uses) on a training frame and measures it on a test frame, next to a default
``lightgbm.LGBMClassifier()`` trained on the same features.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from smartbank.lending.credit.data import split_xy
from smartbank.lending.credit.model import CreditModel, points_of_pd

__all__ = ["auc", "calibration_table", "evaluate_credit", "gini", "ks", "ks_curve", "psi", "roc_curve",
           "score_bands"]


def auc(y: Any, score: Any) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, np.asarray(score, dtype=np.float64)))


def gini(y: Any, score: Any) -> float:
    return 2 * auc(y, score) - 1


def ks_curve(y: Any, score: Any) -> dict[str, list[float]]:
    """Cumulative shares of bad and good rows, riskiest scores first, one point per distinct score."""
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # end of each group of equal scores
    bad = np.cumsum(y)[last] / max(y.sum(), 1)
    good = np.cumsum(1 - y)[last] / max((1 - y).sum(), 1)
    share = (last + 1) / len(s)
    return {"share": [0.0, *share.tolist()], "bad": [0.0, *bad.tolist()], "good": [0.0, *good.tolist()],
            "score": [float("inf"), *s[last].tolist()]}


def ks(y: Any, score: Any) -> float:
    c = ks_curve(y, score)
    return float(np.max(np.abs(np.asarray(c["bad"]) - np.asarray(c["good"]))))


def roc_curve(y: Any, score: Any, points: int = 200) -> dict[str, list[float]]:
    from sklearn.metrics import roc_curve as skl_roc

    fpr, tpr, _ = skl_roc(np.asarray(y), np.asarray(score, dtype=np.float64))
    if len(fpr) > points:
        idx = np.unique(np.linspace(0, len(fpr) - 1, points).astype(int))
        fpr, tpr = fpr[idx], tpr[idx]
    return {"fpr": fpr.round(5).tolist(), "tpr": tpr.round(5).tolist()}


def calibration_table(y: Any, pd_: Any, bins: int = 10) -> list[dict[str, float]]:
    """Deciles of the predicted PD: mean predicted vs observed bad rate."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(pd_, dtype=np.float64)
    order = np.argsort(p, kind="mergesort")
    out = []
    for part in np.array_split(order, bins):
        if len(part):
            out.append({"n": int(len(part)), "mean_pd": float(p[part].mean()), "observed": float(y[part].mean())})
    return out


def score_bands(y: Any, points: Any, width: int = 20) -> list[dict[str, Any]]:
    """Points bands (``width`` wide), lowest (riskiest) first: count, bads, bad rate, cumulative shares."""
    y = np.asarray(y, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    lo = np.floor(pts / width) * width
    lo = np.clip(lo, np.quantile(lo, 0.01), np.quantile(lo, 0.99))  # fold the thin tails into the end bands
    rows: list[dict[str, Any]] = []
    n, nbad = len(y), max(y.sum(), 1)
    cum_n = cum_bad = 0.0
    edges = np.unique(lo)
    for i, b in enumerate(edges):
        m = lo == b
        cnt, bad = int(m.sum()), float(y[m].sum())
        cum_n += cnt
        cum_bad += bad
        label = f"< {int(b + width)}" if i == 0 else (f">= {int(b)}" if i == len(edges) - 1
                                                        else f"{int(b)}-{int(b + width - 1)}")
        rows.append({"band": label, "from": float(b), "count": cnt, "bads": int(bad),
                     "bad_rate": bad / cnt if cnt else 0.0, "cum_share": cum_n / n, "cum_bad_share": cum_bad / nbad})
    return rows


def quantile_edges(expected: Any, bins: int = 10) -> list[float]:
    e = np.asarray(expected, dtype=np.float64)
    e = e[~np.isnan(e)]
    return np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)[1:-1])).tolist() if len(e) else []


def psi(expected: Any, actual: Any, *, edges: list[float] | None = None, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (see the module docstring)."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if len(a) == 0 or len(e) == 0:
        return float("nan")
    cuts = np.asarray(edges if edges is not None else quantile_edges(e, bins), dtype=np.float64)
    ee = np.bincount(np.searchsorted(cuts, e, side="right"), minlength=len(cuts) + 1) / len(e)
    aa = np.bincount(np.searchsorted(cuts, a, side="right"), minlength=len(cuts) + 1) / len(a)
    ee, aa = np.maximum(ee, 1e-4), np.maximum(aa, 1e-4)
    return float(np.sum((aa - ee) * np.log(aa / ee)))


def metrics(y: Any, score: Any, prefix: str = "") -> dict[str, float]:
    a = auc(y, score)
    return {f"{prefix}auc": a, f"{prefix}ks": ks(y, score), f"{prefix}gini": 2 * a - 1}


def default_lgbm(X: pd.DataFrame, y: np.ndarray, seed: int = 0) -> Any:
    """The same-run peer: ``lightgbm.LGBMClassifier()`` with default parameters (only quiet)."""
    import lightgbm as lgb

    return lgb.LGBMClassifier(verbose=-1, random_state=seed).fit(X, y)


def evaluate_credit(train: pd.DataFrame, test: pd.DataFrame, target: str, *, seed: int = 42, peer: bool = True,
                    fast: bool = False) -> dict[str, Any]:
    """Fit the project's credit model on ``train``, measure it (and the default LightGBM) on ``test``."""
    X, y, notes = split_xy(train, target)
    Xt, yt, _ = split_xy(test, notes["target"])
    t0 = time.perf_counter()
    model = CreditModel(seed=seed, fast=fast).fit(X, y)
    train_seconds = time.perf_counter() - t0
    comp = model.components(Xt)
    out: dict[str, Any] = metrics(yt, comp["pd"])
    out["train_seconds"] = round(train_seconds, 2)
    if peer:
        Xp, Xtp = model.schema_.apply(X), model.schema_.apply(Xt)
        t1 = time.perf_counter()
        m = default_lgbm(Xp, y)
        out["lgbm_default_seconds"] = round(time.perf_counter() - t1, 2)
        out.update(metrics(yt, m.predict_proba(Xtp)[:, 1], prefix="lgbm_default_"))
    out.update(metrics(yt, comp["scorecard"], prefix="scorecard_"))
    if "lgbm" in comp:
        out.update(metrics(yt, comp["lgbm"], prefix="lgbm_tuned_"))
    out.update({"n_train": int(len(y)), "n_test": int(len(yt)), "bad_rate_train": float(y.mean()),
                "bad_rate_test": float(yt.mean()), "model": model.describe(), "weight_lgbm": model.weight_,
                "rounds": model.rounds_, "cv_auc": model.cv_["oof_auc"], "features": len(model.schema_.columns),
                "categorical": sorted(model.schema_.categories), "dropped_ids": notes["dropped_ids"],
                "target": notes["target"]})
    return out


def band_shares(values: Any, edges: list[float]) -> list[float]:
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return []
    return (np.bincount(np.searchsorted(np.asarray(edges), v, side="right"), minlength=len(edges) + 1)
            / len(v)).tolist()


def psi_shares(expected_shares: list[float], edges: list[float], actual: Any) -> float:
    """PSI of ``actual`` against a stored distribution (shares of the bins cut at ``edges``)."""
    a = np.asarray(band_shares(actual, edges), dtype=np.float64)
    if len(a) == 0:
        return float("nan")
    e = np.maximum(np.asarray(expected_shares, dtype=np.float64), 1e-4)
    a = np.maximum(a, 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def model_evaluation(y: Any, comp: dict[str, np.ndarray], *, peer: Any = None) -> dict[str, Any]:
    """Everything the model report shows, measured on held-out rows: the champion's metrics and curves,
    calibration, points bands, the score distribution (for PSI later), and the comparison table."""
    y = np.asarray(y)
    pd_ = comp["pd"]
    pts = points_of_pd(pd_)
    compare: dict[str, Any] = {
        "champion": metrics(y, pd_),
        "challenger": metrics(y, comp["scorecard"]),
    }
    if "lgbm" in comp:
        compare["lgbm_part"] = metrics(y, comp["lgbm"])
    if peer is not None:
        compare["lgbm_default"] = metrics(y, peer)
    for k, s in (("champion", pd_), ("challenger", comp["scorecard"])):
        compare[k]["brier"] = float(np.mean((np.asarray(s) - y) ** 2))
        compare[k]["mean_pd"] = float(np.mean(s))
    pd_edges = quantile_edges(pd_, 10)
    pt_edges = quantile_edges(pts, 10)
    return {
        **compare,
        "n": int(len(y)), "bad_rate": float(np.mean(y)),
        "roc": roc_curve(y, pd_), "roc_challenger": roc_curve(y, comp["scorecard"]),
        "ks_curve": _thin(ks_curve(y, pd_)),
        "calibration": calibration_table(y, pd_), "calibration_challenger": calibration_table(y, comp["scorecard"]),
        "bands": score_bands(y, pts),
        "distribution": {"pd_edges": pd_edges, "pd_shares": band_shares(pd_, pd_edges),
                         "points_edges": pt_edges, "points_shares": band_shares(pts, pt_edges),
                         "points_histogram": np.histogram(pts, bins=40)[0].tolist(),
                         "points_histogram_edges": np.histogram(pts, bins=40)[1].round(2).tolist()},
    }


def _thin(c: dict[str, list[float]], points: int = 200) -> dict[str, list[float]]:
    n = len(c["share"])
    if n <= points:
        return {k: v for k, v in c.items() if k != "score"}
    idx = np.unique(np.linspace(0, n - 1, points).astype(int))
    return {k: [round(v[i], 5) for i in idx] for k, v in c.items() if k != "score"}

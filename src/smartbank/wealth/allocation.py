"""Long-only portfolio allocation on a history of asset returns (skfolio optimisers).

:func:`allocate` turns daily returns (a DataFrame, one column per asset or product) into weights that are
long only, sum to 1 and lie in ``[min_weight, max_weight]`` per asset. Methods:

* ``max_diversification`` (default) - maximise the diversification ratio ``w'sigma / sqrt(w' Sigma w)``
  (Choueifaty & Coignard 2008; skfolio ``MaximumDiversification``) with a Ledoit-Wolf shrunk covariance;
  chosen by walk-forward validation, see ``docs/PORTFOLIO_EVAL.md``;
* ``min_variance`` - minimum variance (skfolio ``MeanRisk``, Ledoit-Wolf covariance);
* ``risk_parity`` - equal risk contributions to variance (skfolio ``RiskBudgeting``, Ledoit-Wolf);
* ``hrp`` - hierarchical risk parity (Lopez de Prado 2016; skfolio ``HierarchicalRiskParity``, Ledoit-Wolf);
* ``inverse_volatility`` - weights proportional to 1 / volatility (skfolio ``InverseVolatility``), then bounded;
* ``equal_weight`` - 1/N.

If an optimiser fails (a degenerate window), skfolio falls back to equal weight. The result is checked:
finite, non-negative, sums to 1 and respects the bounds (within 1e-6) after a final clean-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_MAX_WEIGHT", "DEFAULT_METHOD", "METHODS", "allocate", "feasible_max_weight",
           "prices_to_returns"]

DEFAULT_METHOD = "max_diversification"
DEFAULT_MAX_WEIGHT = 0.15
METHODS = ("max_diversification", "min_variance", "risk_parity", "hrp", "inverse_volatility", "equal_weight")
_TOL = 1e-6


def prices_to_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple daily returns ``p_t / p_{t-1} - 1`` per column; the first row and any row with a missing or
    non-positive price (for any asset) around it are dropped."""
    p = prices.astype(float).where(prices.astype(float) > 0)
    r = p / p.shift(1) - 1.0
    return r.iloc[1:].dropna(how="any")


def feasible_max_weight(n_assets: int, max_weight: float = DEFAULT_MAX_WEIGHT) -> float:
    """``max_weight`` if n_assets * max_weight >= 1, else relaxed to min(1, 2 / n_assets) (so a few-asset
    universe is not forced into exactly 1/N)."""
    if n_assets <= 0:
        raise ValueError("no assets")
    if n_assets * max_weight >= 1.0 - 1e-12:
        return float(max_weight)
    return float(min(1.0, 2.0 / n_assets))


def _estimator(method: str, n: int, min_weight: float, max_weight: float) -> Any:
    from skfolio.moments import LedoitWolf
    from skfolio.optimization import (
        EqualWeighted,
        HierarchicalRiskParity,
        InverseVolatility,
        MaximumDiversification,
        MeanRisk,
        RiskBudgeting,
    )
    from skfolio.prior import EmpiricalPrior

    def prior() -> Any:
        return EmpiricalPrior(covariance_estimator=LedoitWolf())

    bounds: dict[str, Any] = {"min_weights": min_weight, "max_weights": max_weight}
    if method == "max_diversification":
        return MaximumDiversification(prior_estimator=prior(), fallback=EqualWeighted(), **bounds)
    if method == "min_variance":
        return MeanRisk(prior_estimator=prior(), fallback=EqualWeighted(), **bounds)
    if method == "risk_parity":
        return RiskBudgeting(prior_estimator=prior(), fallback=EqualWeighted(), **bounds)
    if method == "hrp":
        return HierarchicalRiskParity(prior_estimator=prior(), fallback=EqualWeighted(), **bounds)
    if method == "inverse_volatility":
        return InverseVolatility()
    if method == "equal_weight":
        return EqualWeighted()
    raise ValueError(f"unknown method {method!r}; one of {', '.join(METHODS)}")


def _project_bounds(w: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The closest (in the water-filling sense) vector with entries in [lo, hi] summing to 1: ``clip(w + c)``
    with the shift c found by bisection."""
    a, b = lo - float(w.max()) - 1.0, hi - float(w.min()) + 1.0
    for _ in range(200):
        c = (a + b) / 2
        if np.clip(w + c, lo, hi).sum() > 1.0:
            b = c
        else:
            a = c
    return np.asarray(np.clip(w + (a + b) / 2, lo, hi))


def allocate(returns: pd.DataFrame, method: str = DEFAULT_METHOD, max_weight: float = DEFAULT_MAX_WEIGHT,
             min_weight: float = 0.0) -> dict[str, float]:
    """Weights per column of ``returns`` (daily simple returns, rows in time order): long only, summing to 1,
    each in ``[min_weight, max_weight]``. Raises ``ValueError`` for an unknown method or infeasible bounds
    (``n * min_weight > 1`` or ``n * max_weight < 1``)."""
    cols = [str(c) for c in returns.columns]
    n = len(cols)
    if n == 0:
        raise ValueError("no assets")
    if not (0.0 <= min_weight <= max_weight <= 1.0):
        raise ValueError("need 0 <= min_weight <= max_weight <= 1")
    if n * min_weight > 1.0 + 1e-12 or n * max_weight < 1.0 - 1e-12:
        raise ValueError(f"infeasible bounds for {n} assets: min_weight {min_weight}, max_weight {max_weight}")
    x = returns.astype(float)
    if n == 1:
        return {cols[0]: 1.0}
    if method == "equal_weight" or len(x) < 2:
        w = np.full(n, 1.0 / n)
    else:
        import warnings

        est = _estimator(method, n, min_weight, max_weight)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(x)
        w = np.asarray(est.weights_, dtype=float)
        if not np.all(np.isfinite(w)):
            w = np.full(n, 1.0 / n)
    w = np.clip(w, 0.0, None)
    w = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    if w.min() < min_weight - _TOL or w.max() > max_weight + _TOL:
        w = _project_bounds(w, min_weight, max_weight)
    w = w / w.sum()
    return {c: float(v) for c, v in zip(cols, w, strict=True)}

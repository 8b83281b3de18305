"""Out-of-sample evaluation of the default allocation against equal weight (1/N).

Prices (wide: a date column, one column per asset) become simple daily returns; the returns are split in time
order: the first ``1 - test_size`` for fitting, the rest for testing. Both the method and 1/N are evaluated on
exactly the same test days.

* **Rolling refit, only past data.** The method is refitted every ``rebalance_days`` (21 trading days, about a
  month) on the previous ``lookback_days`` (504, about two years) of returns - for the first test dates that
  window lies in the fitting part - and the weights are held until the next refit. Nothing after a refit date
  is seen by that refit.
* **Portfolio return** on day t = sum_i w_i r_{i,t} with the weights in force (weights held constant between
  refits, i.e. rebalanced to target daily - skfolio's convention, the same for 1/N); no transaction costs.
* **Metrics** on the daily portfolio returns r_1..r_T (risk-free rate 0, 252 trading days a year):
  ``annual_return = 252 * mean(r)``, ``annual_volatility = sqrt(252) * std(r, ddof=1)``,
  ``sharpe = annual_return / annual_volatility``, ``max_drawdown = max_t (1 - W_t / max_{s<=t} W_s)`` with wealth
  ``W_0 = 1``, ``W_t = prod_{s<=t} (1 + r_s)`` (a positive fraction; 0 if wealth never falls).
* **Validation inside the fitting part.** The same walk-forward (refits every ``rebalance_days`` on the previous
  ``lookback_days``) is also run over the fitting part alone; its Sharpe for the method and for 1/N is reported
  (``validation_sharpe``, ``equal_weight_validation_sharpe``). This is how the default method was chosen
  (docs/PORTFOLIO_EVAL.md); the test part is never used to choose anything.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from smartbank.wealth.allocation import (
    DEFAULT_MAX_WEIGHT,
    DEFAULT_METHOD,
    allocate,
    feasible_max_weight,
    prices_to_returns,
)

__all__ = ["LOOKBACK_DAYS", "REBALANCE_DAYS", "TRADING_DAYS", "evaluate_portfolio", "load_prices",
           "portfolio_metrics", "walk_forward"]

TRADING_DAYS = 252
LOOKBACK_DAYS = 504
REBALANCE_DAYS = 21


def load_prices(path: str | Path) -> pd.DataFrame:
    """Wide price file (CSV, optionally gzip, or Parquet): the first column (or one named date/Date) is the
    date, every other column an asset's price. Sorted by date."""
    p = Path(path)
    df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    date_col = next((c for c in df.columns if str(c).lower() == "date"), df.columns[0])
    df[date_col] = pd.to_datetime(df[date_col])
    out = df.set_index(date_col).sort_index()
    out.index.name = "date"
    return out.apply(pd.to_numeric, errors="coerce")


def portfolio_metrics(daily_returns: Any, prefix: str = "") -> dict[str, float]:
    """``sharpe``, ``annual_return``, ``annual_volatility``, ``max_drawdown`` of daily simple returns (see the
    module docstring)."""
    r = np.asarray(daily_returns, dtype=float)
    if len(r) == 0:
        nan = float("nan")
        return {f"{prefix}sharpe": nan, f"{prefix}annual_return": nan, f"{prefix}annual_volatility": nan,
                f"{prefix}max_drawdown": nan}
    ann_ret = float(r.mean() * TRADING_DAYS)
    ann_vol = float(r.std(ddof=1) * np.sqrt(TRADING_DAYS)) if len(r) > 1 else float("nan")
    sharpe = ann_ret / ann_vol if ann_vol and np.isfinite(ann_vol) and ann_vol > 0 else float("nan")
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    mdd = float(np.max(1.0 - wealth / np.maximum.accumulate(wealth)))
    return {f"{prefix}sharpe": sharpe, f"{prefix}annual_return": ann_ret, f"{prefix}annual_volatility": ann_vol,
            f"{prefix}max_drawdown": mdd}


def walk_forward(returns: pd.DataFrame, start: int, stop: int | None = None, *, method: str = DEFAULT_METHOD,
                 lookback_days: int = LOOKBACK_DAYS, rebalance_days: int = REBALANCE_DAYS,
                 max_weight: float = DEFAULT_MAX_WEIGHT, min_weight: float = 0.0,
                 ) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Daily portfolio returns over rows ``[start, stop)`` of ``returns``: at rows start, start + rebalance_days,
    ... the weights are refitted on rows ``[max(0, t - lookback_days), t)`` and held until the next refit.
    Returns (daily returns, the list of weights used)."""
    stop = len(returns) if stop is None else stop
    x = returns.to_numpy(dtype=float)
    out: list[np.ndarray] = []
    used: list[dict[str, float]] = []
    for t in range(start, stop, rebalance_days):
        hist = returns.iloc[max(0, t - lookback_days):t]
        w = allocate(hist, method=method, max_weight=max_weight, min_weight=min_weight)
        used.append(w)
        out.append(x[t:min(t + rebalance_days, stop)] @ np.array([w[str(c)] for c in returns.columns]))
    return (np.concatenate(out) if out else np.empty(0)), used


def evaluate_portfolio(prices: pd.DataFrame, *, test_size: float = 0.33, method: str = DEFAULT_METHOD,
                       max_weight: float = DEFAULT_MAX_WEIGHT, min_weight: float = 0.0,
                       lookback_days: int = LOOKBACK_DAYS, rebalance_days: int = REBALANCE_DAYS,
                       validate: bool = True) -> dict[str, Any]:
    """See the module docstring. ``max_weight`` is relaxed by :func:`feasible_max_weight` for small universes."""
    if not 0.0 < test_size < 1.0:
        raise ValueError("test_size must be in (0, 1)")
    returns = prices_to_returns(prices)
    n, n_assets = len(returns), returns.shape[1]
    n_test = int(round(n * test_size))
    n_fit = n - n_test
    if n_fit < 2 or n_test < 2:
        raise ValueError(f"{n} daily returns are too few to split with test_size {test_size}")
    mw = feasible_max_weight(n_assets, max_weight)
    t0 = time.perf_counter()
    port, weights = walk_forward(returns, n_fit, method=method, lookback_days=lookback_days,
                                 rebalance_days=rebalance_days, max_weight=mw, min_weight=min_weight)
    seconds = time.perf_counter() - t0
    test = returns.iloc[n_fit:]
    ew = test.to_numpy(dtype=float).mean(axis=1)
    idx = returns.index
    res: dict[str, Any] = {
        **portfolio_metrics(port), **portfolio_metrics(ew, "equal_weight_"),
        "method": method, "n_assets": int(n_assets), "max_weight": mw, "min_weight": float(min_weight),
        "lookback_days": lookback_days, "rebalance_days": rebalance_days, "n_rebalances": len(weights),
        "train_start": str(idx[0].date()), "train_end": str(idx[n_fit - 1].date()),
        "test_start": str(idx[n_fit].date()), "test_end": str(idx[-1].date()),
        "n_train_days": int(n_fit), "n_test_days": int(n_test),
        "last_weights": {a: round(v, 6) for a, v in weights[-1].items()} if weights else {},
        "test_seconds": seconds,
    }
    if validate:
        # walk-forward inside the fitting part: first refit once a full lookback is available (or at half the
        # fitting part when it is shorter)
        start = min(lookback_days, n_fit // 2)
        vport, _ = walk_forward(returns.iloc[:n_fit], start, method=method, lookback_days=lookback_days,
                                rebalance_days=rebalance_days, max_weight=mw, min_weight=min_weight)
        vew = returns.iloc[start:n_fit].to_numpy(dtype=float).mean(axis=1)
        res["validation_sharpe"] = portfolio_metrics(vport)["sharpe"]
        res["equal_weight_validation_sharpe"] = portfolio_metrics(vew)["sharpe"]
        res["validation_start"] = str(idx[start].date())
    return res

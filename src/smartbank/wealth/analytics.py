"""Performance figures from a NAV (or portfolio value) series - pure functions, no database.

A series is a list of values at consecutive NAV days (weekdays). With ``n`` daily simple returns
``r_t = V_t / V_{t-1} - 1`` (``t = 1..n``) and ``P = 252`` periods a year:

- total return ``V_n / V_0 - 1``;
- annualised return (geometric) ``(V_n / V_0) ** (P / n) - 1``;
- annualised volatility ``stdev(r, ddof=1) * sqrt(P)`` (None with fewer than two returns);
- maximum drawdown ``max_t (1 - V_t / max_{s<=t} V_s)``, a positive fraction (0.25 = fell 25% from a peak);
- Sharpe ratio ``(annualised return - rf) / annualised volatility`` with ``rf`` the annual risk-free rate
  (the bank's one-year deposit rate by default, see :func:`smartbank.wealth.products.risk_free_rate`);
  None when the volatility is 0 or unknown.

Floats are fine here: these are statistics shown to people, never money.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

PERIODS = 252

__all__ = ["PERIODS", "annualised_return", "annualised_volatility", "daily_returns", "max_drawdown",
           "period_return", "sharpe", "summary", "total_return"]


def daily_returns(values: Sequence[float]) -> list[float]:
    return [values[i] / values[i - 1] - 1 for i in range(1, len(values)) if values[i - 1] > 0]


def total_return(values: Sequence[float]) -> float | None:
    if len(values) < 2 or values[0] <= 0:
        return None
    return values[-1] / values[0] - 1


def annualised_return(values: Sequence[float], periods: int = PERIODS) -> float | None:
    n = len(values) - 1
    if n < 1 or values[0] <= 0 or values[-1] < 0:
        return None
    return float((values[-1] / values[0]) ** (periods / n) - 1)


def annualised_volatility(values: Sequence[float], periods: int = PERIODS) -> float | None:
    r = daily_returns(values)
    if len(r) < 2:
        return None
    mean = sum(r) / len(r)
    var = sum((x - mean) ** 2 for x in r) / (len(r) - 1)
    return math.sqrt(var) * math.sqrt(periods)


def max_drawdown(values: Sequence[float]) -> float | None:
    if not values:
        return None
    peak, worst = values[0], 0.0
    for v in values:
        peak = max(peak, v)
        if peak > 0:
            worst = max(worst, 1 - v / peak)
    return worst


def sharpe(values: Sequence[float], risk_free: float, periods: int = PERIODS) -> float | None:
    ret, vol = annualised_return(values, periods), annualised_volatility(values, periods)
    if ret is None or not vol:
        return None
    return (ret - risk_free) / vol


def period_return(series: Sequence[tuple[date, int]], days: int | None) -> float | None:
    """Return over the last ``days`` calendar days (None: since the first value): the last value against the
    latest value on or before the start day (None when the series does not reach back that far)."""
    if len(series) < 2:
        return None
    last_day, last = series[-1]
    if days is None:
        base = series[0][1]
    else:
        start = last_day - timedelta(days=days)
        older = [v for d, v in series if d <= start]
        if not older:
            return None
        base = older[-1]
    return last / base - 1 if base > 0 else None


def summary(values: Sequence[float], risk_free: float, periods: int = PERIODS) -> dict[str, Any]:
    return {"total_return": total_return(values), "annualised_return": annualised_return(values, periods),
            "annualised_volatility": annualised_volatility(values, periods), "max_drawdown": max_drawdown(values),
            "sharpe": sharpe(values, risk_free, periods), "observations": max(0, len(values) - 1),
            "risk_free": risk_free}

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from smartbank.wealth.allocation import prices_to_returns
from smartbank.wealth.evaluate import portfolio_metrics, walk_forward


def test_metrics_on_a_hand_made_series() -> None:
    # alternating +2 % / 0 %: mean 1 %, sample std sqrt(n/(n-1)) * 1 %
    r = np.array([0.02, 0.0] * 50)
    m = portfolio_metrics(r)
    sd = 0.01 * math.sqrt(100 / 99)
    assert m["annual_return"] == pytest.approx(0.01 * 252)
    assert m["annual_volatility"] == pytest.approx(sd * math.sqrt(252))
    assert m["sharpe"] == pytest.approx(0.01 / sd * math.sqrt(252))
    assert m["max_drawdown"] == 0.0


def test_max_drawdown_from_prices() -> None:
    # 100 -> 120 -> 90 -> 110 -> 130 -> 104: worst fall 120 -> 90 = 25 % (130 -> 104 is 20 %)
    p = pd.DataFrame({"x": [100.0, 120, 90, 110, 130, 104]},
                     index=pd.date_range("2020-01-01", periods=6))
    r = prices_to_returns(p)["x"].to_numpy()
    assert portfolio_metrics(r)["max_drawdown"] == pytest.approx(0.25)
    # a fall from the start counts against the starting wealth of 1
    assert portfolio_metrics(np.array([-0.1, 0.05]))["max_drawdown"] == pytest.approx(0.1)


def test_prices_to_returns_drops_bad_rows() -> None:
    p = pd.DataFrame({"a": [1.0, 1.1, np.nan, 1.21], "b": [2.0, 2.0, 2.0, 2.2]},
                     index=pd.date_range("2020-01-01", periods=4))
    r = prices_to_returns(p)
    assert list(r.index) == [p.index[1]]
    assert r.iloc[0].tolist() == pytest.approx([0.1, 0.0])


def test_walk_forward_uses_only_past_data() -> None:
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2020-01-01", periods=120)
    ret = pd.DataFrame(rng.normal(0.0005, 0.01, size=(120, 3)), index=idx, columns=["a", "b", "c"])
    base, _ = walk_forward(ret, 60, lookback_days=40, rebalance_days=10, method="min_variance", max_weight=1.0)
    poisoned = ret.copy()
    poisoned.iloc[70:, 0] = 0.5  # the future changes; returns before row 70 must not
    changed, _ = walk_forward(poisoned, 60, lookback_days=40, rebalance_days=10, method="min_variance",
                              max_weight=1.0)
    assert np.allclose(base[:10], changed[:10])
    assert len(base) == 60

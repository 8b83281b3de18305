"""Performance figures against numbers computed by hand."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from smartbank.wealth import analytics as a


def test_returns_and_total():
    v = [100, 110, 99, 121]
    assert a.daily_returns(v) == pytest.approx([0.10, -0.10, 121 / 99 - 1])
    assert a.total_return(v) == pytest.approx(0.21)


def test_annualised_return_is_geometric_over_252_days():
    # 3 returns ending 21% up: (1.21) ** (252 / 3) - 1
    assert a.annualised_return([100, 110, 99, 121]) == pytest.approx(1.21 ** 84 - 1)
    # 252 daily steps doubling the value: exactly 100% a year
    v = [2 ** (i / 252) for i in range(253)]
    assert a.annualised_return(v) == pytest.approx(1.0)
    assert a.annualised_return([1.0]) is None


def test_volatility_by_hand():
    # returns +10%, -10%: mean 0, sample variance (0.01 + 0.01) / 1 = 0.02
    v = [100, 110, 99]
    assert a.annualised_volatility(v) == pytest.approx(math.sqrt(0.02) * math.sqrt(252))
    assert a.annualised_volatility([100, 110]) is None
    assert a.annualised_volatility([1, 1, 1, 1]) == 0


def test_max_drawdown_by_hand():
    assert a.max_drawdown([100, 120, 90, 130, 65, 140]) == pytest.approx(0.5)  # 130 -> 65
    assert a.max_drawdown([100, 80, 120, 108]) == pytest.approx(0.2)
    assert a.max_drawdown([1, 2, 3]) == 0


def test_sharpe_by_hand():
    v = [100, 110, 99]
    ret, vol = (0.99) ** 126 - 1, math.sqrt(0.02) * math.sqrt(252)
    assert a.sharpe(v, 0.0095) == pytest.approx((ret - 0.0095) / vol)
    assert a.sharpe([1, 1, 1], 0.01) is None  # no volatility


def test_period_return():
    d0 = date(2026, 1, 1)
    s = [(d0 + timedelta(days=i), 100 + i) for i in range(0, 40)]
    assert a.period_return(s, 30) == pytest.approx(139 / 109 - 1)
    assert a.period_return(s, None) == pytest.approx(0.39)
    assert a.period_return(s, 365) is None


def test_summary_keys():
    out = a.summary([100, 101, 102], 0.01)
    assert set(out) >= {"total_return", "annualised_return", "annualised_volatility", "max_drawdown", "sharpe"}
    assert out["observations"] == 2

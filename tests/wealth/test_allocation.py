from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smartbank.wealth.allocation import METHODS, allocate, feasible_max_weight


def returns(n_assets: int = 8, days: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.008, size=(days, 1))
    vol = np.linspace(0.005, 0.03, n_assets)
    x = 0.0004 + common + rng.normal(size=(days, n_assets)) * vol
    return pd.DataFrame(x, index=pd.bdate_range("2020-01-01", periods=days),
                        columns=[f"P{i}" for i in range(n_assets)])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("lo", "hi"), [(0.0, 0.2), (0.05, 0.3), (0.0, 1.0)])
def test_weights_sum_to_one_and_respect_bounds(method: str, lo: float, hi: float) -> None:
    w = allocate(returns(), method=method, max_weight=hi, min_weight=lo)
    v = np.array(list(w.values()))
    assert list(w) == [f"P{i}" for i in range(8)]
    assert v.sum() == pytest.approx(1.0, abs=1e-9)
    assert v.min() >= lo - 1e-6 and v.max() <= hi + 1e-6


def test_default_method_favours_the_diversifier() -> None:
    # A and B move together, C on its own, all with the same volatility: maximum diversification puts about
    # half in C and splits the other half between A and B
    rng = np.random.default_rng(4)
    base = rng.normal(0, 0.01, size=400)
    x = pd.DataFrame({"A": base + rng.normal(0, 0.001, 400), "B": base + rng.normal(0, 0.001, 400),
                      "C": rng.normal(0, 0.01, 400)})
    w = allocate(x, max_weight=1.0)
    assert w["C"] == pytest.approx(0.5, abs=0.05)
    assert w["C"] > w["A"] and w["C"] > w["B"]


def test_infeasible_bounds_and_unknown_method() -> None:
    with pytest.raises(ValueError):
        allocate(returns(n_assets=4), max_weight=0.2)
    with pytest.raises(ValueError):
        allocate(returns(n_assets=4), min_weight=0.3)
    with pytest.raises(ValueError):
        allocate(returns(), method="astrology")


def test_feasible_max_weight() -> None:
    assert feasible_max_weight(20, 0.15) == 0.15
    assert feasible_max_weight(4, 0.15) == 0.5
    assert feasible_max_weight(1, 0.15) == 1.0

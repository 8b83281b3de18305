from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from smartbank.cli import app

KEYS = ("sharpe", "annual_return", "annual_volatility", "max_drawdown")


def test_cli_prints_the_json_contract(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    days = 700
    r = 0.0003 + rng.normal(0, 0.01, size=(days, 6))
    prices = 100 * np.cumprod(1 + r, axis=0)
    df = pd.DataFrame(prices, columns=[f"A{i}" for i in range(6)])
    df.insert(0, "Date", pd.bdate_range("2018-01-01", periods=days).strftime("%Y-%m-%d"))
    f = tmp_path / "prices.csv"
    df.to_csv(f, index=False)
    res_ = CliRunner().invoke(app, ["eval", "portfolio", "--prices", str(f), "--test-size", "0.33"])
    assert res_.exit_code == 0, res_.output
    res = json.loads(res_.stdout.strip().splitlines()[-1])
    for k in KEYS:
        assert isinstance(res[k], float) and isinstance(res["equal_weight_" + k], float)
    assert res["max_drawdown"] >= 0 and res["equal_weight_max_drawdown"] >= 0
    assert res["n_assets"] == 6 and res["method"] == "max_diversification"
    assert res["train_end"] < res["test_start"] <= res["test_end"]
    assert res["train_start"] == "2018-01-02"
    assert res["n_test_days"] == round(699 * 0.33)

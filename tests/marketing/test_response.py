"""The campaign response model's features: the call's duration never reaches the model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smartbank.marketing.response import response_features


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(20, 70, n), "job": rng.choice(["admin.", "services"], n),
        "month": rng.choice(["may", "jun", "nov"], n), "day_of_week": rng.choice(["mon", "fri"], n),
        "duration": rng.integers(0, 900, n), "pdays": rng.choice([999, 3, 6], n), "previous": rng.integers(0, 3, n),
        "euribor3m": rng.normal(3, 1, n), "emp.var.rate": rng.normal(0, 1, n),
    })


def test_duration_is_dropped_and_pdays_999_is_never_contacted():
    df = _frame()
    x, levels = response_features(df)
    assert "duration" not in x.columns
    assert (x["never_contacted"] == (df["pdays"] == 999).astype(int)).all()
    assert x.loc[df["pdays"] == 999, "pdays"].isna().all()
    assert levels == {"job": ["admin.", "services"], "month": ["jun", "may", "nov"], "day_of_week": ["fri", "mon"]}
    # the test frame takes the training levels; an unseen level becomes missing, not a new category
    other = _frame(5)
    other.loc[0, "job"] = "student"
    y, _ = response_features(other, levels)
    assert list(y["job"].cat.categories) == ["admin.", "services"] and pd.isna(y.loc[0, "job"])
    assert list(y.columns) == list(x.columns)

"""Reading files, coercing the target, dropping identifiers; KS, Gini and PSI on hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from smartbank.lending.credit.data import TargetError, coerce_target, id_columns, read_table, split_xy
from smartbank.lending.credit.evaluate import band_shares, gini, ks, psi, psi_shares, quantile_edges, score_bands


@pytest.mark.parametrize(("values", "expected"), [
    ([0, 1, 1, 0], [0, 1, 1, 0]),
    ([1, 2, 2, 1], [0, 1, 1, 0]),  # UCI German: 2 = bad
    ([1.0, 2.0, None, 1.0], [0, 1, math.nan, 0]),
    (["good", "bad", "BAD ", "Good"], [0, 1, 1, 0]),
    (["yes", "no", "Y", "n"], [1, 0, 1, 0]),
    (["true", "false", "True", None], [1, 0, 1, math.nan]),
    (["default", "non-default", "default", "paid"], [1, 0, 1, 0]),
    (["1", "0", "1", ""], [1, 0, 1, math.nan]),
    (["2", "1", "1", "2"], [1, 0, 0, 1]),
    ([True, False, True, False], [1, 0, 1, 0]),
    ([0, 0, 0, 0], [0, 0, 0, 0]),
])
def test_target_coercion(values, expected):
    got = coerce_target(pd.Series(values))
    assert np.allclose(got, np.asarray(expected, dtype=float), equal_nan=True)


@pytest.mark.parametrize("values", [[0, 1, 2, 3], ["cat", "dog", "cat", "dog"], [5, 5, 5], ["maybe", "good"]])
def test_target_refuses_to_guess(values):
    with pytest.raises(TargetError):
        coerce_target(pd.Series(values))


@pytest.mark.parametrize(("columns", "dropped"), [
    ({"": range(20), "x": [1.0] * 20}, [""]),
    ({"Unnamed: 0": np.arange(20)[::-1], "x": [1.0] * 20}, ["Unnamed: 0"]),
    ({"ID": np.random.default_rng(0).permutation(20), "x": [1.0] * 20}, ["ID"]),
    ({"id": ["a"] * 20, "x": [1.0] * 20}, ["id"]),
    ({"x": [1.0] * 20, "row": np.arange(100, 120)}, ["row"]),           # integer, unique, monotone
    ({"x": [1.0] * 20, "age": np.random.default_rng(1).permutation(20)}, []),  # unique but not monotone
    ({"x": [1.0] * 20, "n": [1, 2] * 10}, []),                           # not unique
    ({"x": [1.0] * 20, "f": np.arange(20) + 0.5}, []),                   # not integer
])
def test_id_columns(columns, dropped):
    assert id_columns(pd.DataFrame(columns)) == dropped


def test_read_table_layouts(tmp_path):
    (tmp_path / "a.csv").write_text(",y,x,s\n1,1,0.5,a\n2,0,,b\n3,1,0.7,a\n")
    df = read_table(tmp_path / "a.csv")
    X, y, notes = split_xy(df, "y")
    assert list(X.columns) == ["x", "s"] and y.tolist() == [1, 0, 1] and notes["dropped_ids"] == ["Unnamed: 0"]
    (tmp_path / "b.data").write_text("A11 6 A34 2\nA12 48 A32 1\nA14 12 A34 1\n")  # german.data: no header
    df = read_table(tmp_path / "b.data")
    assert list(df.columns) == ["col1", "col2", "col3", "col4"] and df.shape == (3, 4)
    X, y, notes = split_xy(df, "col4")
    assert y.tolist() == [1, 0, 0] and notes["target"] == "col4"
    assert split_xy(df, "last")[2]["target"] == "col4" and split_xy(df, "4")[2]["target"] == "col4"
    (tmp_path / "c.tsv").write_text("ID\tv\tBad\n1\t2.5\tyes\n2\t3.5\tno\n")
    X, y, _ = split_xy(read_table(tmp_path / "c.tsv", sep="\\t"), "bad")
    assert list(X.columns) == ["v"] and y.tolist() == [1, 0]
    pd.DataFrame({"t": [0, 1], "v": [1.0, 2.0]}).to_parquet(tmp_path / "d.parquet")
    assert read_table(tmp_path / "d.parquet").shape == (2, 2)


def test_ks_and_gini_by_hand():
    # scores, riskiest first: 0.9(bad) 0.8(bad) 0.7(good) 0.6(bad) 0.5(good) 0.4(good)
    y = [1, 1, 0, 1, 0, 0]
    s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    # cumulative bad: 1/3 2/3 2/3 1 1 1 ; good: 0 0 1/3 1/3 2/3 1 -> KS = 2/3
    assert ks(y, s) == pytest.approx(2 / 3)
    # pairs (bad, good) ranked right: 3 + 3 + 2 of 9 -> AUC 8/9, Gini 7/9
    assert gini(y, s) == pytest.approx(7 / 9)
    # ties are taken together: one tied (bad, good) pair at the top gives no gap
    assert ks([1, 0], [0.5, 0.5]) == 0.0
    assert ks([1, 0], [0.9, 0.1]) == 1.0


def test_psi_and_bands():
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    assert psi(a, rng.normal(size=5000)) < 0.02
    assert psi(a, rng.normal(1.0, 1.0, size=5000)) > 0.25
    edges = quantile_edges(a)
    assert psi_shares(band_shares(a, edges), edges, a) == pytest.approx(0.0)
    assert math.isnan(psi_shares(band_shares(a, edges), edges, []))
    bands = score_bands(np.r_[np.ones(10), np.zeros(90)], np.r_[np.full(10, 480.0), np.full(90, 620.0)])
    assert [b["count"] for b in bands] == [10, 90] and bands[0]["bad_rate"] == 1.0
    assert bands[-1]["cum_share"] == pytest.approx(1.0) and bands[-1]["cum_bad_share"] == pytest.approx(1.0)

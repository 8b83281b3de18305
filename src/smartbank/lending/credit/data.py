"""Tabular credit data: read a file, coerce the target, drop identifiers, type the features.

Rules (documented in docs/LENDING_MODELS.md):

* **Files**: ``.parquet``; anything else is delimited text. Without ``sep`` the delimiter is guessed from
  the first line (comma, tab, semicolon, else runs of whitespace). A first line with a purely numeric field
  is data, not a header: the columns are then named ``col1`` .. ``colN`` (UCI ``german.data``).
* **Target** (1 = default / bad): booleans; numbers with two distinct values, the larger being bad
  (0/1, and 1/2 where 2 = bad as in the UCI German credit file); strings such as bad/good, yes/no,
  true/false, default/non-default, 1/0, y/n (case and spaces ignored). Rows without a target are dropped.
  Anything else is refused rather than guessed.
* **Identifiers** are dropped: an unnamed leading column (a saved pandas index), a column named ``id``
  (any case), and an integer column unique per row and monotone.
* String columns are categorical; missing values stay missing (both models handle them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BAD_WORDS",
    "FrameSchema",
    "GOOD_WORDS",
    "TargetError",
    "coerce_target",
    "id_columns",
    "read_table",
    "resolve_target",
    "split_xy",
]

BAD_WORDS = frozenset({"1", "1.0", "bad", "b", "yes", "y", "true", "t", "default", "defaulted", "delinquent",
                       "charged off", "charged_off", "chargedoff", "fraud", "positive", "pos"})
GOOD_WORDS = frozenset({"0", "0.0", "good", "g", "no", "n", "false", "f", "non-default", "non default",
                        "nondefault", "no default", "not default", "paid", "fully paid", "current", "negative",
                        "neg"})


class TargetError(ValueError):
    """The target column cannot be read as 1 = bad / 0 = good without guessing."""


def _num(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _sniff(first: str) -> tuple[str, bool]:
    """(separator, whitespace) guessed from the first line."""
    for sep in (",", "\t", ";", "|"):
        if sep in first:
            return sep, False
    return r"\s+", True


def read_table(path: Path | str, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV/whitespace text file (optionally gzip) or a Parquet file into pandas."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if sep is not None:
        sep = {"\\t": "\t", "tab": "\t", "space": r"\s+", "whitespace": r"\s+"}.get(sep, sep)
    import gzip

    opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        first = f.readline().rstrip("\r\n")
    guessed, ws = _sniff(first)
    sep = sep or guessed
    toks = re.split(sep, first.strip()) if sep == r"\s+" else first.split(sep)
    toks = [t.strip().strip('"').strip("'") for t in toks]
    headerless = any(t and _num(t) for t in toks)
    kw: dict[str, Any] = {"sep": sep, "low_memory": False}
    if sep == r"\s+" or ws:
        kw["engine"] = "python" if sep not in (r"\s+",) else "c"
    if headerless:
        kw["header"] = None
    df = pd.read_csv(path, **kw)
    if headerless:
        df.columns = [f"col{i + 1}" for i in range(df.shape[1])]
    return df


def resolve_target(df: pd.DataFrame, target: str) -> str:
    """The column named ``target``; else (case-insensitive) a unique match; ``last``; a 1-based number."""
    if target in df.columns:
        return target
    low = [c for c in df.columns if str(c).strip().lower() == target.strip().lower()]
    if len(low) == 1:
        return str(low[0])
    if target.strip().lower() == "last":
        return str(df.columns[-1])
    if target.strip().isdigit() and 1 <= int(target) <= df.shape[1]:
        return str(df.columns[int(target) - 1])
    raise TargetError(f"no column {target!r}; columns: {', '.join(map(str, df.columns[:40]))}")


def coerce_target(values: Any) -> np.ndarray:
    """1 = bad, 0 = good, NaN = unknown (see the module docstring)."""
    s = pd.Series(values)
    if s.dtype == bool:
        return s.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = s.astype(float)
        distinct = np.unique(v.dropna().to_numpy())
        if len(distinct) > 2:
            raise TargetError(f"the target has {len(distinct)} distinct numbers; expected two (e.g. 0/1 or 1/2)")
        if len(distinct) == 0:
            raise TargetError("the target has no values")
        if len(distinct) == 1:
            d = distinct[0]
            if d not in (0.0, 1.0):
                raise TargetError(f"the target has one value {d!r}: cannot tell bad from good")
            return v.to_numpy()
        return np.where(v.isna(), np.nan, (v == distinct[1]).astype(float))
    txt = s.astype("string").str.strip().str.lower()
    out = np.full(len(s), np.nan)
    known = txt.notna() & (txt != "")
    bad = txt.isin(list(BAD_WORDS)).fillna(False).to_numpy(dtype=bool)
    good = txt.isin(list(GOOD_WORDS)).fillna(False).to_numpy(dtype=bool)
    unknown = known.fillna(False).to_numpy(dtype=bool) & ~bad & ~good
    if unknown.any():
        numeric = pd.to_numeric(txt[known], errors="coerce")
        if numeric.notna().all():
            return coerce_target(pd.to_numeric(txt, errors="coerce"))
        odd = sorted(set(txt[unknown].tolist()))[:6]
        raise TargetError(f"cannot read target values {odd} as bad/good (use 1/0, bad/good, yes/no, true/false)")
    out[bad] = 1.0
    out[good] = 0.0
    return out


def id_columns(df: pd.DataFrame) -> list[str]:
    """Identifier columns: an unnamed leading column, one named ``id``, an integer column unique per row
    and monotone."""
    out: list[str] = []
    n = len(df)
    for i, c in enumerate(df.columns):
        name = str(c).strip()
        if i == 0 and (name == "" or name.lower().startswith("unnamed")):
            out.append(c)
            continue
        if name.lower() == "id":
            out.append(c)
            continue
        col = df[c]
        if n >= 10 and pd.api.types.is_integer_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype) \
                and col.notna().all() and col.is_unique \
                and (col.is_monotonic_increasing or col.is_monotonic_decreasing):
            out.append(c)
    return out


@dataclass
class FrameSchema:
    """The feature columns learned on the training frame: numeric ones as float, the others as categories
    whose levels are those seen in training (a new level at scoring time is missing)."""

    columns: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, X: pd.DataFrame) -> FrameSchema:
        cats: dict[str, list[str]] = {}
        for c in X.columns:
            col = X[c]
            if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
                continue
            num = pd.to_numeric(col, errors="coerce")
            if num.notna().sum() == col.notna().sum():  # numbers stored as text
                continue
            levels = sorted({str(v) for v in col.dropna().tolist()})
            cats[str(c)] = levels
        return cls(columns=[str(c) for c in X.columns], categories=cats)

    def apply(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise ValueError(f"missing feature columns: {missing[:10]}")
        out: dict[str, Any] = {}
        for c in self.columns:
            col = X[c]
            if c in self.categories:
                out[c] = pd.Categorical(col.astype("string").astype(object).where(col.notna(), None),
                                        categories=self.categories[c])
            else:
                out[c] = pd.to_numeric(col, errors="coerce").astype(float)
        return pd.DataFrame(out, index=X.index)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "categories": self.categories}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameSchema:
        return cls(columns=list(d["columns"]), categories={k: list(v) for k, v in d.get("categories", {}).items()})


def split_xy(df: pd.DataFrame, target: str) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Features (identifiers and the target removed, rows without a target dropped), target 0/1, notes."""
    col = resolve_target(df, target)
    y = coerce_target(df[col])
    keep = ~np.isnan(y)
    X = df.drop(columns=[col])
    ids = id_columns(X)
    X = X.drop(columns=ids)
    X = X.loc[keep].reset_index(drop=True)
    notes = {"target": col, "dropped_ids": [str(c) for c in ids], "dropped_rows": int((~keep).sum())}
    return X, y[keep].astype(np.int8), notes

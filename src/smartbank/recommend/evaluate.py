"""Top-k evaluation of the recommender against same-run baselines (implicit's default ALS, popularity).

Data: rows ``user item rating timestamp`` (tab-separated, no header: MovieLens ``u.data``). Every train row is
an interaction (the rating value is ignored: the train matrix is binarised, 1.0 where the user rated the item);
every test row is a relevant item for its user.

Protocol, for each test user with at least one test item:

* the model, fitted on the whole train matrix, ranks every train item; the items the user has in train are
  excluded; the first ``k`` are the recommendations;
* a user absent from train (cold) gets the popularity list (items by number of train users);
* test items never seen in train cannot be recommended but still count in ``|test items|``.

Metrics (per user, then averaged over the evaluated users; ``rel_i`` = 1 if the item at rank i is a test item):

* ``precision@k = hits / k`` (hits = test items among the k recommendations; a short list still divides by k);
* ``recall@k = hits / |test items|``;
* ``nDCG@k = DCG / IDCG`` with ``DCG = sum_{i=1..k} rel_i / log2(i + 1)`` and ``IDCG`` the same sum for a
  perfect list, ``sum_{i=1..min(k, |test items|)} 1 / log2(i + 1)``;
* ``MAP@k``: ``AP@k = sum_{i=1..k} rel_i * precision@i / min(k, |test items|)``, averaged over users;
* ``coverage`` (over all users together) = distinct recommended items / distinct items in train.

Model choice (:func:`select_model`): the candidates of :data:`CANDIDATES` are fitted on a validation split made
inside train only (each train user's rows split at random 80/20, seed fixed; users with fewer than 2 train rows
stay whole in the fitting part) and the one with the best nDCG@k on that split is refitted on all of train.
The test file is read only to score.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from smartbank.recommend.algorithms import EASE, ImplicitALS, Popularity, RP3beta, top_n

__all__ = ["CANDIDATES", "METRICS", "Dataset", "average_precision_at_k", "evaluate_ranking", "evaluate_recommend",
           "load_ratings", "make_dataset", "ndcg_at_k", "precision_at_k", "recall_at_k", "select_model",
           "validation_split"]

METRICS = ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "coverage")


def precision_at_k(recommended: list[int] | np.ndarray, relevant: set[int], k: int) -> float:
    """hits among the first k recommended / k."""
    hits = sum(1 for i in list(recommended)[:k] if i in relevant)
    return hits / k


def recall_at_k(recommended: list[int] | np.ndarray, relevant: set[int], k: int) -> float:
    """hits among the first k recommended / |relevant| (0 when nothing is relevant)."""
    if not relevant:
        return 0.0
    hits = sum(1 for i in list(recommended)[:k] if i in relevant)
    return hits / len(relevant)


def ndcg_at_k(recommended: list[int] | np.ndarray, relevant: set[int], k: int) -> float:
    """Binary-relevance nDCG@k: sum rel_i / log2(i + 1) over ranks i = 1..k, divided by the ideal
    sum_{i=1..min(k, |relevant|)} 1 / log2(i + 1)."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / np.log2(r + 2) for r, i in enumerate(list(recommended)[:k]) if i in relevant)
    idcg = sum(1.0 / np.log2(r + 2) for r in range(min(k, len(relevant))))
    return float(dcg / idcg)


def average_precision_at_k(recommended: list[int] | np.ndarray, relevant: set[int], k: int) -> float:
    """AP@k = sum over ranks i <= k holding a relevant item of (hits in the first i) / i, divided by
    min(k, |relevant|)."""
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for r, i in enumerate(list(recommended)[:k]):
        if i in relevant:
            hits += 1
            total += hits / (r + 1)
    return total / min(k, len(relevant))


def load_ratings(path: str | Path) -> pd.DataFrame:
    """``user item rating timestamp`` rows, tab (or any whitespace) separated, no header."""
    df = pd.read_csv(path, sep=r"\s+", header=None, names=["user", "item", "rating", "timestamp"],
                     usecols=[0, 1, 2, 3], dtype={"user": str, "item": str}, engine="python")
    return df


class Dataset:
    """Train matrix (binarised, users x items indexed 0..) with the raw-id maps, and the test items per user
    as train item indices (-1 for items unknown to train, kept so they count in |test items|)."""

    def __init__(self, train: pd.DataFrame, test: pd.DataFrame) -> None:
        self.users = pd.Index(pd.unique(train["user"]))
        self.items = pd.Index(pd.unique(train["item"]))
        u = self.users.get_indexer(train["user"])
        i = self.items.get_indexer(train["item"])
        x = sp.csr_matrix((np.ones(len(u), dtype=np.float32), (u, i)), shape=(len(self.users), len(self.items)))
        x.sum_duplicates()
        x.data[:] = 1.0
        self.train = x
        self.test_users: list[str] = []
        self.test_items: list[set[int]] = []
        self.test_sizes: list[int] = []
        for user, g in test.groupby("user", sort=True):
            raw = pd.unique(g["item"])
            idx = self.items.get_indexer(raw)
            known = {int(j) for j in idx if j >= 0}
            self.test_users.append(str(user))
            self.test_items.append(known)
            self.test_sizes.append(len(raw))


def make_dataset(train: pd.DataFrame, test: pd.DataFrame) -> Dataset:
    return Dataset(train, test)


def evaluate_ranking(model: Any, data: Dataset, k: int, *, fallback: Any = None) -> dict[str, float]:
    """Metrics (see the module docstring) of ``model`` (fitted on ``data.train``) over ``data``'s test users;
    cold users get ``fallback`` (fitted on the same train; default: popularity)."""
    if fallback is None:
        fallback = Popularity().fit(data.train)
    x = data.train
    rows = data.users.get_indexer(pd.Index(data.test_users))
    warm = np.flatnonzero(rows >= 0)
    recs: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(rows)
    batch = 512
    for s in range(0, len(warm), batch):
        pos = warm[s:s + batch]
        users = rows[pos]
        sc = model.scores(users)
        for r, p, u in zip(sc, pos, users, strict=True):
            recs[p] = top_n(r, k, x.indices[x.indptr[u]:x.indptr[u + 1]])
    cold = np.flatnonzero(rows < 0)
    if len(cold):
        pop = top_n(fallback.scores(np.array([0]))[0], k)
        for p in cold:
            recs[p] = pop
    out = {m: 0.0 for m in METRICS}
    seen: set[int] = set()
    n = len(rows)
    for rec, known, size in zip(recs, data.test_items, data.test_sizes, strict=True):
        # relevant set with placeholders for unknown test items so |relevant| = size
        relevant: set[int] = set(known) | {-(j + 1) for j in range(size - len(known))}
        out["precision_at_k"] += precision_at_k(rec, relevant, k)
        out["recall_at_k"] += recall_at_k(rec, relevant, k)
        out["ndcg_at_k"] += ndcg_at_k(rec, relevant, k)
        out["map_at_k"] += average_precision_at_k(rec, relevant, k)
        seen.update(int(i) for i in rec)
    if n:
        for m in ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"):
            out[m] /= n
    out["coverage"] = len(seen) / max(1, x.shape[1])
    return out


def validation_split(train: pd.DataFrame, *, fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame,
                                                                                             pd.DataFrame]:
    """Each user's rows split at random: ``fraction`` to validation (rounded down), the rest to fitting.
    Users with fewer than 2 rows stay whole in the fitting part."""
    rng = np.random.default_rng(seed)
    r = rng.random(len(train))
    rank = pd.Series(r, index=train.index).groupby(train["user"].to_numpy()).rank(method="first")
    size = train.groupby("user")["user"].transform("size")
    is_val = rank <= np.floor(size * fraction)
    return train[~is_val], train[is_val]


EASE_MAX_ITEMS = 15_000  # EASE inverts an items x items matrix; above this only RP3beta is tried


def _candidates() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [(f"ease(l2={lam:g})", lambda lam=lam: EASE(l2=lam))
                                  for lam in (100.0, 200.0, 300.0, 400.0, 600.0, 800.0)]
    out += [(f"rp3beta(alpha={a:g},beta={b:g},top_k=200)", lambda a=a, b=b: RP3beta(alpha=a, beta=b, top_k=200))
            for a, b in ((1.0, 0.3), (1.0, 0.5), (0.8, 0.4))]
    return out


CANDIDATES = _candidates()


def select_model(train: pd.DataFrame, k: int, *, seed: int = 0,
                 candidates: list[tuple[str, Any]] | None = None) -> tuple[str, Any, dict[str, float]]:
    """Fit each candidate on the fitting part of :func:`validation_split` (train only), score nDCG@k on its
    validation part; returns (name, factory, validation nDCG@k of each candidate) of the best."""
    fit_part, val_part = validation_split(train, seed=seed)
    data = Dataset(fit_part, val_part)
    fallback = Popularity().fit(data.train)
    results: dict[str, float] = {}
    best: tuple[float, str, Any] | None = None
    for name, factory in candidates or CANDIDATES:
        if name.startswith("ease") and data.train.shape[1] > EASE_MAX_ITEMS:
            continue
        m = factory().fit(data.train)
        v = evaluate_ranking(m, data, k, fallback=fallback)["ndcg_at_k"]
        results[name] = v
        if best is None or v > best[0]:
            best = (v, name, factory)
    assert best is not None
    return best[1], best[2], results


def evaluate_recommend(train: pd.DataFrame, test: pd.DataFrame, *, k: int = 10, seed: int = 0,
                       baselines: bool = True, candidates: list[tuple[str, Any]] | None = None,
                       ) -> dict[str, Any]:
    """Choose the model on a split of ``train`` (:func:`select_model`), refit on all of ``train``, score
    ``test``; also the same-run baselines: implicit's ALS with its default settings (``als_default_*``) fitted
    on the binarised train matrix (1.0 per (user, item) rated, no other weighting; ``random_state=seed``) and
    popularity (``popularity_*``)."""
    t0 = time.perf_counter()
    chosen, factory, val = select_model(train, k, seed=seed, candidates=candidates)
    select_seconds = time.perf_counter() - t0
    data = Dataset(train, test)
    pop = Popularity().fit(data.train)
    t0 = time.perf_counter()
    model = factory().fit(data.train)
    train_seconds = time.perf_counter() - t0
    res: dict[str, Any] = {**evaluate_ranking(model, data, k, fallback=pop)}
    if baselines:
        t0 = time.perf_counter()
        als = ImplicitALS(random_state=seed).fit(data.train)
        als_seconds = time.perf_counter() - t0
        for key, v in evaluate_ranking(als, data, k, fallback=pop).items():
            res[f"als_default_{key}"] = v
        res["als_default_train_seconds"] = als_seconds
        for key, v in evaluate_ranking(pop, data, k, fallback=pop).items():
            res[f"popularity_{key}"] = v
    cold = int((data.users.get_indexer(pd.Index(data.test_users)) < 0).sum())
    res.update({
        "k": k, "n_test_users": len(data.test_users), "n_cold_test_users": cold,
        "n_train_users": data.train.shape[0], "n_train_items": data.train.shape[1],
        "n_train_rows": int(len(train)), "n_test_rows": int(len(test)),
        "method": chosen, "validation_ndcg_at_k": val,
        "train_seconds": train_seconds, "select_seconds": select_seconds,
    })
    return res

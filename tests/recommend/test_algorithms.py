from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from smartbank.recommend.algorithms import (
    EASE,
    Blend,
    ImplicitALS,
    ImplicitItemKNN,
    Popularity,
    RP3beta,
    binarise,
    top_n,
)
from smartbank.recommend.evaluate import Dataset, evaluate_ranking, evaluate_recommend, validation_split


def structured(n_users: int = 300, n_groups: int = 5, items_per_group: int = 20, per_user: int = 12,
               seed: int = 0) -> pd.DataFrame:
    """Users belong to a taste group and mostly pick items of their group (90 %)."""
    rng = np.random.default_rng(seed)
    n_items = n_groups * items_per_group
    rows = []
    for u in range(n_users):
        g = u % n_groups
        own = g * items_per_group + rng.choice(items_per_group, size=per_user, replace=False)
        noise = rng.choice(n_items, size=2, replace=False)
        for i in set(own[: per_user - 2]) | set(noise):
            rows.append((str(u), str(int(i)), 4, 0))
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def test_top_n_excludes_and_orders() -> None:
    s = np.array([0.1, 0.9, 0.5, 0.9, 0.3])
    assert list(top_n(s, 3)) == [1, 3, 2]  # tie by lower index
    assert list(top_n(s, 3, np.array([1]))) == [3, 2, 4]
    assert list(top_n(s, 10, np.array([0, 1, 2]))) == [3, 4]


def test_binarise() -> None:
    x = binarise(sp.csr_matrix(np.array([[5.0, 0, 2], [0, 0, 1]])))
    assert x.toarray().tolist() == [[1, 0, 1], [0, 0, 1]]


@pytest.mark.parametrize("model", [EASE(l2=10.0), RP3beta(), Popularity(), ImplicitALS(factors=8, iterations=5),
                                   ImplicitItemKNN("bm25", K=10), Blend([(EASE(10.0), 1.0), (RP3beta(), 0.5)])])
def test_recommend_never_returns_what_the_user_has(model: object) -> None:
    df = structured(n_users=60)
    data = Dataset(df, df.head(0))
    m = model.fit(data.train)  # type: ignore[attr-defined]
    x = data.train
    for u in range(0, 60, 7):
        rec = m.recommend(u, n=10)
        have = set(x.indices[x.indptr[u]:x.indptr[u + 1]].tolist())
        assert len(rec) == 10 and len(set(rec)) == 10 and not have & set(rec)
        extra = rec[:3]
        assert not set(extra) & set(m.recommend(u, n=10, exclude=extra))


def test_ease_diagonal_is_zero() -> None:
    df = structured(n_users=40)
    m = EASE(l2=5.0).fit(Dataset(df, df.head(0)).train)
    assert np.allclose(np.diag(m.B), 0.0)


def test_models_beat_random_on_structured_data() -> None:
    df = structured()
    fit, val = validation_split(df, seed=3)
    data = Dataset(fit, val)
    rng = np.random.default_rng(0)

    class Random:
        def scores(self, users: np.ndarray) -> np.ndarray:
            return rng.random((len(users), data.train.shape[1]))

    rand = evaluate_ranking(Random(), data, k=10)["precision_at_k"]
    for model in (EASE(l2=20.0), RP3beta()):
        p = evaluate_ranking(model.fit(data.train), data, k=10)["precision_at_k"]
        assert p > 3 * rand, (type(model).__name__, p, rand)


def test_evaluate_recommend_reports_baselines() -> None:
    df = structured(n_users=120)
    fit, val = validation_split(df, seed=5)
    res = evaluate_recommend(fit, val, k=5)
    for key in ("precision_at_k", "als_default_ndcg_at_k", "popularity_map_at_k", "coverage", "train_seconds"):
        assert key in res
    assert res["k"] == 5 and res["n_test_users"] == val["user"].nunique()
    assert res["method"] in res["validation_ndcg_at_k"]
    assert res["precision_at_k"] > res["popularity_precision_at_k"]

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from smartbank.recommend.evaluate import (
    Dataset,
    average_precision_at_k,
    evaluate_ranking,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    validation_split,
)


def test_precision_and_recall_by_hand() -> None:
    rec, rel = [5, 1, 7, 3], {1, 3, 9}
    assert precision_at_k(rec, rel, 4) == pytest.approx(2 / 4)
    assert recall_at_k(rec, rel, 4) == pytest.approx(2 / 3)
    assert precision_at_k(rec, rel, 2) == pytest.approx(1 / 2)
    assert recall_at_k(rec, rel, 2) == pytest.approx(1 / 3)
    # a short list still divides by k
    assert precision_at_k([1], rel, 10) == pytest.approx(0.1)
    assert recall_at_k([], rel, 10) == 0.0


def test_ndcg_by_hand() -> None:
    # hits at ranks 2 and 4, three relevant, k = 4: ideal has 3 hits at ranks 1..3
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k([5, 1, 7, 3], {1, 3, 9}, 4) == pytest.approx(dcg / idcg)
    # ideal DCG over min(k, |relevant|): one relevant item at rank 1 is perfect
    assert ndcg_at_k([2, 8, 9], {2}, 3) == pytest.approx(1.0)
    # more relevant items than k: a list of k hits is perfect
    assert ndcg_at_k([1, 2], {1, 2, 3, 4}, 2) == pytest.approx(1.0)
    assert ndcg_at_k([7, 8], {1}, 2) == 0.0


def test_map_by_hand() -> None:
    # hits at ranks 2 and 4: precisions 1/2 and 2/4, divided by min(4, 3) = 3
    assert average_precision_at_k([5, 1, 7, 3], {1, 3, 9}, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    # divided by min(k, |relevant|) = 2 when there are more relevant items than k
    assert average_precision_at_k([1, 0], {1, 2, 3}, 2) == pytest.approx(1 / 2)
    assert average_precision_at_k([1, 2], {1, 2, 3}, 2) == pytest.approx(1.0)


class _Fixed:
    """A model that scores item j as -j (so it recommends items 0, 1, 2, ... in order)."""

    def __init__(self, n_items: int) -> None:
        self.n = n_items

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.tile(-np.arange(self.n, dtype=float), (len(users), 1))


def _frame(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"user": [u for u, _ in rows], "item": [i for _, i in rows], "rating": 5, "timestamp": 0})


def test_evaluation_excludes_train_items_and_handles_cold_and_unknown() -> None:
    train = _frame([("a", "i0"), ("a", "i1"), ("b", "i2"), ("c", "i0"), ("c", "i2")])
    # a has i0, i1 in train, so the fixed model recommends i2 then nothing else (3 train items): k = 2
    # b: has i2, gets i0, i1; test i1 and an item unknown to train
    # d: cold, gets popularity (i0 and i2 have 2 users, i1 one): i0, i2; test i2
    test = _frame([("a", "i2"), ("b", "i1"), ("b", "zz"), ("d", "i2")])
    data = Dataset(train, test)
    assert data.test_users == ["a", "b", "d"]
    res = evaluate_ranking(_Fixed(3), data, k=2)
    # a: [i2] -> P 1/2, R 1, nDCG 1, AP 1 ; b: [i0, i1] -> P 1/2, R 1/2, AP (1/2)/2, nDCG (1/log2 3)/(1 + 1/log2 3)
    # d: [i0, i2] -> P 1/2, R 1, AP (1/2)/1, nDCG (1/log2 3)/1
    assert res["precision_at_k"] == pytest.approx(0.5)
    assert res["recall_at_k"] == pytest.approx((1 + 0.5 + 1) / 3)
    nd_b = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert res["ndcg_at_k"] == pytest.approx((1 + nd_b + 1 / math.log2(3)) / 3)
    assert res["map_at_k"] == pytest.approx((1 + 0.25 + 0.5) / 3)
    assert res["coverage"] == pytest.approx(1.0)


def test_users_without_test_items_are_not_evaluated() -> None:
    train = _frame([("a", "i0"), ("b", "i1")])
    data = Dataset(train, _frame([("a", "i1")]))
    assert data.test_users == ["a"]


def test_validation_split_is_per_user_and_inside_train() -> None:
    rows = [(f"u{u}", f"i{i}") for u in range(5) for i in range(10)] + [("solo", "i0")]
    df = _frame(rows)
    fit, val = validation_split(df, fraction=0.2, seed=1)
    assert len(fit) + len(val) == len(df)
    assert (val.groupby("user").size() == 2).all()
    assert "solo" in set(fit["user"]) and "solo" not in set(val["user"])
    assert not set(fit.index) & set(val.index)

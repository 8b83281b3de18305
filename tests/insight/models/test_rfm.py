from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from smartbank.insight.rfm import RFMScorer, rfm_values


def _act(rows: list[tuple[int, datetime, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"customer_id": [r[0] for r in rows], "ts": [r[1] for r in rows], "amount_minor": [r[2] for r in rows],
         "kind": [r[3] for r in rows], "counterparty": ["x"] * len(rows)},
        schema={"customer_id": pl.Int64, "ts": pl.Datetime("us", "UTC"), "amount_minor": pl.Int64, "kind": pl.Utf8,
                "counterparty": pl.Utf8},
    )


def d(day: int) -> datetime:
    return datetime(2024, 1, day, 12, tzinfo=UTC)


# five customers: 1 is the most recent, frequent and valuable; 5 the least; salary is not activity
ACT = _act([
    (1, d(30), -50_000, "card_payment"), (1, d(29), -50_000, "card_payment"), (1, d(28), -50_000, "transfer"),
    (1, d(27), -50_000, "card_payment"), (1, d(26), -50_000, "card_payment"),
    (2, d(25), -10_000, "card_payment"), (2, d(24), -10_000, "card_payment"), (2, d(23), -10_000, "card_payment"),
    (2, d(22), -10_000, "card_payment"),
    (3, d(20), -5_000, "card_payment"), (3, d(19), -5_000, "card_payment"), (3, d(18), -5_000, "card_payment"),
    (4, d(10), -2_000, "card_payment"), (4, d(9), -2_000, "card_payment"),
    (5, d(2), -100, "card_payment"), (5, d(31), 900_000, "salary"),
])
AS_OF = date(2024, 2, 1)


def test_values_use_customer_initiated_activity_only() -> None:
    v = rfm_values(ACT, AS_OF).sort("customer_id")
    assert v["frequency"].to_list() == [5, 4, 3, 2, 1]
    assert v["monetary_minor"].to_list() == [250_000, 40_000, 15_000, 4_000, 100]
    assert round(v["recency_days"][0], 2) == 1.5  # 2024-01-30 12:00 -> 2024-02-01
    assert round(v["recency_days"][4], 2) == 29.5  # the salary on the 31st does not count


def test_quintile_scores_and_code() -> None:
    s = RFMScorer().fit(ACT, AS_OF)
    out = s.transform(ACT, AS_OF).sort("customer_id")
    assert out["rfm"].to_list() == ["555", "444", "333", "222", "111"]


def test_saved_edges_score_a_subset_like_the_population() -> None:
    s = RFMScorer.from_dict(RFMScorer().fit(ACT, AS_OF).to_dict())
    sub = ACT.filter(pl.col("customer_id").is_in([2, 4]))
    out = s.transform(sub, AS_OF).sort("customer_id")
    assert out["rfm"].to_list() == ["444", "222"]


def test_customer_without_activity_scores_111() -> None:
    s = RFMScorer().fit(ACT, AS_OF)
    out = s.transform(ACT, AS_OF, ids=pl.DataFrame({"customer_id": [99]}, schema={"customer_id": pl.Int64}))
    assert out["rfm"].to_list() == ["111"]

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from smartbank.insight import value as v
from smartbank.insight.lifecycle import lifecycle
from tests.insight.models.synthetic import AS_OF


def _act(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"customer_id": pl.Int64, "ts": pl.Datetime("us", "UTC"),
                                      "amount_minor": pl.Int64, "kind": pl.Utf8}, orient="row")


def test_yearly_value_follows_the_documented_assumptions() -> None:
    # one customer, observed a full year: 100,000.00 balance all year, 10,000.00 card spend, 12 fees of 1.00
    start = datetime(2023, 1, 1, tzinfo=UTC)
    rows = [(1, start, 10_000_000, "opening")]
    rows += [(1, datetime(2023, m, 15, tzinfo=UTC), -1, "fee") for m in range(1, 13)]
    rows += [(1, datetime(2023, 6, 1, tzinfo=UTC), -1_000_000, "card_payment"),
             (1, datetime(2023, 6, 2, tzinfo=UTC), 1_000_000, "transfer")]
    out = v.yearly_value(_act(rows), date(2024, 1, 1))
    got = out["value_minor"][0]
    expected = (0.02 * 10_000_000 * (365 - 1) / 365  # the day of the card payment the balance is lower
                + 0.0045 * 1_000_000 + 12 - v.SERVICE_COST_PER_TX_MINOR * 2 - v.ACCOUNT_COST_PER_YEAR_MINOR)
    assert abs(got - expected) <= 600  # within the 1-day balance dip and the 365/364-day annualisation


def test_clv_falls_back_with_too_few_repeat_buyers(frames) -> None:
    act = frames[0].filter(pl.col("customer_id") <= 5)
    m = v.CLVModel().fit(act, AS_OF)
    assert m.method_ == "fallback" and "repeat" in m.reason_
    out = m.predict(act, AS_OF)
    assert out["clv_method"].unique().to_list() == ["fallback"]
    assert (out["clv_minor"] >= 0).all() and out["clv_minor"].dtype == pl.Int64


def test_clv_fits_bgnbd_gammagamma_with_enough_customers(frames) -> None:
    m = v.CLVModel(min_repeat_customers=20).fit(frames[0], AS_OF)
    assert m.method_ == "bgnbd_gammagamma", m.reason_
    again = v.CLVModel.from_dict(m.to_dict())
    assert again.predict(frames[0], AS_OF).equals(m.predict(frames[0], AS_OF))


def test_lifecycle_rules(frames) -> None:
    rows = [
        (1, datetime(2018, 8, 25, tzinfo=UTC), -100, "card_payment"),  # new customer -> acquisition
        (2, datetime(2018, 4, 2, tzinfo=UTC), -100, "card_payment"),  # silent since April -> churned
    ]
    rows += [(3, datetime(2018, 4, d, tzinfo=UTC), -100, "card_payment") for d in range(1, 29)]
    rows += [(3, datetime(2018, m, d, tzinfo=UTC), -100, "card_payment") for m in (5, 6, 7, 8) for d in (5, 15, 25)]
    rows += [(4, datetime(2018, 4, 1, tzinfo=UTC), -100, "card_payment")]
    rows += [(4, datetime(2018, 7, d, tzinfo=UTC), -100, "card_payment") for d in (5, 10, 15, 20, 25, 30)]
    rows += [(4, datetime(2018, 8, d, tzinfo=UTC), -100, "card_payment") for d in range(5, 31)]  # growth
    rows += [(5, datetime(2018, 4, 1, tzinfo=UTC), -100, "card_payment")]
    rows += [(5, datetime(2018, 7, d, tzinfo=UTC), -100, "card_payment") for d in range(3, 31)]
    rows += [(5, datetime(2018, 8, 20, tzinfo=UTC), -100, "card_payment")]  # decline
    out = lifecycle(_act(rows), None, AS_OF).sort("customer_id")
    assert out["lifecycle"].to_list() == ["acquisition", "churned", "maturity", "growth", "decline"]

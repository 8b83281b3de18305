from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest

from smartbank.insight.analytics import enrich, train_all
from smartbank.insight.forecast import BalanceForecaster, month_end_balances
from smartbank.ml.frames import normalise


def _rows(rows: list[tuple[int, datetime, int, str, str]]) -> pl.DataFrame:
    return normalise(pl.DataFrame(
        {"customer_id": [r[0] for r in rows], "ts": [r[1] for r in rows], "amount_minor": [r[2] for r in rows],
         "kind": [r[3] for r in rows], "source": [r[4] for r in rows], "currency": ["CNY"] * len(rows)}))


def _holdings(balances: dict[int, int]) -> pl.DataFrame:
    ids = sorted(balances)
    return pl.DataFrame({"customer_id": ids, "account_kind": ["demand"] * len(ids), "currency": ["CNY"] * len(ids),
                         "accounts": [1] * len(ids), "balance_minor": [balances[i] for i in ids],
                         "overdraft_used_minor": [0] * len(ids)},
                        schema_overrides={"customer_id": pl.Int64, "accounts": pl.Int64, "balance_minor": pl.Int64,
                                          "overdraft_used_minor": pl.Int64})


def test_month_end_balances_are_exact_and_ignore_imports() -> None:
    def t(m: int, d: int) -> datetime:
        return datetime(2025, m, d, 12, tzinfo=UTC)

    act = _rows([
        (1, t(1, 5), 100_000, "opening", "ledger"),
        (1, t(1, 20), -2_550, "card_payment", "ledger"),
        (1, t(1, 31), 1, "interest", "ledger"),
        (1, t(2, 25), 500_000, "salary", "ledger"),
        (1, t(2, 26), -99_999, "transfer", "ledger"),
        (1, t(2, 27), -70_000, "card_payment", "bank_import"),  # imported: does not move ledger balances
        (1, t(4, 2), -1_000, "fee", "ledger"),                  # after the last month asked for
        (2, t(2, 1), 7_000, "opening", "ledger"),
    ])
    # current balances: customer 1 opened from zero; customer 2's history starts mid-way (anchor 10,000 above)
    current = {1: 100_000 - 2_550 + 1 + 500_000 - 99_999 - 1_000, 2: 17_000}
    out = month_end_balances(act, _holdings(current), [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)])
    got = {(r["customer_id"], r["month"].month): r["balance_minor"] for r in out.iter_rows(named=True)}
    assert got == {(1, 1): 97_451, (1, 2): 497_452, (1, 3): 497_452,
                   (2, 1): 10_000, (2, 2): 17_000, (2, 3): 17_000}
    assert out.schema["balance_minor"] == pl.Int64


def _ledger_bank(n: int = 60, seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, date]:
    """n customers over 2025-01..2025-07 (as of 2025-08-01): monthly salary, card payments, a start balance."""
    rng = np.random.default_rng(seed)
    rows = []
    for cid in range(1, n + 1):
        rows.append((cid, datetime(2025, 1, 2, 9, tzinfo=UTC), int(rng.integers(0, 2_000_000)), "opening", "ledger"))
        pay = int(rng.integers(300_000, 1_500_000))
        for m in range(1, 8):
            rows.append((cid, datetime(2025, m, 25, 9, tzinfo=UTC), pay, "salary", "ledger"))
            for _ in range(int(rng.poisson(8))):
                day = int(rng.integers(1, 28))
                rows.append((cid, datetime(2025, m, day, 14, tzinfo=UTC), -int(rng.gamma(2.0, pay / 20)),
                             "card_payment", "ledger"))
    act = _rows(rows).sort("customer_id", "ts")
    balances = act.group_by("customer_id").agg(pl.col("amount_minor").sum())
    holdings = _holdings(dict(balances.iter_rows()))
    customers = pl.DataFrame({"customer_id": list(range(1, n + 1)),
                              "created_at": [datetime(2025, 1, 2, tzinfo=UTC)] * n, "status": ["active"] * n},
                             schema_overrides={"customer_id": pl.Int64})
    return act, customers, holdings, date(2025, 8, 1)


def test_time_split_keeps_the_holdout_month_out_of_training() -> None:
    act, _, holdings, as_of = _ledger_bank()
    bf = BalanceForecaster()
    train, test, months = bf.split(act, holdings, as_of)
    assert months[-1] == date(2025, 7, 1)
    assert set(test["target_month"].to_list()) == {date(2025, 7, 1)}
    assert train["target_month"].max() < date(2025, 7, 1)  # type: ignore[operator]
    # alter every July row (and the current balance accordingly, as the ledger would): training rows unchanged
    july = pl.col("ts").dt.month() == 7
    changed = act.with_columns(pl.when(july).then(pl.col("amount_minor") * 3 - 12_345)
                               .otherwise(pl.col("amount_minor")).alias("amount_minor"))
    delta = (changed.group_by("customer_id").agg(pl.col("amount_minor").sum().alias("new"))
             .join(act.group_by("customer_id").agg(pl.col("amount_minor").sum().alias("old")), on="customer_id"))
    holdings2 = holdings.join(delta, on="customer_id").with_columns(
        (pl.col("balance_minor") + pl.col("new") - pl.col("old")).alias("balance_minor")).drop("new", "old")
    train2, test2, _ = bf.split(changed, holdings2, as_of)
    assert train2.equals(train)
    assert not test2["actual"].equals(test["actual"])  # the change is visible, but only in the holdout


@pytest.fixture(scope="module")
def bank_trained(tmp_path_factory):
    act, customers, holdings, as_of = _ledger_bank()
    model_dir = tmp_path_factory.mktemp("balance_models")
    metrics = train_all(act, customers, as_of, model_dir=model_dir, seed=0, holdings=holdings)
    return act, customers, holdings, as_of, model_dir, metrics


def test_train_all_reports_balance_metrics(bank_trained) -> None:
    *_, m = bank_trained
    assert "balance_forecast" in m["versions"]
    for key in ("balance_forecast_mae_minor", "balance_forecast_wape", "balance_baseline_wape"):
        assert isinstance(m[key], float) and m[key] >= 0


def test_enrich_balance_subset_equals_everyone(bank_trained) -> None:
    act, customers, holdings, as_of, model_dir, _ = bank_trained
    everyone = enrich(act, customers, as_of, model_dir=model_dir, holdings=holdings)
    assert everyone["balance_next_month_minor"].is_not_null().all()
    assert everyone.schema["balance_next_month_minor"] == pl.Int64
    ids = [2, 17, 33, 58]
    pick = pl.col("customer_id").is_in(ids)
    sub = enrich(act.filter(pick), customers.filter(pick), as_of, model_dir=model_dir, holdings=holdings.filter(pick))
    expected = everyone.filter(pick).sort("customer_id").select("customer_id", "balance_next_month_minor")
    assert sub.sort("customer_id").select("customer_id", "balance_next_month_minor").equals(expected)
    without = enrich(act.filter(pick), customers.filter(pick), as_of, model_dir=model_dir)
    assert without["balance_next_month_minor"].is_null().all()

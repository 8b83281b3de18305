"""Next-month spending per customer: LightGBM regression on monthly lag features vs naive baselines.

Spending = customer-initiated outflows (minor units) in a calendar month. For a target month the
features are the three previous months' spend, last month's payment count and active days, the mean
of the three lags and the months of history. Time split: the last complete month before ``as_of`` is
the holdout; every earlier month with at least one lag trains. Baselines on the same holdout: last
value (lag 1) and the mean of the last three months; a seasonal-naive baseline (lag 12) is added when a
year of history exists. Metrics: MAE (minor units) and WAPE = sum|error| / sum|actual|. The reported
model is refitted on all months, holdout included, and forecasts the month after the last complete one.

Next month-end balance per customer (:class:`BalanceForecaster`): the activity frame carries flows, not
balances, so month-end balances are reconstructed from the ledger rows (``source == "ledger"``, base
currency) anchored at the current posted balance of the customer's open accounts (``holdings``):
balance at the end of month m = current balance - sum of the ledger amounts after m. Imported external
transactions do not move ledger balances and are left out. LightGBM predicts the change of balance over the
target month from lagged month-end balances, net flows, inflow/outflow and salary credits; forecast = last
month-end balance + predicted change. Same time split as the spend forecaster; baselines: last value
(last month-end balance) and last value + mean net flow of the last three months.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

from smartbank.ml.service import BoostedModel, add_months, at_midnight, before, initiated, month_start

__all__ = ["BALANCE_FEATURES", "FEATURES", "BalanceForecaster", "SpendForecaster", "balance_frame",
           "ledger_monthly", "month_end_balances", "monthly_panel"]

FEATURES = ["lag1", "lag2", "lag3", "count1", "active_days1", "mean3", "months_history"]


def monthly_panel(activity: pl.DataFrame, as_of: date | datetime) -> tuple[pl.DataFrame, list[date]]:
    """(customer_id, month, spend, count, active_days) for complete months before ``as_of``; the months."""
    t = at_midnight(as_of)
    act = initiated(before(activity, t))
    if act.height == 0:
        return pl.DataFrame(schema={"customer_id": pl.Int64, "month": pl.Date, "spend": pl.Float64,
                                    "count": pl.Float64, "active_days": pl.Float64}), []
    last_complete = add_months(month_start(t.date()), -1)
    first = month_start(act["ts"].min().date())  # type: ignore[union-attr]
    if act["ts"].min() > at_midnight(first):  # type: ignore[operator]
        first = first if act["ts"].min().day == 1 else add_months(first, 1)  # type: ignore[union-attr]
    months = []
    m = first
    while m <= last_complete:
        months.append(m)
        m = add_months(m, 1)
    panel = act.with_columns(pl.col("ts").dt.date().dt.truncate("1mo").alias("month")).filter(
        pl.col("month").is_in(months)).group_by("customer_id", "month").agg(
        pl.when(pl.col("amount_minor") < 0).then(-pl.col("amount_minor")).otherwise(0).sum().cast(pl.Float64)
        .alias("spend"),
        pl.len().cast(pl.Float64).alias("count"),
        pl.col("ts").dt.date().n_unique().cast(pl.Float64).alias("active_days"),
    )
    return panel, months


def _frame(panel: pl.DataFrame, months: list[date], target: date, ids: pl.DataFrame) -> pl.DataFrame:
    """Features for ``target`` from the months before it (and the actual spend when it is in the panel)."""
    def month_of(k: int) -> pl.DataFrame:
        m = add_months(target, -k)
        return panel.filter(pl.col("month") == m).select("customer_id", "spend", "count", "active_days")

    df = ids
    for k in (1, 2, 3):
        mk = month_of(k).rename({"spend": f"lag{k}", "count": f"count{k}", "active_days": f"active_days{k}"})
        df = df.join(mk, on="customer_id", how="left")
    hist = panel.filter(pl.col("month") < target).group_by("customer_id").agg(
        pl.len().cast(pl.Float64).alias("months_history"))
    actual = panel.filter(pl.col("month") == target).select("customer_id", pl.col("spend").alias("actual"))
    avail = sum(1 for m in months if m < target)
    df = df.join(hist, on="customer_id", how="left").join(actual, on="customer_id", how="left")
    fill = {f"lag{k}": (k <= avail) for k in (1, 2, 3)}
    df = df.with_columns(
        *[pl.col(c).fill_null(0.0) if ok else pl.col(c).cast(pl.Float64) for c, ok in fill.items()],
        pl.col("count1").fill_null(0.0), pl.col("active_days1").fill_null(0.0),
        pl.col("months_history").fill_null(0.0), pl.col("actual").fill_null(0.0),
    ).with_columns(pl.mean_horizontal("lag1", "lag2", "lag3").fill_null(0.0).alias("mean3"))
    if avail >= 12:
        lag12 = panel.filter(pl.col("month") == add_months(target, -12)).select("customer_id",
                                                                               pl.col("spend").alias("lag12"))
        df = df.join(lag12, on="customer_id", how="left").with_columns(pl.col("lag12").fill_null(0.0))
    return df.with_columns(pl.lit(target).alias("target_month"))


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    err = np.abs(y - p)
    return {"mae_minor": float(err.mean()) if len(y) else 0.0,
            "wape": float(err.sum() / np.abs(y).sum()) if np.abs(y).sum() else 0.0}


class SpendForecaster(BoostedModel):
    """LightGBM next-month spend regression (an estimator)."""

    PARAMS = ("n_estimators", "learning_rate", "num_leaves", "min_child_samples", "random_state")

    def __init__(self, *, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 31,
                 min_child_samples: int = 20, random_state: int = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def _reg(self) -> Any:
        import lightgbm as lgb

        return lgb.LGBMRegressor(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                                 num_leaves=self.num_leaves, min_child_samples=self.min_child_samples,
                                 subsample=0.8, subsample_freq=1, colsample_bytree=0.9,
                                 random_state=self.random_state, deterministic=True, force_row_wise=True,
                                 n_jobs=2, verbose=-1)

    def fit(self, activity: pl.DataFrame, as_of: date | datetime) -> SpendForecaster:
        panel, months = monthly_panel(activity, as_of)
        if len(months) < 3:
            raise ValueError(f"need at least 3 complete months before {as_of} to train and evaluate, have {months}")
        ids = panel.select("customer_id").unique().sort("customer_id")
        holdout = months[-1]
        frames = {m: _frame(panel, months, m, ids) for m in months[1:]}
        train = pl.concat([frames[m].select(["customer_id", *FEATURES, "actual"]) for m in months[1:-1]])
        test = frames[holdout]
        reg = self._reg().fit(train.select(FEATURES).to_numpy(), train["actual"].to_numpy())
        y = test["actual"].to_numpy()
        pred = np.maximum(reg.predict(test.select(FEATURES).to_numpy()), 0.0)
        ev: dict[str, Any] = {
            "holdout_month": holdout.isoformat(), "train_months": [m.isoformat() for m in months[1:-1]],
            "n_train": train.height, "n_holdout": test.height,
            "model": _metrics(y, pred), "last_value": _metrics(y, test["lag1"].fill_null(0.0).to_numpy()),
            "mean3": _metrics(y, test["mean3"].to_numpy()),
        }
        if "lag12" in test.columns:
            ev["seasonal_naive"] = _metrics(y, test["lag12"].to_numpy())
        errs = (pred - y)
        ev["error_quantiles_minor"] = {str(q): float(np.quantile(errs, q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)}
        ev["errors_sample"] = {"actual": y[:2000].tolist(), "predicted": pred[:2000].tolist()}
        self.evaluation_ = ev
        full = pl.concat([frames[m].select(["customer_id", *FEATURES, "actual"]) for m in months[1:]])
        self.booster_ = self._reg().fit(full.select(FEATURES).to_numpy(), full["actual"].to_numpy()).booster_
        self.features_ = list(FEATURES)
        return self

    def predict(self, activity: pl.DataFrame, as_of: date | datetime, *, ids: pl.DataFrame | None = None
                ) -> pl.DataFrame:
        """customer_id, forecast_month, spend_next_month_minor (Int64)."""
        panel, months = monthly_panel(activity, as_of)
        target = add_months(month_start(at_midnight(as_of).date()), 0)
        if ids is None:
            ids = panel.select("customer_id").unique().sort("customer_id")
        df = _frame(panel, months, target, ids)
        p = np.maximum(self.booster_.predict(df.select(self.features_).to_numpy()), 0.0) if df.height else np.zeros(0)
        return df.select("customer_id").with_columns(
            pl.lit(target).alias("forecast_month"),
            pl.Series("spend_next_month_minor", np.rint(p).astype(np.int64), dtype=pl.Int64),
        )



# --- next month-end balance -------------------------------------------------------------------------------

BALANCE_FEATURES = ["bal1", "bal2", "bal3", "net1", "net2", "net3", "net_mean3", "in1", "out1", "in_mean3",
                    "out_mean3", "salary1", "salary_mean3", "months_history"]
BASE_CURRENCY = "CNY"
SALARY_CATEGORIES = ("salary", "pension")


def ledger_monthly(activity: pl.DataFrame, currency: str = BASE_CURRENCY) -> pl.DataFrame:
    """(customer_id, month, net, inflow, outflow, salary) in Int64 minor units per calendar month (UTC) of
    every ledger row in ``currency``, all dates (rows after ``as_of`` are needed to anchor the balances)."""
    led = activity.filter((pl.col("source") == "ledger") & (pl.col("currency") == currency))
    if "account_kind" in led.columns:  # a loan account holds debt, not the customer's balance
        led = led.filter(pl.col("account_kind").fill_null("") != "loan")
    amt = pl.col("amount_minor")
    salary = (amt > 0) & ((pl.col("kind") == "salary") | pl.col("category").is_in(list(SALARY_CATEGORIES)))
    return led.with_columns(pl.col("ts").dt.date().dt.truncate("1mo").alias("month")).group_by(
        "customer_id", "month").agg(
        amt.sum().cast(pl.Int64).alias("net"),
        amt.filter(amt > 0).sum().cast(pl.Int64).alias("inflow"),
        (-amt).filter(amt < 0).sum().cast(pl.Int64).alias("outflow"),
        amt.filter(salary.fill_null(False)).sum().cast(pl.Int64).alias("salary"),
    ).sort("customer_id", "month")


def _anchor(monthly: pl.DataFrame, holdings: pl.DataFrame, currency: str = BASE_CURRENCY) -> pl.DataFrame:
    """customer_id, offset = current balance - sum of every ledger amount (the balance before the first row),
    first_month (null without ledger rows), for every customer with ledger rows or holdings."""
    cur = holdings.filter((pl.col("currency") == currency) & (pl.col("account_kind") != "loan")).group_by(
        "customer_id").agg(
        pl.col("balance_minor").sum().cast(pl.Int64).alias("current"))
    tot = monthly.group_by("customer_id").agg(pl.col("net").sum().cast(pl.Int64).alias("total"),
                                              pl.col("month").min().alias("first_month"))
    return cur.join(tot, on="customer_id", how="full", coalesce=True).select(
        "customer_id", (pl.col("current").fill_null(0) - pl.col("total").fill_null(0)).alias("offset"),
        "first_month")


def month_end_balances(activity: pl.DataFrame, holdings: pl.DataFrame, months: list[date], *,
                       currency: str = BASE_CURRENCY) -> pl.DataFrame:
    """customer_id, month, balance_minor (Int64): the balance at the end of each month in ``months`` (given by
    its first day) = current balance - sum of ledger amounts after that month."""
    monthly = ledger_monthly(activity, currency)
    anchor = _anchor(monthly, holdings, currency)
    frames = []
    for m in months:
        cum = monthly.filter(pl.col("month") <= m).group_by("customer_id").agg(pl.col("net").sum().alias("cum"))
        frames.append(anchor.join(cum, on="customer_id", how="left").select(
            "customer_id", pl.lit(m).alias("month"),
            (pl.col("offset") + pl.col("cum").fill_null(0)).cast(pl.Int64).alias("balance_minor")))
    if not frames:
        return pl.DataFrame(schema={"customer_id": pl.Int64, "month": pl.Date, "balance_minor": pl.Int64})
    return pl.concat(frames).sort("customer_id", "month")


def balance_frame(monthly: pl.DataFrame, anchor: pl.DataFrame, target: date, ids: pl.DataFrame) -> pl.DataFrame:
    """Features for the balance at the end of ``target`` from the months before it, the actual balance at the
    end of ``target`` (``actual``) and ``has_history`` (a ledger row before ``target``). Per customer: only
    that customer's rows and anchor."""
    df = ids.select("customer_id").join(anchor, on="customer_id", how="left").with_columns(
        pl.col("offset").fill_null(0))

    def cum_to(m: date) -> pl.DataFrame:
        return monthly.filter(pl.col("month") <= m).group_by("customer_id").agg(pl.col("net").sum().alias("_c"))

    for k in (1, 2, 3):
        m = add_months(target, -k)
        df = df.join(cum_to(m), on="customer_id", how="left").with_columns(
            (pl.col("offset") + pl.col("_c").fill_null(0)).cast(pl.Float64).alias(f"bal{k}")).drop("_c")
        flows = monthly.filter(pl.col("month") == m).select(
            "customer_id", *[pl.col(c).cast(pl.Float64).alias(f"{c}{k}") for c in ("net", "inflow", "outflow",
                                                                                    "salary")])
        df = df.join(flows, on="customer_id", how="left")
    df = df.join(cum_to(target), on="customer_id", how="left").with_columns(
        (pl.col("offset") + pl.col("_c").fill_null(0)).cast(pl.Float64).alias("actual")).drop("_c")
    flow_cols = [f"{c}{k}" for c in ("net", "inflow", "outflow", "salary") for k in (1, 2, 3)]
    first = pl.col("first_month")
    months_history = ((pl.lit(target).dt.year() - first.dt.year()) * 12
                      + pl.lit(target).dt.month().cast(pl.Int32) - first.dt.month().cast(pl.Int32))
    return df.with_columns([pl.col(c).fill_null(0.0) for c in flow_cols]).with_columns(
        pl.mean_horizontal("net1", "net2", "net3").alias("net_mean3"),
        pl.col("inflow1").alias("in1"), pl.col("outflow1").alias("out1"),
        pl.mean_horizontal("inflow1", "inflow2", "inflow3").alias("in_mean3"),
        pl.mean_horizontal("outflow1", "outflow2", "outflow3").alias("out_mean3"),
        pl.mean_horizontal("salary1", "salary2", "salary3").alias("salary_mean3"),
        pl.max_horizontal(months_history, pl.lit(0)).fill_null(0).cast(pl.Float64).alias("months_history"),
        (first.is_not_null() & (first < pl.lit(target))).fill_null(False).alias("has_history"),
        pl.lit(target).alias("target_month"),
    )


class BalanceForecaster(BoostedModel):
    """LightGBM next month-end balance (an estimator): predicts the change over the month, adds it to the last
    month-end balance. ``fit``/``predict`` take the activity frame and ``holdings`` (``load_holdings``)."""

    PARAMS = ("n_estimators", "learning_rate", "num_leaves", "min_child_samples", "currency", "random_state")

    def __init__(self, *, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 31,
                 min_child_samples: int = 20, currency: str = BASE_CURRENCY, random_state: int = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.currency = currency
        self.random_state = random_state

    def _reg(self) -> Any:
        import lightgbm as lgb

        # L1 objective: the reported metrics are MAE / WAPE, and monthly net flows are heavy-tailed
        return lgb.LGBMRegressor(objective="regression_l1", n_estimators=self.n_estimators,
                                 learning_rate=self.learning_rate, num_leaves=self.num_leaves,
                                 min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
                                 colsample_bytree=0.9, random_state=self.random_state, deterministic=True,
                                 force_row_wise=True, n_jobs=2, verbose=-1)

    def months(self, monthly: pl.DataFrame, as_of: date | datetime) -> list[date]:
        """Month ends (first days) from the first ledger month to the last complete month before ``as_of``."""
        last_complete = add_months(month_start(at_midnight(as_of).date()), -1)
        early = monthly.filter(pl.col("month") <= last_complete)
        if early.height == 0:
            return []
        m, out = early["month"].min(), []
        while m <= last_complete:  # type: ignore[operator]
            out.append(m)
            m = add_months(m, 1)  # type: ignore[arg-type]
        return out  # type: ignore[return-value]

    def split(self, activity: pl.DataFrame, holdings: pl.DataFrame, as_of: date | datetime
              ) -> tuple[pl.DataFrame, pl.DataFrame, list[date]]:
        """(training rows, holdout rows, months): targets before the last complete month train, that month is
        the holdout; rows are customers with a ledger row before the target month."""
        monthly = ledger_monthly(activity, self.currency)
        anchor = _anchor(monthly, holdings, self.currency)
        months = self.months(monthly, as_of)
        if len(months) < 3:
            raise ValueError(f"need at least 3 complete months before {as_of} to train and evaluate, have {months}")
        ids = anchor.select("customer_id").sort("customer_id")
        cols = ["customer_id", "target_month", *BALANCE_FEATURES, "actual"]
        frames = {m: balance_frame(monthly, anchor, m, ids).filter(pl.col("has_history")).select(cols)
                  for m in months[1:]}
        return pl.concat([frames[m] for m in months[1:-1]]), frames[months[-1]], months

    def fit(self, activity: pl.DataFrame, as_of: date | datetime, *, holdings: pl.DataFrame) -> BalanceForecaster:
        train, test, months = self.split(activity, holdings, as_of)
        reg = self._reg().fit(train.select(BALANCE_FEATURES).to_numpy(),
                              (train["actual"] - train["bal1"]).to_numpy())
        y = test["actual"].to_numpy()
        last = test["bal1"].to_numpy()
        pred = last + reg.predict(test.select(BALANCE_FEATURES).to_numpy())
        ev: dict[str, Any] = {
            "holdout_month": months[-1].isoformat(), "train_months": [m.isoformat() for m in months[1:-1]],
            "n_train": train.height, "n_holdout": test.height,
            "model": _metrics(y, pred), "last_value": _metrics(y, last),
            "last_value_plus_mean_net3": _metrics(y, last + test["net_mean3"].to_numpy()),
        }
        errs = pred - y
        ev["error_quantiles_minor"] = {str(q): float(np.quantile(errs, q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)}
        ev["errors_sample"] = {"actual": y[:2000].tolist(), "predicted": pred[:2000].tolist()}
        self.evaluation_ = ev
        full = pl.concat([train, test])
        self.booster_ = self._reg().fit(full.select(BALANCE_FEATURES).to_numpy(),
                                        (full["actual"] - full["bal1"]).to_numpy()).booster_
        self.features_ = list(BALANCE_FEATURES)
        return self

    def predict(self, activity: pl.DataFrame, as_of: date | datetime, *, holdings: pl.DataFrame,
                ids: pl.DataFrame | None = None) -> pl.DataFrame:
        """customer_id, forecast_month, balance_next_month_minor (Int64): the balance at the end of the month
        of ``as_of`` (the month after the last complete one)."""
        monthly = ledger_monthly(activity, self.currency)
        anchor = _anchor(monthly, holdings, self.currency)
        target = month_start(at_midnight(as_of).date())
        if ids is None:
            ids = anchor.select("customer_id").sort("customer_id")
        df = balance_frame(monthly, anchor, target, ids)
        change = self.booster_.predict(df.select(self.features_).to_numpy()) if df.height else np.zeros(0)
        p = df["bal1"].to_numpy() + change
        known = df["customer_id"].is_in(anchor["customer_id"].implode())  # no account and no ledger row: null
        return df.select("customer_id").with_columns(
            pl.lit(target).alias("forecast_month"),
            pl.when(known).then(pl.Series(np.rint(p).astype(np.int64), dtype=pl.Int64))
            .otherwise(None).alias("balance_next_month_minor"),
        )


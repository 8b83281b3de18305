"""Customer value: the yearly contribution estimate and CLV (BG/NBD + Gamma-Gamma from ``lifetimes``).

Yearly contribution (``value_minor``), from the customer's activity in the ``VALUE_WINDOW_DAYS`` before
``as_of``, annualised over the days observed (at least ``MIN_OBSERVED_DAYS``):

    NET_INTEREST_MARGIN x average positive balance
  + INTERCHANGE_RATE x card spend
  + fees charged (``kind == "fee"``)
  - SERVICE_COST_PER_TX_MINOR x customer-initiated transactions
  - ACCOUNT_COST_PER_YEAR_MINOR

The balance is the running sum of every signed amount (time-weighted over the window, negatives as 0):
exact for ledger data that starts with the opening deposit, zero for card-only data.

CLV (``clv_minor``): BG/NBD predicts the number of daily active periods over the next
``HORIZON_MONTHS``, Gamma-Gamma the outflow volume per active period, and lifetimes discounts the product
at ``ANNUAL_DISCOUNT_RATE``; the bank keeps ``INTERCHANGE_RATE`` of card volume and ``VOLUME_MARGIN`` of other
outflow volume, plus the balance income while the customer is alive (P(alive) x NIM x balance, discounted).
When fewer than ``MIN_REPEAT_CUSTOMERS`` customers bought in more than one period (or the fit fails) the
fallback is used and reported: yearly contribution x discounted horizon x a recency survival factor
``exp(-recency_days / FALLBACK_SURVIVAL_DAYS)``.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import polars as pl

from smartbank.ml.service import at_midnight, before, customer_ids, initiated

__all__ = ["CLVModel", "yearly_value"]

NET_INTEREST_MARGIN = Decimal("0.020")  # on the average positive balance, per year
INTERCHANGE_RATE = Decimal("0.0045")  # share of card payment volume the issuing bank earns
VOLUME_MARGIN = Decimal("0.0005")  # share of other outflow volume (transfers, bills) earned as fees / float
SERVICE_COST_PER_TX_MINOR = 5  # processing cost per customer-initiated transaction (0.05)
ACCOUNT_COST_PER_YEAR_MINOR = 12_00  # fixed cost of keeping a customer a year
VALUE_WINDOW_DAYS = 365
MIN_OBSERVED_DAYS = 30

HORIZON_MONTHS = 12
ANNUAL_DISCOUNT_RATE = 0.10
PERIOD_DAYS = 1  # daily periods (weekly saturate: card customers are active nearly every week)
MIN_REPEAT_CUSTOMERS = 50
PENALIZER = 0.001
PENALIZER_LADDER = (0.0, 0.001, 0.01, 0.1, 1.0)  # tried in turn until a fit converges
FALLBACK_SURVIVAL_DAYS = 180.0


def _round(x: np.ndarray) -> np.ndarray:
    return np.asarray([int(Decimal(repr(float(v))).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)) for v in x],
                      dtype=np.int64)


def value_components(activity: pl.DataFrame, as_of: date | datetime, *, customers: pl.DataFrame | None = None,
                     ids: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per customer: observed_days, avg_balance_minor, card_spend, other_spend, fees, tx count (in window)."""
    t = at_midnight(as_of)
    past = before(activity, t).sort("customer_id", "ts")
    if ids is None:
        ids = customer_ids(past, customers)
    start = t - timedelta(days=VALUE_WINDOW_DAYS)
    bal = past.with_columns(
        pl.col("amount_minor").cum_sum().over("customer_id").alias("bal"),
        pl.col("ts").shift(-1).over("customer_id").fill_null(pl.lit(t)).alias("next_ts"),
    ).with_columns(
        ((pl.col("next_ts") - pl.max_horizontal(pl.col("ts"), pl.lit(start))).dt.total_microseconds()
         .clip(lower_bound=0).cast(pl.Float64) / 86_400_000_000.0).alias("dur_days"),
    )
    bal_agg = bal.group_by("customer_id").agg(
        (pl.col("bal").clip(lower_bound=0).cast(pl.Float64) * pl.col("dur_days")).sum().alias("bal_days"),
        pl.col("ts").min().alias("first_ts"),
    )
    win = past.filter(pl.col("ts") >= start)
    out_amt = pl.when(pl.col("amount_minor") < 0).then(-pl.col("amount_minor")).otherwise(0)
    flows = win.group_by("customer_id").agg(
        out_amt.filter(pl.col("kind") == "card_payment").sum().cast(pl.Float64).alias("card_spend"),
        out_amt.filter(~pl.col("kind").is_in(["card_payment", "fee"])).sum().cast(pl.Float64).alias("other_spend"),
        out_amt.filter(pl.col("kind") == "fee").sum().cast(pl.Float64).alias("fees"),
    )
    tx = initiated(win).group_by("customer_id").agg(pl.len().cast(pl.Float64).alias("tx"))
    df = ids.join(bal_agg, on="customer_id", how="left").join(flows, on="customer_id", how="left")
    df = df.join(tx, on="customer_id", how="left")
    observed = ((pl.lit(t) - pl.max_horizontal(pl.col("first_ts"), pl.lit(start))).dt.total_microseconds()
                .cast(pl.Float64) / 86_400_000_000.0).fill_null(0.0)
    return df.with_columns(
        pl.max_horizontal(observed, pl.lit(float(MIN_OBSERVED_DAYS))).alias("observed_days"),
        *[pl.col(c).fill_null(0.0) for c in ("bal_days", "card_spend", "other_spend", "fees", "tx")],
    ).with_columns(
        (pl.col("bal_days") / pl.col("observed_days")).alias("avg_balance_minor"),
    ).select("customer_id", "observed_days", "avg_balance_minor", "card_spend", "other_spend", "fees", "tx")


def yearly_value(activity: pl.DataFrame, as_of: date | datetime, *, customers: pl.DataFrame | None = None,
                 ids: pl.DataFrame | None = None) -> pl.DataFrame:
    """customer_id, value_minor (Int64): estimated yearly contribution (see the module docstring)."""
    c = value_components(activity, as_of, customers=customers, ids=ids)
    year = 365.0 / c["observed_days"].to_numpy()
    v = (
        float(NET_INTEREST_MARGIN) * c["avg_balance_minor"].to_numpy()
        + (float(INTERCHANGE_RATE) * c["card_spend"].to_numpy() + float(VOLUME_MARGIN) * c["other_spend"].to_numpy()
           + c["fees"].to_numpy() - SERVICE_COST_PER_TX_MINOR * c["tx"].to_numpy()) * year
        - ACCOUNT_COST_PER_YEAR_MINOR
    )
    return c.select("customer_id").with_columns(pl.Series("value_minor", _round(v), dtype=pl.Int64))


def rfm_periods(activity: pl.DataFrame, as_of: date | datetime, *, ids: pl.DataFrame | None = None) -> pl.DataFrame:
    """lifetimes' summary in weekly periods: frequency, recency, T, monetary (outflow volume per period)."""
    t = at_midnight(as_of)
    act = initiated(before(activity, t))
    if ids is None:
        ids = act.select("customer_id").unique().sort("customer_id")
    first = act.group_by("customer_id").agg(pl.col("ts").min().alias("first_ts"))
    a = act.join(first, on="customer_id").with_columns(
        ((pl.col("ts") - pl.col("first_ts")).dt.total_microseconds() // (PERIOD_DAYS * 86_400_000_000)).alias("p"),
        pl.when(pl.col("amount_minor") < 0).then(-pl.col("amount_minor")).otherwise(0).alias("out"),
        (pl.col("kind") == "card_payment").alias("is_card"),
    )
    per = a.group_by("customer_id", "p").agg(pl.col("out").sum().cast(pl.Float64).alias("vol"),
                                              (pl.col("out") * pl.col("is_card")).sum().cast(pl.Float64).alias("card"))
    summ = per.group_by("customer_id").agg(
        (pl.len() - 1).cast(pl.Float64).alias("frequency"),
        pl.col("p").max().cast(pl.Float64).alias("recency"),
        pl.col("vol").filter(pl.col("p") > 0).mean().alias("monetary"),
        (pl.col("card").sum() / pl.col("vol").sum()).alias("card_share"),
    ).join(first, on="customer_id").with_columns(
        ((pl.lit(t) - pl.col("first_ts")).dt.total_microseconds().cast(pl.Float64)
         / (PERIOD_DAYS * 86_400_000_000.0)).alias("T")
    )
    df = ids.join(summ, on="customer_id", how="left")
    return df.with_columns(
        pl.col("frequency").fill_null(0.0), pl.col("recency").fill_null(0.0), pl.col("T").fill_null(0.0),
        pl.col("monetary").fill_null(0.0), pl.col("card_share").fill_nan(0.0).fill_null(0.0),
        pl.col("first_ts").is_not_null().alias("has_history"),
    )


def _annuity_months(months: int, annual_rate: float) -> float:
    r = (1 + annual_rate) ** (1 / 12) - 1
    return sum(1 / (1 + r) ** i for i in range(1, months + 1))


class CLVModel:
    """BG/NBD + Gamma-Gamma CLV with a transparent fallback (an estimator)."""

    def __init__(self, *, horizon_months: int = HORIZON_MONTHS, annual_discount_rate: float = ANNUAL_DISCOUNT_RATE,
                 penalizer: float = PENALIZER, min_repeat_customers: int = MIN_REPEAT_CUSTOMERS):
        self.horizon_months = horizon_months
        self.annual_discount_rate = annual_discount_rate
        self.penalizer = penalizer
        self.min_repeat_customers = min_repeat_customers

    def fit(self, activity: pl.DataFrame, as_of: date | datetime) -> CLVModel:
        s = rfm_periods(activity, as_of)
        s = s.filter(pl.col("has_history") & (pl.col("T") > 0))
        repeat = s.filter((pl.col("frequency") > 0) & (pl.col("monetary") > 0))
        self.n_customers_ = s.height
        self.n_repeat_ = repeat.height
        self.bgf_params_: dict[str, float] | None = None
        self.ggf_params_: dict[str, float] | None = None
        self.bgf_penalizer_ = self.ggf_penalizer_ = self.penalizer
        self.method_ = "fallback"
        self.reason_ = ""
        if repeat.height < self.min_repeat_customers:
            self.reason_ = (f"only {repeat.height} customers with repeat activity (< {self.min_repeat_customers}): "
                            "BG/NBD + Gamma-Gamma not fitted")
            return self
        from lifetimes import BetaGeoFitter, GammaGammaFitter

        errors: list[str] = []
        bp = self._fit_ladder(
            lambda pen: BetaGeoFitter(penalizer_coef=pen).fit(
                s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy()), "BG/NBD", errors)
        gp = self._fit_ladder(
            lambda pen: GammaGammaFitter(penalizer_coef=pen).fit(
                repeat["frequency"].to_numpy(), repeat["monetary"].to_numpy()), "Gamma-Gamma", errors)
        if bp is None or gp is None:
            self.reason_ = "; ".join(errors) + "; fallback used"
            return self
        self.bgf_penalizer_, self.bgf_params_ = bp
        self.ggf_penalizer_, self.ggf_params_ = gp
        self.method_ = "bgnbd_gammagamma"
        self.reason_ = f"fitted on {s.height} customers, {repeat.height} with repeat activity"
        return self

    def _fit_ladder(self, fit: Any, what: str, errors: list[str]) -> tuple[float, dict[str, float]] | None:
        """Fit with the smallest penalizer of ``PENALIZER_LADDER`` (from ``self.penalizer``) that converges."""
        for pen in [p for p in PENALIZER_LADDER if p >= self.penalizer]:
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    fitted = fit(pen)
                params = {k: float(v) for k, v in fitted.params_.items()}
            except Exception as exc:  # noqa: BLE001 - a failed fit tries the next penalizer
                errors.append(f"{what} penalizer {pen}: {type(exc).__name__}")
                continue
            if all(math.isfinite(v) and v > 0 for v in params.values()):
                return pen, params
            errors.append(f"{what} penalizer {pen}: non-finite parameters")
        return None

    def _fitters(self) -> tuple[Any, Any]:
        import pandas as pd
        from lifetimes import BetaGeoFitter, GammaGammaFitter

        bgf = BetaGeoFitter(penalizer_coef=self.bgf_penalizer_)
        bgf.params_ = pd.Series(self.bgf_params_)
        bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time  # what fit() would alias
        ggf = GammaGammaFitter(penalizer_coef=self.ggf_penalizer_)
        ggf.params_ = pd.Series(self.ggf_params_)
        return bgf, ggf

    def predict(self, activity: pl.DataFrame, as_of: date | datetime, *, customers: pl.DataFrame | None = None,
                ids: pl.DataFrame | None = None) -> pl.DataFrame:
        """customer_id, clv_minor (Int64), p_alive (Float64), clv_method."""
        t = at_midnight(as_of)
        if ids is None:
            ids = customer_ids(before(activity, t), customers)
        comp = value_components(activity, t, ids=ids)
        yv = yearly_value(activity, t, ids=ids)
        s = rfm_periods(activity, t, ids=ids)
        annuity = _annuity_months(self.horizon_months, self.annual_discount_rate)
        bal_income_month = float(NET_INTEREST_MARGIN) / 12 * comp["avg_balance_minor"].to_numpy()
        if self.method_ == "bgnbd_gammagamma":
            import pandas as pd

            bgf, ggf = self._fitters()
            f, r, big_t = s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy()
            big_t = np.maximum(big_t, 1e-6)
            r = np.minimum(r, big_t)
            mon = np.maximum(s["monetary"].to_numpy(), 1.0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p_alive = np.asarray(bgf.conditional_probability_alive(f, r, big_t), dtype=float)
                vol = ggf.customer_lifetime_value(
                    bgf, pd.Series(f), pd.Series(r), pd.Series(big_t), pd.Series(mon),
                    time=self.horizon_months, discount_rate=(1 + self.annual_discount_rate) ** (1 / 12) - 1,
                    freq="D",
                )
            vol = np.asarray(vol, dtype=float)
            card_share = s["card_share"].to_numpy()
            margin = card_share * float(INTERCHANGE_RATE) + (1 - card_share) * float(VOLUME_MARGIN)
            clv = vol * margin + p_alive * bal_income_month * annuity
            # the hypergeometric terms can overflow for extreme histories: those customers get the fallback
            bad = ~(np.isfinite(clv) & np.isfinite(p_alive))
            if bad.any():
                fb_clv, fb_alive = self._fallback(s, yv, annuity)
                clv = np.where(bad, fb_clv, clv)
                p_alive = np.where(bad, fb_alive, p_alive)
            self.last_fallback_rows_ = int(bad.sum())
            no_hist = ~s["has_history"].to_numpy()
            clv = np.where(no_hist, 0.0, clv)
            p_alive = np.where(no_hist, 0.0, p_alive)
        else:
            clv, p_alive = self._fallback(s, yv, annuity)
            self.last_fallback_rows_ = len(clv)
        return ids.select("customer_id").with_columns(
            pl.Series("clv_minor", _round(clv), dtype=pl.Int64),
            pl.Series("p_alive", p_alive, dtype=pl.Float64),
            pl.lit(self.method_).alias("clv_method"),
        )

    @staticmethod
    def _fallback(s: pl.DataFrame, yv: pl.DataFrame, annuity: float) -> tuple[np.ndarray, np.ndarray]:
        rec = (s["T"].to_numpy() - s["recency"].to_numpy()) * PERIOD_DAYS
        p_alive = np.exp(-np.maximum(rec, 0.0) / FALLBACK_SURVIVAL_DAYS)
        p_alive = np.where(s["has_history"].to_numpy(), p_alive, 0.0)
        clv = np.maximum(yv["value_minor"].to_numpy().astype(float), 0.0) / 12 * annuity * p_alive
        return clv, p_alive

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {"horizon_months": self.horizon_months, "annual_discount_rate": self.annual_discount_rate,
                       "penalizer": self.penalizer, "min_repeat_customers": self.min_repeat_customers},
            "method": self.method_, "reason": self.reason_, "bgf": self.bgf_params_, "ggf": self.ggf_params_,
            "bgf_penalizer": self.bgf_penalizer_, "ggf_penalizer": self.ggf_penalizer_,
            "n_customers": self.n_customers_, "n_repeat": self.n_repeat_,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CLVModel:
        p = d["params"]
        m = cls(horizon_months=int(p["horizon_months"]), annual_discount_rate=float(p["annual_discount_rate"]),
                penalizer=float(p["penalizer"]), min_repeat_customers=int(p["min_repeat_customers"]))
        m.method_, m.reason_ = d["method"], d["reason"]
        m.bgf_params_, m.ggf_params_ = d["bgf"], d["ggf"]
        m.bgf_penalizer_, m.ggf_penalizer_ = float(d["bgf_penalizer"]), float(d["ggf_penalizer"])
        m.n_customers_, m.n_repeat_ = int(d["n_customers"]), int(d["n_repeat"])
        return m

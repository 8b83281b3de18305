"""Robo-advice: an optimised allocation across the catalogue for a customer's grade and horizon, its
out-of-sample backtest against equal weight, and rebalancing suggestions when holdings drift.

How a plan is built (:func:`propose`; the reasons are in ``docs/ROBO.md``):

1. **Grade**: the customer's grade in force (:mod:`smartbank.wealth.grades`); none (never assessed, or
   lapsed) is refused, nothing written.
2. **Universe**: active products the customer may buy outright (``rules.check(...).outcome == "pass"``:
   never one that would need an acknowledgement), whose asset class the risk budget allows, whose term fits
   the horizon, with at least :data:`MIN_HISTORY_DAYS` NAVs (a time deposit without NAVs accrues its rate).
3. **Risk budget** (data, :data:`GRADE_CLASS_CAPS`, :data:`GRADE_GROWTH_CAPS`, :data:`HORIZON_CAPS`): a cap
   per asset class and on growth assets together (mixed + equity + alternative), the tighter of the grade's
   and the horizon's; at most :data:`MAX_WEIGHT` per product (raised only as far as a small universe needs).
4. **Method per grade** (:data:`METHOD_BY_GRADE`): minimum CVaR (C1, C2), risk parity (C3), maximum
   diversification (C4), mean-variance maximum Sharpe over cash (C5) - skfolio, with the class and growth
   caps as linear inequalities; weights >= 0 summing to 1. A result that misses a constraint (an optimiser
   fallback) is projected onto the constraints (the nearest feasible weights, a small quadratic program).
5. **Minimum amounts**: a product whose weight x amount (rounded down to its purchase step) is below its
   minimum is dropped and the rest re-solved, until every amount meets its minimum. Amounts are split in
   fen by largest remainder (in steps of each product's ``step_minor``) and sum exactly to the amount
   (``uninvested_minor`` > 0 only when the steps make that impossible).
6. **Backtest**: walk-forward over the NAV history (refit every :data:`REBALANCE_DAYS` on the previous
   :data:`LOOKBACK_DAYS`, hold the next period) against equal weight over the same universe and days.

A new plan supersedes the customer's older proposed ones. :func:`drift` compares holdings (units x latest
NAV, from the holdings service) in a plan's products with its
weights and suggests trades when a weight is off by more than the plan's
band; :func:`follow` buys a plan's amounts through the wealth orders service.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.errors import Forbidden, InsufficientFunds, NotFound, ValidationFailed
from smartbank.money import MAX_MINOR, format_minor
from smartbank.security import service as security
from smartbank.security.service import Principal
from smartbank.wealth import grades, holdings, orders, products, rules
from smartbank.wealth.evaluate import TRADING_DAYS, portfolio_metrics
from smartbank.wealth.models import (
    ASSET_CLASSES,
    GRADES,
    UNIT,
    PortfolioPlan,
    WealthProduct,
)

__all__ = ["ADVISERS", "DEFAULT_DRIFT_BAND", "GRADE_CLASS_CAPS", "GRADE_GROWTH_CAPS", "HORIZON_CAPS",
           "LOOKBACK_DAYS", "MAX_WEIGHT", "METHOD_BY_GRADE", "MIN_HISTORY_DAYS", "REBALANCE_DAYS", "Asset",
           "backtest", "budget", "drift", "follow", "get_plan", "list_plans", "optimise", "plan_view", "propose",
           "propose_for_grade"]

# --- the risk budget, as data ---------------------------------------------------------------------------

GROWTH = ("mixed", "equity", "alternative")
# the most a grade may hold in each asset class (0: the class is left out)
GRADE_CLASS_CAPS: dict[str, dict[str, float]] = {
    "C1": {"cash": 1.0, "bond": 1.0, "mixed": 0.0, "equity": 0.0, "alternative": 0.0},
    "C2": {"cash": 1.0, "bond": 1.0, "mixed": 0.30, "equity": 0.10, "alternative": 0.0},
    "C3": {"cash": 1.0, "bond": 1.0, "mixed": 0.50, "equity": 0.35, "alternative": 0.10},
    "C4": {"cash": 1.0, "bond": 1.0, "mixed": 0.70, "equity": 0.60, "alternative": 0.20},
    "C5": {"cash": 1.0, "bond": 1.0, "mixed": 1.0, "equity": 0.90, "alternative": 0.30},
}
# the most a grade may hold in growth assets together (mixed + equity + alternative)
GRADE_GROWTH_CAPS: dict[str, float] = {"C1": 0.0, "C2": 0.30, "C3": 0.60, "C4": 0.80, "C5": 1.0}
# the least a grade holds in growth assets when its universe has them (the budget's floor: without it the
# risk-based methods, which need no return forecast, put a growth-seeking customer almost all in deposits)
GRADE_GROWTH_FLOORS: dict[str, float] = {"C1": 0.0, "C2": 0.10, "C3": 0.30, "C4": 0.45, "C5": 0.60}
# horizons shorter than the first number of months cap the classes (and growth) further
HORIZON_CAPS: tuple[tuple[int, dict[str, float]], ...] = (
    (12, {"mixed": 0.20, "equity": 0.10, "alternative": 0.0, "growth": 0.20}),
    (36, {"mixed": 0.50, "equity": 0.40, "alternative": 0.10, "growth": 0.60}),
)
METHOD_BY_GRADE: dict[str, str] = {"C1": "min_cvar", "C2": "min_cvar", "C3": "risk_parity",
                                   "C4": "max_diversification", "C5": "mean_variance"}
METHODS = ("min_cvar", "risk_parity", "max_diversification", "mean_variance", "equal_weight")
MAX_WEIGHT = 0.35  # per product
MIN_HISTORY_DAYS = 120  # NAVs a product needs to be allocated (about six months of trading days)
LOOKBACK_DAYS = 252  # the window an allocation is fitted on (a year)
REBALANCE_DAYS = 21  # the backtest refits about monthly
MAX_HISTORY_DAYS = 3 * 252 + 1  # NAVs read per product (three years)
DEFAULT_DRIFT_BAND = 0.05
MIN_HORIZON, MAX_HORIZON = 1, 360
ADVISERS = security.roles_for("wealth.advice")  # staff who propose and read plans on a customer's behalf
_TOL = 1e-6


def budget(grade: str, horizon_months: int) -> tuple[dict[str, float], float]:
    """(cap per asset class, cap on growth assets together) for a grade and horizon: the tighter of the
    grade's and the horizon's. ``caps["growth_floor"]`` is the least share of growth assets: the grade's
    floor, none under a year, at most a quarter under three years, never above the growth cap."""
    if grade not in GRADE_CLASS_CAPS:
        raise ValidationFailed(f"unknown grade {grade!r}", reason="wealth.unknown_grade",
                               details={"grade": grade, "grades": list(GRADES)})
    caps = dict(GRADE_CLASS_CAPS[grade])
    growth = GRADE_GROWTH_CAPS[grade]
    floor = GRADE_GROWTH_FLOORS[grade]
    for below, limits in HORIZON_CAPS:
        if horizon_months < below:
            for c, v in limits.items():
                if c == "growth":
                    growth = min(growth, v)
                else:
                    caps[c] = min(caps[c], v)
            floor = 0.0 if below == 12 else min(floor, 0.25)
            break
    caps["growth_floor"] = min(floor, growth)
    return caps, growth


# --- the optimiser (pure: returns in, weights out) --------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    code: str
    asset_class: str
    min_amount_minor: int = 0
    step_minor: int = 1


def _constraints(codes: list[str], classes: dict[str, str], caps: dict[str, float],
                 growth_cap: float, growth_floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Rows A, bounds b with A w <= b: one row per asset class present, one for growth assets (and one for
    their floor)."""
    rows, bounds = [], []
    for c in ASSET_CLASSES:
        member = np.array([1.0 if classes[k] == c else 0.0 for k in codes])
        if member.any() and caps.get(c, 1.0) < 1.0:
            rows.append(member)
            bounds.append(caps[c])
    g = np.array([1.0 if classes[k] in GROWTH else 0.0 for k in codes])
    if g.any() and growth_cap < 1.0:
        rows.append(g)
        bounds.append(growth_cap)
    if g.any() and growth_floor > 0.0:
        rows.append(-g)
        bounds.append(-growth_floor)
    if not rows:
        return np.zeros((0, len(codes))), np.zeros(0)
    return np.vstack(rows), np.array(bounds)


def _capacity(codes: list[str], classes: dict[str, str], caps: dict[str, float], growth_cap: float,
              max_weight: float) -> float:
    """The largest total weight the caps allow (feasible when >= 1)."""
    by_class = {c: min(caps.get(c, 1.0), max_weight * sum(1 for k in codes if classes[k] == c))
                for c in ASSET_CLASSES}
    safe = sum(v for c, v in by_class.items() if c not in GROWTH)
    return safe + min(growth_cap, sum(by_class[c] for c in GROWTH))


def feasible_max_weight(codes: list[str], classes: dict[str, str], caps: dict[str, float],
                        growth_cap: float, max_weight: float = MAX_WEIGHT) -> float | None:
    """``max_weight``, or the smallest of 0.5, 0.75, 1.0 above it that makes the caps feasible; None if even
    1.0 does not (the universe cannot fill a portfolio within the budget)."""
    for mw in (max_weight, 0.5, 0.75, 1.0):
        if mw >= max_weight and _capacity(codes, classes, caps, growth_cap, mw) >= 1.0 - 1e-9:
            return mw
    return None


def _project(w: np.ndarray, ub: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The feasible weights nearest to ``w`` (least squares): 0 <= x <= ub, sum x = 1, A x <= b."""
    import cvxpy as cp

    x = cp.Variable(len(w))
    cons = [x >= 0, x <= ub, cp.sum(x) == 1]
    if len(b):
        cons.append(a @ x <= b)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(x - w)), cons)
    prob.solve(solver=cp.CLARABEL)
    if x.value is None:
        raise ValidationFailed("no allocation satisfies the risk budget", code="robo_infeasible")
    return np.asarray(x.value, dtype=float)


def _estimator(method: str, ub: np.ndarray, a: np.ndarray, b: np.ndarray, rf: float,
               trading: dict[str, Any] | None = None) -> Any:
    from skfolio import RiskMeasure
    from skfolio.moments import LedoitWolf, ShrunkMu
    from skfolio.optimization import (
        EqualWeighted,
        MaximumDiversification,
        MeanRisk,
        ObjectiveFunction,
        RiskBudgeting,
    )
    from skfolio.prior import EmpiricalPrior

    kw: dict[str, Any] = {"min_weights": 0.0, "max_weights": ub, "fallback": EqualWeighted()}
    if len(b):
        kw.update(left_inequality=a, right_inequality=b)
    if method == "min_cvar":
        return MeanRisk(risk_measure=RiskMeasure.CVAR, objective_function=ObjectiveFunction.MINIMIZE_RISK,
                        prior_estimator=EmpiricalPrior(), **kw)
    if method == "risk_parity":
        return RiskBudgeting(risk_measure=RiskMeasure.VARIANCE,
                             prior_estimator=EmpiricalPrior(covariance_estimator=LedoitWolf()), **kw)
    if method == "max_diversification":
        return MaximumDiversification(prior_estimator=EmpiricalPrior(covariance_estimator=LedoitWolf()), **kw)
    if method == "mean_variance":
        return MeanRisk(risk_measure=RiskMeasure.VARIANCE, objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
                        risk_free_rate=rf,
                        prior_estimator=EmpiricalPrior(mu_estimator=ShrunkMu(), covariance_estimator=LedoitWolf()),
                        **(kw | ({"fallback": ["previous_weights", EqualWeighted()], **trading} if trading else {})))
    raise ValueError(f"unknown method {method!r}; one of {', '.join(METHODS)}")


def optimise(returns: pd.DataFrame, classes: dict[str, str], *, method: str, caps: dict[str, float],
             growth_cap: float, max_weight: float, previous: dict[str, float] | None = None,
             costs: dict[str, float] | None = None, holding_days: int = REBALANCE_DAYS) -> dict[str, float]:
    """Weights per column of ``returns`` (daily simple returns): >= 0, summing to 1, each at most
    ``min(max_weight, its class cap)``, each class within its cap and growth assets within ``growth_cap``.
    Raises ``ValidationFailed`` when no such weights exist.

    ``previous`` (the weights held) and ``costs`` (per product, the cost of trading one unit of weight): the
    methods that use expected returns (mean-variance) then count the cost of moving away from what is held
    against the expected return, spread over ``holding_days`` (skfolio's ``transaction_costs`` are in the
    returns' time unit), so a refit trades only when it expects to earn the fees back within a period."""
    codes = [str(c) for c in returns.columns]
    n = len(codes)
    if n == 0:
        raise ValidationFailed("no product to allocate", code="robo_no_products")
    ub = np.array([min(max_weight, caps.get(classes[k], 1.0)) for k in codes])
    in_growth = np.array([classes[k] in GROWTH for k in codes])
    # the floor as far as this universe can meet it (a little under, so the solvers see room)
    floor = min(float(caps.get("growth_floor", 0.0)), growth_cap, float(ub[in_growth].sum())) * 0.999
    a, b = _constraints(codes, classes, caps, growth_cap, floor)
    if _capacity(codes, classes, caps, growth_cap, max_weight) < 1.0 - 1e-9:
        raise ValidationFailed("no allocation satisfies the risk budget", code="robo_infeasible")
    x = returns.astype(float)
    if method == "equal_weight" or n == 1 or len(x) < 2:
        w = np.full(n, 1.0 / n)
    else:
        cash = [k for k in codes if classes[k] == "cash"]
        rf = max(0.0, float(x[cash].mean().mean())) if cash else 0.0
        trading = None
        if previous is not None and costs:
            trading = {"previous_weights": np.array([previous.get(k, 0.0) for k in codes]),
                       "transaction_costs": np.array([costs.get(k, 0.0) for k in codes]) / max(1, holding_days)}
        est = _estimator(method, ub, a, b, rf, trading)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                est.fit(x)
                w = np.asarray(est.weights_, dtype=float)
            except Exception:  # a degenerate window: fall back to the nearest feasible 1/N
                w = np.full(n, 1.0 / n)
        if not np.all(np.isfinite(w)):
            w = np.full(n, 1.0 / n)
    w = np.clip(w, 0.0, None)
    w = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    if (w > ub + _TOL).any() or (len(b) and (a @ w > b + _TOL).any()):
        w = _project(w, ub, a, b)
    w = np.clip(w, 0.0, ub)
    w[w < 1e-7] = 0.0
    w = w / w.sum()
    return {k: float(v) for k, v in zip(codes, w, strict=True)}


# --- amounts -----------------------------------------------------------------------------------------------


def split_amount(amount_minor: int, weights: dict[str, float], steps: dict[str, int]) -> tuple[dict[str, int], int]:
    """Amounts in fen per product by largest remainder, each a multiple of its step; (amounts, uninvested)
    with ``sum(amounts) + uninvested == amount_minor`` and uninvested 0 whenever the steps allow."""
    codes = [k for k, v in weights.items() if v > 0]
    raw = {k: Decimal(repr(weights[k])) * amount_minor for k in codes}
    out = {k: int(raw[k] // steps.get(k, 1)) * steps.get(k, 1) for k in codes}
    left = amount_minor - sum(out.values())
    order = sorted(codes, key=lambda k: (-(raw[k] - out[k]) / steps.get(k, 1), k))
    changed = True
    while left > 0 and changed:
        changed = False
        for k in order:
            st = steps.get(k, 1)
            if st <= left:
                out[k] += st
                left -= st
                changed = True
                if left == 0:
                    break
    return out, left


NEGLIGIBLE_WEIGHT = 0.01  # a line the optimiser gives less than this is its choice, not the minimum's


def max_allocation(asset: Asset, amount_minor: int, caps: dict[str, float], growth_cap: float) -> int:
    """The most a plan of ``amount_minor`` could ever put into the product: the amount times the loosest bound
    its budget allows (its class cap, and the growth cap for a growth asset), rounded down to its step."""
    bound = min(1.0, caps.get(asset.asset_class, 1.0))
    if asset.asset_class in GROWTH:
        bound = min(bound, growth_cap)
    step = max(1, asset.step_minor)
    return int(Decimal(repr(bound)) * amount_minor // step) * step


def fit_amounts(returns: pd.DataFrame, assets: dict[str, Asset], amount_minor: int, *, method: str,
                caps: dict[str, float], growth_cap: float, max_weight: float = MAX_WEIGHT
                ) -> tuple[dict[str, float], dict[str, int], int, list[dict[str, str]], float]:
    """Weights and amounts in which every line meets its product's minimum purchase. Returns (weights,
    amounts, uninvested, left out with reasons, max weight used).

    Both sides compare fen with fen. A product whose minimum exceeds the most the plan could ever put in it
    (:func:`max_allocation`) is left out before solving (``below_minimum_amount``). Then: solve, split the
    amount, and while some line is under its minimum, leave out the one with the largest minimum (the product
    whose minimum is the obstacle; cheap products stay for the re-solve) and solve again. A product left out
    with a weight of at least :data:`NEGLIGIBLE_WEIGHT` is reported (``allocation_below_minimum``: the share the
    optimiser gave it was smaller than its minimum); one the optimiser gave almost nothing is not reported,
    like a product it gave nothing at all."""
    classes = {k: a.asset_class for k, a in assets.items()}
    steps = {k: max(1, a.step_minor) for k, a in assets.items()}
    codes = [str(c) for c in returns.columns]
    left_out: list[dict[str, str]] = []
    for k in list(codes):
        if assets[k].min_amount_minor > max_allocation(assets[k], amount_minor, caps, growth_cap):
            left_out.append({"code": k, "reason": "below_minimum_amount"})
            codes.remove(k)
    dropped = [x["code"] for x in left_out]
    while True:
        mw = feasible_max_weight(codes, classes, caps, growth_cap, max_weight) if codes else None
        if mw is None:
            need = min((a.min_amount_minor for a in assets.values()), default=0)
            raise ValidationFailed(
                "the amount is too small to build a diversified portfolio within your risk budget from the "
                "products' minimum purchase amounts" if dropped else
                "the catalogue has too few products for your grade and horizon to build a portfolio",
                code="robo_amount_too_small" if dropped else "robo_infeasible",
                reason="wealth.robo_amount_too_small" if dropped else "wealth.robo_infeasible",
                details={"amount_minor": amount_minor, "smallest_minimum_minor": need, "dropped": dropped})
        w = optimise(returns[codes], classes, method=method, caps=caps, growth_cap=growth_cap, max_weight=mw)
        amounts, uninvested = split_amount(amount_minor, w, steps)
        short = [k for k in codes if w[k] > 0 and amounts.get(k, 0) < assets[k].min_amount_minor]
        if not short:
            weights = {k: v for k, v in w.items() if v > 0}
            return weights, {k: v for k, v in amounts.items() if v > 0}, uninvested, left_out, mw
        worst = max(short, key=lambda k: (assets[k].min_amount_minor,
                                          -amounts.get(k, 0) / max(1, assets[k].min_amount_minor), k))
        dropped.append(worst)
        if w[worst] >= NEGLIGIBLE_WEIGHT:
            left_out.append({"code": worst, "reason": "allocation_below_minimum"})
        codes = [k for k in codes if k != worst]


# --- the backtest ------------------------------------------------------------------------------------------


def backtest(returns: pd.DataFrame, classes: dict[str, str], *, method: str, caps: dict[str, float],
             growth_cap: float, max_weight: float, lookback_days: int = LOOKBACK_DAYS,
             rebalance_days: int = REBALANCE_DAYS, first_fit_days: int = MIN_HISTORY_DAYS,
             curve_points: int = 60, fees: dict[str, tuple[float, float]] | None = None) -> dict[str, Any] | None:
    """Walk-forward, out of sample: at rows first_fit_days, + rebalance_days, ... fit on the previous
    ``lookback_days`` rows (never a later one) and hold the weights (rebalanced daily, skfolio's convention)
    until the next refit; equal weight over the same products and days. Figures as in
    :func:`smartbank.wealth.evaluate.portfolio_metrics` (252 days a year, risk-free 0) for both, and the
    cumulative-return curves. None when the history is too short for one holding period.

    ``fees``: per product (subscription rate, redemption rate), as the orders service charges them. The
    figures are then net of what the trades would have cost: the first day's buying pays subscription fees,
    each refit pays redemption fees on what it sells and subscription fees on what it buys, taken from the
    wealth at the start of that day (the daily rebalancing inside a period is not charged; management fees are
    already in the NAVs). ``fees_paid`` is the fraction of the starting wealth paid in fees, ``gross_*`` the
    figures before them. Equal weight pays its subscription fees once."""
    n = len(returns)
    if n < first_fit_days + rebalance_days:
        return None
    x = returns.to_numpy(dtype=float)
    cols = [str(c) for c in returns.columns]
    sub = np.array([(fees or {}).get(c, (0.0, 0.0))[0] for c in cols])
    red = np.array([(fees or {}).get(c, (0.0, 0.0))[1] for c in cols])
    port: list[np.ndarray] = []
    costs: list[np.ndarray] = []
    held = np.zeros(len(cols))  # all in cash before the first day
    unit = {c: (float(sub[i]) + float(red[i])) / 2 for i, c in enumerate(cols)}  # a switch buys and sells
    refits = 0
    for t in range(first_fit_days, n, rebalance_days):
        hist = returns.iloc[max(0, t - lookback_days):t]
        w = optimise(hist, classes, method=method, caps=caps, growth_cap=growth_cap, max_weight=max_weight,
                     previous=dict(zip(cols, held.tolist(), strict=True)) if refits else None,
                     costs=unit if fees else None, holding_days=rebalance_days)
        wv = np.array([w[c] for c in cols])
        period = x[t:min(t + rebalance_days, n)] @ wv
        cost = np.zeros(len(period))
        cost[0] = float(np.clip(wv - held, 0, None) @ sub + np.clip(held - wv, 0, None) @ red)
        port.append(period)
        costs.append(cost)
        held = wv
        refits += 1
    gross = np.concatenate(port)
    r = (1 + gross) * (1 - np.concatenate(costs)) - 1
    ew_gross = x[first_fit_days:].mean(axis=1)
    ew = ew_gross.copy()
    ew[0] = (1 + ew[0]) * (1 - float(sub.mean())) - 1
    days = [str(d.date()) if hasattr(d, "date") else str(d) for d in returns.index[first_fit_days:]]
    cum_p, cum_e = np.cumprod(1 + r) - 1, np.cumprod(1 + ew) - 1
    wealth_gross = np.cumprod(1 + gross)
    paid = float(np.sum(np.concatenate(costs) * np.concatenate([[1.0], np.cumprod(1 + r)[:-1]])))
    idx = sorted(set(np.linspace(0, len(r) - 1, min(curve_points, len(r))).round().astype(int).tolist()))
    out: dict[str, Any] = {
        **_clean(portfolio_metrics(r)), **_clean(portfolio_metrics(ew, "equal_weight_")),
        "total_return": float(cum_p[-1]), "equal_weight_total_return": float(cum_e[-1]),
        "fees_paid": paid, "equal_weight_fees_paid": float(sub.mean()),
        "gross_annual_return": _clean(portfolio_metrics(gross))["annual_return"],
        "gross_total_return": float(wealth_gross[-1] - 1),
        "start": days[0], "end": days[-1], "n_days": len(r), "n_refits": refits,
        "lookback_days": lookback_days, "rebalance_days": rebalance_days, "trading_days_per_year": TRADING_DAYS,
        "curve": {"dates": [days[i] for i in idx], "plan": [round(float(cum_p[i]), 6) for i in idx],
                  "equal_weight": [round(float(cum_e[i]), 6) for i in idx]},
    }
    return out


def _clean(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if not math.isfinite(v) else float(v)) for k, v in d.items()}


# --- reading the catalogue (through the products service) --------------------------------------------------


def _nav_frame(session: Session, items: list[dict[str, Any]], until: date) -> pd.DataFrame:
    """Wide NAVs (a row per day, a column per product code) over the last MAX_HISTORY_DAYS of each product;
    a time deposit without NAVs accrues its rate on the same days."""
    start = until - timedelta(days=int(MAX_HISTORY_DAYS * 7 / 5) + 10)
    cols: dict[str, pd.Series] = {}
    for p in items:
        rows = products.value_history(session, p["id"], start=start, end=until)  # money-market: income reinvested
        if rows:
            cols[p["code"]] = pd.Series([r[1] / UNIT for r in rows], index=pd.to_datetime([r[0] for r in rows]))
    if not cols:
        return pd.DataFrame()
    frame = pd.DataFrame(cols).sort_index()
    for p in items:
        if p["code"] not in cols and p["kind"] == "time_deposit" and p["rate_bps"]:
            d = (frame.index - frame.index[0]).days.to_numpy()
            frame[p["code"]] = (1 + p["rate_bps"] / 10_000 / 365) ** d
    return frame.tail(MAX_HISTORY_DAYS)


def _universe(session: Session, grade: str, horizon_months: int, until: date
              ) -> tuple[pd.DataFrame, dict[str, dict[str, Any]], list[dict[str, str]]]:
    """(daily returns of the products the plan may use, those products by code, the products left out and
    why)."""
    caps, growth = budget(grade, horizon_months)
    out: dict[str, dict[str, Any]] = {}
    left_out: list[dict[str, str]] = []
    horizon_days = horizon_months * 365 / 12
    for p in products.list_products(session, status="active"):
        if rules.check(grade, p["kind"], p["risk_level"]).outcome != "pass":
            continue  # never shown: above the grade
        if caps.get(p["asset_class"], 0.0) <= 0 or (p["asset_class"] in GROWTH and growth <= 0):
            left_out.append({"code": p["code"], "reason": "asset_class_outside_budget"})
        elif p["term_days"] and p["term_days"] > horizon_days:
            left_out.append({"code": p["code"], "reason": "term_longer_than_horizon"})
        else:
            out[p["code"]] = p
    prices = _nav_frame(session, list(out.values()), until)
    keep = []
    for code in list(out):
        if code not in prices or prices[code].count() < MIN_HISTORY_DAYS:
            left_out.append({"code": code, "reason": "history_too_short"})
            del out[code]
        else:
            keep.append(code)
    if not keep:
        return pd.DataFrame(), {}, left_out
    px = prices[keep].ffill().dropna(how="any")
    rets = (px / px.shift(1) - 1.0).iloc[1:]
    return rets, out, left_out


# --- who may act for whom ----------------------------------------------------------------------------------


def _customer(actor: Principal, customer_id: int | None) -> int:
    if actor.is_staff:
        actor.require_role(*ADVISERS)
        if customer_id is None:
            raise ValidationFailed("which customer?", reason="wealth.customer_required")
        return customer_id
    if actor.customer_id is None:
        raise Forbidden("robo-advice is for customers", reason="wealth.customer_only")
    if customer_id is not None and customer_id != actor.customer_id:
        raise NotFound("customer not found", details={"customer_id": customer_id})
    return actor.customer_id


def _own_plan(session: Session, actor: Principal, plan_id: int) -> PortfolioPlan:
    plan = session.get(PortfolioPlan, plan_id)
    if plan is None:
        raise NotFound("plan not found", reason="wealth.plan_not_found", details={"plan_id": plan_id})
    if actor.is_staff:
        actor.require_role(*ADVISERS)
    elif actor.customer_id is None or plan.customer_id != actor.customer_id:
        raise NotFound("plan not found", reason="wealth.plan_not_found", details={"plan_id": plan_id})
    return plan


# --- proposing ---------------------------------------------------------------------------------------------


def _validate(amount_minor: int, horizon_months: int) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not 0 < amount_minor <= MAX_MINOR:
        raise ValidationFailed("the amount must be a positive whole number of fen", reason="wealth.robo_bad_amount",
                               details={"field": "amount_minor", "min_minor": 1, "max_minor": MAX_MINOR})
    if isinstance(horizon_months, bool) or not isinstance(horizon_months, int) \
            or not MIN_HORIZON <= horizon_months <= MAX_HORIZON:
        raise ValidationFailed(f"the horizon must be {MIN_HORIZON} to {MAX_HORIZON} months",
                               reason="wealth.bad_horizon",
                               details={"field": "horizon_months", "low": MIN_HORIZON, "high": MAX_HORIZON})


def _build(session: Session, grade: str, amount_minor: int, horizon_months: int, until: date,
           *, with_backtest: bool = True) -> dict[str, Any]:
    caps, growth = budget(grade, horizon_months)
    method = METHOD_BY_GRADE[grade]
    rets, universe, left_out = _universe(session, grade, horizon_months, until)
    if not universe:
        raise ValidationFailed("no product in the catalogue fits your grade and horizon yet",
                               code="robo_no_products", details={"grade": grade, "horizon_months": horizon_months})
    assets = {k: Asset(k, p["asset_class"], p["min_amount_minor"], p["step_minor"] or 1)
              for k, p in universe.items()}
    weights, amounts, uninvested, too_small, mw = fit_amounts(
        rets.tail(LOOKBACK_DAYS), assets, amount_minor, method=method, caps=caps, growth_cap=growth)
    left_out += too_small
    bt = None
    if with_backtest:
        used = list(weights)
        fees = {k: (0.0 if universe[k]["kind"] == "time_deposit" else universe[k]["subscription_fee_bps"] / 10_000,
                    universe[k]["redemption_fee_bps"] / 10_000) for k in used}
        bt = backtest(rets[used], {k: assets[k].asset_class for k in used}, method=method, caps=caps,
                      growth_cap=growth, max_weight=feasible_max_weight(
                          used, {k: assets[k].asset_class for k in used}, caps, growth) or 1.0, fees=fees)
        if bt is not None:
            bt["universe"] = used
    return {"grade": grade, "method": method, "weights": {k: round(v, 8) for k, v in weights.items()},
            "amounts": amounts, "uninvested_minor": uninvested, "max_weight": mw,
            "class_caps": caps, "growth_cap": growth, "left_out": left_out, "backtest": bt,
            "history_days": len(rets)}


def propose(session: Session, actor: Principal, *, amount_minor: int, horizon_months: int,
            customer_id: int | None = None, now: datetime | None = None) -> PortfolioPlan:
    """A plan for the customer's grade in force (staff advisers name the customer); supersedes the
    customer's older proposed plans. Refused, with nothing written, without a valid assessment."""
    now = now or clock.now()
    cid = _customer(actor, customer_id)
    _validate(amount_minor, horizon_months)
    grade = grades.current_grade(session, cid, now)
    if grade is None:
        v = rules.check(None, "fund", "R1")
        raise ValidationFailed(v.en, code="assessment_required", details={"customer_id": cid, "zh": v.zh})
    built = _build(session, grade, amount_minor, horizon_months, clock.local_date(now))
    bt = built["backtest"]
    stored_bt = {**bt} if bt else {"unavailable": "history_too_short"}
    stored_bt["budget"] = {"class_caps": built["class_caps"], "growth_cap": built["growth_cap"],
                           "max_weight": built["max_weight"]}
    stored_bt["left_out"] = built["left_out"]
    stored_bt["uninvested_minor"] = built["uninvested_minor"]
    session.execute(update(PortfolioPlan).where(PortfolioPlan.customer_id == cid,
                                                PortfolioPlan.status == "proposed").values(status="superseded"))
    plan = PortfolioPlan(customer_id=cid, grade=grade, horizon_months=horizon_months, amount_minor=amount_minor,
                         method=built["method"], weights=built["weights"], amounts=built["amounts"],
                         backtest=stored_bt, status="proposed", created_at=now, drift_band=DEFAULT_DRIFT_BAND)
    session.add(plan)
    session.flush()
    if actor.is_staff:
        security.audit(session, actor, action="robo.propose", object_type="portfolio_plan", object_id=plan.id,
                       after={"customer_id": cid, "amount_minor": amount_minor, "horizon_months": horizon_months})
    return plan


def propose_for_grade(session: Session, *, grade: str, horizon_months: int, amount_minor: int = 10_000_000,
                      now: datetime | None = None, with_backtest: bool = True) -> dict[str, Any]:
    """What the method would allocate for a grade on today's catalogue, with the backtest (nothing written;
    for the ``smartbank wealth robo backtest`` command and the docs)."""
    _validate(amount_minor, horizon_months)
    if grade not in GRADE_CLASS_CAPS:
        raise ValidationFailed(f"unknown grade {grade!r}", reason="wealth.unknown_grade",
                               details={"grade": grade, "grades": list(GRADES)})
    return _build(session, grade, amount_minor, horizon_months, (now or clock.now()).date(),
                  with_backtest=with_backtest)


# --- reading plans -----------------------------------------------------------------------------------------


def _products_by_code(session: Session, codes: list[str]) -> dict[str, WealthProduct]:
    if not codes:
        return {}
    return {p.code: p for p in session.scalars(select(WealthProduct).where(WealthProduct.code.in_(codes)))}


def plan_view(session: Session, plan: PortfolioPlan) -> dict[str, Any]:
    """A plan as the entry points show it: lines with product names, class totals, the backtest."""
    prods = _products_by_code(session, list(plan.weights))
    lines: list[dict[str, Any]] = []
    for code, w in sorted(plan.weights.items(), key=lambda kv: (-kv[1], kv[0])):
        p = prods.get(code)
        lines.append({"code": code, "name_en": p.name_en if p else code, "name_zh": p.name_zh if p else code,
                      "kind": p.kind if p else None, "risk_level": p.risk_level if p else None,
                      "asset_class": p.asset_class if p else None, "weight": float(w),
                      "amount_minor": int((plan.amounts or {}).get(code, 0)),
                      "min_amount_minor": p.min_amount_minor if p else None})
    by_class: dict[str, float] = {}
    for ln in lines:
        by_class[ln["asset_class"] or "unknown"] = by_class.get(ln["asset_class"] or "unknown", 0.0) + ln["weight"]
    bt = dict(plan.backtest or {})
    return {"id": plan.id, "customer_id": plan.customer_id, "grade": plan.grade,
            "horizon_months": plan.horizon_months, "amount_minor": plan.amount_minor, "method": plan.method,
            "status": plan.status, "drift_band": plan.drift_band, "created_at": plan.created_at,
            "weights": dict(plan.weights), "amounts": dict(plan.amounts or {}), "lines": lines,
            "by_class": by_class, "uninvested_minor": int(bt.pop("uninvested_minor", 0) or 0),
            "budget": bt.pop("budget", None), "left_out": bt.pop("left_out", []),
            "backtest": bt if "sharpe" in bt else None}


def get_plan(session: Session, actor: Principal, plan_id: int) -> dict[str, Any]:
    plan = _own_plan(session, actor, plan_id)
    security.audit_reads(session, actor, action="robo_plan.read", customer_ids=[plan.customer_id],
                         shown={"plan_id": plan.id})
    return plan_view(session, plan)


def list_plans(session: Session, actor: Principal, customer_id: int | None = None,
               limit: int = 50) -> list[dict[str, Any]]:
    """The customer's plans, newest first (without the backtest curves)."""
    cid = _customer(actor, customer_id)
    security.audit_reads(session, actor, action="robo_plans.read", customer_ids=[cid])
    plans = session.scalars(select(PortfolioPlan).where(PortfolioPlan.customer_id == cid)
                            .order_by(PortfolioPlan.id.desc()).limit(limit))
    out = []
    for p in plans:
        v = plan_view(session, p)
        if v["backtest"]:
            v["backtest"] = {k: x for k, x in v["backtest"].items() if k != "curve"}
        out.append(v)
    return out


# --- drift and rebalancing ---------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def drift(session: Session, actor: Principal, plan_id: int | None = None, *, customer_id: int | None = None,
          now: datetime | None = None) -> dict[str, Any]:
    """Holdings in the plan's products (units x latest NAV; a product without NAVs at cost) against the
    plan's weights. When some |actual - target| exceeds the plan's band: trades (in fen) that bring the
    holdings back to the weights, each purchase at least the product's minimum (a smaller one is skipped
    and said so), with reasons in plain words (en, zh). Without ``plan_id``: the newest followed plan, else
    the newest plan."""
    now = now or clock.now()
    if plan_id is not None:
        plan = _own_plan(session, actor, plan_id)
    else:
        cid = _customer(actor, customer_id)
        found = (session.scalars(select(PortfolioPlan).where(PortfolioPlan.customer_id == cid,
                                                             PortfolioPlan.status == "followed")
                                 .order_by(PortfolioPlan.id.desc()).limit(1)).first()
                 or session.scalars(select(PortfolioPlan).where(PortfolioPlan.customer_id == cid)
                                    .order_by(PortfolioPlan.id.desc()).limit(1)).first())
        if found is None:
            raise NotFound("no plan yet", reason="wealth.no_plan", details={"customer_id": cid})
        plan = found
    security.audit_reads(session, actor, action="robo_drift.read", customer_ids=[plan.customer_id],
                         shown={"plan_id": plan.id})
    prods = _products_by_code(session, list(plan.weights))
    book = holdings.customer_holdings(session, plan.customer_id, day=clock.local_date(now), with_analytics=False)
    held = {h["code"]: int(h["market_value_minor"]) for h in book["holdings"]}
    values = {code: held.get(code, 0) for code in plan.weights}
    total = sum(values.values())
    band = float(plan.drift_band or DEFAULT_DRIFT_BAND)
    lines: list[dict[str, Any]] = []
    for code, target in sorted(plan.weights.items(), key=lambda kv: (-kv[1], kv[0])):
        actual = values[code] / total if total else 0.0
        p = prods.get(code)
        lines.append({"code": code, "name_en": p.name_en if p else code, "name_zh": p.name_zh if p else code,
                      "value_minor": values[code], "target_weight": float(target), "actual_weight": actual,
                      "drift": actual - float(target), "outside_band": total > 0 and abs(actual - target) > band})
    out: dict[str, Any] = {"plan_id": plan.id, "plan_status": plan.status, "band": band, "total_minor": total,
                           "lines": lines, "max_drift": max((abs(ln["drift"]) for ln in lines), default=0.0),
                           "rebalance": False, "suggestions": []}
    if total == 0:
        out["status"] = "not_invested"
        out["message_en"] = "You hold none of this plan's products yet: follow the plan to invest."
        out["message_zh"] = "您尚未持有该方案中的产品，可按方案买入。"
        return out
    if not any(ln["outside_band"] for ln in lines):
        out["status"] = "within_band"
        out["message_en"] = f"Every weight is within ±{_pct(band)} of the plan: no rebalancing needed."
        out["message_zh"] = f"各产品占比均在方案目标的±{_pct(band)}以内，无需再平衡。"
        return out
    out["status"] = "rebalance"
    out["rebalance"] = True
    out["message_en"] = f"Some weights are more than {_pct(band)} away from the plan: rebalancing is suggested."
    out["message_zh"] = f"部分产品占比偏离方案目标超过{_pct(band)}，建议再平衡。"
    targets, _ = split_amount(total, {k: float(v) for k, v in plan.weights.items()}, {})
    for ln in lines:
        code = ln["code"]
        p = prods.get(code)
        trade = targets.get(code, 0) - ln["value_minor"]
        if trade == 0 or p is None:
            continue
        action = "buy" if trade > 0 else "sell"
        amt = abs(trade)
        name_en, name_zh = ln["name_en"], ln["name_zh"]
        now_en = (f"{name_en} is {_pct(ln['actual_weight'])} of your plan holdings against a target of "
                  f"{_pct(ln['target_weight'])}")
        now_zh = f"{name_zh}目前占方案持仓的{_pct(ln['actual_weight'])}，目标为{_pct(ln['target_weight'])}"
        skipped = action == "buy" and amt < p.min_amount_minor
        if skipped:
            en = (f"{now_en}; the {format_minor(amt)} top-up it needs is below the product's minimum purchase of "
                  f"{format_minor(p.min_amount_minor)}, so it is left as it is.")
            zh = (f"{now_zh}；需补足的{format_minor(amt)}元低于该产品起购金额{format_minor(p.min_amount_minor)}元，"
                  "暂不调整。")
        elif action == "buy":
            en = f"{now_en}: buy {format_minor(amt)} to bring it back."
            zh = f"{now_zh}，建议买入{format_minor(amt)}元。"
        else:
            en = f"{now_en}: sell about {format_minor(amt)} to bring it back."
            zh = f"{now_zh}，建议赎回约{format_minor(amt)}元。"
        out["suggestions"].append({"code": code, "action": action, "amount_minor": amt, "skipped": skipped,
                                   "reason_en": en, "reason_zh": zh})
    return out


# --- following a plan --------------------------------------------------------------------------------------


def follow(session: Session, actor: Principal, plan_id: int, *, account_id: int, idempotency_key: str,
           now: datetime | None = None) -> dict[str, Any]:
    """Buy the plan's amounts from the customer's account through :func:`smartbank.wealth.orders.purchase`
    (one order per product, its key derived from ``idempotency_key``, so a retry places nothing twice) and
    mark the plan followed. Only the customer who owns the plan may do this; the orders service checks the
    account, minimums, balance and suitability again, and any refusal leaves nothing written."""
    plan = _own_plan(session, actor, plan_id)
    if actor.is_staff or actor.customer_id is None:
        raise Forbidden("a plan is followed by the customer who owns it", reason="wealth.customer_only",
                        details={"role": actor.role})
    if plan.status == "superseded":
        raise ValidationFailed("this plan was replaced by a newer one", code="plan_superseded",
                               details={"plan_id": plan_id})
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        raise ValidationFailed("an idempotency key of 1 to 100 characters is required",
                               reason="wealth.bad_idempotency_key",
                               details={"field": "idempotency_key"})
    lines = [(code, int(amount)) for code, amount in sorted((plan.amounts or {}).items()) if int(amount) > 0]
    keys = {code: f"robo{plan.id}:{key}:{code}" for code, _ in lines}
    needed = sum(amount for code, amount in lines if not orders.is_placed(session, actor, keys[code]))
    if needed:
        available = orders.available_to_invest(session, actor, account_id)
        if available < needed:
            raise InsufficientFunds(
                f"the account's available balance ({format_minor(available)}) is short of the plan's "
                f"{format_minor(needed)}: nothing was bought", code="plan_insufficient_funds",
                details={"account_id": account_id, "available_minor": available, "needed_minor": needed,
                         "shortfall_minor": needed - available})
    placed = []
    replayed = True
    for code, amount in lines:
        o = orders.purchase(session, actor, product_code=code, account_id=account_id, amount_minor=amount,
                            idempotency_key=keys[code], channel="robo", now=now)
        replayed = replayed and orders.was_replayed(o)
        placed.append(orders.order_view(o, products.get_product(session, code)))
    plan.status = "followed"
    session.flush()
    return {"plan_id": plan.id, "status": plan.status, "orders": placed, "replayed": bool(placed) and replayed,
            "total_minor": sum(int(o["amount_minor"] or 0) for o in placed)}

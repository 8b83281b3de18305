"""Robo-advice: budget and constraints, minimum amounts, the backtest's figures, drift and suggestions,
authorisation. The catalogue is written directly (products and deterministic NAV paths)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from smartbank import db
from smartbank.errors import Forbidden, NotFound, ValidationFailed
from smartbank.security.service import SYSTEM, Principal
from smartbank.wealth import products, robo, rules
from smartbank.wealth.models import (
    UNIT,
    Holding,
    PortfolioPlan,
    ProductNav,
    RiskAssessment,
    WealthProduct,
)

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)

# code, kind, risk, class, min (fen), annual drift, annual vol, term days, rate bps
CATALOGUE = [
    ("TD1Y", "time_deposit", "R1", "cash", 5_000_00, 0.0, 0.0, 365, 175),
    ("MMF", "wmp", "R1", "cash", 1_00, 0.018, 0.002, None, None),
    ("CASHP", "wmp", "R1", "cash", 1_000_00, 0.022, 0.004, None, None),
    ("BOND0", "wmp", "R1", "bond", 1_000_00, 0.028, 0.01, None, None),
    ("BONDW", "wmp", "R2", "bond", 10_000_00, 0.035, 0.025, None, None),
    ("BONDF", "fund", "R2", "bond", 10_00, 0.04, 0.03, None, None),
    ("MIXW", "wmp", "R3", "mixed", 10_000_00, 0.05, 0.08, None, None),
    ("MIXF", "fund", "R3", "mixed", 10_00, 0.06, 0.12, None, None),
    ("EQF1", "fund", "R4", "equity", 10_00, 0.08, 0.2, None, None),
    ("EQF2", "fund", "R4", "equity", 10_00, 0.07, 0.18, None, None),
    ("EQF3", "fund", "R5", "equity", 10_00, 0.10, 0.28, None, None),
    ("GOLD", "fund", "R4", "alternative", 10_00, 0.05, 0.15, None, None),
    ("ALT5", "wmp", "R5", "alternative", 100_000_00, 0.07, 0.2, None, None),
    ("SHORTH", "fund", "R2", "bond", 10_00, 0.03, 0.02, None, None),  # too little history
]


def nav_path(code: str, days: int, drift: float, vol: float, *, seed: int = 0) -> np.ndarray:
    """A deterministic NAV path (NAV x 1,000,000) from a common market factor and the product's own noise."""
    rng = np.random.default_rng(abs(hash(code)) % 10_000 + seed)
    market = np.random.default_rng(seed).normal(0, 0.01, days)
    beta = vol / 0.16
    r = drift / 252 + beta * market * 0.7 + rng.normal(0, max(vol, 1e-4) / np.sqrt(252) * 0.7, days)
    return np.round(UNIT * np.cumprod(1 + r)).astype(int)


def make_catalogue(engine, *, days: int = 300, until: date | None = None,
                   rows: list[tuple] | None = None) -> dict[str, int]:
    with db.session_scope(engine) as s:
        return write_catalogue(s, days=days, until=until, rows=rows)


def write_catalogue(s, *, days: int = 300, until: date | None = None,
                    rows: list[tuple] | None = None) -> dict[str, int]:
    until = until or NOW.date()
    dates = pd.bdate_range(end=until, periods=days).date
    ids = {}
    if True:
        for code, kind, risk, cls, mn, mu, vol, term, rate in rows or CATALOGUE:
            p = WealthProduct(code=code, name_en=f"{code} product", name_zh=f"{code}产品", kind=kind, risk_level=risk,
                              asset_class=cls, min_amount_minor=mn, step_minor=1, term_days=term, rate_bps=rate,
                              status="active")
            s.add(p)
            s.flush()
            ids[code] = p.id
            if kind == "time_deposit":  # a fixed NAV, as the catalogue publishes for deposits
                for d in dates:
                    s.add(ProductNav(product_id=p.id, day=d, nav_micro=products.fixed_nav(rate, dates[0], d)))
                continue
            n = 60 if code == "SHORTH" else days
            for d, v in zip(dates[-n:], nav_path(code, n, mu, vol), strict=True):
                s.add(ProductNav(product_id=p.id, day=d, nav_micro=int(v)))
    return ids


def assess(engine, customer_id: int, grade: str, *, lapsed: bool = False, at: datetime = NOW) -> None:
    with db.session_scope(engine) as s:
        taken = at - timedelta(days=400 if lapsed else 10)
        s.add(RiskAssessment(customer_id=customer_id, questionnaire_version=1, answers={}, score=50, grade=grade,
                             taken_at=taken, expires_at=taken + timedelta(days=365)))


def person(bank, name: str = "王芳") -> tuple[int, Principal]:
    cid = bank.customer(name)
    return cid, Principal(user_id=cid + 1000, username=f"c{cid}", role="customer", customer_id=cid)


def _classes(engine) -> dict[str, WealthProduct]:
    with db.session_scope(engine) as s:
        out = {p.code: p for p in s.scalars(select(WealthProduct))}
        s.expunge_all()
        return out


# --- pure parts -------------------------------------------------------------------------------------------


def test_budget_is_the_tighter_of_grade_and_horizon():
    caps, growth = robo.budget("C1", 60)
    assert caps["equity"] == caps["mixed"] == caps["alternative"] == 0 and growth == 0
    caps, growth = robo.budget("C5", 6)
    assert caps["equity"] == 0.10 and caps["alternative"] == 0 and growth == 0.20
    caps, growth = robo.budget("C5", 60)
    assert caps["equity"] == 0.90 and growth == 1.0
    assert robo.budget("C3", 24)[0]["equity"] == 0.35  # grade tighter than the medium horizon
    for g in ("C1", "C2", "C3", "C4", "C5"):
        assert robo.METHOD_BY_GRADE[g] in robo.METHODS
    # the growth floor: the grade's, a quarter at most under three years, none under a year
    assert robo.budget("C4", 60)[0]["growth_floor"] == 0.45
    assert robo.budget("C4", 24)[0]["growth_floor"] == 0.25
    assert robo.budget("C4", 6)[0]["growth_floor"] == 0.0
    assert robo.budget("C1", 60)[0]["growth_floor"] == 0.0


def test_split_amount_is_exact_and_in_steps():
    amounts, left = robo.split_amount(1_000_001, {"A": 1 / 3, "B": 1 / 3, "C": 1 / 3}, {})
    assert sum(amounts.values()) == 1_000_001 and left == 0
    assert sorted(amounts.values()) == [333_333, 333_334, 333_334]
    amounts, left = robo.split_amount(1_000_050, {"A": 0.5, "B": 0.5}, {"A": 100, "B": 100})
    assert all(v % 100 == 0 for v in amounts.values()) and left == 50
    amounts, left = robo.split_amount(1_000_050, {"A": 0.5, "B": 0.5}, {"A": 100, "B": 1})
    assert sum(amounts.values()) == 1_000_050 and left == 0 and amounts["A"] % 100 == 0


def test_backtest_figures_on_a_hand_made_path():
    # two assets; equal-weight and optimised figures are checked by hand on the same out-of-sample days
    n = 180
    a = np.tile([0.01, -0.005], n // 2)
    b = np.tile([0.002, 0.001], n // 2)
    rets = pd.DataFrame({"A": a, "B": b}, index=pd.bdate_range("2024-01-01", periods=n))
    classes = {"A": "equity", "B": "bond"}
    bt = robo.backtest(rets, classes, method="equal_weight", caps={}, growth_cap=1.0, max_weight=1.0,
                       first_fit_days=120, rebalance_days=21)
    assert bt is not None
    held = (a[120:] + b[120:]) / 2  # equal weight: the "method" here is 1/N too
    assert bt["n_days"] == 60 and bt["n_refits"] == 3 and bt["start"] == str(rets.index[120].date())
    assert bt["annual_return"] == pytest.approx(252 * held.mean())
    assert bt["annual_volatility"] == pytest.approx(np.sqrt(252) * held.std(ddof=1))
    assert bt["sharpe"] == pytest.approx(held.mean() / held.std(ddof=1) * np.sqrt(252))
    wealth = np.cumprod(1 + held)
    peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    assert bt["max_drawdown"] == pytest.approx(max(0.0, float(np.max(1 - wealth / peak))))
    assert bt["total_return"] == pytest.approx(wealth[-1] - 1)
    assert bt["equal_weight_annual_return"] == pytest.approx(bt["annual_return"])
    # minimum CVaR: B never loses, A loses every other day -> all in B from the first refit on
    bt = robo.backtest(rets, classes, method="min_cvar", caps={}, growth_cap=1.0, max_weight=1.0,
                       first_fit_days=120)
    assert bt is not None
    assert bt["annual_return"] == pytest.approx(252 * b[120:].mean(), rel=1e-4)
    assert bt["max_drawdown"] == pytest.approx(0.0, abs=1e-6)
    # with bonds capped at 70% it holds 0.3 A + 0.7 B: loses 0.08% every other day
    bt = robo.backtest(rets, classes, method="min_cvar", caps={"bond": 0.7}, growth_cap=1.0, max_weight=1.0,
                       first_fit_days=120)
    assert bt is not None
    r = 0.3 * a[120:] + 0.7 * b[120:]
    assert bt["annual_return"] == pytest.approx(252 * r.mean(), rel=1e-4)
    assert bt["max_drawdown"] == pytest.approx(0.0008, rel=1e-3)
    assert bt["equal_weight_sharpe"] == pytest.approx(held.mean() / held.std(ddof=1) * np.sqrt(252))
    assert robo.backtest(rets.iloc[:130], classes, method="equal_weight", caps={}, growth_cap=1.0,
                         max_weight=1.0) is None


def test_backtest_net_of_subscription_and_redemption_fees(monkeypatch):
    """Each refit pays redemption fees on what it sells and subscription fees on what it buys, out of the
    wealth at the start of its first day; equal weight pays its subscription fees once."""
    n = 180
    a = np.tile([0.01, -0.005], n // 2)
    b = np.tile([0.002, 0.001], n // 2)
    rets = pd.DataFrame({"A": a, "B": b}, index=pd.bdate_range("2024-01-01", periods=n))
    plan = iter([{"A": 1.0, "B": 0.0}, {"A": 0.0, "B": 1.0}, {"A": 1.0, "B": 0.0}])
    monkeypatch.setattr(robo, "optimise", lambda *args, **kw: next(plan))
    fees = {"A": (0.015, 0.005), "B": (0.01, 0.002)}
    bt = robo.backtest(rets, {"A": "equity", "B": "bond"}, method="min_cvar", caps={}, growth_cap=1.0,
                       max_weight=1.0, first_fit_days=120, rebalance_days=21, fees=fees)
    assert bt is not None and bt["n_refits"] == 3
    gross = np.concatenate([a[120:141], b[141:162], a[162:180]])
    cost = np.zeros(60)
    cost[0], cost[21], cost[42] = 0.015, 0.005 + 0.01, 0.002 + 0.015  # buy A; A -> B; B -> A
    wealth = np.cumprod((1 + gross) * (1 - cost))
    assert bt["total_return"] == pytest.approx(wealth[-1] - 1)
    assert bt["gross_total_return"] == pytest.approx(np.prod(1 + gross) - 1)
    before = np.concatenate([[1.0], wealth[:-1]])
    assert bt["fees_paid"] == pytest.approx(float((cost * before).sum()))
    held = (a[120:] + b[120:]) / 2
    assert bt["equal_weight_total_return"] == pytest.approx((1 - 0.0125) * np.prod(1 + held) - 1)
    assert bt["equal_weight_fees_paid"] == pytest.approx(0.0125)
    assert bt["total_return"] < bt["gross_total_return"]


def test_mean_variance_counts_the_cost_of_leaving_what_is_held():
    rng = np.random.default_rng(7)
    rets = pd.DataFrame({"A": rng.normal(0.0012, 0.01, 252), "B": rng.normal(0.0004, 0.01, 252),
                         "C": rng.normal(0.0001, 0.002, 252)}, index=pd.bdate_range("2024-01-01", periods=252))
    classes = {"A": "equity", "B": "equity", "C": "bond"}
    kw = {"method": "mean_variance", "caps": {}, "growth_cap": 1.0, "max_weight": 1.0}
    free = robo.optimise(rets, classes, **kw)
    held = {"A": 0.0, "B": 0.5, "C": 0.5}
    assert sum(abs(free[k] - held[k]) for k in held) > 0.5  # without costs it moves far from what is held
    cheap = robo.optimise(rets, classes, previous=held, costs={k: 0.0001 for k in held}, **kw)
    dear = robo.optimise(rets, classes, previous=held, costs={k: 0.05 for k in held}, **kw)
    turnover = {name: sum(abs(w[k] - held[k]) for k in held) for name, w in (("cheap", cheap), ("dear", dear))}
    assert turnover["dear"] < 0.05 < turnover["cheap"]  # 5% a switch cannot be earned back in a month
    assert abs(sum(dear.values()) - 1) < 1e-9 and min(dear.values()) >= 0


def test_optimise_respects_caps_for_every_method():
    rng = np.random.default_rng(1)
    codes = ["C1", "B1", "B2", "M1", "E1", "E2", "A1"]
    classes = dict(zip(codes, ["cash", "bond", "bond", "mixed", "equity", "equity", "alternative"], strict=True))
    vols = np.array([0.0005, 0.002, 0.003, 0.008, 0.015, 0.014, 0.012])
    x = pd.DataFrame(0.0003 + rng.normal(size=(250, 7)) * vols, columns=codes)
    for grade in ("C2", "C3", "C4", "C5"):
        caps, growth = robo.budget(grade, 24)
        for method in robo.METHODS:
            w = robo.optimise(x, classes, method=method, caps=caps, growth_cap=growth, max_weight=0.35)
            v = np.array(list(w.values()))
            assert v.sum() == pytest.approx(1.0, abs=1e-9) and v.min() >= 0 and v.max() <= 0.35 + 1e-6
            for c in ("mixed", "equity", "alternative"):
                assert sum(w[k] for k in codes if classes[k] == c) <= caps[c] + 1e-6, (grade, method, c)
            share = sum(w[k] for k in codes if classes[k] in robo.GROWTH)
            assert caps["growth_floor"] - 1e-3 <= share <= growth + 1e-6, (grade, method, share)


# --- on the database --------------------------------------------------------------------------------------


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grade=st.sampled_from(["C1", "C2", "C3", "C4", "C5"]), horizon=st.integers(1, 120),
       amount=st.integers(50_000_00, 5_000_000_00))
def test_plans_respect_weights_caps_grade_and_minimums(session, grade, horizon, amount):
    if session.scalar(select(func.count()).select_from(WealthProduct)) == 0:
        write_catalogue(session)
    res = robo.propose_for_grade(session, grade=grade, horizon_months=horizon, amount_minor=amount, now=NOW,
                                 with_backtest=False)
    prods = {p.code: p for p in session.scalars(select(WealthProduct))}
    w, amounts = res["weights"], res["amounts"]
    caps, growth = robo.budget(grade, horizon)
    assert sum(w.values()) == pytest.approx(1.0, abs=1e-6)
    assert all(0 < v <= res["max_weight"] + 1e-6 for v in w.values())
    for c, cap in caps.items():
        assert sum(v for k, v in w.items() if prods[k].asset_class == c) <= cap + 1e-6
    assert sum(v for k, v in w.items() if prods[k].asset_class in robo.GROWTH) <= growth + 1e-6
    for k in w:
        p = prods[k]
        assert rules.check(grade, p.kind, p.risk_level).outcome == "pass"
        assert amounts[k] >= p.min_amount_minor
        assert not p.term_days or p.term_days <= horizon * 365 / 12
        assert k != "SHORTH"
    assert sum(amounts.values()) + res["uninvested_minor"] == amount and res["uninvested_minor"] == 0


def test_propose_stores_a_plan_with_backtest_and_supersedes(bank, engine):
    make_catalogue(engine)
    cid, me = person(bank)
    assess(engine, cid, "C3")
    with db.session_scope(engine) as s:
        first = robo.propose(s, me, amount_minor=200_000_00, horizon_months=36, now=NOW).id
    with db.session_scope(engine) as s:
        plan = robo.propose(s, me, amount_minor=300_000_00, horizon_months=60, now=NOW)
        v = robo.plan_view(s, plan)
        assert s.get(PortfolioPlan, first).status == "superseded"
    assert v["status"] == "proposed" and v["grade"] == "C3" and v["method"] == "risk_parity"
    assert sum(v["amounts"].values()) == 300_000_00
    bt = v["backtest"]
    for k in ("annual_return", "annual_volatility", "max_drawdown", "sharpe"):
        assert isinstance(bt[k], float) and isinstance(bt["equal_weight_" + k], float)
    assert bt["n_refits"] >= 3 and len(bt["curve"]["plan"]) == len(bt["curve"]["dates"])
    assert set(bt["universe"]) == set(v["weights"])
    assert v["by_class"].get("equity", 0) <= 0.35 + 1e-6


def test_minimums_drop_products_and_resolve(bank, engine):
    make_catalogue(engine)
    with db.session_scope(engine) as s:
        # 30,000 yuan for C5: ALT5 (min 100,000) and the 10,000-minimum wealth products cannot all fit
        res = robo.propose_for_grade(s, grade="C5", horizon_months=60, amount_minor=30_000_00, now=NOW,
                                     with_backtest=False)
        prods = {p.code: p for p in s.scalars(select(WealthProduct))}
    assert "ALT5" not in res["weights"]
    assert all(res["amounts"][k] >= prods[k].min_amount_minor for k in res["amounts"])
    assert sum(res["amounts"].values()) == 30_000_00
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as e:
        robo.propose_for_grade(s, grade="C1", horizon_months=6, amount_minor=50, now=NOW, with_backtest=False)
    assert e.value.code == "robo_amount_too_small"


@pytest.mark.parametrize("grade", ["C1", "C3", "C4", "C5"])
@pytest.mark.parametrize("horizon", [6, 36])
def test_small_minimums_are_never_below_the_minimum_of_a_5000_yuan_plan(session, grade, horizon):
    # the minimums are in fen like the plan's amount: a product that can be bought for 1, 10 or 50 yuan is never
    # "below its minimum" in a 5,000-yuan plan; one whose minimum exceeds what the plan could put in it is
    if session.scalar(select(func.count()).select_from(WealthProduct)) == 0:
        write_catalogue(session)
    amount = 5_000_00
    res = robo.propose_for_grade(session, grade=grade, horizon_months=horizon, amount_minor=amount, now=NOW,
                                 with_backtest=False)
    prods = {p.code: p for p in session.scalars(select(WealthProduct))}
    caps, growth = robo.budget(grade, horizon)
    for item in res["left_out"]:
        p = prods[item["code"]]
        if item["reason"] == "below_minimum_amount":
            most = amount * min(caps[p.asset_class], growth if p.asset_class in robo.GROWTH else 1.0)
            assert p.min_amount_minor > most, item
        if item["reason"] in ("below_minimum_amount", "allocation_below_minimum"):
            assert p.min_amount_minor > 50_00, item
    assert all(res["amounts"][k] >= prods[k].min_amount_minor for k in res["amounts"])
    assert sum(res["amounts"].values()) + res["uninvested_minor"] == amount


@pytest.mark.parametrize("lapsed", [False, True])
def test_no_grade_is_refused_and_nothing_written(bank, engine, lapsed):
    make_catalogue(engine, days=150)
    cid, me = person(bank)
    if lapsed:
        assess(engine, cid, "C4", lapsed=True)
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as e:
        robo.propose(s, me, amount_minor=100_000_00, horizon_months=24, now=NOW)
    assert e.value.code == "assessment_required" and "assessment" in e.value.message
    assert bank.count("portfolio_plans") == 0


def test_bad_input_is_refused(bank, engine):
    cid, me = person(bank)
    assess(engine, cid, "C3")
    for kw in ({"amount_minor": 0, "horizon_months": 12}, {"amount_minor": 100, "horizon_months": 0},
               {"amount_minor": 100, "horizon_months": 361}, {"amount_minor": -5, "horizon_months": 12}):
        with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
            robo.propose(s, me, now=NOW, **kw)
    # an empty catalogue: a clear error, not a crash
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as e:
        robo.propose(s, me, amount_minor=100_000_00, horizon_months=24, now=NOW)
    assert e.value.code == "robo_no_products"
    assert bank.count("portfolio_plans") == 0


def _plan(engine, cid: int, weights: dict[str, float], amount: int = 100_000_00) -> int:
    with db.session_scope(engine) as s:
        p = PortfolioPlan(customer_id=cid, grade="C3", horizon_months=36, amount_minor=amount, method="risk_parity",
                          weights=weights, amounts={k: int(v * amount) for k, v in weights.items()},
                          backtest={}, status="followed", created_at=NOW, drift_band=0.05)
        s.add(p)
        s.flush()
        return p.id


def _hold(engine, cid: int, product_id: int, units: float, nav: float) -> None:
    with db.session_scope(engine) as s:
        s.add(ProductNav(product_id=product_id, day=NOW.date() + timedelta(days=1), nav_micro=int(nav * UNIT)))
        s.add(Holding(customer_id=cid, product_id=product_id, units_micro=int(units * UNIT), cost_minor=0))


def test_drift_detects_and_suggests_trades(bank, engine):
    ids = make_catalogue(engine, rows=[r for r in CATALOGUE if r[0] in ("BONDF", "EQF1", "MIXW")], days=130)
    cid, me = person(bank)
    plan = _plan(engine, cid, {"BONDF": 0.6, "EQF1": 0.3, "MIXW": 0.1})
    later = NOW + timedelta(days=2)
    with db.session_scope(engine) as s:
        d = robo.drift(s, me, plan, now=later)
    assert d["status"] == "not_invested" and d["total_minor"] == 0
    # 50,000 yuan in the bond fund, 40,000 in equity, 10,000 in the mixed product: equity 40% vs 30%
    _hold(engine, cid, ids["BONDF"], 25_000, 2.0)
    _hold(engine, cid, ids["EQF1"], 40_000, 1.0)
    _hold(engine, cid, ids["MIXW"], 8_000, 1.25)
    with db.session_scope(engine) as s:
        d = robo.drift(s, me, now=later)  # the newest followed plan
    assert d["plan_id"] == plan and d["total_minor"] == 100_000_00 and d["status"] == "rebalance"
    lines = {ln["code"]: ln for ln in d["lines"]}
    assert lines["EQF1"]["actual_weight"] == pytest.approx(0.4) and lines["EQF1"]["outside_band"]
    assert lines["BONDF"]["drift"] == pytest.approx(-0.1)
    sug = {x["code"]: x for x in d["suggestions"]}
    assert sug["EQF1"]["action"] == "sell" and sug["EQF1"]["amount_minor"] == 10_000_00
    assert sug["BONDF"]["action"] == "buy" and sug["BONDF"]["amount_minor"] == 10_000_00
    assert "MIXW" not in sug  # exactly on target
    assert "sell about 10000.00" in sug["EQF1"]["reason_en"] and "赎回" in sug["EQF1"]["reason_zh"]
    # a small drift stays within the band: no suggestions
    with db.session_scope(engine) as s:
        s.execute(Holding.__table__.update().where(Holding.product_id == ids["EQF1"])
                  .values(units_micro=32_000 * UNIT))
        s.execute(Holding.__table__.update().where(Holding.product_id == ids["BONDF"])
                  .values(units_micro=29_000 * UNIT))
        d = robo.drift(s, me, plan, now=later)
    assert d["status"] == "within_band" and d["suggestions"] == []


def test_drift_skips_a_purchase_below_the_minimum(bank, engine):
    ids = make_catalogue(engine, rows=[r for r in CATALOGUE if r[0] in ("BONDF", "MIXW")], days=130)
    cid, me = person(bank)
    plan = _plan(engine, cid, {"BONDF": 0.8, "MIXW": 0.2})
    _hold(engine, cid, ids["BONDF"], 45_000, 1.0)  # 45,000 yuan
    _hold(engine, cid, ids["MIXW"], 5_000, 1.0)  # 5,000: 10% vs 20%, the top-up (5,000) is below 10,000
    with db.session_scope(engine) as s:
        d = robo.drift(s, me, plan, now=NOW + timedelta(days=2))
    sug = {x["code"]: x for x in d["suggestions"]}
    assert sug["MIXW"]["skipped"] and "minimum" in sug["MIXW"]["reason_en"] and "起购" in sug["MIXW"]["reason_zh"]


def test_authorisation(bank, engine):
    make_catalogue(engine, rows=[r for r in CATALOGUE if r[0] in ("BONDF",)], days=130)
    alice, me = person(bank)
    bob, other = person(bank, "李娜")
    plan = _plan(engine, alice, {"BONDF": 1.0})
    teller = Principal(user_id=bank.user("teller9", role="teller"), username="teller9", role="teller",
                       customer_id=None)
    agent = Principal(user_id=bank.user("agent9", role="service_agent"), username="agent9", role="service_agent",
                      customer_id=None)
    with db.session_scope(engine) as s:
        for fn in (lambda: robo.get_plan(s, other, plan), lambda: robo.drift(s, other, plan),
                   lambda: robo.list_plans(s, other, alice)):
            with pytest.raises(NotFound):
                fn()
        assert robo.list_plans(s, other) == []
        assert [p["id"] for p in robo.list_plans(s, me)] == [plan]
        assert robo.get_plan(s, SYSTEM, plan)["id"] == plan  # admin
        with pytest.raises(Forbidden):
            robo.get_plan(s, teller, plan)
        assert robo.list_plans(s, agent, alice)[0]["id"] == plan


def test_follow_buys_the_plan_amounts_once(bank, engine):
    from tests.lending.support import customer

    make_catalogue(engine)
    cid, acct, me = customer(bank, balance=500_000_00)
    assess(engine, cid, "C2")
    with db.session_scope(engine) as s:
        plan = robo.propose(s, me, amount_minor=200_000_00, horizon_months=24, now=NOW)
        pid, amounts = plan.id, dict(plan.amounts)
    for _ in range(2):  # the retry with the same key places nothing new
        with db.session_scope(engine) as s:
            res = robo.follow(s, me, pid, account_id=acct, idempotency_key="follow-1", now=NOW)
        assert res["status"] == "followed" and res["total_minor"] == 200_000_00
        assert {o["product_code"]: o["amount_minor"] for o in res["orders"]} == amounts
    assert bank.count("wealth_orders") == len(amounts)
    assert bank.balance(acct) == 300_000_00
    other_cid, other_acct, other = customer(bank, "李娜")
    with db.session_scope(engine) as s, pytest.raises(NotFound):
        robo.follow(s, other, pid, account_id=other_acct, idempotency_key="x")
    with db.session_scope(engine) as s, pytest.raises(Forbidden):
        robo.follow(s, SYSTEM, pid, account_id=acct, idempotency_key="x")
    bank.assert_invariants()

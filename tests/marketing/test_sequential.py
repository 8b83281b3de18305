"""The always-valid test (mSPRT, normal mixture): known values, its false-positive rate under repeated looks
(against the naive repeated z-test, which fails), its power, and the coverage of its confidence sequence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from smartbank.marketing import sequential as sq

ALPHA = 0.05
EXPERIMENTS, LOOKS, STEP = 400, 20, 250  # 400 experiments, each looked at 20 times, 250 more per arm each time


def _margin(p: float, n: int) -> float:
    """One-sided 99% binomial margin on an observed share of n runs."""
    return 2.33 * math.sqrt(p * (1 - p) / n)


def _paths(rng: np.random.Generator, p_a: float, p_b: float) -> tuple[np.ndarray, ...]:
    looks = np.arange(1, LOOKS + 1) * STEP
    x_a = rng.binomial(STEP, p_a, size=(EXPERIMENTS, LOOKS)).cumsum(axis=1)
    x_b = rng.binomial(STEP, p_b, size=(EXPERIMENTS, LOOKS)).cumsum(axis=1)
    return looks, x_a, x_b


def _naive_p(looks: np.ndarray, x_a: np.ndarray, x_b: np.ndarray) -> np.ndarray:
    pooled = (x_a + x_b) / (2 * looks)
    z = (x_b / looks - x_a / looks) / np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * 2 / looks)
    return 2 * stats.norm.sf(np.abs(z))


def test_known_values_symmetric_and_by_hand():
    # equal arms: no evidence at all; the statistic is log sqrt(s2/(s2+tau^2)) < 0, p = 1
    assert sq.msprt_p_value(1000, 100, 1000, 100) == 1.0
    # swapping the arms changes the sign of the effect, not the evidence
    assert sq.msprt_p_value(1000, 100, 1000, 140) == pytest.approx(sq.msprt_p_value(1000, 140, 1000, 100))
    # by hand, from the formula in the module's docstring
    n, xa, xb, tau = 2000, 200, 260, 0.02
    pa, pb = (xa + 0.5) / (n + 1), (xb + 0.5) / (n + 1)
    s2 = pa * (1 - pa) / n + pb * (1 - pb) / n
    d = xb / n - xa / n
    lam = math.sqrt(s2 / (s2 + tau**2)) * math.exp(tau**2 * d**2 / (2 * s2 * (s2 + tau**2)))
    assert sq.msprt_p_value(n, xa, n, xb, tau=tau) == pytest.approx(min(1.0, 1 / lam), rel=1e-9)
    # the interval is symmetric around the estimate and excludes 0 exactly when p < alpha
    lo, hi = sq.confidence_sequence(n, xa, n, xb, alpha=ALPHA, tau=tau)
    assert (lo + hi) / 2 == pytest.approx(d)
    for x in (200, 240, 260, 280, 320, 150):
        p = float(sq.msprt_p_value(n, xa, n, x, tau=tau))
        lo, hi = sq.confidence_sequence(n, xa, n, x, alpha=ALPHA, tau=tau)
        assert (lo > 0 or hi < 0) == (p < ALPHA), (x, p, lo, hi)
    assert sq.msprt_p_value(n, xa, n, 320) < ALPHA < sq.msprt_p_value(n, xa, n, 240)


def test_compare_running_minimum_and_lift():
    first = sq.compare("B", "A", n_control=500, conversions_control=50, n_arm=500, conversions_arm=80, alpha=ALPHA)
    later = sq.compare("B", "A", n_control=1000, conversions_control=100, n_arm=1000, conversions_arm=100,
                       alpha=ALPHA, previous=first.as_dict())
    assert first.effect == pytest.approx(0.06) and first.lift == pytest.approx(0.6)
    assert later.p_value == first.p_value  # the always-valid p-value never goes back up
    assert first.ci_low <= later.ci_low <= later.ci_high <= first.ci_high  # the running intersection
    with pytest.raises(ValueError):
        sq.compare("B", "A", n_control=10, conversions_control=11, n_arm=10, conversions_arm=1, alpha=ALPHA)


@settings(max_examples=200, deadline=None)
@given(n_a=st.integers(0, 10**6), n_b=st.integers(0, 10**6), fa=st.floats(0, 1), fb=st.floats(0, 1),
       tau=st.floats(0.001, 0.5))
def test_p_values_in_unit_interval_and_interval_ordered(n_a, n_b, fa, fb, tau):
    x_a, x_b = int(n_a * fa), int(n_b * fb)
    c = sq.compare("B", "A", n_control=n_a, conversions_control=x_a, n_arm=n_b, conversions_arm=x_b,
                   alpha=ALPHA, tau=tau)
    assert 0.0 <= c.p_value <= 1.0
    assert -1.0 <= c.ci_low <= c.ci_high <= 1.0
    if n_a and n_b:
        assert c.ci_low <= c.effect <= c.ci_high


def test_false_positive_rate_under_repeated_looks():
    """400 A/A experiments, each looked at 20 times: the always-valid test declares a difference in at most
    alpha (plus the binomial margin) of them; the naive fixed-sample z-test, looked at the same way, clearly
    more - so this test would catch a test that is not always valid."""
    rng = np.random.default_rng(20171)
    looks, x_a, x_b = _paths(rng, 0.10, 0.10)
    ever = (sq.msprt_p_value(looks, x_a, looks, x_b).min(axis=1) < ALPHA).mean()
    naive = (_naive_p(looks, x_a, x_b).min(axis=1) < ALPHA).mean()
    assert ever <= ALPHA + _margin(ALPHA, EXPERIMENTS), ever
    assert naive > ALPHA + _margin(ALPHA, EXPERIMENTS), naive
    assert naive > 3 * max(ever, 0.01)


def test_bonferroni_keeps_an_abn_family_under_alpha():
    """A/B/C/D against a control, nothing different: any false winner in at most alpha of the experiments."""
    rng = np.random.default_rng(7)
    looks = np.arange(1, LOOKS + 1) * STEP
    control = rng.binomial(STEP, 0.05, size=(EXPERIMENTS, LOOKS)).cumsum(axis=1)
    arms = [rng.binomial(STEP, 0.05, size=(EXPERIMENTS, LOOKS)).cumsum(axis=1) for _ in range(3)]
    any_winner = np.zeros(EXPERIMENTS, dtype=bool)
    for x in arms:
        any_winner |= (sq.msprt_p_value(looks, control, looks, x).min(axis=1) < ALPHA / len(arms))
    assert any_winner.mean() <= ALPHA + _margin(ALPHA, EXPERIMENTS)


def test_power_and_coverage_with_a_real_effect():
    """10% against 13%: found in most experiments by the last look; the confidence sequence holds the true
    effect at every look in at least 1 - alpha of them (minus the margin)."""
    rng = np.random.default_rng(42)
    looks, x_a, x_b = _paths(rng, 0.10, 0.13)
    found = (sq.msprt_p_value(looks, x_a, looks, x_b).min(axis=1) < ALPHA).mean()
    assert found >= 0.8, found
    lo, hi = sq.confidence_sequence(looks, x_a, looks, x_b, alpha=ALPHA)
    covered = ((lo <= 0.03) & (hi >= 0.03)).all(axis=1).mean()
    assert covered >= 1 - ALPHA - _margin(ALPHA, EXPERIMENTS), covered

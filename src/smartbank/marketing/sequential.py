"""Always-valid inference for the difference of two conversion rates (pure functions, no database).

The test is the mixture sequential probability ratio test (mSPRT) of

    R. Johari, P. Koomen, L. Pekelis and D. Walsh, "Peeking at A/B tests: why it matters, and what to do
    about it", KDD 2017 (and "Always valid inference: continuous monitoring of A/B tests", Operations
    Research 70(3), 2022),

with a normal mixing distribution. For a treatment arm B against a control A, the estimate of the difference
``theta = p_B - p_A`` after ``n_A``, ``n_B`` customers is ``d = x_B/n_B - x_A/n_A``, approximately normal with
variance ``s2 = p_A(1-p_A)/n_A + p_B(1-p_B)/n_B``. Mixing the likelihood ratio of ``theta`` against ``theta_0``
over ``theta ~ N(theta_0, tau^2)`` gives

    Lambda(theta_0) = sqrt(s2 / (s2 + tau^2)) * exp(tau^2 (d - theta_0)^2 / (2 s2 (s2 + tau^2)))

a non-negative martingale under ``theta = theta_0`` (in the normal approximation), so by Ville's inequality
``P(exists n: Lambda_n >= 1/alpha) <= alpha``: the always-valid p-value ``p_n = min(1, min_{m<=n} 1/Lambda_m)``
may be looked at after every customer, and "stop when p_n < alpha" keeps the false-positive rate at alpha.
Inverting the test gives the confidence sequence: the ``theta_0`` with ``Lambda(theta_0) < 1/alpha``,

    d +- sqrt(2 s2 (s2 + tau^2) / tau^2 * (log(1/alpha) + log((s2 + tau^2) / s2) / 2))

which holds for every ``n`` at once with probability at least ``1 - alpha``; the running intersection of the
intervals seen so far is the always-valid interval reported.

A/B/n: each arm against the control with alpha divided by the number of comparisons (Bonferroni), so the
chance of any false winner stays at most alpha.

``confseq`` (PyPI, Howard & Waudby-Smith) was considered: version 0.0.11 ships only as a source package whose
C++ extension needs the Boost headers to build, and it did not build here; these formulas need only numpy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["METHOD", "Comparison", "compare", "confidence_sequence", "msprt_p_value", "msprt_statistic", "simulate"]

METHOD = "msprt-normal-mixture/1"
# default mixing standard deviation on the absolute difference of rates: effects of about two points are the
# ones the test is tuned to find soonest (the test stays valid for any tau)
DEFAULT_TAU = 0.02
ArrayLike = float | npt.NDArray[Any]


def _variance(n_a: ArrayLike, x_a: ArrayLike, n_b: ArrayLike, x_b: ArrayLike) -> Any:
    """Plug-in variance of the difference of rates; the rates are shrunk by half a conversion toward 1/2 so that
    an arm with no (or only) conversions yet does not give a zero variance."""
    n_a, n_b = np.asarray(n_a, dtype=float), np.asarray(n_b, dtype=float)
    pa = (np.asarray(x_a, dtype=float) + 0.5) / (n_a + 1.0)
    pb = (np.asarray(x_b, dtype=float) + 0.5) / (n_b + 1.0)
    return pa * (1 - pa) / np.maximum(n_a, 1.0) + pb * (1 - pb) / np.maximum(n_b, 1.0)


def msprt_statistic(n_a: ArrayLike, x_a: ArrayLike, n_b: ArrayLike, x_b: ArrayLike, *,
                    tau: float = DEFAULT_TAU, theta0: float = 0.0) -> Any:
    """log Lambda, the log mixture likelihood ratio of ``theta = theta0`` (vectorised over numpy arrays)."""
    n_a, n_b = np.asarray(n_a, dtype=float), np.asarray(n_b, dtype=float)
    d = np.asarray(x_b, dtype=float) / np.maximum(n_b, 1.0) - np.asarray(x_a, dtype=float) / np.maximum(n_a, 1.0)
    s2 = _variance(n_a, x_a, n_b, x_b)
    t2 = tau * tau
    log_lr = 0.5 * np.log(s2 / (s2 + t2)) + t2 * (d - theta0) ** 2 / (2 * s2 * (s2 + t2))
    return np.where((n_a > 0) & (n_b > 0), log_lr, 0.0)


def msprt_p_value(n_a: ArrayLike, x_a: ArrayLike, n_b: ArrayLike, x_b: ArrayLike, *,
                  tau: float = DEFAULT_TAU) -> Any:
    """The p-value of this look alone, ``min(1, 1/Lambda)``; the always-valid p-value is the running minimum
    over the looks (:func:`compare` takes the previous one)."""
    return np.minimum(1.0, np.exp(-msprt_statistic(n_a, x_a, n_b, x_b, tau=tau)))


def confidence_sequence(n_a: ArrayLike, x_a: ArrayLike, n_b: ArrayLike, x_b: ArrayLike, *, alpha: float,
                        tau: float = DEFAULT_TAU) -> tuple[Any, Any]:
    """(low, high) of the (1 - alpha) confidence sequence for ``p_B - p_A`` at this look."""
    n_a, n_b = np.asarray(n_a, dtype=float), np.asarray(n_b, dtype=float)
    d = np.asarray(x_b, dtype=float) / np.maximum(n_b, 1.0) - np.asarray(x_a, dtype=float) / np.maximum(n_a, 1.0)
    s2 = _variance(n_a, x_a, n_b, x_b)
    t2 = tau * tau
    half = np.sqrt(2 * s2 * (s2 + t2) / t2 * (math.log(1 / alpha) + 0.5 * np.log((s2 + t2) / s2)))
    empty = (n_a <= 0) | (n_b <= 0)
    return np.where(empty, -1.0, np.maximum(d - half, -1.0)), np.where(empty, 1.0, np.minimum(d + half, 1.0))


@dataclass(frozen=True)
class Comparison:
    """One arm against the control at one look."""

    arm: str
    control: str
    n_control: int
    conversions_control: int
    n_arm: int
    conversions_arm: int
    rate_control: float
    rate_arm: float
    effect: float  # absolute difference of rates, arm - control
    lift: float | None  # relative: effect / control rate (None when the control has no conversion)
    p_value: float  # always-valid (running minimum over the looks)
    ci_low: float  # always-valid interval for the effect (running intersection)
    ci_high: float
    alpha: float  # the alpha this comparison is tested at (after the multiplicity correction)
    significant: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(arm: str, control: str, *, n_control: int, conversions_control: int, n_arm: int,
            conversions_arm: int, alpha: float, tau: float = DEFAULT_TAU,
            previous: dict[str, Any] | None = None) -> Comparison:
    """The always-valid comparison of ``arm`` against ``control`` now. ``previous``: the same comparison's last
    stored look (``p_value``, ``ci_low``, ``ci_high``), so the p-value is the running minimum and the interval
    the running intersection; None at the first look."""
    for name, value in (("n_control", n_control), ("n_arm", n_arm)):
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    if not 0 <= conversions_control <= max(n_control, 0) or not 0 <= conversions_arm <= max(n_arm, 0):
        raise ValueError("conversions must lie between 0 and n")
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie in (0, 1)")
    rc = conversions_control / n_control if n_control else 0.0
    ra = conversions_arm / n_arm if n_arm else 0.0
    p = float(msprt_p_value(n_control, conversions_control, n_arm, conversions_arm, tau=tau))
    low, high = (float(v) for v in confidence_sequence(n_control, conversions_control, n_arm, conversions_arm,
                                                       alpha=alpha, tau=tau))
    if previous:
        p = min(p, float(previous.get("p_value", 1.0)))
        lo2, hi2 = max(low, float(previous.get("ci_low", -1.0))), min(high, float(previous.get("ci_high", 1.0)))
        if lo2 <= hi2:  # an empty intersection (the plug-in variance moved) keeps this look's interval
            low, high = lo2, hi2
    effect = ra - rc
    return Comparison(arm=arm, control=control, n_control=n_control, conversions_control=conversions_control,
                      n_arm=n_arm, conversions_arm=conversions_arm, rate_control=rc, rate_arm=ra, effect=effect,
                      lift=(effect / rc) if rc > 0 else None, p_value=p, ci_low=low, ci_high=high, alpha=alpha,
                      significant=p < alpha)


def simulate(*, experiments: int = 400, looks: int = 20, step: int = 250, p_control: float = 0.10,
             p_arm: float = 0.10, alpha: float = 0.05, tau: float = DEFAULT_TAU, seed: int = 0) -> dict[str, Any]:
    """Simulated experiments looked at ``looks`` times, ``step`` more customers per arm each time: the share
    that ever declares a difference with this test and with the naive fixed-sample z-test repeated at every
    look (under ``p_arm == p_control`` that share is the false-positive rate; otherwise the power), and the
    share whose confidence sequence held the true effect at every look."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    n = np.arange(1, looks + 1) * step
    x_a = rng.binomial(step, p_control, size=(experiments, looks)).cumsum(axis=1)
    x_b = rng.binomial(step, p_arm, size=(experiments, looks)).cumsum(axis=1)
    ever = (msprt_p_value(n, x_a, n, x_b, tau=tau).min(axis=1) < alpha).mean()
    pooled = (x_a + x_b) / (2 * n)
    z = (x_b - x_a) / n / np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * 2 / n)
    naive = (2 * stats.norm.sf(np.abs(z)).min(axis=1) < alpha).mean()
    low, high = confidence_sequence(n, x_a, n, x_b, alpha=alpha, tau=tau)
    truth = p_arm - p_control
    covered = ((low <= truth) & (high >= truth)).all(axis=1).mean()
    return {"experiments": experiments, "looks": looks, "per_arm_at_end": int(n[-1]), "p_control": p_control,
            "p_arm": p_arm, "alpha": alpha, "tau": tau, "method": METHOD, "msprt_declared": float(ever),
            "naive_declared": float(naive), "coverage": float(covered)}

"""The uplift learner recovers a planted heterogeneous effect; the metrics and the Qini curve."""

from __future__ import annotations

import math

import numpy as np

from smartbank.marketing.uplift_learners import SLearner, qini_curve, two_model_uplift, uplift_metrics
from tests.marketing.uplift_support import planted


def test_s_learner_finds_the_customers_a_contact_changes():
    frame, t, y = planted(6000, seed=1)
    x = frame[["x0", "x1"]].to_numpy()
    fit, val = np.arange(4000), np.arange(4000, 6000)
    m = SLearner(params={"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 6, "min_child_samples": 50},
                 seed=0).fit(x[fit], y[fit], t[fit], ["x0", "x1"])
    u = m.predict_uplift(x[val])
    ours = uplift_metrics(y[val], u, t[val])
    rnd = uplift_metrics(y[val], np.random.default_rng(5).random(len(val)), t[val])
    assert ours["qini"] > 0.2 and ours["auuc"] > 0.1
    assert ours["qini"] > rnd["qini"] + 0.15
    # the customers with the planted effect get the higher predicted uplift, the others about none
    hi, lo = u[x[val, 0] > 0.3].mean(), u[x[val, 0] < -0.3].mean()
    assert hi > 0.15 and abs(lo) < 0.08


def test_baseline_runs_and_metrics_need_both_arms():
    frame, t, y = planted(2000, seed=2)
    x = frame[["x0", "x1"]].to_numpy()
    u = two_model_uplift(x, y, t, x, seed=0)
    assert u.shape == (2000,) and np.isfinite(u).all()
    single = uplift_metrics(y, u, np.ones_like(t))
    assert math.isnan(single["qini"]) and math.isnan(single["auuc"])


def test_qini_curve_is_thinned_and_ends_on_the_random_line():
    frame, t, y = planted(3000, seed=3)
    u = frame["x0"].to_numpy()
    c = qini_curve(y, u, t, points=40)
    assert len(c["x"]) <= 40 and len(c["x"]) == len(c["y"]) and c["x"][-1] == 3000
    assert c["y"][-1] == c["random_end"]
    # a score that ranks by the true effect lies above the random line in the middle
    mid = len(c["x"]) // 2
    assert c["y"][mid] > c["random_end"] * c["x"][mid] / c["x"][-1]

"""The marketing domain's uplift part."""

from __future__ import annotations

from smartbank.marketing.uplift_learners import evaluate_uplift, qini_curve, uplift_metrics

__all__: list[str] = ["evaluate_uplift", "qini_curve", "uplift_metrics"]

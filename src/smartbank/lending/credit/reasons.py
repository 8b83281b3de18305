"""Adverse-action reasons in plain words (English and Chinese) for the scorecard features.

A reason's order is the points an applicant lost on that feature against the best bin of the feature
(standard adverse-action practice for points scorecards): the feature that cost most comes first. A value
that was not provided and fell into the missing-value bin gets the "not provided" wording.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REASONS", "reason_for", "reasons_from_points"]

# feature -> (code, English, Chinese, English when not provided, Chinese when not provided)
REASONS: dict[str, tuple[str, str, str, str, str]] = {
    "RevolvingUtilizationOfUnsecuredLines": (
        "CR-UTIL", "high use of revolving credit", "循环授信使用率高",
        "revolving credit use not provided", "未提供循环授信使用情况"),
    "age": ("CR-AGE", "age group with a higher observed default rate", "所在年龄段违约率较高",
            "age not provided", "未提供年龄"),
    "NumberOfTime30-59DaysPastDueNotWorse": (
        "CR-DPD30", "recent payments 30-59 days late", "近期有逾期30-59天记录",
        "repayment history (30-59 days) not available", "缺少逾期30-59天记录信息"),
    "DebtRatio": ("CR-DTI", "debt repayments are high relative to income", "负债月供占收入比例高",
                  "debt repayments not provided", "未提供负债月供信息"),
    "MonthlyIncome": ("CR-INC", "income is low relative to debts", "月收入相对负债偏低",
                      "monthly income not provided", "未提供月收入"),
    "NumberOfOpenCreditLinesAndLoans": (
        "CR-LINES", "number of open credit lines and loans", "未结清授信及贷款笔数不利",
        "open credit lines not provided", "未提供未结清授信及贷款笔数"),
    "NumberOfTimes90DaysLate": ("CR-DPD90", "payments 90 days or more late", "有逾期90天及以上记录",
                                "repayment history (90+ days) not available", "缺少逾期90天以上记录信息"),
    "NumberRealEstateLoansOrLines": (
        "CR-MORT", "number of real-estate loans", "房产类贷款笔数不利",
        "real-estate loans not provided", "未提供房产类贷款笔数"),
    "NumberOfTime60-89DaysPastDueNotWorse": (
        "CR-DPD60", "recent payments 60-89 days late", "近期有逾期60-89天记录",
        "repayment history (60-89 days) not available", "缺少逾期60-89天记录信息"),
    "NumberOfDependents": ("CR-DEP", "many dependants to support", "需抚养人数较多",
                           "number of dependants not provided", "未提供需抚养人数"),
}


def reason_for(feature: str, *, missing: bool = False) -> dict[str, str]:
    """Code and words for one feature (generic wording for a feature outside :data:`REASONS`)."""
    if feature in REASONS:
        code, en, zh, en_na, zh_na = REASONS[feature]
        if missing:
            return {"code": code + "-NA", "feature": feature, "en": en_na, "zh": zh_na}
        return {"code": code, "feature": feature, "en": en, "zh": zh}
    code = "CR-" + re.sub(r"[^A-Z0-9]+", "_", feature.upper()).strip("_")[:24]
    if missing:
        return {"code": code + "-NA", "feature": feature, "en": f"{feature} not provided", "zh": f"未提供{feature}"}
    return {"code": code, "feature": feature, "en": f"less favourable {feature}", "zh": f"{feature}取值不利"}


def reasons_from_points(lost: list[tuple[str, float, bool]], *, limit: int = 4,
                        min_points: float = 0.5) -> list[dict[str, Any]]:
    """``lost``: (feature, points lost against its best bin, value missing). Most adverse first."""
    out: list[dict[str, Any]] = []
    for feature, pts, missing in sorted(lost, key=lambda t: -t[1]):
        if pts < min_points or len(out) >= limit:
            break
        out.append({**reason_for(feature, missing=missing), "impact": round(float(pts), 1)})
    return out

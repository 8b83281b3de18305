"""The reasons a customer is given for a credit decision (adverse-action reasons), from an allow-list.

A stored decision keeps everything staff and model-risk review need: the score, the model version and every
feature's contribution (age included, where policy lets the model use it). What the customer reads - the API
for customers, the portal, anything that speaks to them - is only ever built here, by :func:`for_customer`:

* only codes in :data:`CUSTOMER_REASONS` (an allow-list: each is something the customer can act on or
  understand - debts, income, late payments, credit use, the bank's own policy); an unknown or new code is left
  out rather than shown;
* never a reason about a protected attribute (:data:`PROTECTED_FEATURES`: age, gender, ethnicity, marital or
  family status, region of birth, ...): such a contribution may explain the score to staff, never a refusal
  to the customer;
* a model reason only when it cost points (``impact`` >= :data:`MIN_IMPACT`), most important first, at most
  :data:`LIMIT` reasons, in the bank's own words for the model's codes.

The product's age conditions (policy ``POL-AGE``: legal age, age at the end of the term) are told as the
product's published application conditions (``ELIG-PRODUCT``), or, when only the term is the problem, as a
term that is too long (``ELIG-TERM``: a shorter term may qualify) - never as the applicant's age.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CUSTOMER_REASONS", "LIMIT", "MIN_IMPACT", "PROTECTED_FEATURES", "for_customer", "is_protected"]

LIMIT = 3
MIN_IMPACT = 0.5  # scorecard points lost below which a model feature is not a reason

# attributes a refusal is never explained by (whatever the model or a rule used); matched on the reason's
# feature and on its code
PROTECTED_FEATURES = frozenset({
    "age", "NumberOfDependents", "dependents", "gender", "sex", "ethnicity", "ethnic_group", "nationality",
    "marital_status", "region_of_birth", "birthplace", "place_of_birth", "hukou", "household_registration",
    "religion", "disability", "pregnancy",
})
PROTECTED_CODES = frozenset({"CR-AGE", "CR-DEP", "CR-GENDER", "CR-SEX", "CR-ETHNICITY", "CR-MARITAL",
                             "CR-BIRTHPLACE", "CR-REGION", "CR-HUKOU", "CR-RELIGION", "CR-NATIONALITY"})

# code -> (English, Chinese), or None to keep the stored text (policy, decision and officer codes are the
# bank's own wording already); the model's codes are always told in these words, never the artefact's.
CUSTOMER_REASONS: dict[str, tuple[str, str] | None] = {
    # the credit model, actionable
    "CR-UTIL": ("You are using a large share of your credit-card and other revolving limits.",
                "您的信用卡等循环授信额度使用率较高。"),
    "CR-UTIL-NA": ("Your credit-card balances and limits were not provided.", "未提供信用卡等循环授信的余额和额度。"),
    "CR-DPD30": ("Recent repayments were 30-59 days late.", "近期有逾期30-59天的还款记录。"),
    "CR-DPD30-NA": ("Your repayment history could not be assessed.", "暂无法评估您的还款记录。"),
    "CR-DPD60": ("Recent repayments were 60-89 days late.", "近期有逾期60-89天的还款记录。"),
    "CR-DPD60-NA": ("Your repayment history could not be assessed.", "暂无法评估您的还款记录。"),
    "CR-DPD90": ("Repayments were 90 days or more late.", "有逾期90天及以上的还款记录。"),
    "CR-DPD90-NA": ("Your repayment history could not be assessed.", "暂无法评估您的还款记录。"),
    "CR-DTI": ("Your existing debt repayments are high relative to your income.", "现有负债月供占收入的比例较高。"),
    "CR-DTI-NA": ("Your existing debt repayments were not provided.", "未提供现有负债的月供信息。"),
    "CR-INC": ("Your income is low relative to your debts.", "月收入相对负债偏低。"),
    "CR-INC-NA": ("Your monthly income was not provided.", "未提供月收入。"),
    "CR-LINES": ("The number of credit lines and loans you have open.", "未结清的授信及贷款笔数。"),
    "CR-LINES-NA": ("Your open credit lines and loans were not provided.", "未提供未结清的授信及贷款笔数。"),
    "CR-MORT": ("The number of property loans you have.", "房产类贷款笔数。"),
    "CR-MORT-NA": ("Your property loans were not provided.", "未提供房产类贷款笔数。"),
    # the decision
    "MODEL-NONE": None, "MODEL-GRADE-E": None, "MODEL-GRADE-D": None, "LIMIT-BELOW-MIN": None,
    "LIMIT-REDUCED": None, "LARGE-AMOUNT": None,
    # policy
    "POL-BLACKLIST": None, "POL-FRAUD": None, "POL-FRAUD-OPEN": None, "POL-INCOME": None, "POL-WRITTEN-OFF": None,
    "POL-DELINQ": None, "POL-DELINQ-RECENT": None, "POL-DTI": None, "POL-LTV": None, "POL-COLLATERAL": None,
    "ELIG-PRODUCT": ("You do not meet this product's published application conditions.",
                     "您不符合本产品公布的申请条件。"),
    "ELIG-TERM": ("The loan would end beyond this product's application conditions; a shorter term may qualify.",
                  "贷款到期时超出本产品的申请条件，选择较短的期限或可满足。"),
    # loan officers' decline reasons
    "OFF-INCOME": None, "OFF-AFFORD": None, "OFF-COLLATERAL": None, "OFF-HISTORY": None, "OFF-DOCS": None,
    "OFF-FRAUD": None, "OFF-OTHER": None,
}


def is_protected(r: dict[str, Any]) -> bool:
    """True when a reason is about a protected attribute (by its feature or its code)."""
    code = str(r.get("code") or "")
    base = code[:-3] if code.endswith("-NA") else code
    return str(r.get("feature") or "") in PROTECTED_FEATURES or base in PROTECTED_CODES


def _customer_code(r: dict[str, Any]) -> str:
    code = str(r.get("code") or "")
    if code == "POL-AGE":  # the product's age conditions, told as conditions and never as the age
        return str(r.get("customer_code") or "ELIG-PRODUCT")
    return code


def for_customer(reasons: list[dict[str, Any]] | None, *, limit: int = LIMIT) -> list[dict[str, str]]:
    """The reasons a customer reads: allow-listed, never protected, model reasons only when they cost points,
    most important first (the stored order), without repeats; ``[{code, en, zh}]``."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for r in reasons or []:
        if not isinstance(r, dict) or is_protected(r):
            continue
        code = _customer_code(r)
        if code not in CUSTOMER_REASONS or code in seen:
            continue
        impact = r.get("impact")
        if code.startswith("CR-") and (impact is None or float(impact) < MIN_IMPACT):
            continue
        words = CUSTOMER_REASONS[code]
        en, zh = words if words is not None else (str(r.get("en") or ""), str(r.get("zh") or ""))
        if not en or not zh:
            continue
        seen.add(code)
        out.append({"code": code, "en": en, "zh": zh})
        if len(out) >= limit:
            break
    return out

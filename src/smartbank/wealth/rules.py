"""The suitability rule, in one place (purchases, the recommender and robo-advice all ask it).

Grades C1-C5 (conservative .. aggressive) against product risk levels R1-R5, following the rules Chinese
banks sell under:

- Time deposits need no assessment.
- Everything else needs a valid (not lapsed) assessment; without one the sale is refused.
- A product at or below the customer's grade passes.
- Above the grade: wealth-management products and insurance are refused (banks may not sell a wealth
  product above the customer's assessed tolerance); a fund may be bought on the customer's own
  initiative after an explicit, recorded acknowledgement of the higher risk, except by the most
  conservative grade (C1), who is always refused.
"""

from __future__ import annotations

from dataclasses import dataclass

GRADE_ORDER = {"C1": 1, "C2": 2, "C3": 3, "C4": 4, "C5": 5}
RISK_ORDER = {"R1": 1, "R2": 2, "R3": 3, "R4": 4, "R5": 5}
NO_ASSESSMENT_NEEDED = frozenset({"time_deposit"})
ACKNOWLEDGEABLE = frozenset({"fund"})


@dataclass(frozen=True)
class Verdict:
    outcome: str  # pass | refused | needs_acknowledgement
    reason_code: str | None
    en: str
    zh: str


def check(grade: str | None, kind: str, risk_level: str) -> Verdict:
    """``grade``: the customer's valid grade (None when there is none or it lapsed)."""
    if kind in NO_ASSESSMENT_NEEDED:
        return Verdict("pass", None, "No risk assessment is needed for deposits.", "存款类产品无需风险测评。")
    if grade is None:
        return Verdict("refused", "SUIT-NO-ASSESSMENT",
                       "Please complete (or renew) the risk-tolerance assessment first.",
                       "请先完成（或重新进行）风险承受能力评估。")
    g, r = GRADE_ORDER[grade], RISK_ORDER[risk_level]
    if r <= g:
        return Verdict("pass", None, f"Product risk {risk_level} suits your grade {grade}.",
                       f"产品风险等级{risk_level}与您的风险承受能力{grade}相匹配。")
    if kind in ACKNOWLEDGEABLE and grade != "C1":
        return Verdict("needs_acknowledgement", "SUIT-ABOVE-GRADE-ACK",
                       f"This fund ({risk_level}) is riskier than your grade {grade}. You may buy it only if you "
                       "confirm that you understand and accept the higher risk.",
                       f"该基金风险等级（{risk_level}）高于您的风险承受能力（{grade}），"
                       "仅在您确认已知悉并愿意承担更高风险后方可购买。")
    return Verdict("refused", "SUIT-ABOVE-GRADE",
                   f"This product ({risk_level}) is riskier than your assessed tolerance ({grade}); "
                   "the bank cannot sell it to you.",
                   f"该产品风险等级（{risk_level}）高于您的风险承受能力（{grade}），本行不能向您销售。")


def allowed_without_acknowledgement(grade: str | None, kind: str, risk_level: str) -> bool:
    """What a recommendation may show: only products that pass outright."""
    return check(grade, kind, risk_level).outcome == "pass"

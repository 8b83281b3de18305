"""Plain-words reasons (zh and en) for a recommended item, from the strongest part of its score."""

from __future__ import annotations

from typing import Any

__all__ = ["INTEREST_NAMES", "NOT_PERSONALISED", "reason_for"]

INTEREST_NAMES: dict[str, tuple[str, str]] = {
    "cash": ("cash products", "现金类产品"), "bond": ("bond products", "债券类产品"),
    "mixed": ("mixed-asset products", "混合类产品"), "equity": ("equity products", "股票类产品"),
    "alternative": ("alternative investments", "另类投资产品"), "time_deposit": ("time deposits", "定期存款"),
    "wmp": ("wealth-management products", "理财产品"), "fund": ("funds", "基金"), "insurance": ("insurance", "保险"),
    "loan": ("loans", "贷款"),
}


# the reason of every item of a list ranked without the customer's data (personalised recommendation off)
NOT_PERSONALISED: dict[str, str] = {
    "code": "REC-NOT-PERSONALISED", "source": "popularity",
    "en": "Popular with our customers. Not personalised: you turned personalised recommendations off.",
    "zh": "深受本行客户欢迎。非个性化推荐：您已关闭个性化推荐。",
}


def _interest(key: str | None) -> tuple[str, str] | None:
    return INTEREST_NAMES.get(key) if key else None


def reason_for(parts: dict[str, float], *, grade: str | None, top_interest: str | None,
               anchor_name: tuple[str, str] | None, item_has_risk: bool) -> dict[str, Any]:
    """``{"code", "en", "zh", "source"}``: ``source`` is the part that weighed most (cf, content, popularity)."""
    scored = {k: parts.get(k, 0.0) for k in ("cf", "content", "popularity")}
    source = max(("cf", "content", "popularity"), key=lambda k: scored[k])
    if scored[source] <= 0:
        return {"code": "REC-CATALOGUE", "source": "catalogue", "en": "From our current range.",
                "zh": "本行在售产品。"}
    if source == "cf":
        if anchor_name is not None:
            en, zh = anchor_name
            return {"code": "REC-ALSO-CHOSE", "source": source,
                    "en": f"Customers like you who chose {en} also chose this.",
                    "zh": f"与您一样选择了「{zh}」的客户也选择了它。"}
        return {"code": "REC-SIMILAR-CUSTOMERS", "source": source, "en": "Customers like you also chose this.",
                "zh": "与您相似的客户也选择了它。"}
    if source == "content":
        grade_ok = bool(grade) and item_has_risk and parts.get("grade_fit", 0.0) > 0
        interest = _interest(top_interest)
        if grade_ok and interest:
            return {"code": "REC-GRADE-INTEREST", "source": source,
                    "en": f"Matches your risk grade {grade} and your interest in {interest[0]}.",
                    "zh": f"符合您的风险承受能力等级{grade}，也契合您对{interest[1]}的关注。"}
        if grade_ok:
            return {"code": "REC-GRADE", "source": source, "en": f"Matches your risk grade {grade}.",
                    "zh": f"符合您的风险承受能力等级{grade}。"}
        if interest:
            return {"code": "REC-INTEREST", "source": source, "en": f"Matches your interest in {interest[0]}.",
                    "zh": f"契合您对{interest[1]}的关注。"}
        return {"code": "REC-SIMILAR-ITEMS", "source": source, "en": "Similar to products you looked at.",
                "zh": "与您浏览过的产品相似。"}
    if parts.get("segment", 0.0) > 0:
        return {"code": "REC-POPULAR-SEGMENT", "source": source, "en": "Popular with customers like you.",
                "zh": "在与您相似的客户中很受欢迎。"}
    return {"code": "REC-POPULAR", "source": source, "en": "Popular with our customers.", "zh": "深受本行客户欢迎。"}

"""Default loan products and the loan prime rate history. Idempotent: existing rows are left alone."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.lending.models import LoanProduct, ReferenceRate

YUAN = 100

# The loan prime rate (贷款市场报价利率) as published, in basis points.
LPR_HISTORY: tuple[tuple[str, date, int], ...] = (
    ("LPR1Y", date(2024, 10, 21), 310), ("LPR5Y", date(2024, 10, 21), 360),
    ("LPR1Y", date(2025, 5, 20), 300), ("LPR5Y", date(2025, 5, 20), 350),
)

DEFAULT_PRODUCTS: tuple[dict[str, Any], ...] = (
    {"code": "PERSONAL", "name_en": "Personal consumer loan", "name_zh": "个人消费贷", "kind": "consumer",
     "min_amount_minor": 1_000 * YUAN, "max_amount_minor": 300_000 * YUAN, "min_term_months": 6,
     "max_term_months": 60, "methods": ["equal_installment", "equal_principal"], "reference_rate": "LPR1Y",
     "spreads_bps": {"A": 50, "B": 120, "C": 250, "D": 450, "E": 800},
     "grade_limits_minor": {"A": 300_000 * YUAN, "B": 200_000 * YUAN, "C": 100_000 * YUAN, "D": 30_000 * YUAN,
                            "E": 0},
     "income_multiple": 12.0, "max_dti": 0.55, "max_ltv": None, "maker_checker_minor": 200_000 * YUAN,
     "min_age": 18, "max_age": 65,
     "description_en": "For everyday needs: furnishing, travel, education. No collateral.",
     "description_zh": "用于装修、旅游、教育等日常消费，无需抵押。"},
    {"code": "SME", "name_en": "Small-business loan", "name_zh": "小微企业经营贷", "kind": "business",
     "min_amount_minor": 10_000 * YUAN, "max_amount_minor": 3_000_000 * YUAN, "min_term_months": 12,
     "max_term_months": 60, "methods": ["equal_installment", "equal_principal"], "reference_rate": "LPR1Y",
     "spreads_bps": {"A": 80, "B": 150, "C": 280, "D": 480, "E": 800},
     "grade_limits_minor": {"A": 3_000_000 * YUAN, "B": 1_500_000 * YUAN, "C": 500_000 * YUAN,
                            "D": 100_000 * YUAN, "E": 0},
     "income_multiple": 24.0, "max_dti": 0.6, "max_ltv": None, "maker_checker_minor": 500_000 * YUAN,
     "min_age": 18, "max_age": 65,
     "description_en": "Working capital for owners of small and micro businesses.",
     "description_zh": "为小微企业主提供经营周转资金。"},
    {"code": "MORTGAGE", "name_en": "Home mortgage", "name_zh": "个人住房贷款", "kind": "secured",
     "min_amount_minor": 100_000 * YUAN, "max_amount_minor": 10_000_000 * YUAN, "min_term_months": 12,
     "max_term_months": 360, "methods": ["equal_installment", "equal_principal"], "reference_rate": "LPR5Y",
     "spreads_bps": {"A": -30, "B": 0, "C": 40, "D": 100, "E": 200},
     "grade_limits_minor": {"A": 10_000_000 * YUAN, "B": 8_000_000 * YUAN, "C": 5_000_000 * YUAN,
                            "D": 2_000_000 * YUAN, "E": 0},
     "income_multiple": 240.0, "max_dti": 0.5, "max_ltv": 0.7, "collateral_kind": "property",
     "maker_checker_minor": 1_000_000 * YUAN,
     "min_age": 18, "max_age": 70,
     "description_en": "Buy a home; the property is the collateral. Up to 70% of its value.",
     "description_zh": "购买自住住房，以所购房产抵押，最高可贷房产价值的 70%。"},
    {"code": "CAR", "name_en": "Car loan", "name_zh": "汽车贷款", "kind": "secured",
     "min_amount_minor": 10_000 * YUAN, "max_amount_minor": 1_000_000 * YUAN, "min_term_months": 12,
     "max_term_months": 60, "methods": ["equal_installment", "equal_principal"], "reference_rate": "LPR1Y",
     "spreads_bps": {"A": 40, "B": 100, "C": 200, "D": 380, "E": 700},
     "grade_limits_minor": {"A": 1_000_000 * YUAN, "B": 600_000 * YUAN, "C": 300_000 * YUAN, "D": 100_000 * YUAN,
                            "E": 0},
     "income_multiple": 36.0, "max_dti": 0.55, "max_ltv": 0.8, "collateral_kind": "vehicle",
     "maker_checker_minor": 500_000 * YUAN,
     "min_age": 18, "max_age": 65,
     "description_en": "Buy a car; the vehicle is pledged. Up to 80% of its price.",
     "description_zh": "购买汽车，以所购车辆抵押，最高可贷车价的 80%。"},
)


def seed(session: Session) -> dict[str, int]:
    """Add the default products and the LPR history where missing; returns how many rows were added."""
    have = set(session.scalars(select(LoanProduct.code)))
    products = 0
    for spec in DEFAULT_PRODUCTS:
        if spec["code"] not in have:
            session.add(LoanProduct(currency="CNY", penalty_markup=0.5, status="active", **spec))
            products += 1
    rates_have = {(n, d) for n, d in session.execute(select(ReferenceRate.name, ReferenceRate.effective_date))}
    rates = 0
    for name, day, bps in LPR_HISTORY:
        if (name, day) not in rates_have:
            session.add(ReferenceRate(name=name, effective_date=day, rate_bps=bps))
            rates += 1
    session.flush()
    return {"products": products, "rates": rates}

"""Products and pricing: seed, rate on a date, grade thresholds, limits by product / grade / income / LTV,
admin-only product and rate changes (audited), quotes."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.lending import products, seed
from tests.lending.test_applications import officer


@pytest.fixture
def seeded(engine):
    with db.session_scope(engine) as s:
        assert seed.seed(s) == {"products": 4, "rates": 4}
    with db.session_scope(engine) as s:
        assert seed.seed(s) == {"products": 0, "rates": 0}  # idempotent


@pytest.mark.parametrize("pd,grade", [(0.0, "A"), (0.0199, "A"), (0.02, "B"), (0.0399, "B"), (0.04, "C"),
                                      (0.0799, "C"), (0.08, "D"), (0.1499, "D"), (0.15, "E"), (0.9, "E")])
def test_grade_thresholds(pd, grade):
    assert products.grade_for(pd) == grade


def test_rate_on_a_date(seeded, engine):
    with db.session_scope(engine) as s:
        assert products.rate_on(s, "LPR1Y", date(2024, 10, 21)) == 310
        assert products.rate_on(s, "LPR5Y", date(2025, 5, 19)) == 360
        assert products.rate_on(s, "LPR1Y", date(2025, 5, 20)) == 300
        assert products.rate_on(s, "lpr5y", date(2030, 1, 1)) == 350
        with pytest.raises(NotFound):
            products.rate_on(s, "LPR1Y", date(2020, 1, 1))
        with pytest.raises(ValidationFailed):
            products.rate_on(s, "SHIBOR", date(2025, 1, 1))


def test_limits_by_product_grade_income_and_ltv(seeded, engine):
    with db.session_scope(engine) as s:
        personal = products.get_product(s, "PERSONAL")
        mortgage = products.get_product(s, "MORTGAGE")
        p = products.price(s, personal, "B", monthly_income_minor=1_000_000, day=date(2025, 6, 1))
        assert (p.rate_bps, p.reference_rate_bps, p.spread_bps) == (420, 300, 120)
        assert p.limit_minor == 12_000_000 and p.limit_parts["income"] == 12_000_000  # 12 x income
        p = products.price(s, personal, "C", monthly_income_minor=10_000_000, day=date(2025, 6, 1))
        assert p.limit_minor == 10_000_000  # the grade's limit
        p = products.price(s, personal, "A", monthly_income_minor=10**9, day=date(2025, 6, 1))
        assert p.limit_minor == 30_000_000  # the product's maximum
        m = products.price(s, mortgage, "A", monthly_income_minor=10**9, collateral_value_minor=300_000_000,
                           day=date(2025, 6, 1))
        assert m.limit_minor == 210_000_000 and m.rate_bps == 350 - 30  # 0.7 x value; LPR5Y - 30 bps


def test_products_and_rates_are_changed_by_admins_only_and_audited(seeded, engine, bank):
    admin, lo = officer(bank, "admin1", "admin"), officer(bank, "lo1")
    with db.session_scope(engine) as s, pytest.raises(Forbidden):
        products.edit_product(s, lo, "PERSONAL", max_dti=0.5)
    with db.session_scope(engine) as s, pytest.raises(Forbidden):
        products.set_rate(s, lo, "LPR1Y", 290, date(2026, 1, 20))
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
        products.edit_product(s, admin, "PERSONAL", min_amount_minor=10**12)
    with db.session_scope(engine) as s:
        products.edit_product(s, admin, "PERSONAL", max_dti=0.5)
        products.set_rate(s, admin, "LPR1Y", 290, date(2026, 1, 20))
    with db.session_scope(engine) as s:
        assert products.get_product(s, "PERSONAL").max_dti == 0.5
        assert products.rate_on(s, "LPR1Y", date(2026, 2, 1)) == 290
        with pytest.raises(Conflict):
            products.set_rate(s, admin, "LPR1Y", 280, date(2026, 1, 20))
        spec = products.product_dict(products.get_product(s, "PERSONAL"))
        new = {k: spec[k] for k in ("name_en", "name_zh", "kind", "min_amount_minor", "max_amount_minor",
                                    "min_term_months", "max_term_months", "methods", "reference_rate",
                                    "spreads_bps", "grade_limits_minor")}
        products.create_product(s, admin, code="GREEN", **new)
        with pytest.raises(Conflict):
            products.create_product(s, admin, code="green", **new)
    with engine.connect() as c:
        actions = sorted(r[0] for r in c.execute(text("SELECT action FROM audit_log")))
    assert actions == ["loan_product.create", "loan_product.edit", "reference_rate.set"]


def test_quote_uses_best_and_worst_rate(seeded, engine):
    with db.session_scope(engine) as s:
        q = products.quote(s, product_code="PERSONAL", amount_minor=1_200_000, term_months=12,
                           method="equal_installment", day=date(2025, 6, 1))
        assert (q["best_rate_bps"], q["worst_rate_bps"]) == (350, 1100)
        assert q["best"][0]["payment_minor"] < q["worst"][0]["payment_minor"]
        with pytest.raises(ValidationFailed):
            products.quote(s, product_code="PERSONAL", amount_minor=1, term_months=12, method="equal_installment",
                           day=date(2025, 6, 1))


def test_a_secured_product_says_what_collateral_it_takes(bank, engine):
    admin = officer(bank, "admin1", "admin")
    base = {"code": "BOAT", "name_en": "Boat loan", "name_zh": "游艇贷", "kind": "secured", "min_amount_minor": 100,
            "max_amount_minor": 10**8, "min_term_months": 6, "max_term_months": 60, "methods": ["equal_principal"],
            "reference_rate": "LPR1Y", "spreads_bps": dict.fromkeys("ABCDE", 100),
            "grade_limits_minor": dict.fromkeys("ABCDE", 10**8),
            "max_ltv": 0.6}
    with db.session_scope(engine) as s:
        with pytest.raises(ValidationFailed):
            products.create_product(s, admin, **base)
        with pytest.raises(ValidationFailed):
            products.create_product(s, admin, **{**base, "kind": "consumer", "max_ltv": None,
                                                 "collateral_kind": "vehicle"})
        p = products.create_product(s, admin, **{**base, "collateral_kind": "vehicle"})
        assert products.collateral_kind(p) == "vehicle" and products.product_dict(p)["collateral_kind"] == "vehicle"

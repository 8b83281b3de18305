"""The synthetic wealth book answers the age question as each customer's ID says, so its assessments are
accepted by the questionnaire's cross-check."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from smartbank import clock, db
from smartbank.customers.validation import make_resident_id
from smartbank.synth.wealth import seed_wealth_book
from smartbank.wealth import seed


def test_every_synthetic_assessment_passes_the_age_check(bank, engine):
    with db.session_scope(engine) as s:
        seed.seed(s, codes=["F-BOND", "TD3M"], years=1)
    for i, born in enumerate((date(1960, 5, 1), date(1985, 3, 7), date(1999, 12, 31), date(1950, 1, 1))):
        cid = bank.customer(f"客户{i}", id_number=make_resident_id("110101", born, 300 + i))
        bank.account(cid, balance=5_000_000)
    out = seed_wealth_book(engine, customers=4, months=1, skip_first=0, today=clock.today())
    assert out["assessed"] == 4
    with engine.connect() as c:
        rows = [tuple(r) for r in c.execute(text("SELECT status, refusal_code FROM risk_assessments"))]
    assert rows == [("accepted", None)] * 4

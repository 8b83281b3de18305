"""Policy rules, table-driven, and the blacklist (keyed hash, audited, admin / risk officers only)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.customers.validation import make_resident_id
from smartbank.errors import Conflict, Forbidden, NotFound
from smartbank.lending import policy
from smartbank.security import service as security
from tests.lending.test_applications import officer

OK = policy.PolicyInput(
    age_now=40, age_at_end=42, min_age=18, max_age=65, monthly_income_minor=2_000_000, employment="employed",
    monthly_debt_minor=100_000, new_payment_minor=200_000, max_dti=0.55, days_past_due=0, blacklisted=False,
    fraud_confirmed=0, fraud_open=0, secured=False, amount_minor=5_000_000, collateral_value_minor=None,
    max_ltv=None)
SECURED = replace(OK, secured=True, collateral_value_minor=10_000_000, max_ltv=0.7, amount_minor=6_000_000)


@pytest.mark.parametrize("case,expected", [
    (OK, []),
    (replace(OK, blacklisted=True), [("POL-BLACKLIST", "decline")]),
    (replace(OK, fraud_confirmed=1, fraud_open=1), [("POL-FRAUD", "decline")]),
    (replace(OK, fraud_open=2), [("POL-FRAUD-OPEN", "review")]),
    (replace(OK, age_now=17, age_at_end=19), [("POL-AGE", "decline")]),
    (replace(OK, age_now=60, age_at_end=66), [("POL-AGE", "decline")]),
    (replace(OK, age_now=None, age_at_end=None), [("POL-AGE", "decline")]),
    (replace(OK, monthly_income_minor=0, employment="unemployed"), [("POL-INCOME", "decline")]),
    (replace(OK, days_past_due=31), [("POL-DELINQ", "decline")]),
    (replace(OK, written_off=1), [("POL-WRITTEN-OFF", "decline")]),
    (replace(OK, days_past_due=1), [("POL-DELINQ-RECENT", "review")]),
    (replace(OK, days_past_due=30), [("POL-DELINQ-RECENT", "review")]),
    (replace(OK, new_payment_minor=1_000_001), [("POL-DTI", "decline")]),  # (100,000 + 1,000,001) / 2,000,000
    (replace(OK, new_payment_minor=1_000_000), []),  # exactly 0.55 passes
    (SECURED, [("POL-COLLATERAL", "review")]),
    (replace(SECURED, amount_minor=7_000_001), [("POL-LTV", "decline"), ("POL-COLLATERAL", "review")]),
    (replace(SECURED, collateral_value_minor=None), [("POL-LTV", "decline"), ("POL-COLLATERAL", "review")]),
    (replace(OK, days_past_due=1, blacklisted=True), [("POL-BLACKLIST", "decline"), ("POL-DELINQ-RECENT", "review")]),
])
def test_policy_rules(case, expected):
    hits = policy.evaluate(case)
    assert [(h["code"], h["action"]) for h in hits] == expected
    assert all(h["en"] and h["zh"] for h in hits)


def test_rules_are_unique_and_documented():
    codes = [r.code for r in policy.RULES]
    assert len(codes) == len(set(codes))
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "LENDING.md").read_text(encoding="utf-8")
    assert all(c in doc for c in codes)


def test_blacklist_keeps_only_a_keyed_hash_and_is_audited(session, engine, bank):
    admin = officer(bank, "admin1", "admin")
    risk = officer(bank, "risk1", "risk_officer")
    lo = officer(bank, "lo1")
    number = make_resident_id("110101", __import__("datetime").date(1980, 1, 2), 7)
    with db.session_scope(engine) as s, pytest.raises(Forbidden):
        policy.add_to_blacklist(s, lo, number, "court-listed defaulter")
    with db.session_scope(engine) as s:
        policy.add_to_blacklist(s, risk, number.lower() if number.endswith("X") else f" {number} ", "失信被执行人")
    with db.session_scope(engine) as s:
        assert policy.is_blacklisted(s, number)
        with pytest.raises(Conflict):
            policy.add_to_blacklist(s, admin, number, "again")
    with engine.connect() as c:
        row = c.execute(text("SELECT id_number_hash, id_number_last4 FROM credit_blacklist")).one()
        audits = c.execute(text("SELECT count(*) FROM audit_log WHERE object_type = 'credit_blacklist'")).scalar()
    # the blind index of the number (the customers' id_number_bidx holds the same value), not the number
    assert number not in row[0] and row[1] == number[-4:] and audits == 1
    assert row[0] == security.blind_index(number, kind="id_number")
    with db.session_scope(engine) as s:
        policy.remove_from_blacklist(s, admin, number, "paid in full")
    with db.session_scope(engine) as s:
        assert not policy.is_blacklisted(s, number)
        with pytest.raises(NotFound):
            policy.remove_from_blacklist(s, admin, number)
        assert policy.list_blacklist(s, admin) == []


def test_blacklist_matches_a_customer_by_blind_index_and_keeps_finding_old_entries(engine, bank):
    admin = officer(bank, "admin1", "admin")
    number = make_resident_id("110101", __import__("datetime").date(1980, 1, 2), 8)
    cid = bank.customer(id_number=number)
    with db.session_scope(engine) as s:
        policy.add_to_blacklist(s, admin, number, "fraud")
    with engine.connect() as c:
        bidx = c.execute(text("SELECT id_number_bidx FROM customers WHERE id = :i"), {"i": cid}).scalar()
        assert c.execute(text("SELECT count(*) FROM credit_blacklist WHERE id_number_hash = :h"),
                         {"h": bidx}).scalar() == 1
    # an entry made before the key ring (HMAC with the web secret) is still recognised, and re-keyed when re-added
    other = make_resident_id("110101", __import__("datetime").date(1981, 1, 2), 9)
    with engine.begin() as c:
        c.execute(text("INSERT INTO credit_blacklist (id_number_hash, id_number_last4, reason, active)"
                       " VALUES (:h, :l, 'old', :f)"), {"h": policy.legacy_id_hash(other), "l": other[-4:], "f": False})
    with db.session_scope(engine) as s:
        assert not policy.is_blacklisted(s, other)
        policy.add_to_blacklist(s, admin, other, "again")
    with db.session_scope(engine) as s:
        assert policy.is_blacklisted(s, other)
    with engine.connect() as c:
        assert c.execute(text("SELECT id_number_hash FROM credit_blacklist WHERE id_number_last4 = :l"),
                         {"l": other[-4:]}).scalar() == security.blind_index(other, kind="id_number")

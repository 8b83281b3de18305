"""The synthetic population (no database): valid documents, plausible people, determinism."""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np
import pytest

from smartbank.customers.validation import normalise_phone, parse_resident_id
from smartbank.ledger.service import valid_account_number
from smartbank.synth.catalog import CARRIERS, CITIES, OCCUPATIONS, biller_specs
from smartbank.synth.world import age_on, build_world, check_world, make_uscc, valid_uscc

END = date(2026, 11, 24)
REGIONS = {code for c in CITIES for code, _ in c.districts}


@pytest.fixture(scope="module")
def world():
    return build_world(customers=1500, months=12, seed=11, end=END, default_limit=50_000_00)


def test_every_resident_id_is_valid_and_matches_the_person(world):
    check_world(world)
    individuals = [r for r in world.rows if r["kind"] == "individual"]
    assert len(individuals) > 1300
    for r in individuals:
        rid = parse_resident_id(r["id_number"], today=END)
        assert rid.birth_date == r["birth_date"]
        assert rid.gender == r["gender"]
        assert 18 <= age_on(r["birth_date"], END) <= 80
    # most people were registered where they live; some moved from elsewhere
    local = sum(r["id_number"][:6] in REGIONS for r in individuals) / len(individuals)
    assert 0.6 < local < 0.8
    assert len({r["id_number"] for r in world.rows}) == len(world.rows)


def test_business_customers_have_valid_unified_social_credit_codes(world):
    biz = [r for r in world.rows if r["kind"] == "business"]
    assert len(biz) == round(world.n * 0.05)
    for r in biz:
        assert r["id_type"] == "business_licence"
        assert len(r["id_number"]) == 18 and valid_uscc(r["id_number"])
        assert r["name"].endswith("公司")
    # a known-good code from the standard's check-digit rule round-trips; a flipped char fails
    code = make_uscc("110105", 12345678)
    assert valid_uscc(code)
    assert not valid_uscc(code[:-1] + ("0" if code[-1] != "0" else "1"))


def test_contact_details_are_normalised_and_plausible(world):
    prefixes = {p for c in CARRIERS for p in c.prefixes}
    mobiles = [r["phone"] for r in world.rows if r["kind"] == "individual"]
    assert len(set(mobiles)) == len(mobiles)
    for r in world.rows:
        assert r["phone"].startswith("+86")
        assert normalise_phone(r["phone_raw"]) == r["phone"]
        if r["kind"] == "individual":
            assert r["phone"][3:6] in prefixes and len(r["phone"]) == 14
        assert r["city"] in {c.zh for c in CITIES}
        assert r["address"].startswith(r["city"])
        assert r["name"] and not r["name"].isascii()
    for a in world.acct_rows:
        assert valid_account_number(a["number"])
    assert len({a["number"] for a in world.acct_rows}) == len(world.acct_rows)


def test_incomes_follow_occupations(world):
    by_occ: dict[str, list[int]] = {}
    for r in world.rows:
        if r["occupation"]:
            by_occ.setdefault(r["occupation"], []).append(r["annual_income_minor"])
    med = {k: np.median(v) for k, v in by_occ.items() if len(v) >= 15}
    zh = {o.key: o.zh for o in OCCUPATIONS}
    assert med[zh["software_engineer"]] > med[zh["teacher"]] > med[zh["factory_worker"]]
    assert all(v > 0 for vals in by_occ.values() for v in vals)
    # log-normal: right-skewed within an occupation
    eng = np.array(by_occ[zh["software_engineer"]])
    assert eng.mean() > np.median(eng)
    # students are young, pensioners are old
    for r in world.rows:
        if r["occupation"] == zh["student"]:
            assert age_on(r["birth_date"], END) <= 24
        if r["occupation"] == zh["retired"]:
            assert age_on(r["birth_date"], END) >= 55


def test_accounts_and_savings(world):
    kinds = Counter(a["kind"] for a in world.acct_rows)
    assert kinds["demand"] == world.n
    assert 0.3 * world.n < kinds["savings"] < 0.85 * world.n
    for a in world.acct_rows:
        if a["kind"] == "savings":
            assert a["interest_rate"] is not None and a["interest_rate"] > 0
        else:
            assert a["interest_rate"] is None
        assert a["opened_on"] <= END


def test_biller_catalogue_covers_every_city_and_carrier():
    specs = biller_specs()
    codes = [s[0] for s in specs]
    assert len(codes) == len(set(codes)) == 3 * len(CITIES) + 2 * len(CARRIERS)
    for _code, zh, en, category, _city, requires_bill in specs:
        assert zh and en and not zh.isascii() and en.isascii()
        assert requires_bill == (category != "mobile")


def test_same_seed_same_people_other_seed_other_people():
    a = build_world(customers=200, months=3, seed=5, end=END, default_limit=50_000_00)
    b = build_world(customers=200, months=3, seed=5, end=END, default_limit=50_000_00)
    c = build_world(customers=200, months=3, seed=6, end=END, default_limit=50_000_00)
    assert a.rows == b.rows and a.acct_rows == b.acct_rows
    assert np.array_equal(a.opening, b.opening)
    assert [r["id_number"] for r in a.rows] != [r["id_number"] for r in c.rows]

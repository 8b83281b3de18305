"""Money-market products: the NAV stays 1.000000, each NAV day publishes 万份收益 (income per 10,000 units) and
七日年化 (7-day annualised yield), close of day credits the income to holdings as units (once), and the product's
figures, API and pages show the yield and the income, never a drifting NAV."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from smartbank import clock, db
from smartbank.errors import Conflict, ValidationFailed
from smartbank.security.service import Principal
from smartbank.wealth import holdings, orders, products, seed
from smartbank.wealth.models import Holding, MoneyMarketIncome, ProductNav
from tests.api.support import API, assert_error
from tests.conftest import login
from tests.web.conftest import make_user, raw_keys, sign_in

UNTIL = date(2026, 2, 27)  # a Friday
MM = ["F-MMF", "WMP-CASH"]


def _rows(s, code: str) -> list[ProductNav]:
    p = products.get_product(s, code)
    return list(s.scalars(select(ProductNav).where(ProductNav.product_id == p.id).order_by(ProductNav.day)))


def test_seeded_money_market_products_keep_nav_1_and_publish_yield_and_income(engine):
    with db.session_scope(engine) as s:
        seed.seed(s, until=UNTIL, codes=[*MM, "F-BOND"])
    with db.session_scope(engine) as s:
        for code in MM:
            assert products.get_product(s, code).money_market
            rows = _rows(s, code)
            assert len(rows) > 700
            assert {r.nav_micro for r in rows} == {1_000_000}  # never 1.054
            assert all(r.income_per_10k_micro and r.income_per_10k_micro > 0 for r in rows)
            assert all(0.005 < r.yield_7d_ppm / 1e6 < 0.04 for r in rows)
            # a Monday's income covers Saturday, Sunday and Monday
            mon = next(i for i, r in enumerate(rows) if r.day.weekday() == 0 and i > 10)
            assert rows[mon].income_per_10k_micro > 2.5 * rows[mon - 1].income_per_10k_micro
            # 七日年化 = prod(1 + R/10000) ** (365/7) - 1 over the last 7 calendar days' publications
            week = [r.income_per_10k_micro for r in rows[-5:]]
            assert rows[-1].yield_7d_ppm == products.seven_day_yield(week)
            g = 1.0
            for r in week:
                g *= 1 + r / 1e10
            assert rows[-1].yield_7d_ppm / 1e6 == pytest.approx(g ** (365 / 7) - 1, abs=1e-6)
        bond = _rows(s, "F-BOND")
        assert bond[-1].income_per_10k_micro is None and bond[-1].nav_micro != 1_000_000
        view = {p["code"]: p for p in products.list_products(s)}
        assert view["F-MMF"]["money_market"] and view["F-MMF"]["nav_micro"] == 1_000_000
        assert view["F-MMF"]["yield_7d_ppm"] == _rows(s, "F-MMF")[-1].yield_7d_ppm
        assert view["F-MMF"]["income_per_10k_micro"] == _rows(s, "F-MMF")[-1].income_per_10k_micro
        assert not view["F-BOND"]["money_market"] and view["F-BOND"]["yield_7d_ppm"] is None
        # the figures read the value of a unit with the income reinvested, not the flat NAV
        page = products.product_page(s, "F-MMF")
        assert page["chart_kind"] == "yield_7d" and page["chart"]
        assert 0.005 < page["returns"]["1y"] < 0.04
        values = products.value_history(s, products.get_product(s, "F-MMF").id)
        assert values[0][1] > 1_000_000 and all(b[1] > a[1] for a, b in zip(values, values[1:], strict=False))


def test_close_of_day_publishes_then_credits_the_income_as_units_once(engine, bank):
    with db.session_scope(engine) as s:
        seed.seed(s, until=UNTIL, codes=["F-MMF"], years=1)
        pid = products.get_product(s, "F-MMF").id
    cid = bank.customer("王芳")
    other = bank.customer("李娜")
    with db.session_scope(engine) as s:
        s.add(Holding(customer_id=cid, product_id=pid, units_micro=10_000 * 1_000_000, cost_minor=10_000_00))
        # another customer redeeming 4,000 of 10,000 units: those stop earning
        s.add(Holding(customer_id=other, product_id=pid, units_micro=10_000 * 1_000_000,
                      pending_units_micro=4_000 * 1_000_000, cost_minor=10_000_00))
    mon = UNTIL + timedelta(days=3)
    with db.session_scope(engine) as s:
        assert products.publish_day(s, mon) == {"navs_published": 1}
        row = _rows(s, "F-MMF")[-1]
        assert row.day == mon and row.nav_micro == 1_000_000 and row.income_per_10k_micro > 0
        prev = _rows(s, "F-MMF")[-2]
        assert 2.5 < row.income_per_10k_micro / prev.income_per_10k_micro < 3.5  # three calendar days
        out = orders.accrue_income(s, mon)
        assert out["money_market_credits"] == 2
    income = row.income_per_10k_micro
    with db.session_scope(engine) as s:
        mine = s.scalars(select(Holding).where(Holding.customer_id == cid)).one()
        theirs = s.scalars(select(Holding).where(Holding.customer_id == other)).one()
        assert mine.units_micro == 10_000 * 1_000_000 + income  # 10,000 units earn exactly the 万份收益
        assert theirs.units_micro == 10_000 * 1_000_000 + 6_000 * 1_000_000 * income // 10**10
        assert mine.cost_minor == 10_000_00
        assert orders.accrue_income(s, mon) == {"money_market_credits": 0, "money_market_income_units_micro": 0}
        assert products.publish_day(s, mon) == {"navs_published": 0}
        rec = s.scalars(select(MoneyMarketIncome).where(MoneyMarketIncome.customer_id == cid)).one()
        assert rec.income_units_micro == income and rec.day == mon
    with db.session_scope(engine) as s:
        book = holdings.customer_holdings(s, cid, day=mon)
        (h,) = book["holdings"]
        assert h["money_market"] and h["nav_micro"] == 1_000_000
        assert h["market_value_minor"] == (10_000 * 1_000_000 + income) // 10_000
        assert h["last_income_minor"] == income // 10_000 and h["total_income_minor"] == income // 10_000


def test_a_money_market_nav_is_never_published_other_than_1(engine, bank):
    ADMIN = Principal(user_id=bank.user("admin1", role="admin"), username="admin1", role="admin",  # noqa: N806
                      customer_id=None)
    with db.session_scope(engine) as s:
        seed.seed(s, until=UNTIL, codes=["F-MMF", "F-BOND"], years=1)
    mon = UNTIL + timedelta(days=3)
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as e:
        products.publish_nav(s, ADMIN, "F-MMF", day=mon, nav_micro=1_054_000)
    assert e.value.code == "money_market_nav_fixed"
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as e:
        products.publish_nav(s, ADMIN, "F-MMF", day=mon)
    assert e.value.code == "money_market_income_required"
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
        products.publish_nav(s, ADMIN, "F-BOND", day=mon, income_per_10k_micro=500_000)
    with db.session_scope(engine) as s:
        row = products.publish_nav(s, ADMIN, "F-MMF", day=mon, income_per_10k_micro=1_400_000)
        assert row.nav_micro == 1_000_000 and row.yield_7d_ppm > 0
    with db.session_scope(engine) as s, pytest.raises(Conflict):
        products.publish_nav(s, ADMIN, "F-MMF", day=mon - timedelta(days=7), income_per_10k_micro=400_000)
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as e:
        products.add_product(s, {"code": "BAD-MMF", "name_en": "x", "name_zh": "x", "kind": "fund",
                                 "risk_level": "R2", "asset_class": "bond", "min_amount_minor": 100,
                                 "money_market": True})
    assert e.value.code == "bad_money_market"


def test_api_and_pages_show_the_7_day_yield_and_income_per_10000_units(client, bank, engine):
    with db.session_scope(engine) as s:
        seed.seed(s, codes=["F-MMF", "F-BOND"], years=1)
    alice = bank.customer("王芳")
    bank.account(alice, balance=1_000_000)
    bank.user("alice", customer_id=alice)
    h = login(client, "alice")
    p = client.get(f"{API}/wealth/products/F-MMF", headers=h).json()
    assert p["money_market"] and p["nav_micro"] == 1_000_000 and p["chart_kind"] == "yield_7d"
    assert 0.005 < p["yield_7d_ppm"] / 1e6 < 0.04 and p["income_per_10k_micro"] > 0
    listed = {x["code"]: x for x in client.get(f"{API}/wealth/products", headers=h).json()}
    assert listed["F-MMF"]["yield_7d_ppm"] == p["yield_7d_ppm"]
    navs = client.get(f"{API}/wealth/products/F-MMF/navs", headers=h).json()
    assert {r[1] for r in navs} == {1_000_000} and all(len(r) == 4 and r[2] > 0 for r in navs)
    bond = client.get(f"{API}/wealth/products/F-BOND", headers=h).json()
    assert not bond["money_market"] and bond["chart_kind"] == "nav"
    # a NAV other than 1 is refused through the API too
    bank.user("mark1", role="marketer")
    m = login(client, "mark1")
    day = (clock.today() + timedelta(days=7 - clock.today().weekday())).isoformat()  # the next Monday
    assert_error(client.post(f"{API}/wealth/products/F-MMF/navs", json={"day": day, "nav_micro": 1_054_000},
                             headers=m), 422, "money_market_nav_fixed")
    r = client.post(f"{API}/wealth/products/F-MMF/navs", json={"day": day, "income_per_10k_micro": 450_000},
                    headers=m)
    assert r.status_code == 201 and r.json()["nav_micro"] == 1_000_000 and r.json()["yield_7d_ppm"] > 0
    p = client.get(f"{API}/wealth/products/F-MMF", headers=h).json()
    assert p["yield_7d_ppm"] == r.json()["yield_7d_ppm"] and p["income_per_10k_micro"] == 450_000

    client.cookies.clear()
    make_user(engine, "web_alice", customer_id=alice)
    y = f"{p['yield_7d_ppm'] / 1e4:.4f}%"
    income = f"{p['income_per_10k_micro'] / 1e6:.4f}"
    for lang, words in (("zh", ("七日年化", "万份收益", "七日年化收益率走势")),
                        ("en", ("7-day annualised yield", "Income per 10,000 units",
                                "7-day annualised yield history"))):
        client.cookies.set("sb_lang", lang)
        sign_in(client, "web_alice")
        page = client.get("/wealth/products/F-MMF").text
        assert raw_keys(page) == []
        assert all(w in page for w in words) and y in page and income in page
        assert 'id="yield-chart"' in page and 'id="nav-chart"' not in page and 'id="mm-hint"' in page
        listing = client.get("/wealth/products").text
        assert y in listing
        client.cookies.clear()

"""Wealth in a real browser: a product above the customer's grade cannot be bought (the page says why and
the refusal is on record), a fund above it needs the explicit acknowledgement, a suitable product is bought
and its cash moves at once, and the recommendations on the home page never show an unsuitable product."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from smartbank import db
from smartbank.recommend import items as rec_items
from smartbank.security.service import SYSTEM
from smartbank.wealth import seed as wealth_seed
from tests.e2e.test_portal_browser import sign_in
from tests.recommend.test_items import grade
from tests.web.conftest import make_user

pytestmark = pytest.mark.e2e


@pytest.fixture
def investor(bank, engine):
    """Alice, graded C3 (balanced), with CNY 50,000.00 and the seeded catalogue (a year of NAVs)."""
    with db.session_scope(engine) as s:
        wealth_seed.seed(s, years=1)
        rec_items.sync_items(s, SYSTEM)
    cid = bank.customer("王芳")
    acct = bank.account(cid, balance=5_000_000)
    make_user(engine, "alice", customer_id=cid)
    grade(engine, cid, "C3")
    return {"customer": cid, "account": acct}


def _checks(engine, cid: int) -> list[tuple[str, str]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            "SELECT p.code, s.outcome FROM suitability_checks s JOIN wealth_products p ON p.id = s.product_id"
            " WHERE s.customer_id = :c ORDER BY s.id"), {"c": cid})]


def test_suitability_in_the_portal(page: Page, investor, bank, engine):
    sign_in(page)
    # an R4 wealth-management product is above C3: no purchase form, the reason in plain words
    page.goto("/wealth/products/WMP-EQ")
    expect(page.locator("#suitability-refused")).to_contain_text("C3")
    expect(page.locator("#buy-form")).to_have_count(0)

    # an R4 fund may be bought only after confirming the acknowledgement
    page.goto("/wealth/products/F-SP500")
    expect(page.locator("#acknowledgement")).to_be_visible()
    page.fill("#buy-form input[name=amount]", "1000.00")
    page.check("#acknowledgement input[name=acknowledgement]")
    page.click("#buy-btn")
    expect(page).to_have_url(re.compile(r"/wealth\?notice=wealth_bought"))

    # a suitable bond fund: the cash leaves the account at once, the units come at settlement
    page.goto("/wealth/products/F-BOND")
    page.fill("#buy-form input[name=amount]", "2000.00")
    page.click("#buy-btn")
    expect(page).to_have_url(re.compile(r"/wealth\?notice=wealth_bought"))
    assert bank.balance(investor["account"]) == 5_000_000 - 100_000 - 200_000
    assert _checks(engine, investor["customer"]) == [("F-SP500", "acknowledged"), ("F-BOND", "pass")]
    bank.assert_invariants()

    # the home page's recommendations are all within the grade and not already bought
    page.goto("/")
    shown = page.locator("#home-for-you [data-item]")
    keys = [shown.nth(i).get_attribute("data-item") for i in range(shown.count())]
    with engine.connect() as c:
        levels = dict(c.execute(text("SELECT 'wealth:' || code, risk_level FROM wealth_products")).all())
    assert keys and all(levels.get(k, "R1") <= "R3" for k in keys)
    assert "wealth:F-BOND" not in keys and "wealth:F-SP500" not in keys


def test_wealth_pages_on_a_phone_with_the_plan_colour_key(phone: Page, investor):
    """At 360 px nothing scrolls sideways; the plan's colour key shows a coloured square per line in the
    donut's colours (drawn as SVG: the page's style policy would drop inline styles), and a fall is green with
    a minus sign and a word for screen readers."""
    phone.set_viewport_size({"width": 360, "height": 800})
    sign_in(phone)
    phone.goto("/wealth/robo")
    phone.fill("input[name=amount]", "40000")
    phone.fill("input[name=horizon]", "36")
    phone.click("#robo-propose", timeout=120_000)  # the optimisation and its backtest take a while
    expect(phone.locator("#robo-legend li").first).to_be_visible(timeout=120_000)
    fills = phone.eval_on_selector_all("#robo-legend li svg.swatch rect", "rs => rs.map(r => getComputedStyle(r).fill)")
    strokes = phone.eval_on_selector_all("#robo-donut circle", "cs => cs.map(c => getComputedStyle(c).stroke)")
    assert fills and fills == strokes and len(set(fills)) > 1
    box = phone.locator("#robo-legend li svg.swatch").first.bounding_box()
    assert box and box["width"] >= 10
    for url in ("/wealth", "/wealth/products", "/wealth/products/F-SP500", "/wealth/assessment", "/wealth/robo"):
        phone.goto(url)
        phone.wait_for_load_state("load")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url
    phone.goto("/wealth/products/F-SP500")
    colours = phone.eval_on_selector_all(".returns .chg",
                                         "xs => xs.map(x => [x.dataset.dir, getComputedStyle(x).color])")
    assert colours
    for direction, colour in colours:
        assert colour == {"up": "rgb(196, 29, 29)", "down": "rgb(15, 122, 54)"}.get(direction, colour)

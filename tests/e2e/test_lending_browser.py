"""Lending in a real browser: a customer applies for a consumer loan, is approved at once, takes the offer
and sees the money and the repayment schedule; a large application waits for two loan officers
(maker-checker) before the customer can take it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from smartbank import db
from smartbank.lending import decision
from smartbank.lending import seed as lending_seed
from tests.e2e.test_portal_browser import sign_in
from tests.lending.test_applications import FakeScorer
from tests.web.conftest import make_user

pytestmark = pytest.mark.e2e


@pytest.fixture
def borrower(bank, engine, monkeypatch):
    """Alice (a customer with CNY 100.00), the seeded loan products, and a credit model that sees low risk."""
    monkeypatch.setattr(decision, "get_scorer", lambda: FakeScorer(pd=0.01))
    with db.session_scope(engine) as s:
        lending_seed.seed(s)
    cid = bank.customer("王芳")
    acct = bank.account(cid, balance=10_000)
    make_user(engine, "alice", customer_id=cid)
    return {"customer": cid, "account": acct}


def _apply(page: Page, amount: str, income: str) -> None:
    page.goto("/loans/apply?product=PERSONAL")
    page.fill("input[name=amount]", amount)
    page.fill("input[name=term_months]", "12")
    page.fill("input[name=purpose]", "装修")
    page.fill("input[name=income]", income)
    page.click("#loan-submit")


def test_apply_accept_and_see_the_schedule(phone: Page, borrower, bank):
    sign_in(phone)
    _apply(phone, "30000.00", "20000.00")
    expect(phone.locator("#loan-offer")).to_be_visible()
    phone.click("#loan-accept")
    expect(phone.locator("#loan-progress .current")).to_contain_text("已放款")
    assert bank.balance(borrower["account"]) == 10_000 + 3_000_000
    phone.goto("/loans")
    phone.locator("main h2 a[href^='/loans/']").first.click()
    expect(phone.locator("#outstanding")).to_contain_text("30,000.00")
    expect(phone.locator("table")).to_contain_text("12")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    bank.assert_invariants()


def test_a_large_loan_needs_two_officers(page: Page, borrower, bank, engine, browser, live_server):
    make_user(engine, "lin", role="loan_officer")
    make_user(engine, "zhou", role="loan_officer")
    sign_in(page)
    _apply(page, "250000.00", "60000.00")
    expect(page.locator("#loan-progress .current")).to_contain_text("人工审核")
    app_url = page.url.split("?")[0]

    for officer in ("lin", "zhou"):
        staff = browser.new_context(base_url=live_server, locale="zh-CN").new_page()
        sign_in(staff, officer, console=True)
        staff.goto("/console/lending/reviews")
        staff.locator("#review-queue a[href^='/console/lending/reviews/']").first.click()
        staff.check("input[name=outcome][value=approve]")
        staff.click("#case-submit")
        expect(staff.locator("#case-status")).to_be_visible()
        staff.context.close()

    page.goto(app_url)
    page.click("#loan-accept")
    expect(page.locator("#loan-progress .current")).to_contain_text("已放款")
    assert bank.balance(borrower["account"]) == 10_000 + 25_000_000
    bank.assert_invariants()


def test_the_case_and_the_loan_fit_a_small_phone(browser, live_server, borrower, bank, engine, monkeypatch):
    """At 360 px the officer's case and the customer's loan scroll only downwards; the summary shows the PD as a
    percentage; a choice row is chosen by tapping its words."""
    monkeypatch.setattr(decision, "get_scorer", lambda: FakeScorer(pd=0.10))  # grade D: an officer decides
    make_user(engine, "lin", role="loan_officer")
    ctx = browser.new_context(base_url=live_server, locale="zh-CN", viewport={"width": 360, "height": 780})
    try:
        me = ctx.new_page()
        sign_in(me)
        _apply(me, "20000.00", "30000.00")
        expect(me.locator("#loan-progress .current")).to_contain_text("人工审核")
        assert me.evaluate("document.documentElement.scrollWidth") <= 360
        staff = ctx.browser.new_context(base_url=live_server, locale="zh-CN",
                                        viewport={"width": 360, "height": 780}).new_page()
        sign_in(staff, "lin", console=True)
        staff.goto("/console/lending/reviews")
        staff.locator("#review-queue a[href^='/console/lending/reviews/']").first.click()
        expect(staff.locator("#case-pd")).to_have_text("10.00%")
        expect(staff.locator("#rule-POL-DTI")).to_contain_text("不超过")
        assert staff.evaluate("document.documentElement.scrollWidth") <= 360
        staff.locator("label.choice", has_text="批准").click()  # the words choose the radio
        expect(staff.locator("input[name=outcome][value=approve]")).to_be_checked()
        staff.click("#case-submit")
        expect(staff.locator("#case-status")).to_contain_text("已批准")
        staff.context.close()
        me.reload()
        me.click("#loan-accept")
        expect(me.locator("#loan-progress .current")).to_contain_text("已放款")
        me.goto("/loans")
        me.locator("main h2 a[href^='/loans/']").first.click()
        me.locator("label.choice", has_text="缩短期限").click()
        expect(me.locator("input[name=recalc][value=shorten_term]")).to_be_checked()
        assert me.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        ctx.close()
    bank.assert_invariants()

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Page, expect

from smartbank import clock, db
from smartbank.payments import service as payments
from tests.web.conftest import PASSWORD, account_number, make_user

pytestmark = pytest.mark.e2e


@pytest.fixture
def alice(bank, engine):
    """Alice with CNY 1,000.00; Bob to pay."""
    a = bank.customer("王芳")
    b = bank.customer("李娜")
    acct = bank.account(a, balance=100_000)
    bob_acct = bank.account(b)
    make_user(engine, "alice", customer_id=a)
    return {"account": acct, "bob_account": bob_acct, "bob_number": account_number(engine, bob_acct)}


def sign_in(page: Page, username: str = "alice", *, console: bool = False) -> None:
    """Sign in as a person would; a staff member (no second factor yet in a test's bank) enrols one on the page
    the sign-in leads to, from the key it shows, and continues past the recovery codes."""
    page.goto("/console/login" if console else "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    if console:
        page.wait_for_url("**/console/login/enrol**")
        secret = page.inner_text("#mfa-secret").strip()
        page.fill("#mfa-code", pyotp.TOTP(secret).at(clock.now()))
        page.click("#mfa-submit")
        page.click("#codes-continue")


def no_sideways_scroll(page: Page) -> bool:
    page.wait_for_load_state("load")  # a page mid-navigation has no document to measure
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_customer_signs_in_and_sees_balances(page: Page, alice):
    page.goto("/")
    expect(page).to_have_url("/login")  # redirected to sign in
    expect(page.locator("h1")).to_have_text("登录")
    sign_in(page)
    expect(page.locator("h1")).to_have_text("我的账户")
    card = page.locator(f"#account-{alice['account']}")
    expect(card.locator("[data-balance=ledger]")).to_have_text("¥1,000.00")
    expect(card.locator("[data-balance=available]")).to_have_text("¥1,000.00")


def test_transfer_with_confirmation_changes_the_balance(page: Page, alice, bank):
    sign_in(page)
    page.get_by_role("link", name="转账", exact=True).first.click()
    page.fill("input[name=to_account]", alice["bob_number"])
    page.fill("input[name=amount]", "123.45")
    page.fill("input[name=memo]", "午饭")
    page.click("#transfer-next")
    expect(page.locator("h1")).to_have_text("请确认转账信息")
    expect(page.locator("#confirm-amount")).to_have_text("¥123.45")
    assert bank.balance(alice["account"]) == 100_000  # nothing moves before confirming
    page.dblclick("#transfer-confirm")  # an impatient double click still pays once
    expect(page.locator("#receipt-status")).to_have_text("交易成功")
    expect(page.locator("#receipt-amount")).to_have_text("¥123.45")
    page.get_by_role("link", name="首页").first.click()
    expect(page.locator(f"#account-{alice['account']} [data-balance=ledger]")).to_have_text("¥876.55")
    assert bank.balance(alice["account"]) == 87_655 and bank.balance(alice["bob_account"]) == 12_345
    assert bank.count("transfers") == 2  # the funding deposit and this transfer


def test_bill_payment(page: Page, alice, bank, engine):
    with db.session_scope(engine) as s:
        payments.add_biller(s, code="SH-WATER", name_zh="上海城投水务", name_en="Shanghai Water", category="water")
        payments.issue_bill(s, biller_code="SH-WATER", reference="88776655", period="2025-06", amount_minor=4_560,
                            due_date=clock.today() + timedelta(days=5))
    sign_in(page)
    page.get_by_role("link", name="生活缴费").first.click()
    page.get_by_role("link", name="水费", exact=True).click()
    page.get_by_role("link", name="上海城投水务").click()
    page.fill("input[name=reference]", "88776655")
    page.get_by_role("button", name="查询账单").click()
    expect(page.locator("form.bill .big-amount")).to_have_text("¥45.60")
    page.get_by_role("button", name="立即缴费").click()
    expect(page.locator(".notice")).to_have_text("缴费成功。")
    expect(page.locator("#receipt")).to_contain_text("上海城投水务")
    assert bank.balance(alice["account"]) == 100_000 - 4_560


def test_language_switch(page: Page, alice):
    page.goto("/login")
    expect(page.locator("h1")).to_have_text("登录")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.click("#lang-toggle")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    sign_in(page)
    expect(page.locator("h1")).to_have_text("My accounts")
    expect(page.locator("#lang-toggle")).to_have_text("中文")
    page.click("#lang-toggle")
    expect(page.locator("h1")).to_have_text("我的账户")
    expect(page).to_have_url("/")


def test_elderly_mode(page: Page, alice):
    sign_in(page)
    expect(page.locator("h1")).to_have_text("我的账户")  # the home page has loaded (a body to measure)
    normal = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    page.click("#elder-toggle")
    expect(page.locator("#elder-home")).to_be_visible()
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 22 > normal
    expect(page.locator("#main-balance")).to_have_text("¥1,000.00")
    actions = page.locator(".big-action")
    expect(actions).to_have_count(4)
    for i in range(4):
        box = actions.nth(i).bounding_box()
        assert box and box["height"] >= 60
    contrast = page.evaluate("getComputedStyle(document.body).color")
    assert contrast == "rgb(0, 0, 0)"
    # fewer steps: the big "send money" action opens the form with the main account chosen
    actions.first.click()
    expect(page.locator("select[name=from_account]")).to_have_value(str(alice["account"]))
    expect(page.locator("input[name=memo]:not([type=hidden])")).to_have_count(0)  # one field less
    page.click("#elder-toggle")
    expect(page.locator("html")).not_to_have_class("elder")


def test_phone_sized_screen(phone: Page, alice, bank):
    sign_in(phone)
    expect(phone.locator("h1")).to_have_text("我的账户")
    assert no_sideways_scroll(phone)
    phone.goto("/transfer")
    phone.fill("input[name=to_account]", alice["bob_number"])
    phone.fill("input[name=amount]", "50")
    phone.click("#transfer-next")
    expect(phone.locator("#transfer-confirm")).to_be_visible()  # the confirm page has loaded
    assert no_sideways_scroll(phone)
    phone.click("#transfer-confirm")
    expect(phone.locator("#receipt-amount")).to_have_text("¥50.00")
    phone.goto(f"/accounts/{alice['account']}")
    rows = phone.locator("#history tbody tr")
    expect(rows).to_have_count(2)
    assert phone.locator("#history thead").is_hidden()  # the table is stacked into cards
    assert no_sideways_scroll(phone)
    phone.click("#elder-toggle")
    expect(phone.locator("html")).to_have_class("elder")
    assert no_sideways_scroll(phone)
    phone.goto("/")
    expect(phone.locator("#main-balance")).to_have_text("¥950.00")
    assert no_sideways_scroll(phone)
    assert bank.balance(alice["bob_account"]) == 5_000

"""The risk loop in a real browser: a customer's transfer asks for a one-time code (read from the portal's
notifications) and posts; a larger one is held; a risk officer releases it from the alert queue."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from smartbank import db
from smartbank.risk.models import RiskRule
from tests.conftest import sms_code
from tests.e2e.test_portal_browser import sign_in
from tests.web.conftest import account_number, make_user

pytestmark = pytest.mark.e2e


@pytest.fixture
def alice(bank, engine):
    """Alice with CNY 1,000.00; Bob to pay."""
    a, b = bank.customer("王芳"), bank.customer("李娜")
    acct, bob_acct = bank.account(a, balance=100_000), bank.account(b)
    make_user(engine, "alice", customer_id=a)
    return {"account": acct, "bob_account": bob_acct, "bob_number": account_number(engine, bob_acct)}


def _rule(engine, code: str, expression: str, action: str) -> None:
    with db.session_scope(engine) as s:
        s.add(RiskRule(code=code, version=1, name_en=code, name_zh=code, expression=expression, action=action,
                       mode="active", reason_en="Large payment.", reason_zh="大额付款需要核实。"))


def _transfer(page: Page, number: str, amount: str) -> None:
    page.goto("/transfer")
    page.fill("input[name=to_account]", number)
    page.fill("input[name=amount]", amount)
    page.click("#transfer-next")
    page.click("#transfer-confirm")


def test_one_time_code_then_a_held_payment_released_by_an_officer(page: Page, alice, bank, engine, browser,
                                                                    live_server, sms_outbox):
    _rule(engine, "otp", "amount_minor >= 10000 and amount_minor < 50000", "challenge")
    _rule(engine, "hold", "amount_minor >= 50000", "review")
    make_user(engine, "rita", role="risk_officer")
    sign_in(page)
    _transfer(page, alice["bob_number"], "200.00")
    expect(page.locator("#otp-step")).to_contain_text("大额付款需要核实。")
    expect(page.locator("#otp-sent")).to_contain_text("短信")
    code = sms_code(sms_outbox)  # texted to the customer's phone, not shown in the app
    inbox = page.context.new_page()
    inbox.goto("/notifications")
    assert code not in inbox.locator("main").inner_text()
    page.fill("#otp", code)
    page.click("#otp-confirm")
    expect(page.locator("#receipt-status")).to_have_text("交易成功")
    assert bank.balance(alice["bob_account"]) == 20_000

    _transfer(page, alice["bob_number"], "600.00")
    expect(page.locator(".notice")).to_contain_text("安全审核")
    assert bank.available(alice["account"]) == 20_000 and bank.balance(alice["bob_account"]) == 20_000

    officer = browser.new_context(base_url=live_server, locale="zh-CN").new_page()
    sign_in(officer, "rita", console=True)
    officer.goto("/console/risk/alerts")
    officer.locator("a[href^='/console/risk/alerts/']").first.click()
    expect(officer.locator("#reasons")).to_contain_text("大额付款需要核实。")
    officer.check("input[value='false_alarm:release']")
    officer.click("#resolve")
    expect(officer.locator("#closed")).to_be_visible()
    assert bank.balance(alice["bob_account"]) == 80_000 and bank.balance(alice["account"]) == 20_000
    inbox.goto("/notifications")
    expect(inbox.locator("main")).to_contain_text("¥600.00")
    bank.assert_invariants()

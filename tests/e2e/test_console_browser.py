from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from tests.e2e.test_portal_browser import sign_in
from tests.web.conftest import make_user

pytestmark = pytest.mark.e2e


def test_teller_finds_a_customer_and_freezes_an_account(page: Page, bank, engine):
    cid = bank.customer("陈静")
    acct = bank.account(cid, balance=20_000)
    make_user(engine, "teller1", role="teller")
    sign_in(page, "teller1", console=True)
    expect(page.locator("#role")).to_have_text("柜员")
    page.get_by_role("link", name="客户查询").first.click()
    page.fill("input[name=q]", "陈静")
    page.get_by_role("button", name="查询").click()
    page.get_by_role("link", name="陈静").click()
    expect(page.locator(f"#account-{acct} .amount").first).to_have_text("¥200.00")
    # the freeze takes a confirm step, and the reason is required there
    page.click(f"#status-{acct}")
    expect(page.get_by_role("heading", level=1)).to_have_text("冻结账户")
    page.get_by_label("原因（必填，将记入审计日志）").fill("客户挂失")
    page.click("#status-confirm")
    expect(page.locator(".notice")).to_have_text("账户已冻结。")
    expect(page.locator(f"#account-{acct} [data-status]")).to_have_text("已冻结")
    # one change audited (the search and the customer page are audited as reads, object_type customer; the
    # teller's sign-in as auth.sign_in)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_log WHERE object_type <> 'customer'"
                              " AND action NOT IN ('auth.sign_in', 'auth.mfa_enrolled')")).scalar() == 1
        assert c.execute(text("SELECT count(*) FROM audit_log WHERE action = 'auth.sign_in'")).scalar() == 1
        assert c.execute(text("SELECT count(*) FROM audit_log WHERE object_type = 'customer'"
                              " AND action = 'customer.read'")).scalar() >= 1

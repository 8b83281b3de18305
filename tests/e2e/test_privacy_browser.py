"""The privacy page at phone width in zh and en: switching personalised recommendations off in a browser, and the
console's read-only consents and correction queue."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from smartbank import db
from smartbank.customers import service as customers
from tests.e2e.test_portal_browser import no_sideways_scroll, sign_in
from tests.web.conftest import make_user

pytestmark = pytest.mark.e2e


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    out = Path(os.environ.get("SMARTBANK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang, title, saved", [("zh", "隐私与授权", "授权设置已保存"),
                                                ("en", "Privacy and consent", "Your consents are saved")])
def test_privacy_page_on_a_phone(phone: Page, bank, engine, tmp_path, lang, title, saved):
    cid = bank.customer("王芳", phone="13800138000")
    bank.account(cid, balance=100_000)
    make_user(engine, "alice", customer_id=cid)
    sign_in(phone)
    phone.goto(f"/prefs/lang/{lang}")
    phone.goto("/privacy")
    expect(phone.locator("h1")).to_have_text(title)
    assert no_sideways_scroll(phone)
    _shot(phone, tmp_path, f"privacy-{lang}-390")
    phone.uncheck("#consent-personalised_recommendation")
    phone.click("#save-consents")
    expect(phone.locator("p.notice")).to_contain_text(saved)
    with db.session_scope(engine) as s:
        assert not customers.has_consent(s, cid, "personalised_recommendation")
    assert no_sideways_scroll(phone)
    _shot(phone, tmp_path, f"privacy-{lang}-390-saved")


def test_console_customer_consents_on_a_phone(phone: Page, bank, engine, tmp_path):
    cid = bank.customer("李娜")
    make_user(engine, "teller1", role="teller")
    sign_in(phone, "teller1", console=True)
    phone.goto(f"/console/customers/{cid}")
    expect(phone.locator("#consents")).to_be_visible()
    assert no_sideways_scroll(phone)
    _shot(phone, tmp_path, "console-customer-consents-390")

"""Every page as its users meet it (issue 17): a small bank arranged through the services, then the pages
reachable from each person's navigation (and the detail pages they link to) in zh and en at 360 px, checked
for the other language's words, sideways scroll and axe-core's serious violations (tests/e2e/page_audit.py); the
elderly-mode home's primary actions; and the common refusals rendered in both languages.

A failure lists page, language, size and the offending tokens or violations. ``python -m tests.e2e.page_audit``
runs the same audit on a running server.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page
from sqlalchemy import text

from smartbank import clock, db
from smartbank.backoffice import service as backoffice
from smartbank.config import get_settings
from smartbank.lending import decision
from smartbank.lending import seed as lending_seed
from smartbank.lending import service as lending
from smartbank.loyalty import service as loyalty
from smartbank.marketing import service as marketing
from smartbank.payments import service as payments
from smartbank.privacy import service as privacy
from smartbank.recommend import items as rec_items
from smartbank.security import service as security
from smartbank.security.service import SYSTEM, Principal
from smartbank.synth.campaigns import seed_campaigns
from smartbank.synth.experiments import seed_experiments
from smartbank.synth.opinion import seed_opinion
from smartbank.wealth import seed as wealth_seed
from smartbank.wealth import service as wealth
from tests.e2e import page_audit
from tests.lending.test_applications import FakeScorer
from tests.recommend.test_items import grade
from tests.web.conftest import PASSWORD, account_number, make_user

pytestmark = pytest.mark.e2e

STAFF = {"teller": "teller1", "loan_officer": "loan1", "risk_officer": "risk1", "marketer": "market1",
         "service_agent": "agent1", "admin": "admin1"}


@pytest.fixture
def small_bank(bank, engine, monkeypatch, credit_model):
    """王芳 (alice) with a current and a savings account, a saved payee 李娜, a transfer, a wealth holding (graded
    C3), a consumer loan paid out (and its notifications); 李娜 (bob) with a large loan application waiting for
    the loan officers; one sign-in per staff role; a credit model trained (fast) in a model folder of its own, so
    the credit model page and its report show a model (decisions still use a fixed scorer)."""
    monkeypatch.setattr(get_settings(), "model_dir", credit_model["models"])
    monkeypatch.setattr(decision, "get_scorer", lambda: FakeScorer(pd=0.01))
    with db.session_scope(engine) as s:
        wealth_seed.seed(s, years=1)
        rec_items.sync_items(s, SYSTEM)
        lending_seed.seed(s)
    alice = bank.customer("王芳")
    bob = bank.customer("李娜")
    acct = bank.account(alice, balance=5_000_000)
    bank.account(alice, kind="savings", balance=200_000)
    bob_acct = bank.account(bob, balance=100_000)
    a_uid = make_user(engine, "alice", customer_id=alice)
    b_uid = make_user(engine, "bob", customer_id=bob)
    for role, name in STAFF.items():
        make_user(engine, name, role=role)
    grade(engine, alice, "C3")
    me = Principal(user_id=a_uid, username="alice", role="customer", customer_id=alice)
    him = Principal(user_id=b_uid, username="bob", role="customer", customer_id=bob)
    bob_number = account_number(engine, bob_acct)
    with db.session_scope(engine) as s:
        payments.add_payee(s, me, alice, name="李娜", account_number=bob_number, nickname="妈妈")
    with db.session_scope(engine) as s:
        wealth.purchase(s, me, product_code="F-BOND", account_id=acct, amount_minor=300_000,
                        idempotency_key="every-page:F-BOND")

    def apply(who: Principal, account_id: int, amount: int, income: int, key: str):
        with db.session_scope(engine) as s:
            app, _ = lending.submit(s, who, lending.ApplicationIn(
                product="PERSONAL", account_id=account_id, amount_minor=amount, term_months=12,
                method="equal_installment", purpose="装修", monthly_income_minor=income, employment="employed",
                years_employed=6, dependents=1, open_credit_lines=3, real_estate_loans=1,
                revolving_balance_minor=800_000, revolving_limit_minor=5_000_000), idempotency_key=key, channel="web")
            if app.status == "approved" and who is me:
                lending.accept(s, who, app.id)
            return app.status

    # a correction the customer asked for, and a limit change waiting for a second staff member (maker-checker)
    with db.session_scope(engine) as s:
        privacy.request_correction(s, me, field="city", value="杭州", note="搬家了")
    teller_id = db.run_read(lambda s: security.find_user_by_name(s, STAFF["teller"]).id)
    teller = Principal(user_id=teller_id, username=STAFF["teller"], role="teller", customer_id=None)
    with db.session_scope(engine) as s:
        backoffice.propose_change(s, teller, kind="customer.daily_limit", target=alice,
                                  payload={"daily_limit_minor": 2_000_000}, reason="客户申请提高限额")
    apply(me, acct, 3_000_000, 2_000_000, "every-page:alice")
    apply(him, bob_acct, 25_000_000, 6_000_000, "every-page:bob")
    # marketing: a campaign approved and run, one waiting for approval, the journeys switched on, an experiment
    # read, points earned, an opinion feed with a spike and its alert
    seed_campaigns(engine, maker=STAFF["marketer"], approver=STAFF["admin"], opt_in_share=1.0)
    db.run_in_transaction(lambda s: marketing.seed_journeys(s, enable=True))
    db.run_in_transaction(seed_experiments)
    db.run_in_transaction(loyalty.run_due)
    seed_opinion(engine, weeks=2, spike=20)
    allow = page_audit.Allow.load()
    allow.add_data("王芳", "李娜", "妈妈", "装修", "杭州", "搬家了", "客户申请提高限额", "alice", "bob",
                   *STAFF.values())
    return {"customer": alice, "account": acct, "bob_number": bob_number, "allow": allow}


def _totp(username: str, secret: str | None) -> str:
    if secret:
        return pyotp.TOTP(secret).at(clock.now())
    return db.run_read(lambda s: security.demo_totp_code(s, username))


def test_every_page_in_both_languages(browser, live_server, small_bank):
    people = [page_audit.Person("nobody signed in", None, "", False, start=page_audit.PUBLIC_PAGES),
              page_audit.Person("alice (customer)", "alice", PASSWORD, False)]
    people += [page_audit.Person(f"{name} ({role})", name, PASSWORD, True) for role, name in STAFF.items()]
    rep = page_audit.audit(browser, live_server, people, small_bank["allow"], totp=_totp, depth=2, max_pages=40)
    if os.environ.get("SMARTBANK_AUDIT_REPORT"):  # the whole report
        Path(os.environ["SMARTBANK_AUDIT_REPORT"]).write_text(rep.text() + "\n", encoding="utf-8")
    assert len(rep.pages) > 40, rep.text()
    assert not rep.findings, (f"{len(rep.findings)} findings on {len(rep.pages)} page views:\n"
                              + "\n".join(f.line() for f in rep.findings))


def test_elderly_home_has_at_most_six_primary_actions_and_fits_a_phone(browser, live_server, small_bank):
    person = page_audit.Person("alice (customer)", "alice", PASSWORD, False)
    home = page_audit.elder_home(browser, live_server, person)
    actions, scroll = home["actions"], home["scroll"]
    assert 1 <= len(actions) <= 6, actions
    assert not scroll, scroll


def _error_shown(page: Page) -> list[str]:
    """The refusals on the page: the alert at the top, a field's error, the error page's words."""
    texts = page.locator("[role=alert], .error, .field-error, #error-message").all_inner_texts()
    return [t.strip() for t in texts if t.strip()]


def _check_error(page: Page, lang: str, allow: page_audit.Allow, expect: str, label: str) -> list[str]:
    shown = _error_shown(page)
    problems = []
    if not shown:
        problems.append(f"{label} ({lang}): no error shown on {page.url}")
    if len(shown) != len(set(shown)):
        problems.append(f"{label} ({lang}): an error shown twice: {shown}")
    if expect and not any(expect in t for t in shown):
        problems.append(f"{label} ({lang}): expected {expect!r} in {shown}")
    problems += [f"{label} ({lang}): {p}" for p in page_audit.page_language(page, lang, allow)]
    return problems


def test_common_refusals_in_both_languages(browser, live_server, small_bank, engine):
    """A wrong one-time code, a wealth purchase below the minimum, a loan amount out of range, a transfer over the
    balance and a page that does not exist: each refusal once, in the page's language, with its figures."""
    with db.session_scope(engine) as s:  # the staff member signs in with a factor enrolled already
        security.enrol_demo_mfa(s, security.find_user_by_name(s, "teller1"))
    allow = small_bank["allow"]
    with engine.connect() as c:
        minimum = c.execute(text("SELECT min_amount_minor FROM wealth_products WHERE code = 'F-BOND'")).scalar()
    problems: dict[str, list[str]] = {}
    for lang in ("zh", "en"):
        ctx = browser.new_context(base_url=live_server, viewport=page_audit.SIZES["phone"], locale="zh-CN")
        ctx.set_default_timeout(15_000)
        try:
            page_audit.set_lang(ctx, live_server, lang)
            page = ctx.new_page()
            # a wrong one-time code at a staff member's sign-in
            page.goto("/console/login")
            page.fill("input[name=username]", "teller1")
            page.fill("input[name=password]", PASSWORD)
            page.click("form button[type=submit]")
            page.fill("#mfa-code", "000000")
            page.click("#mfa-submit")
            problems.setdefault("wrong_code", []).extend(
                _check_error(page, lang, allow, "验证码" if lang == "zh" else "code", "wrong one-time code"))
            page_audit.sign_in(page, "alice", PASSWORD)
            # a wealth purchase below the product's minimum (¥1,000.00)
            page.goto("/wealth/products/F-BOND")
            page.fill("#buy-form input[name=amount]", "0.01")
            page.click("#buy-btn")
            problems.setdefault("wealth_below_minimum", []).extend(
                _check_error(page, lang, allow, f"{minimum / 100:,.2f}", "wealth purchase below the minimum"))
            # a loan amount outside the product's range
            page.goto("/loans/apply?product=PERSONAL")
            page.fill("input[name=amount]", "99999999.00")
            page.fill("input[name=term_months]", "12")
            page.fill("input[name=purpose]", "装修")
            page.fill("input[name=income]", "20000.00")
            page.click("#loan-submit")
            problems.setdefault("loan_amount_range", []).extend(
                _check_error(page, lang, allow, "", "loan amount out of range"))
            # a transfer over the balance
            page.goto("/transfer")
            page.fill("input[name=to_account]", small_bank["bob_number"])
            page.fill("input[name=amount]", "900000.00")
            page.click("#transfer-next")
            problems.setdefault("transfer_over_balance", []).extend(
                _check_error(page, lang, allow, "", "transfer over the balance"))
            # a page that does not exist
            resp = page.goto("/loans/999999")
            nf = [] if resp and resp.status == 404 else [f"not found ({lang}): HTTP {resp and resp.status}"]
            nf += _check_error(page, lang, allow, "", "not found")
            problems.setdefault("not_found", []).extend(nf)
        finally:
            ctx.close()
    left = [p for ps in problems.values() for p in ps]
    assert not left, "\n".join(left)


def test_the_audit_finds_what_it_looks_for():
    """The language check itself: English and snake_case on a zh page, Chinese on an en page; the allow-list and
    the grades, codes and references pass."""
    allow = page_audit.Allow.load()
    allow.add_data("王芳")
    zh = page_audit.language_problems([{"where": "text", "text": "转账 wealth_purchase 已完成 Loan F-BOND R2 C3 "
                                        "LN2026120800000001 CNY 王芳"}], "zh", allow)
    assert [re.search(r"'(.+?)'", p).group(1) for p in zh] == ["wealth_purchase", "Loan"]
    en = page_audit.language_problems([{"where": "text", "text": "Transfer 王芳 to 李娜：done"}], "en", allow)
    assert [re.search(r"'(.+?)'", p).group(1) for p in en] == ["李娜："]
    assert [re.search(r"'(.+?)'", p).group(1) for p in page_audit.format_problems([{"where": "text", "text":
            "贷款 50000.00 CNY ¥50,000.00 ¥12.50 净值 1.0061 7.1234% 2026-12-01"}])] == ["50000.00"]
    assert page_audit.pattern("/console/risk/rules/night_new_payee") == "/console/risk/rules/{id}"
    assert page_audit.pattern("/wealth/products/F-BOND?x=1") == "/wealth/products/{id}"

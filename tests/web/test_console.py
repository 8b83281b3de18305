from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from smartbank.web import nav
from tests.web.conftest import make_user, post_form, raw_keys, sign_in


def test_staff_sign_in_shows_the_shell_with_role(client, people):
    r = sign_in(client, "teller1", console=True)
    assert r.headers["location"] == "/console"
    home = client.get("/console").text
    assert 'id="role">柜员<' in home and 'href="/console/customers"' in home
    client.cookies.set("sb_lang", "en")
    home = client.get("/console").text
    assert 'id="role">Teller<' in home and "Operator console" in home and raw_keys(home) == []


def test_staff_search_and_customer_page(client, people):
    sign_in(client, "teller1", console=True)
    r = client.get("/console/customers", params={"q": "王芳"})
    assert r.status_code == 200 and "王芳" in r.text and "李娜" not in r.text
    cid = re.search(r'href="/console/customers/(\d+)"', r.text).group(1)
    assert int(cid) == people.alice
    assert "没有找到客户" in client.get("/console/customers", params={"q": "nobody"}).text
    page = client.get(f"/console/customers/{cid}")
    assert page.status_code == 200 and "¥1,000.00" in page.text and "¥50.00" in page.text
    assert "存入" in page.text  # recent history: the funding deposits
    assert "110***********" in page.text  # the ID number is masked: first 3, last 4
    assert client.get("/console/customers/999999").status_code == 404


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_console_pages_render_in_both_languages(client, people, lang):
    sign_in(client, "teller1", console=True)
    client.cookies.set("sb_lang", lang)
    for elder in ("0", "1"):
        client.cookies.set("sb_elder", elder)
        for page in ("/console", "/console/customers", "/console/customers?q=李", f"/console/customers/{people.bob}"):
            r = client.get(page)
            assert r.status_code == 200, page
            assert raw_keys(r.text) == [], page


def _writes(bank) -> int:
    """Audit records of changes (the pages' reads of a customer's data are audited too, as object_type customer)."""
    with bank.engine.connect() as c:
        return int(c.execute(text(
            "SELECT count(*) FROM audit_log WHERE object_type <> 'customer'"
            " AND action NOT IN ('auth.sign_in', 'auth.sign_out', 'auth.mfa_enrolled')")).scalar())


def test_teller_freezes_and_unfreezes_an_account_audited(client, people, bank):
    sign_in(client, "teller1", console=True)
    page = f"/console/customers/{people.bob}"
    r = post_form(client, page, f"/console/accounts/{people.bob_acct}/status",
                  {"status": "frozen", "reason": "suspected fraud", "customer_id": str(people.bob)})
    assert r.status_code == 303 and r.headers["location"] == f"{page}?notice=account_frozen"
    shown = client.get(r.headers["location"]).text
    assert "账户已冻结" in shown and 'data-status="frozen"' in shown
    assert _writes(bank) == 1
    # a frozen account cannot pay: the customer sees why
    client.cookies.clear()
    sign_in(client, "bob")
    form = client.get("/transfer").text
    assert f'value="{people.bob_acct}"' not in form  # not offered as a paying account
    client.cookies.clear()
    sign_in(client, "teller1", console=True)
    r = post_form(client, page, f"/console/accounts/{people.bob_acct}/status",
                  {"status": "open", "reason": "cleared", "customer_id": str(people.bob)})
    assert r.headers["location"].endswith("notice=account_unfrozen")
    assert _writes(bank) == 2


def test_roles_limit_console_pages_and_actions(client, people, bank):
    sign_in(client, "market1", console=True)
    home = client.get("/console").text
    assert 'href="/console/customers"' not in home
    r = client.get("/console/customers", params={"q": "王"})
    assert r.status_code == 403 and "您的角色无权执行此操作" in r.text
    client.cookies.clear()
    make_user(bank.engine, "agent1", role="service_agent")
    sign_in(client, "agent1", console=True)
    page = f"/console/customers/{people.bob}"
    assert "冻结" not in client.get(page).text.split("<main", 1)[1].split("最近交易")[0]
    r = post_form(client, page, f"/console/accounts/{people.bob_acct}/status",
                  {"status": "frozen", "reason": "", "customer_id": str(people.bob)})
    assert r.status_code == 403 and _writes(bank) == 0


def test_console_csrf(client, people, bank):
    sign_in(client, "teller1", console=True)
    r = client.post(f"/console/accounts/{people.bob_acct}/status", data={"status": "frozen"})
    assert r.status_code == 403 and _writes(bank) == 0


def test_the_nav_registry_shows_pages_by_role(client, people):
    item = nav.register_console_page("/console/campaigns", "nav.console.home", roles=("marketer",), order=50)
    try:
        sign_in(client, "market1", console=True)
        assert 'href="/console/campaigns"' in client.get("/console").text
        client.cookies.clear()
        sign_in(client, "teller1", console=True)
        assert 'href="/console/campaigns"' not in client.get("/console").text
    finally:
        nav._registry["console"].pop(item.path)
    with pytest.raises(ValueError):
        nav.register_console_page("/elsewhere", "nav.home")

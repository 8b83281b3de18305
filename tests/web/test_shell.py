"""The shell: the portal's tab bar and "me" page, the home page's figures, elderly mode, the console's grouped
side bar, and error pages in the page's language."""

from __future__ import annotations

import re

import pytest

from smartbank.web import nav
from smartbank.web import portal as portal_pages
from tests.web.conftest import raw_keys, sign_in

TABS = {"zh": ["首页", "转账", "理财", "贷款", "我的"], "en": ["Home", "Transfer", "Invest", "Loans", "Me"]}


def _tabbar(html: str) -> str:
    return html.split('<nav class="tabbar"', 1)[1].split("</nav>", 1)[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_portal_has_five_tabs_and_marks_the_current_one(client, people, lang):
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    home = client.get("/").text
    bar = _tabbar(home).split('class="tabs-more"', 1)[0]
    assert re.findall(r"<span>([^<]+)</span>", bar) == TABS[lang]
    assert re.search(r'href="/" data-tab="home" aria-current="page"', bar)
    payees = _tabbar(client.get("/payees").text)
    assert re.search(r'href="/transfer" data-tab="transfer" aria-current="true"', payees)  # a page under the tab
    me = _tabbar(client.get("/me").text)
    assert re.search(r'href="/me" data-tab="me" aria-current="page"', me)
    # signing out is on the "me" page, not in the top bar of every page
    assert 'id="sign-out"' not in home and 'id="sign-out"' in client.get("/me").text


@pytest.mark.parametrize("lang, title", [("zh", "我的"), ("en", "Me")])
def test_me_lists_every_other_portal_page_the_toggles_and_sign_out(client, people, lang, title):
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    r = client.get("/me")
    assert r.status_code == 200 and f"<h1>{title}</h1>" in r.text and raw_keys(r.text) == []
    pages = r.text.split('id="me-pages"', 1)[1].split("</ul>", 1)[0]
    listed = re.findall(r'<a href="([^"]+)"', pages)
    for path in ("/security", "/privacy", "/notifications", "/payees", "/scheduled", "/insights", "/for-you",
                 "/assistant", "/bills", "/topup"):
        assert path in listed, path
    assert not {"/", "/transfer", "/wealth", "/loans", "/me"} & set(listed)  # those are the tabs
    assert 'id="me-lang"' in r.text and 'id="me-elder" href="/prefs/elder/on?next=%2Fme"' in r.text
    assert 'action="/logout"' in r.text
    if lang == "zh":
        assert not re.search(r"[A-Za-z]{4,}", re.sub(r"<[^>]+>", " ", r.text.split("<body", 1)[1].split(">", 1)[1])
                             .replace("English", "").replace("alice", "")), "English on a Chinese page"


def test_me_is_for_customers_only(client, people):
    assert client.get("/me", follow_redirects=False).status_code in (302, 303)  # sign in first
    sign_in(client, "teller1", console=True)
    assert client.get("/me", follow_redirects=False).status_code in (302, 303, 403)


@pytest.mark.parametrize("lang, total", [("zh", "¥1,050.00"), ("en", "¥1,050.00")])
def test_home_shows_total_assets_accounts_wealth_and_loans(client, people, lang, total):
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    r = client.get("/")
    assert r.status_code == 200 and raw_keys(r.text) == []
    # ¥1,000.00 current + ¥50.00 savings, no investments
    assert f'id="total-figure">{total}<' in r.text and 'id="total-wealth">¥0.00<' in r.text
    assert 'id="total-note"' in r.text  # says what it counts
    assert f'id="account-{people.alice_acct}"' in r.text and f'id="account-{people.alice_savings}"' in r.text
    assert 'id="home-wealth"' in r.text and 'id="home-loans"' in r.text
    assert 'href="/loans/apply"' in r.text  # no loans yet: the way to ask for one


def test_total_assets_adds_the_market_value_of_holdings(client, people, monkeypatch):
    def holdings(session, actor, **kw):
        return {"holdings": [{"name_zh": "稳健债券", "name_en": "Steady bond", "market_value_minor": 250_000,
                              "currency": "CNY"}], "market_value_minor": 250_000, "pnl_minor": 1_234,
                "pending_purchase_minor": 0}

    monkeypatch.setattr(portal_pages.wealth, "customer_holdings", holdings)
    sign_in(client, "alice")
    html = client.get("/").text
    assert 'id="total-figure">¥3,550.00<' in html and 'id="total-wealth">¥2,500.00<' in html
    wealth = html.split('id="home-wealth"', 1)[1].split("</section>", 1)[0]
    assert "稳健债券" in wealth and 'class="num rise">+¥12.34<' in wealth  # a rise is red, as customers expect


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_elderly_home_has_at_most_six_tiles_no_marketing_and_the_way_back(client, people, engine, lang):
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    client.cookies.set("sb_elder", "1")
    html = client.get("/").text
    actions = re.findall(r'data-primary-action="([a-z]+)"', html)
    assert 4 <= len(actions) <= 6 and {"balance", "transfer", "bills", "history", "person"} <= set(actions)
    assert "home-for-you" not in html and "/for-you" not in html  # no marketing
    assert 'class="tabbar"' not in html and 'class="tabs-more"' not in html  # the tiles are the navigation
    assert 'id="elder-toggle" href="/prefs/elder/off' in html and 'id="elder-back"' in html  # the way back
    assert raw_keys(html) == []
    # other pages: no navigation list, a one-tap way home and back to the standard mode
    bills = client.get("/bills").text
    assert 'class="tabbar"' not in bills and 'id="elder-home-link" href="/"' in bills
    assert 'id="elder-toggle" href="/prefs/elder/off' in bills
    r = client.get("/prefs/elder/off?next=%2F", follow_redirects=False)
    assert r.status_code == 303 and "sb_elder=0" in r.headers["set-cookie"]


def test_console_side_bar_is_grouped_by_area(client, people, engine):
    sign_in(client, "teller1", console=True)
    html = client.get("/console").text
    side = html.split('<nav class="side"', 1)[1].split("</nav>", 1)[0]
    assert 'id="group-work-s"' in side and 'href="/console/customers"' in side
    assert 'aria-current="page"' in side.split('href="/console"', 1)[1][:30]
    assert '<details class="console-menu">' in html  # the phone menu, no script needed
    assert 'id="role">柜员<' in html and raw_keys(html) == []


def test_console_side_bar_marks_only_the_deepest_entry(client, people):
    """/console/marketing (the marketing results) is above every marketing page: on the experiments page only
    the experiments entry is current."""
    sign_in(client, "market1", console=True)
    side = client.get("/console/marketing/experiments").text.split('<nav class="side"', 1)[1].split("</nav>", 1)[0]
    current = re.findall(r'<a href="([^"]+)" aria-current="(page|true)"', side)
    assert current == [("/console/marketing/experiments", "page")]


def test_console_groups_cover_every_console_page():
    for item in nav.all_items():
        if item.path.startswith("/console"):
            assert nav.console_group(item.path) != "other", item.path


@pytest.mark.parametrize("lang, words", [("zh", "找不到您要的内容"), ("en", "could not find")])
def test_error_pages_speak_the_page_language(client, people, lang, words):
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    r = client.get("/no/such/page", headers={"accept": "text/html"})
    assert r.status_code == 404 and f'<html lang="{"zh-CN" if lang == "zh" else "en"}"' in r.text
    message = r.text.split('id="error-message">', 1)[1].split("<", 1)[0]
    assert words.lower() in message.lower() and "Not Found" not in r.text
    r = client.get("/accounts/999999", headers={"accept": "text/html"})
    assert r.status_code == 404
    if lang == "zh":
        message = r.text.split('id="error-message">', 1)[1].split("<", 1)[0]
        assert not re.search(r"[A-Za-z]{3,}", message), message


def test_pager_keeps_the_query_string(client, people):
    from starlette.requests import Request

    from smartbank.web.render import env, page_context

    scope = {"type": "http", "method": "GET", "path": "/console/x", "query_string": b"q=abc&page=2",
             "headers": [], "server": ("t", 80), "scheme": "http", "root_path": ""}
    request = Request(scope)
    request.state.principal = None
    tpl = env.from_string('{% from "_pager.html" import pager with context %}{{ pager(2, 9, request) }}')
    html = tpl.render(page_context(request))
    assert 'href="/console/x?q=abc&amp;page=1" rel="prev"' in html
    assert 'href="/console/x?q=abc&amp;page=3" rel="next"' in html
    assert 'aria-current="page"' in html and "…" in html and 'page=9"' in html

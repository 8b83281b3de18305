"""Robo-advice page: propose in both languages (allocation, donut, backtest figures and curve), refusals shown
on the page with nothing written, follow, drift suggestions, another customer's plan."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from smartbank import clock, db
from smartbank.wealth.models import Holding
from smartbank.web import i18n, wealth_robo
from tests.wealth.test_robo import assess, make_catalogue
from tests.web.conftest import csrf_token, make_user, post_form, raw_keys, sign_in


@pytest.fixture
def setup(client, bank, engine):
    # test_i18n's test_later_modules_can_add_strings clears every registered English string: put ours back
    i18n.register_messages("zh", wealth_robo.ZH)
    i18n.register_messages("en", wealth_robo.EN)
    ids = make_catalogue(engine, until=clock.today(), days=260)
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=1_000_000_00)
    make_user(engine, "alice", customer_id=alice)
    make_user(engine, "bob", customer_id=bob)
    assess(engine, alice, "C4", at=clock.now())
    return {"alice": alice, "a1": a1, "ids": ids}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_propose_and_see_the_plan(client, setup, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    page = client.get("/wealth/robo")
    assert page.status_code == 200 and 'id="robo-none"' in page.text and raw_keys(page.text) == []
    assert ("智能投顾" if lang == "zh" else "Robo-advice") in page.text
    assert 'href="/wealth/robo"' in page.text  # in the navigation
    r = post_form(client, "/wealth/robo", "/wealth/robo", {"amount": "200,000.00", "horizon": "48"})
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert raw_keys(page) == []
    for part in ('id="robo-plan"', 'id="robo-donut"', 'id="robo-lines"', 'id="robo-figures"', 'id="robo-curve"',
                 'id="robo-drift"', 'id="robo-follow"', 'data-figure="fees_paid"'):
        assert part in page, part
    assert ("最大分散化" if lang == "zh" else "Maximum diversification") in page
    assert "200,000.00" in page


def test_refusals_are_shown_and_write_nothing(client, setup, bank):
    sign_in(client, "bob")  # no assessment
    client.cookies.set("sb_lang", "en")
    r = post_form(client, "/wealth/robo", "/wealth/robo", {"amount": "10000", "horizon": "24"})
    assert r.status_code == 422 and "risk-tolerance assessment" in r.text
    r = post_form(client, "/wealth/robo", "/wealth/robo", {"amount": "abc", "horizon": "24"})
    # the error once, beside its field and linked to it (no page-level copy)
    assert r.status_code == 422 and 'id="err-amount"' in r.text and 'aria-describedby="err-amount"' in r.text
    assert 'id="form-error"' not in r.text and r.text.count('role="alert"') == 1
    r = post_form(client, "/wealth/robo", "/wealth/robo", {"amount": "100", "horizon": "x"})
    assert r.status_code == 422 and "whole number of months" in r.text and 'id="err-horizon"' in r.text
    assert r.text.count("whole number of months") == 1
    assert bank.count("portfolio_plans") == 0


def test_follow_drift_and_another_customers_plan(client, setup, bank, engine):
    client.cookies.set("sb_lang", "zh")
    sign_in(client, "alice")
    r = post_form(client, "/wealth/robo", "/wealth/robo", {"amount": "100000", "horizon": "60"})
    url = r.headers["location"]
    plan_id = int(url.split("plan=")[1].split("&")[0])
    page = client.get(url).text
    r = client.post(f"/wealth/robo/{plan_id}/follow", data={"csrf_token": csrf_token(page),
                                                             "from_account": str(setup["a1"]),
                                                             "idempotency_key": "robo-web-follow-1"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert bank.balance(setup["a1"]) == 900_000_00 and bank.count("wealth_orders") >= 2
    # all of it held in one product: suggestions appear, in Chinese
    with db.session_scope(engine) as s:
        s.add(Holding(customer_id=setup["alice"], product_id=setup["ids"]["MMF"], units_micro=100_000 * 1_000_000,
                      cost_minor=100_000_00))
    page = client.get(f"/wealth/robo?plan={plan_id}").text
    assert 'data-status="rebalance"' in page and 'id="robo-suggestions"' in page and "建议" in page
    client.cookies.clear()
    sign_in(client, "bob")
    assert client.get(f"/wealth/robo?plan={plan_id}").status_code == 404


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_plan_beyond_the_available_balance_is_advice_not_a_purchase(client, setup, bank, engine, lang):
    carol = bank.customer("张伟")
    poor = bank.account(carol, balance=8_499_00)
    make_user(engine, "carol", customer_id=carol)
    assess(engine, carol, "C3", at=clock.now())
    client.cookies.set("sb_lang", lang)
    sign_in(client, "carol")
    r = post_form(client, "/wealth/robo", "/wealth/robo", {"amount": "100000", "horizon": "36"})
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert 'id="robo-plan"' in page and raw_keys(page) == []
    assert 'id="robo-follow"' not in page and 'id="robo-short-funds"' in page
    assert "8,499.00" in page and "100,000.00" in page
    # posting the form anyway is refused with the reason, nothing bought
    plan_id = int(r.headers["location"].split("plan=")[1].split("&")[0])
    r = client.post(f"/wealth/robo/{plan_id}/follow", data={"csrf_token": csrf_token(page), "from_account": str(poor),
                                                             "idempotency_key": "robo-web-short-1"},
                    follow_redirects=False)
    assert r.status_code == 422 and 'id="form-error"' in r.text
    said = ("可用余额 ¥8,499.00 不足以买入本方案的 ¥100,000.00" if lang == "zh"
            else "available balance, ¥8,499.00, is short of the plan's ¥100,000.00")
    assert said in htmllib.unescape(r.text) and htmllib.unescape(r.text).count(said) == 1
    assert bank.balance(poor) == 8_499_00 and bank.count("wealth_orders") == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_plan_has_a_colour_key_in_the_page_language(client, setup, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    r = post_form(client, "/wealth/robo", "/wealth/robo", {"amount": "200,000.00", "horizon": "48"})
    page = htmllib.unescape(client.get(r.headers["location"]).text)
    legend = page.split('id="robo-legend"', 1)[1].split("</ul>", 1)[0]
    donut = page.split('id="robo-donut"', 1)[1].split("</svg>")[0]
    rows = re.findall(r'<li data-code="([^"]+)"><svg class="swatch" viewBox="0 0 10 10" width="14" height="14" '
                      r'aria-hidden="true"><rect width="10" height="10" rx="2" fill="(#[0-9a-f]{6})"/></svg>'
                      r'<span class="legend-name">([^<]+)</span> '
                      r'<span class="num legend-pct">([\d.]+)%</span></li>', legend)
    assert len(rows) >= 2
    assert [c for _, c, _, _ in rows] == re.findall(r'stroke="(#[0-9a-f]{6})"', donut)
    assert abs(sum(float(p) for *_, p in rows) - 100) < 0.5
    for _, _, name, _ in rows:
        has_han = re.search(r"[\u4e00-\u9fff]", name) is not None
        assert has_han == (lang == "zh"), name
    assert ("配置比例" if lang == "zh" else "Allocation") in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_impossible_amount_is_said_with_its_limits_beside_the_field(client, setup, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    r = post_form(client, "/wealth/robo", "/wealth/robo", {"amount": "99999999999999", "horizon": "36"})
    page = htmllib.unescape(r.text)
    said = ("投资金额须在 ¥0.01 至 ¥10,000,000,000,000.00 之间" if lang == "zh"
            else "The amount must be from ¥0.01 to ¥10,000,000,000,000.00")
    assert r.status_code == 422 and page.count(said) == 1 and 'id="err-amount"' in page
    assert "fen" not in page.split("<main", 1)[1] or lang == "en"

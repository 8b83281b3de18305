"""The portal's points page (zh and en, redeem, refusals) and the console's loyalty page (reconciliation, a
customer's points by number, the rule editor for managers only)."""

from __future__ import annotations

import re

import pytest

from smartbank import db
from smartbank.customers import service as customers
from smartbank.loyalty import service as loyalty
from smartbank.security.service import SYSTEM
from tests.web.conftest import make_user, post_form, raw_keys, sign_in

_HAN = re.compile(r"[\u4e00-\u9fff]")


def _give(engine, customer_id: int, points: int) -> None:
    db.run_in_transaction(lambda s: loyalty.adjust_points(s, SYSTEM, customer_id, points, reason="test"),
                          engine=engine)


def _visible(html: str) -> str:
    body = html.split("<main", 1)[-1].split("</main>", 1)[0]
    body = re.sub(r"<code[^>]*>.*?</code>", " ", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


@pytest.mark.parametrize("lang, title", [("zh", "我的积分"), ("en", "My points")])
def test_portal_points_page_in_both_languages(client, people, engine, bank_clock, lang, title):
    _give(engine, people.alice, 1200)
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    r = client.get("/loyalty")
    assert r.status_code == 200 and title in r.text
    assert 'id="loyalty-points">1,200<' in r.text
    assert not raw_keys(r.text)
    text = _visible(r.text)
    if lang == "en":
        assert not _HAN.search(text), _HAN.findall(text)[:10]
    else:
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", text)
    assert 'href="/loyalty"' in client.get("/me").text  # the line on the "me" page


def test_portal_redeem_and_refusal_when_short(client, people, engine, bank_clock):
    _give(engine, people.alice, 600)
    sign_in(client, "alice")
    r = post_form(client, "/loyalty", "/loyalty/redeem", {"reward_code": "FEE_WAIVER_5"})
    assert r.status_code == 303 and r.headers["location"] == "/loyalty?notice=loyalty_redeemed"
    page = client.get(r.headers["location"]).text
    assert 'id="loyalty-points">100<' in page and re.search(r"<code translate=\"no\">LY[A-Z0-9]{10}</code>", page)
    r = post_form(client, "/loyalty", "/loyalty/redeem", {"reward_code": "TOPUP_10"})
    assert r.status_code == 422 and "积分不足" in r.text and 'id="loyalty-points">100<' in r.text


def test_a_redeem_form_sent_twice_redeems_once(client, people, engine, bank_clock):
    _give(engine, people.alice, 1200)
    sign_in(client, "alice")
    html = client.get("/loyalty").text
    form = html.split('value="FEE_WAIVER_5"', 1)[1].split("</form>", 1)[0]
    key = re.search(r'name="idempotency_key" value="([A-Za-z0-9_-]{8,})"', form).group(1)
    data = {"reward_code": "FEE_WAIVER_5", "idempotency_key": key}
    for _ in range(2):  # the button pressed twice: the same drawn form, the same key
        assert post_form(client, "/loyalty", "/loyalty/redeem", data).status_code == 303
    assert 'id="loyalty-points">700<' in client.get("/loyalty").text


def test_console_page_for_readers_and_rule_editor_for_managers(client, people, engine, bank_clock):
    _give(engine, people.alice, 300)
    with db.session_scope(engine) as s:
        number = customers.get_customer(s, people.alice).number
    make_user(engine, "admin1", role="admin")
    sign_in(client, "teller1", console=True)
    r = client.get(f"/console/loyalty?number={number}")
    assert r.status_code == 200 and 'data-ok="true"' in r.text and 'id="loyalty-customer-points"' in r.text
    assert "<svg" in r.text and 'id="loyalty-rule-form"' not in r.text
    assert not raw_keys(r.text)
    assert post_form(client, "/console/loyalty", "/console/loyalty/rules",
                     {"code": "X", "behaviour": "bill_payment", "points": "5"}).status_code == 403
    client.cookies.clear()
    sign_in(client, "admin1", console=True)
    client.cookies.set("sb_lang", "en")
    r = client.get("/console/loyalty")
    assert 'id="loyalty-rule-form"' in r.text and not _HAN.search(_visible(r.text).replace("中文", ""))
    r = post_form(client, "/console/loyalty", "/console/loyalty/rules",
                  {"code": "BILL_PAY", "behaviour": "bill_payment", "points": "abc"})
    assert r.status_code == 422 and "whole number" in r.text
    r = post_form(client, "/console/loyalty", "/console/loyalty/rules",
                  {"code": "BILL_PAY", "behaviour": "bill_payment", "points": "70", "cap": "280"})
    assert r.status_code == 303
    assert 'data-rule="BILL_PAY"' in client.get("/console/loyalty").text


def test_customer_cannot_open_the_console_page(client, people):
    sign_in(client, "alice")
    assert client.get("/console/loyalty", follow_redirects=False).status_code in (302, 303, 401, 403)


def test_points_page_in_elderly_mode_and_the_cash_back_in_the_history(client, people, engine, bank_clock):
    _give(engine, people.alice, 2000)
    sign_in(client, "alice")
    client.cookies.set("sb_elder", "1")
    assert post_form(client, "/loyalty", "/loyalty/redeem", {"reward_code": "CASHBACK_20"}).status_code == 303
    r = client.get("/loyalty")
    assert r.status_code == 200 and 'id="loyalty-points">0<' in r.text
    page = client.get(f"/accounts/{people.alice_acct}").text
    assert "积分奖励" in page  # the cash-back's kind, in words

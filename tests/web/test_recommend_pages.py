"""The portal's "For you" and the console's recommendation report."""

from __future__ import annotations

import re

import pytest

from smartbank import db
from smartbank.recommend.models import RecEvent
from tests.recommend.test_items import _fresh_engine, grade, make_products  # noqa: F401
from tests.web.conftest import post_form, raw_keys, sign_in


@pytest.mark.parametrize("lang, title", [("zh", "为您推荐"), ("en", "For you")])
def test_for_you_shows_cards_with_reasons_and_logs_clicks(client, people, engine, lang, title):
    make_products(engine)
    grade(engine, people.alice, "C3")
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    r = client.get("/for-you")
    assert r.status_code == 200 and title in r.text
    assert not raw_keys(r.text)
    cards = re.findall(r'data-item="([^"]+)"', r.text)
    assert cards and len(re.findall(r'data-reason="REC-[A-Z-]+"', r.text)) == len(cards)
    key = cards[0]
    served = re.search(r'data-served="(\d+)"', r.text).group(1)
    resp = post_form(client, "/for-you", "/for-you/click", {"served_id": served, "item_key": key})
    assert resp.status_code == 303
    kind, code = key.split(":")
    want = f"/wealth/products/{code}" if kind == "wealth" else f"/loans/apply?product={code}"
    assert resp.headers["location"] == want
    with db.session_scope(engine) as s:
        clicks = s.query(RecEvent).filter(RecEvent.event == "click").all()
    assert [(c.customer_id, c.served_id) for c in clicks] == [(people.alice, int(served))]


def test_dismiss_and_foreign_lists(client, people, engine):
    make_products(engine, loans=False)
    sign_in(client, "alice")
    html = client.get("/for-you").text
    key = re.findall(r'data-item="([^"]+)"', html)[0]
    served = re.search(r'data-served="(\d+)"', html).group(1)
    assert post_form(client, "/for-you", "/for-you/dismiss", {"served_id": served, "item_key": key}).status_code == 303
    assert f'data-item="{key}"' not in client.get("/for-you").text
    client.cookies.clear()
    sign_in(client, "bob")
    r = post_form(client, "/for-you", "/for-you/click", {"served_id": served, "item_key": key})
    assert r.status_code == 404


def test_console_report_for_marketers_only(client, people, engine):
    make_products(engine, loans=False)
    sign_in(client, "alice")
    client.get("/for-you")
    client.cookies.clear()
    sign_in(client, "market1", console=True)
    r = client.get("/console/recommend")
    assert r.status_code == 200 and "<svg" in r.text and 'id="rec-by-slot"' in r.text and "for_you" in r.text
    assert not raw_keys(r.text)
    assert client.get("/console/recommend?date_from=bad").status_code == 422
    client.cookies.clear()
    sign_in(client, "teller1", console=True)
    assert client.get("/console/recommend").status_code == 403


def test_home_page_shows_the_top_three_with_reasons(client, people, engine):
    make_products(engine)
    grade(engine, people.alice, "C3")
    sign_in(client, "alice")
    r = client.get("/")
    assert r.status_code == 200 and 'id="home-for-you"' in r.text and not raw_keys(r.text)
    card = r.text.split('id="home-for-you"', 1)[1].split("</section>", 1)[0]
    assert 1 <= len(re.findall(r'data-item="', card)) <= 3
    with db.session_scope(engine) as s:
        slots = {e.slot for e in s.query(RecEvent).filter(RecEvent.event == "impression").all()}
    assert "portal_home" in slots


def test_home_page_without_recommendations_still_shows_the_accounts(client, people, engine, monkeypatch):
    from smartbank.recommend import service

    def broken(*a, **kw):
        raise RuntimeError("recommender down")

    monkeypatch.setattr(service, "recommend", broken)
    sign_in(client, "alice")
    r = client.get("/")
    assert r.status_code == 200 and "home-for-you" not in r.text and 'class="card account"' in r.text

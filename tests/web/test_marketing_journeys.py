"""The console's journeys pages: list and detail in zh and en, approval by a second marketer, refusals."""

from __future__ import annotations

import re

import pytest

from smartbank import db
from smartbank.marketing import service as marketing
from smartbank.security.service import SYSTEM
from tests.web.conftest import make_user, post_form, raw_keys, sign_in

_CJK = re.compile(r"[\u4e00-\u9fff]")
_TAG = re.compile(r"<[^>]+>")


def _visible(html: str) -> str:
    body = html.split("<main", 1)[-1]
    body = re.sub(r"<(code|dd)[^>]*translate=\"no\"[^>]*>.*?</\1>", " ", body, flags=re.S)
    return _TAG.sub(" ", body)


@pytest.mark.parametrize("lang, title, words", [("zh", "客户旅程", "开户欢迎"), ("en", "Journeys", "Welcome")])
def test_list_and_detail_in_both_languages(client, people, engine, bank, lang, title, words):
    with db.session_scope(engine) as s:
        marketing.seed_journeys(s)
        marketing.emit_event(s, "account_opened", people.alice, "account:1")  # nothing enabled: no run
        from smartbank.security.service import Principal

        marketing.approve_journey(s, Principal(user_id=0, username="market2", role="marketer", customer_id=None),
                                  "welcome")
        marketing.emit_event(s, "account_opened", people.bob, "account:2")
        marketing.advance_runs(s)
    sign_in(client, "market1", console=True)
    client.cookies.set("sb_lang", lang)
    r = client.get("/console/marketing/journeys")
    assert r.status_code == 200 and title in r.text and words in r.text
    assert 'class="list sortable' in r.text and not raw_keys(r.text)
    d = client.get("/console/marketing/journeys/welcome")
    assert d.status_code == 200 and "<svg" in d.text and 'id="step-clicked"' in d.text and 'id="run-1"' in d.text
    assert ("客户未同意营销" if lang == "zh" else "no marketing consent") in d.text
    assert not raw_keys(d.text)
    text = _visible(d.text)
    if lang == "en":
        assert not _CJK.search(text), _CJK.findall(text)[:10]
    else:
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), re.findall(r"\b[a-z]+_[a-z_]+\b", text)[:10]


def test_approval_needs_a_second_marketer(client, people, engine):
    make_user(engine, "market2", role="marketer")
    with db.session_scope(engine) as s:
        from smartbank.security.service import Principal

        m1 = Principal(user_id=0, username="market1", role="marketer", customer_id=None)
        marketing.seed_default_journeys(s, m1)
    sign_in(client, "market1", console=True)
    page = "/console/marketing/journeys/welcome"
    assert 'id="mj-approve"' not in client.get(page).text  # the maker is not offered the approval
    r = post_form(client, page, page + "/approve", {})
    assert r.status_code == 409 and ("second person" in r.text or "另一人" in r.text)
    client.cookies.clear()
    sign_in(client, "market2", console=True)
    r = post_form(client, page, page + "/approve", {})
    assert r.status_code == 303 and "notice=journey_approved" in r.headers["location"]
    with db.session_scope(engine) as s:
        assert marketing.get_journey(s, SYSTEM, "welcome")["status"] == "enabled"


def test_wrong_role_is_refused(client, people, engine):
    with db.session_scope(engine) as s:
        marketing.seed_journeys(s)
    sign_in(client, "teller1", console=True)
    assert client.get("/console/marketing/journeys").status_code == 403
    assert client.get("/console/marketing/journeys/welcome").status_code == 403

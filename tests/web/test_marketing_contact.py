"""The console's contact pages (zh and en) and the portal's banner with its click and dismissal."""

from __future__ import annotations

import re

import pytest

from smartbank import db
from smartbank.customers import service as customers
from smartbank.marketing import service as marketing
from tests.marketing.test_contact import CONTENT, consent
from tests.web.conftest import post_form, raw_keys, sign_in


def _zh_body_has_no_english(html: str) -> list[str]:
    body = html.split('<main id="main">', 1)[1].split("</main>")[0]
    body = re.sub(r"<(code|span)[^>]*translate=\"no\"[^>]*>.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.findall(r"\b[A-Za-z]{3,}\b", body)


@pytest.mark.parametrize("lang, title, reason", [("zh", "客户触达查询", "已达到频次上限"),
                                                 ("en", "Customer contacts", "Frequency cap reached")])
def test_why_page_shows_each_attempt_with_its_reason_in_words(client, people, engine, bank_clock, lang, title,
                                                             reason):
    consent(engine, people.alice, "sms")
    with db.session_scope(engine) as s:
        for _ in range(3):
            marketing.send(s, marketing.Outgoing(customer_id=people.alice, channel="sms", content=CONTENT,
                                                 campaign_id=9))
        number = customers.get_customer(s, people.alice).number
    sign_in(client, "market1", console=True)
    client.cookies.set("sb_lang", lang)
    r = client.get("/console/marketing/contacts", params={"number": number})
    assert r.status_code == 200 and title in r.text and reason in r.text
    assert "王芳" not in r.text  # the name is masked for staff
    assert not raw_keys(r.text)
    if lang == "zh":
        assert _zh_body_has_no_english(r.text) == []
    summary = client.get("/console/marketing/contacts", params={"campaign": "9"})
    assert summary.status_code == 200 and 'id="reason-frequency_cap"' in summary.text and reason in summary.text
    assert client.get("/console/marketing/contacts", params={"campaign": "x9"}).status_code == 422
    # DND through the form, then removal
    resp = post_form(client, f"/console/marketing/contacts?number={number}", "/console/marketing/contacts/dnd",
                     {"number": number, "channel": "all", "reason": "客户要求", "until": ""})
    assert resp.status_code == 303, resp.text
    page = client.get(resp.headers["location"]).text
    dnd_id = re.search(r'id="dnd-(\d+)"', page).group(1)
    resp = post_form(client, f"/console/marketing/contacts?number={number}",
                     f"/console/marketing/contacts/dnd/{dnd_id}/remove", {"number": number})
    assert resp.status_code == 303
    assert f'id="dnd-{dnd_id}"' not in client.get(resp.headers["location"]).text
    bad = post_form(client, f"/console/marketing/contacts?number={number}", "/console/marketing/contacts/dnd",
                    {"number": number, "channel": "all", "reason": "x", "until": "not-a-date"})
    assert bad.status_code == 422 and 'id="err-until"' in bad.text


def test_policy_page_edits_and_refuses_a_teller(client, people, engine, bank_clock):
    sign_in(client, "market1", console=True)
    r = client.get("/console/marketing/contacts/policy")
    assert r.status_code == 200 and 'id="policy-sms"' in r.text and not raw_keys(r.text)
    resp = post_form(client, "/console/marketing/contacts/policy", "/console/marketing/contacts/policy/sms",
                     {"max_count": "4", "period_days": "7", "quiet_start": "21:00", "quiet_end": "09:00",
                      "cost_yuan": "0.06"})
    assert resp.status_code == 303, resp.text
    with db.session_scope(engine) as s:
        p = marketing.contact_policy(s)["sms"]
        assert (p["max_count"], p["cost_micro"]) == (4, 60_000)
    bad = post_form(client, "/console/marketing/contacts/policy", "/console/marketing/contacts/policy/sms",
                    {"max_count": "4", "period_days": "7", "quiet_start": "9pm", "quiet_end": "09:00",
                     "cost_yuan": "0.06"})
    assert bad.status_code == 422
    client.cookies.clear()
    sign_in(client, "teller1", console=True)
    page = client.get("/console/marketing/contacts/policy")
    assert page.status_code == 200 and 'id="policy-save-sms"' not in page.text
    refused = post_form(client, "/console/marketing/contacts/policy", "/console/marketing/contacts/policy/sms",
                        {"max_count": "9", "period_days": "7", "cost_yuan": "0"})
    assert refused.status_code == 403


def test_portal_banner_click_and_dismiss(client, people, engine, bank_clock):
    consent(engine, people.alice, "push")
    with db.session_scope(engine) as s:
        m = marketing.send(s, marketing.Outgoing(customer_id=people.alice, channel="banner", content=CONTENT,
                                                 target="/wealth"))
        mid = m.id
    sign_in(client, "alice")
    home = client.get("/")
    assert home.status_code == 200 and f'id="mkt-banner-{mid}"' in home.text and "理财新品" in home.text
    link = re.search(rf'href="(/m/{mid}\.[0-9a-f]+\?to=[^"]+)" id="mkt-banner-open-{mid}"', home.text).group(1)
    r = client.get(link.replace("&amp;", "&"), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/wealth"
    assert client.get(f"/m/{mid}.000000000000000000000000?to=/wealth", follow_redirects=False).status_code == 404
    r = post_form(client, "/", f"/banners/{mid}/dismiss", {})
    assert r.status_code == 303
    with db.session_scope(engine) as s:
        m = s.get(marketing.MarketingMessage, mid)
        assert m.opened_at and m.clicked_at and m.dismissed_at
    assert f'id="mkt-banner-{mid}"' not in client.get("/").text

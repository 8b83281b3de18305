"""The portal's privacy page (zh and en) and the console's correction queue and read-only consents."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from smartbank import db
from smartbank.customers import service as customers
from smartbank.ledger import service as ledger
from tests.web.conftest import make_user, post_form, raw_keys, sign_in


@pytest.mark.parametrize("lang, title, off", [("zh", "隐私与授权", "已关闭"), ("en", "Privacy and consent", "Off")])
def test_privacy_page_switches_personalisation_off(client, people, engine, lang, title, off):
    sign_in(client, "alice")
    client.cookies.set("sb_lang", lang)
    r = client.get("/privacy")
    assert r.status_code == 200 and title in r.text
    assert not raw_keys(r.text)
    if lang == "zh":  # no English words leak into the Chinese page (beyond the file formats' names)
        body = re.sub(r"<[^>]+>", " ", r.text.split('<main id="main">', 1)[1].split("</main>")[0])
        assert not re.findall(r"\b[A-Za-z]{4,}\b", body.replace("JSON", "").replace("CSV", ""))
    assert 'data-purpose="personalised_recommendation" data-granted="on"' in r.text
    # blockers: alice holds money in open accounts
    assert 'data-code="money"' in r.text and 'id="deletion-form"' not in r.text
    form = {"consent_form": "1", "consent_analytics": "on", "consent_marketing_email": "on"}
    resp = post_form(client, "/privacy", "/privacy/consents", form)
    assert resp.status_code == 303 and resp.headers["location"] == "/privacy?notice=consents_saved"
    with db.session_scope(engine) as s:
        assert not customers.has_consent(s, people.alice, "personalised_recommendation")
        assert customers.has_consent(s, people.alice, "marketing", channel="email")
    page = client.get("/privacy").text
    assert 'data-purpose="personalised_recommendation" data-granted="off"' in page and off in page


def test_a_form_without_the_consent_fields_changes_nothing(client, people, engine):
    sign_in(client, "alice")
    r = post_form(client, "/privacy", "/privacy/consents", {})
    assert r.status_code == 422
    with db.session_scope(engine) as s:
        assert customers.has_consent(s, people.alice, "personalised_recommendation")


def test_download_json_and_csv(client, people):
    sign_in(client, "alice")
    r = client.get("/privacy/export?format=json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert json.loads(r.content)["data"]["profile"][0]["name"] == "王芳"
    r = client.get("/privacy/export?format=csv")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert "accounts.csv" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()


def test_correction_from_the_portal_resolved_in_the_console(client, people, engine):
    sign_in(client, "alice")
    bad = post_form(client, "/privacy", "/privacy/corrections", {"field": "email", "value": "not-an-address"})
    assert bad.status_code == 422 and "Tick" not in bad.text
    ok = post_form(client, "/privacy", "/privacy/corrections", {"field": "email", "value": "wf@example.com",
                                                                "note": "新邮箱"})
    assert ok.status_code == 303
    client.cookies.clear()
    sign_in(client, "market1", console=True)
    assert client.get("/console/privacy/corrections").status_code == 403
    client.cookies.clear()
    sign_in(client, "teller1", console=True)
    for lang in ("zh", "en"):
        client.cookies.set("sb_lang", lang)
        page = client.get("/console/privacy/corrections")
        assert page.status_code == 200 and "w***@example.com" in page.text and "wf@example.com" not in page.text
        assert [k for k in raw_keys(page.text) if k != "example.com"] == []
    rid = re.search(r'id="correction-(\d+)"', page.text).group(1)
    r = post_form(client, "/console/privacy/corrections", f"/console/privacy/corrections/{rid}/resolve",
                  {"decision": "accept"})
    assert r.status_code == 303
    with db.session_scope(engine) as s:
        assert customers.get_customer(s, people.alice).email == "wf@example.com"
    # the customer page shows the consents read-only
    cp = client.get(f"/console/customers/{people.alice}")
    assert cp.status_code == 200 and 'data-purpose="marketing_sms" data-granted="off"' in cp.text
    assert 'action="/privacy/consents"' not in cp.text


@pytest.mark.parametrize("lang, title", [("zh", "您的个人信息已删除"), ("en", "Your personal data has been deleted")])
def test_deletion_from_the_portal_tells_what_is_kept_until_when(client, bank, engine, lang, title):
    cid = bank.customer("周八", phone="13700001111")
    acct = bank.account(cid)
    with db.session_scope(engine) as s:
        ledger.set_account_status(s, ledger.get_account(s, acct), "closed")
    make_user(engine, "zhou", customer_id=cid)
    sign_in(client, "zhou")
    client.cookies.set("sb_lang", lang)
    page = client.get("/privacy").text
    assert 'id="deletion-form"' in page
    unconfirmed = post_form(client, "/privacy", "/privacy/deletion", {})
    assert unconfirmed.status_code == 422
    r = post_form(client, "/privacy", "/privacy/deletion", {"confirm": "yes"})
    assert r.status_code == 200 and title in r.text and not raw_keys(r.text)
    assert re.search(r'data-category="identity">[^<]*20\d\d-\d\d-\d\d', r.text)
    with db.session_scope(engine) as s:
        c = customers.get_customer(s, cid)
        assert c.phone is None and c.status == "closed"
    assert client.get("/privacy", follow_redirects=False).status_code in (302, 303)  # signed out for good


@pytest.mark.parametrize("lang, words", [("zh", "隐私政策（版本 2026-12）"),
                                         ("en", "privacy notice (version 2026-12)")])
def test_sign_up_names_the_privacy_notice(client, lang, words):
    client.cookies.set("sb_lang", lang)
    r = client.get("/signup")
    assert r.status_code == 200 and words in r.text and customers.PRIVACY_NOTICE_VERSION == "2026-12"


def test_sign_up_records_the_notice_version(client, engine):
    from datetime import date

    from smartbank.customers.validation import make_resident_id
    from smartbank.security import service as security

    body = {"name": "吴十", "id_number": make_resident_id("110101", date(1990, 5, 17), 7), "phone": "13912345678",
            "username": "wushi", "password": "jade-harbour-71"}
    r = client.post("/api/v1/auth/signup", json=body)
    assert r.status_code == 201, r.text
    with db.session_scope(engine) as s:
        entry = next(a for a in security.audit_trail(s) if a.action == "customer.sign_up")
        assert entry.after["privacy_notice"] == customers.PRIVACY_NOTICE_VERSION

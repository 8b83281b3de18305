"""Insight web pages: rendered for the right roles, tag editor through real forms (CSRF)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from smartbank.insight import service
from smartbank.web import i18n
from tests.insight.test_profiles import AS_OF, build
from tests.web.conftest import csrf_token, raw_keys, sign_in

TEMPLATES = Path(i18n.__file__).parent / "templates"


@pytest.fixture
def world(bank, engine):
    w = build(bank, engine)
    service.refresh_all(engine, as_of=AS_OF)
    bank.user("amy", role="customer", customer_id=w["a"])
    for role in ("marketer", "service_agent", "teller"):
        bank.user(f"{role}1", role=role)
    return w


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_marketer_pages_render(client, world, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "marketer1", console=True)
    home = client.get("/console").text
    assert "/console/insight/tags" in home and "/console/insight/segments" in home
    for path in ("/console/insight/customers", "/console/insight/customers?q=王芳",
                 f"/console/insight/customers/{world['a']}", "/console/insight/tags",
                 "/console/insight/tags/bill_payer", "/console/insight/segments"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert raw_keys(r.text) == [], (path, raw_keys(r.text))
    page = client.get(f"/console/insight/customers/{world['a']}").text
    assert 'data-code="salary_earner"' in page and "data:image/svg+xml;base64," in page


def test_roles(client, world):
    sign_in(client, "teller1", console=True)
    assert "/console/insight/tags" not in client.get("/console").text
    assert client.get("/console/insight/tags").status_code == 403
    assert client.get(f"/console/insight/customers/{world['a']}").status_code == 403
    assert client.get("/console/insight/segments").status_code == 403


def test_service_agent_reads_profiles_but_not_tags(client, world):
    sign_in(client, "service_agent1", console=True)
    assert client.get(f"/console/insight/customers/{world['a']}").status_code == 200
    assert client.get("/console/insight/tags").status_code == 403


def test_signed_out_is_sent_to_sign_in(client, world):
    r = client.get("/console/insight/tags", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    r = client.get("/insights", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_portal_my_insights(client, world, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "amy")
    r = client.get("/insights")
    assert r.status_code == 200 and raw_keys(r.text) == []
    assert 'data-code="salary_earner"' in r.text and 'id="spending-chart"' in r.text
    assert "high_value" not in r.text and "churn" not in r.text.lower()
    # the tag's explanation is in the page's language (the catalogue's description is English)
    english = "A salary or pension credit in at least 3 months of the last year."
    assert (english in r.text) == (lang == "en")
    if lang == "zh":
        assert "近一年至少 3 个月有工资或养老金入账" in r.text
    assert 'href="/insights"' in client.get("/").text
    # staff sign-ins are not customers: the portal page sends them to the customer sign-in
    assert client.get("/console/insight/tags").status_code in (303, 200)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_tag_rules_are_code_beside_words_in_the_page_language(client, world, lang):
    """Tag codes, expressions and feature names are code (not translated) beside their words; a description
    written in one language is declared in it."""
    client.cookies.set("sb_lang", lang)
    sign_in(client, "marketer1", console=True)
    page = client.get("/console/insight/tags/bill_payer").text
    assert '<code translate="no" class="mono">bill_payer</code>' in page
    assert '<code translate="no" class="mono">bill_payments_365d &gt;= 3</code>' in page
    assert '<code translate="no">or</code>' + ("（或）" if lang == "zh" else ",") in page
    assert '<li><code translate="no" class="mono">age</code> — ' in page
    assert ("第 1 版" if lang == "zh" else ">v1<") in page
    assert '<textarea name="description" lang="en"' in page  # the demo tags' descriptions are in English


def test_tag_editor_create_test_edit_retire(client, world, engine):
    sign_in(client, "marketer1", console=True)
    page = client.get("/console/insight/tags").text
    token = csrf_token(page)
    form = {"csrf_token": token, "code": "spender", "name_en": "Spender", "name_zh": "消费者",
            "expression": "monetary_365d >= 100000", "audience": "customer", "description": "", "editing": ""}
    r = client.post("/console/insight/tags", data={**form, "action": "test"})
    assert r.status_code == 200 and 'id="test-result"' in r.text
    assert re.search(r"1\s*(/|of)\s*3", r.text)
    r = client.post("/console/insight/tags", data={**form, "action": "save"}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post("/console/insight/tags", data={**form, "action": "save", "expression": "len(city) > 1"})
    # the expression's error, in the page's language, once and beside the rule (aria-describedby)
    assert r.status_code == 422 and 'id="err-expression"' in r.text and 'id="form-error"' not in r.text
    assert r.text.count("条件中不能使用这种写法（第 1 列）") == 1 and "are not allowed" not in r.text
    assert 'aria-describedby="tag-rule-help err-expression"' in r.text
    r = client.post("/console/insight/tags", data={**form, "action": "save", "expression": "monetary_356d >= 1"})
    assert r.status_code == 422 and "不认识的特征“monetary_356d”（第 1 列）" in r.text
    r = client.post("/console/insight/tags", data={**form, "editing": "spender", "action": "save",
                                                  "expression": "monetary_365d >= 5"}, follow_redirects=False)
    assert r.status_code == 303
    with engine.connect() as c:
        rows = c.execute(text("SELECT version, expression FROM tag_definitions WHERE code = 'spender'"
                              " ORDER BY version")).all()
    assert [tuple(r) for r in rows] == [(1, "monetary_365d >= 100000"), (2, "monetary_365d >= 5")]
    r = client.post("/console/insight/tags/spender/retire", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.post("/console/insight/tags/spender/retire", data={}).status_code == 403  # no CSRF token


def test_every_insight_key_is_translated_in_both_languages():
    import smartbank.web.insight  # noqa: F401 - registers its strings

    keys: set[str] = set()
    for f in [*(TEMPLATES / "console" / "insight").glob("*.html"), TEMPLATES / "portal" / "insights.html"]:
        keys |= set(re.findall(r"\bt\('([a-z_.0-9]+)'[,)]", f.read_text()))
    keys |= {f"insight.audience.{a}" for a in ("staff", "customer")} | {"insight.state.active", "insight.state.retired"}
    for lang in i18n.LANGS:
        assert {k for k in keys if not i18n.has(lang, k)} == set()

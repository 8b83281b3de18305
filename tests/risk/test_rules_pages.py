"""Risk rule console pages: rendered for risk officers only, editor, backtest and mode switch through forms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from smartbank.web import i18n
from tests.changes import approve_pending
from tests.web.conftest import csrf_token, raw_keys, sign_in

TEMPLATES = Path(i18n.__file__).parent / "templates"
PAGE = "/console/risk/rules"


@pytest.fixture
def people(bank):
    for role in ("risk_officer", "teller", "marketer"):
        bank.user(f"{role}1", role=role)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_officer_pages_render(client, people, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk_officer1", console=True)
    assert PAGE in client.get("/console").text
    for path in (PAGE, f"{PAGE}/large_to_new_account"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert raw_keys(r.text) == [], (path, raw_keys(r.text))
    assert 'id="rule-large_to_new_account"' in client.get(PAGE).text


@pytest.mark.parametrize("who", ["teller1", "marketer1"])
def test_other_staff_are_refused(client, people, who):
    sign_in(client, who, console=True)
    assert PAGE not in client.get("/console").text
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}/large_to_new_account").status_code == 403


def test_editor_test_save_version_and_mode(client, people, engine):
    sign_in(client, "risk_officer1", console=True)
    token = csrf_token(client.get(PAGE).text)
    form = {"csrf_token": token, "code": "api_big", "name_en": "Big by API", "name_zh": "接口大额",
            "expression": 'channel == "api" and amount_minor >= 100', "action": "review",
            "reason_en": "A large payment.", "reason_zh": "大额付款。", "start": "2024-05-01", "end": "2024-05-07",
            "source": "bank", "editing": ""}
    r = client.post(PAGE, data={**form, "do": "test"})
    assert r.status_code == 200 and 'id="test-result"' in r.text and 'id="r-scanned">0<' in r.text
    r = client.post(PAGE, data={**form, "do": "test", "start": "not a date"})
    assert r.status_code == 422 and 'id="form-error"' in r.text
    r = client.post(PAGE, data={**form, "do": "save", "expression": "len(channel) > 1"})
    assert r.status_code == 422 and "function calls" in r.text
    # each save is proposed (to the change queue) and applies once a second risk officer approves it
    assert 'name="change_reason"' in client.get(PAGE).text
    r = client.post(PAGE, data={**form, "do": "save", "change_reason": "API 欺诈"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/changes?notice=change_proposed"
    assert client.get(f"{PAGE}/api_big").status_code == 404
    assert [(c["kind"], c["reason"]) for c in approve_pending()] == [("risk.rule.create", "API 欺诈")]
    r = client.post(PAGE, data={**form, "editing": "api_big", "do": "save", "expression": "amount_minor >= 5"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert [c["changes"] for c in approve_pending()] == [
        [{"field": "expression", "before": 'channel == "api" and amount_minor >= 100', "after": "amount_minor >= 5"}]]
    r = client.post(f"{PAGE}/api_big/mode", data={"csrf_token": token, "mode": "active"}, follow_redirects=False)
    assert r.status_code == 303
    approve_pending()
    with engine.connect() as c:
        rows = [tuple(x) for x in c.execute(text(
            "SELECT version, mode, expression FROM risk_rules WHERE code = 'api_big' ORDER BY version"))]
    assert rows == [(1, "shadow", 'channel == "api" and amount_minor >= 100'), (2, "shadow", "amount_minor >= 5"),
                    (3, "active", "amount_minor >= 5")]
    page = client.get(f"{PAGE}/api_big").text
    assert 'id="versions"' in page and page.count("v3") >= 1
    assert client.post(f"{PAGE}/api_big/mode", data={"mode": "retired"}).status_code == 403  # no CSRF token
    r = client.post(f"{PAGE}/api_big/mode", data={"csrf_token": token, "mode": "active"})
    assert r.status_code == 409 and 'id="form-error"' in r.text


def test_every_key_is_translated_in_both_languages():
    import smartbank.web.risk_rules  # noqa: F401 - registers its strings

    keys: set[str] = set()
    for f in (TEMPLATES / "console" / "risk").glob("rules*.html"):
        keys |= set(re.findall(r"\bt\('([a-z_.0-9]+)'[,)]", f.read_text()))
    keys |= {f"risk_rules.action.{a}" for a in ("flag", "challenge", "review", "block")}
    keys |= {f"risk_rules.mode.{m}" for m in ("active", "shadow", "retired")}
    keys |= {"risk_rules.activate", "risk_rules.shadow", "risk_rules.retire", "nav.console.risk_rules"}
    for lang in i18n.LANGS:
        assert {k for k in keys if not i18n.has(lang, k)} == set()

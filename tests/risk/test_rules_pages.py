"""Risk rule console pages: rendered for risk officers only, editor, backtest and mode switch through forms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from smartbank.web import i18n
from smartbank.web.risk_rules import describe_condition
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


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_expressions_are_code_beside_words_in_the_page_language(client, people, lang):
    """What staff type (expressions, field names, and/or/not, rule codes) is shown as code (not translated), each
    beside its words; the customer messages in the other language are declared in it."""
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk_officer1", console=True)
    page = client.get(f"{PAGE}/large_to_new_account").text
    assert '<code translate="no" class="mono">large_to_new_account</code>' in page
    assert '<code translate="no">and</code>' + ("（且）" if lang == "zh" else "") in page
    assert '<li><code translate="no" class="mono">channel</code> — ' in page
    assert ('渠道，取值：<code translate="no">web</code>（网上银行）' if lang == "zh"
            else 'channel, one of: <code translate="no">web</code> (online banking)') in page
    assert "第 1 版" in page if lang == "zh" else ">v1<" in page
    assert 'name="reason_zh" lang="zh-CN"' in page and 'name="reason_en" lang="en"' in page
    assert ("读作：" if lang == "zh" else "Reads: ") in page
    confirm = client.get(f"{PAGE}/large_to_new_account/mode?mode=shadow").text
    assert '<code translate="no">large_to_new_account</code>（向新开账户的超大额付款）' in confirm if lang == "zh" \
        else '<code translate="no">large_to_new_account</code> (' in confirm


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
    assert r.status_code == 422 and 'id="err-expression"' in r.text and "条件中不能使用这种写法（第 1 列）" in r.text
    assert 'id="form-error"' not in r.text and r.text.count("条件中不能使用这种写法") == 1
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
    r = client.post(f"{PAGE}/api_big/mode",
                    data={"csrf_token": token, "mode": "active", "change_reason": "tested in shadow"},
                    follow_redirects=False)
    assert r.status_code == 303
    approve_pending()
    with engine.connect() as c:
        rows = [tuple(x) for x in c.execute(text(
            "SELECT version, mode, expression FROM risk_rules WHERE code = 'api_big' ORDER BY version"))]
    assert rows == [(1, "shadow", 'channel == "api" and amount_minor >= 100'), (2, "shadow", "amount_minor >= 5"),
                    (3, "active", "amount_minor >= 5")]
    page = client.get(f"{PAGE}/api_big").text
    assert 'id="versions"' in page and page.count("第 3 版") >= 1
    assert client.post(f"{PAGE}/api_big/mode", data={"mode": "retired"}).status_code == 403  # no CSRF token
    r = client.post(f"{PAGE}/api_big/mode",
                    data={"csrf_token": token, "mode": "active", "change_reason": "tested in shadow"})
    assert r.status_code == 409 and 'id="form-error"' in r.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_change_of_mode_is_confirmed_with_a_required_reason(client, people, engine, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk_officer1", console=True)
    page = client.get(PAGE).text
    assert 'href="/console/risk/rules/large_to_new_account/mode?mode=retired#mode-confirm"' in page
    assert 'action="/console/risk/rules/large_to_new_account/mode"' not in page  # no one-click change
    confirm = client.get(f"{PAGE}/large_to_new_account/mode", params={"mode": "retired"})
    assert confirm.status_code == 200 and 'id="mode-confirm"' in confirm.text
    assert re.search(r'<textarea id="change_reason" name="change_reason"[^>]* required', confirm.text)
    token = csrf_token(confirm.text)
    r = client.post(f"{PAGE}/large_to_new_account/mode", data={"csrf_token": token, "mode": "retired",
                                                               "change_reason": "   "})
    words = {"zh": "请填写切换模式的原因", "en": "Give a reason for changing the rule"}[lang]
    assert r.status_code == 422 and 'id="err-change_reason"' in r.text and r.text.count(words) == 1
    assert 'aria-describedby="err-change_reason"' in r.text and 'id="form-error"' not in r.text
    r = client.post(f"{PAGE}/large_to_new_account/mode", data={"csrf_token": token, "mode": "retired",
                                                               "change_reason": "too many false alarms"},
                    follow_redirects=False)
    assert r.status_code == 303
    approve_pending()
    with engine.connect() as c:
        mode = c.execute(text("SELECT mode FROM risk_rules WHERE code = 'large_to_new_account' "
                              "ORDER BY version DESC LIMIT 1")).scalar()
        notes = [n for (n,) in c.execute(text("SELECT note FROM audit_log WHERE action = 'risk.rule.retire'"))]
    assert mode == "retired" and notes == ["too many false alarms"]


def test_the_rules_help_and_conditions_read_in_the_page_language(client, people):
    client.cookies.set("sb_lang", "zh")
    sign_in(client, "risk_officer1", console=True)
    page = client.get(PAGE).text
    assert "条件由字段、比较和" in page and "For example" not in page
    assert "金额 ≥ ¥" in page or "金额 &gt; ¥" in page or "金额 ≥ ¥" in page.replace("&#8805;", "≥")
    assert "距客户上次欺诈的天数" in page and "days from the customer" not in page
    client.cookies.set("sb_lang", "en")
    page = client.get(PAGE).text
    assert "A condition combines names" in page and "条件由" not in page


def test_an_expression_error_shows_in_chinese_beside_the_condition(client, people):
    client.cookies.set("sb_lang", "zh")
    sign_in(client, "risk_officer1", console=True)
    token = csrf_token(client.get(PAGE).text)
    form = {"csrf_token": token, "code": "x_rule", "name_en": "X", "name_zh": "某规则",
            "expression": "amount_minr >= 5",
            "action": "review", "reason_en": "x", "reason_zh": "x", "do": "save", "change_reason": "x"}
    r = client.post(PAGE, data=form)
    assert r.status_code == 422
    assert "不认识的名称“amount_minr”（第 1 列）" in r.text and "unknown name" not in r.text
    assert 'aria-describedby="rule-help err-expression"' in r.text


def test_every_key_is_translated_in_both_languages():
    import smartbank.web.changes  # noqa: F401 - registers the change form's strings the page uses
    import smartbank.web.risk_rules  # noqa: F401 - registers its strings

    keys: set[str] = set()
    for f in (TEMPLATES / "console" / "risk").glob("rules*.html"):
        keys |= set(re.findall(r"\bt\('([a-z_.0-9]+)'[,)]", f.read_text()))
    keys |= {f"risk_rules.action.{a}" for a in ("flag", "challenge", "review", "block")}
    keys |= {f"risk_rules.mode.{m}" for m in ("active", "shadow", "retired")}
    keys |= {"risk_rules.activate", "risk_rules.shadow", "risk_rules.retire", "nav.console.risk_rules"}
    for lang in i18n.LANGS:
        assert {k for k in keys if not i18n.has(lang, k)} == set()


def test_a_condition_reads_in_words_with_amounts_in_yuan():
    rule = "new_terminal == 1 and amount_minor >= 5000000"
    assert describe_condition(rule, "zh") == "首次向该收款方付款 = 1 且 金额 ≥ ¥50,000.00"
    assert describe_condition(rule, "en") == "first payment to this payee = 1 and amount ≥ ¥50,000.00"
    assert describe_condition('channel in ["web", "api"] or amount > 3000.5', "zh") == \
        "渠道 属于 “网上银行”、“开放接口” 或 金额 > ¥3,000.50"
    assert describe_condition("amount_minor >=", "zh") is None  # not well formed: the expression alone is shown

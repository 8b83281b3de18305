"""What a customer sees on the wealth pages, in zh and en: a refused amount said with its figures beside the
field, the questionnaire's answers as rows with their labels, rises red and falls green with a sign and a word,
charts with axes in the page's language, the robo plan's colour key, and the console's codes in words."""

from __future__ import annotations

import html as htmllib
import re
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import text

from smartbank.wealth import questionnaire
from smartbank.web import i18n
from smartbank.web.render import env, translate_value
from smartbank.web.wealth import line_chart
from tests.web.conftest import csrf_token, sign_in
from tests.web.test_wealth_pages import _assess, _buy, setup  # noqa: F401  (the fixture)

MINIMUM = {"zh": "起购金额为 ¥10.00，您填写的是 ¥0.50。", "en": "The minimum to buy is ¥10.00; you entered ¥0.50."}


def _text(html: str) -> str:
    return htmllib.unescape(html)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_amount_below_the_minimum_is_said_with_its_figures_beside_the_field(client, setup, lang):  # noqa: F811
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    _assess(client)
    r = _buy(client, "F-BOND", setup["a1"], "0.5")
    page = _text(r.text)
    assert r.status_code == 422 and page.count(MINIMUM[lang]) == 1
    assert 'id="err-amount"' in page and re.search(r'name="amount"[^>]*aria-describedby="amount-hint err-amount"', page)
    assert 'id="form-error"' not in page
    assert "below the product" not in page  # the service's own words never reach the page
    # the hint under the field says the minimum before anything is typed
    form = _text(client.get("/wealth/products/F-BOND").text)
    assert ("起购金额 ¥10.00" if lang == "zh" else "The minimum is ¥10.00") in form


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_questionnaire_answers_are_rows_with_their_labels(client, setup, lang):  # noqa: F811
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    page = client.get("/wealth/assessment").text
    for q in questionnaire.V1_QUESTIONS:
        for i, o in enumerate(q["options"]):
            label = htmllib.escape(o[lang], quote=False)
            row = (f'<label class="choice"><input type="radio" name="q_{q["id"]}" value="{i}" required>'
                   f'<span>{label}</span></label>')
            assert row in page, row
    # a partly answered questionnaire is refused once, in words, keeping the answers given
    first = questionnaire.V1_QUESTIONS[0]["id"]
    r = client.post("/wealth/assessment", data={f"q_{first}": "1", "csrf_token": csrf_token(page)})
    said = "请回答全部问题" if lang == "zh" else "Please answer every question"
    assert r.status_code == 422 and r.text.count(said) == 1
    assert f'name="q_{first}" value="1" checked' in r.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rises_are_red_and_falls_green_with_a_sign_and_a_word(lang):
    macro = env.from_string('{% from "portal/_wealth.html" import change with context %}'
                            '{{ change(0.0123) }}|{{ change(-0.02) }}|{{ change(12345, "money") }}|{{ change(0) }}')
    out = macro.render(lang=lang, t=partial(i18n.translate, lang), tv=partial(translate_value, lang))
    up, down, money, flat = out.split("|")
    assert 'class="num chg up"' in up and "+1.23%" in up and ("上涨" if lang == "zh" else "up") in up
    assert 'class="num chg down"' in down and "-2.00%" in down and ("下跌" if lang == "zh" else "down") in down
    assert "+¥123.45" in money and "chg up" in money
    assert "chg flat" in flat and "+" not in flat
    rules = (Path(env.loader.searchpath[0]).parent / "static" / "wealth.css").read_text(encoding="utf-8")
    assert re.search(r"\.chg\.up \{ color: #c41d1d", rules) and re.search(r"\.chg\.down \{ color: #0f7a36", rules)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_product_returns_carry_their_direction_and_the_chart_its_axes(client, setup, lang):  # noqa: F811
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    page = _text(client.get("/wealth/products/F-SP500").text)
    returns = re.findall(r'data-period="[^"]+"><span class="num chg (up|down|flat)" data-dir="\1">'
                         r'<span aria-hidden="true">[▲▼]?</span>([+-]?)', page)
    assert page.count("data-period=") == 4 and len(returns) >= 3  # a period longer than the history shows "-"
    for direction, sign in returns:
        assert (direction, sign) in (("up", "+"), ("down", "-"), ("flat", ""))
    chart = page.split('id="nav-chart"', 1)[1].split("</svg>", 1)[0]
    assert ("单位净值（元）" if lang == "zh" else "NAV (yuan)") in chart
    assert ("日期" if lang == "zh" else ">Date<") in chart
    assert len(re.findall(r'class="tick">\d{4}-\d{2}-\d{2}<', chart)) == 3
    assert ("R4 进取型" if lang == "zh" else "R4 Growth") in page
    facts = page.split('id="product-facts"', 1)[1].split("</section>", 1)[0]  # the issuer in the page's language
    assert (re.search(r"[\u4e00-\u9fff]", facts) is None) == (lang == "en")
    assert ("Fund Management" in facts) == (lang == "en")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_value_chart_has_labelled_axes(lang):
    svg = str(line_chart([("2026-01-05", 100_000_00), ("2026-02-05", 101_500_00), ("2026-03-05", 99_000_00)],
                         kind="value", title="T", lang=lang, chart_id="portfolio-chart"))
    assert ("市值（元）" if lang == "zh" else "Value (yuan)") in svg
    for tick in ("2026-01-05", "2026-02-05", "2026-03-05", "¥99,000", "¥101,500"):
        assert tick in svg, tick
    assert 'role="img"' in svg and ("最低 ¥99,000" if lang == "zh" else "lowest ¥99,000") in svg
    assert str(line_chart([("2026-01-05", 1)], kind="value", title="T", lang=lang, chart_id="x")) == ""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_console_suitability_log_says_codes_in_words(client, setup, lang):  # noqa: F811
    sign_in(client, "alice")
    _assess(client)
    _buy(client, "WMP-EQ", setup["a1"], "1,000.00")
    client.cookies.clear()
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk1", console=True)
    page = _text(client.get("/console/wealth/suitability").text)
    assert ("高于客户等级，不可购买" if lang == "zh" else "Above the grade, not allowed") in page
    assert ("C3 平衡型" if lang == "zh" else "C3 Balanced") in page
    assert 'class="list sortable wealth-table"' in page and 'data-label=' in page
    visible = re.sub(r"<[^>]+>", " ", page.split("<main", 1)[1])
    assert "SUIT-" not in visible


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_nav_is_typed_in_yuan_and_a_refusal_shows_beside_its_product(client, setup, engine, lang):  # noqa: F811
    client.cookies.set("sb_lang", lang)
    sign_in(client, "mark1", console=True)
    cat = client.get("/console/wealth/products").text
    assert 'name="nav" inputmode="decimal"' in cat and "nav_micro" not in cat
    r = client.post("/console/wealth/products/F-BOND/nav", data={"csrf_token": csrf_token(cat), "day": "2030-01-02",
                                                                 "nav": "1.0005"}, follow_redirects=False)
    assert r.status_code == 303
    with engine.connect() as c:
        assert c.execute(text("SELECT nav_micro FROM product_navs WHERE day = '2030-01-02'")).scalar() == 1_000_500
    r = client.post("/console/wealth/products/F-BOND/nav", data={"csrf_token": csrf_token(cat), "day": "2030-01-03",
                                                                 "nav": "1.00000001"}, follow_redirects=False)
    page = _text(r.text)
    said = "最多六位小数，例如 1.0289" if lang == "zh" else "at most six decimals, e.g. 1.0289"
    assert r.status_code == 422 and page.count(said) == 1 and 'id="err-nav"' in page
    row = page.split('id="product-F-BOND"', 1)[1].split("</tr>", 1)[0]
    assert 'id="err-nav"' in row and 'value="1.00000001"' in row

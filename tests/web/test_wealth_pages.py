"""Wealth pages in zh and en: my wealth, the questionnaire, products with the suitability step (refusal in plain
words and kept on record, the acknowledgement checkbox), redemption, and the console catalogue and log."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from sqlalchemy import text

from smartbank import clock, db
from smartbank.wealth import questionnaire, seed
from tests.web.conftest import csrf_token, make_user, raw_keys, sign_in


@pytest.fixture
def setup(client, bank, engine):
    with db.session_scope(engine) as s:
        seed.seed(s, codes=["TD3M", "TD1Y", "F-BOND", "F-SP500", "WMP-EQ"], years=1)
    alice = bank.customer("王芳")
    a1 = bank.account(alice, balance=1_000_000)
    make_user(engine, "alice", customer_id=alice)
    make_user(engine, "risk1", role="risk_officer")
    make_user(engine, "mark1", role="marketer")
    make_user(engine, "teller1", role="teller")
    return {"a1": a1}


def _assess(client, index: int = 1):
    page = client.get("/wealth/assessment").text
    data = {f"q_{q['id']}": str(index) for q in questionnaire.V1_QUESTIONS}
    return client.post("/wealth/assessment", data=data | {"csrf_token": csrf_token(page)}, follow_redirects=False)


def _buy(client, code: str, a1: int, amount: str, **kw):
    page = client.get(f"/wealth/products/{code}").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    data = {"csrf_token": csrf_token(page), "amount": amount, "account_id": str(a1),
            "idempotency_key": key.group(1) if key else "web-key-abcdef12", **kw}
    return client.post(f"/wealth/products/{code}/buy", data=data, follow_redirects=False)


def _checks(engine):
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text("SELECT outcome, reason_code FROM suitability_checks ORDER BY id"))]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_in_both_languages_and_a_purchase(client, setup, engine, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    for url in ("/wealth", "/wealth/assessment", "/wealth/products", "/wealth/products?kind=fund",
                "/wealth/products/F-SP500", "/wealth/products/TD1Y"):
        r = client.get(url)
        assert r.status_code == 200 and raw_keys(r.text) == [], url
    home = client.get("/wealth").text
    assert 'id="assessment-never"' in home and ("我的理财" if lang == "zh" else "My wealth") in home
    assert 'id="nav-chart"' in client.get("/wealth/products/F-SP500").text
    assert _assess(client).status_code == 303
    assert "C3" in client.get("/wealth").text
    r = _buy(client, "F-BOND", setup["a1"], "1,000.00")
    assert r.status_code == 303 and r.headers["location"].startswith("/wealth?notice=wealth_bought")
    page = client.get("/wealth").text
    assert 'id="pending-orders"' in page and raw_keys(page) == []
    assert _checks(engine) == [("pass", None)]


def test_refusal_in_plain_words_is_kept(client, setup, engine):
    client.cookies.set("sb_lang", "zh")
    sign_in(client, "alice")
    _assess(client)  # C3
    page = client.get("/wealth/products/WMP-EQ").text
    assert 'id="suitability-refused"' in page and 'id="buy-form"' not in page
    r = _buy(client, "WMP-EQ", setup["a1"], "1,000.00")  # posted anyway: the service refuses and records it
    assert r.status_code == 403 and "本行不能向您销售" in r.text
    assert _checks(engine) == [("refused", "SUIT-ABOVE-GRADE")]
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM wealth_orders")).scalar() == 0


def test_acknowledgement_checkbox_carries_the_exact_text(client, setup, engine):
    client.cookies.set("sb_lang", "en")
    sign_in(client, "alice")
    _assess(client)
    page = client.get("/wealth/products/F-SP500").text
    m = re.search(r'name="acknowledgement" value="([^"]+)"', page)
    assert m and 'id="acknowledgement"' in page
    assert _buy(client, "F-SP500", setup["a1"], "1,000.00").status_code == 422  # box not ticked
    r = _buy(client, "F-SP500", setup["a1"], "1,000.00", acknowledgement=htmllib.unescape(m.group(1)))
    assert r.status_code == 303
    with engine.connect() as c:
        outcome, ack = c.execute(text("SELECT outcome, acknowledgement FROM suitability_checks")).one()
    assert outcome == "acknowledged" and ack.startswith("This fund (R4) is riskier")


def test_lapsed_assessment_prompts_a_retake(client, setup, engine, bank):
    from datetime import timedelta

    from smartbank.wealth.models import RiskAssessment

    sign_in(client, "alice")
    with engine.connect() as c:
        cid = int(c.execute(text("SELECT customer_id FROM users WHERE username = 'alice'")).scalar())
    taken = clock.now() - timedelta(days=400)
    with db.session_scope(engine) as s:
        s.add(RiskAssessment(customer_id=cid, questionnaire_version=1, answers={}, score=50, grade="C3",
                             taken_at=taken, expires_at=taken + timedelta(days=365)))
    assert 'id="retake"' in client.get("/wealth").text
    r = _buy(client, "F-BOND", setup["a1"], "1,000.00")
    assert r.status_code == 403 and _checks(engine) == [("refused", "SUIT-NO-ASSESSMENT")]


def test_elder_mode_hides_the_extra_figures(client, setup):
    client.cookies.set("sb_elder", "1")
    sign_in(client, "alice")
    page = client.get("/wealth/products/F-SP500").text
    assert 'class="elder"' in page and "Sharpe" not in page and "夏普" not in page


def test_console_catalogue_and_suitability_log(client, setup, engine):
    sign_in(client, "alice")
    _assess(client)
    _buy(client, "WMP-EQ", setup["a1"], "1,000.00")
    client.cookies.clear()
    sign_in(client, "risk1", console=True)
    log = client.get("/console/wealth/suitability?outcome=refused")
    assert log.status_code == 200 and "SUIT-ABOVE-GRADE" in log.text and raw_keys(log.text) == []
    assert client.get("/console/wealth/products").status_code == 403
    client.cookies.clear()
    sign_in(client, "mark1", console=True)
    cat = client.get("/console/wealth/products")
    assert cat.status_code == 200 and 'id="product-F-BOND"' in cat.text
    r = client.post("/console/wealth/products/F-BOND/nav", data={"csrf_token": csrf_token(cat.text),
                                                                 "day": "2030-01-02", "nav_micro": "1000500"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/console/wealth/suitability").status_code == 403
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_log WHERE action = 'wealth.nav.publish'")).scalar() == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_assessment_that_contradicts_the_id_or_comes_too_soon_is_explained(client, setup, engine, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")  # born 1985: 41
    r = _assess_with(client, 1, age=4)  # "over 70"
    assert r.status_code == 422 and raw_keys(r.text) == []
    text_ = htmllib.unescape(r.text)
    assert ("按证件您现年 41 岁" in text_ and "“31-50 岁”" in text_) if lang == "zh" else \
        ("you are 41" in text_ and '"31-50"' in text_)
    assert _assess(client).status_code == 303
    r = _assess_with(client, 3, age=1)  # at once, for a higher grade
    assert r.status_code == 429 and raw_keys(r.text) == []
    assert ("距上次测评不足 24 小时" if lang == "zh" else "Less than 24 hours") in htmllib.unescape(r.text)
    page = client.get("/wealth").text
    assert 'id="next-retake"' in page and 'id="grade"' in page and "C3" in page
    with engine.connect() as c:
        rows = [tuple(x) for x in c.execute(text("SELECT status, refusal_code FROM risk_assessments ORDER BY id"))]
    assert rows == [("refused", "assessment_age_mismatch"), ("accepted", None),
                    ("refused", "assessment_cooling_off")]


def _assess_with(client, index: int, *, age: int):
    page = client.get("/wealth/assessment").text
    data = {f"q_{q['id']}": str(min(index, len(q["options"]) - 1)) for q in questionnaire.V1_QUESTIONS}
    data["q_age"] = str(age)
    return client.post("/wealth/assessment", data=data | {"csrf_token": csrf_token(page)}, follow_redirects=False)

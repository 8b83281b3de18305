"""Loan pages: the portal's apply form (prefilled, estimate, submit, progress, accept / withdraw) in zh and en,
elderly mode, and the console review queue and case (loan officers only, maker-checker shown)."""

from __future__ import annotations

import functools
import re

import pytest

from smartbank import db
from smartbank.lending import decision, seed
from tests.web.conftest import csrf_token, make_user, raw_keys, sign_in


@pytest.fixture
def setup(client, bank, engine, monkeypatch):
    from tests.lending.test_applications import FakeScorer

    with db.session_scope(engine) as s:
        seed.seed(s)
    scorer = FakeScorer(pd=0.01)
    monkeypatch.setattr(decision, "get_scorer", lambda: scorer)
    alice = bank.customer("王芳")
    a1 = bank.account(alice, balance=100_000)
    make_user(engine, "alice", customer_id=alice)
    make_user(engine, "lo1", role="loan_officer")
    make_user(engine, "teller1", role="teller")
    return {"a1": a1, "scorer": scorer}


def _apply(client, **kw):
    html = client.get("/loans/apply?product=PERSONAL").text
    data = {"csrf_token": csrf_token(html), "product": "PERSONAL", "amount": "50,000", "term_months": "24",
            "method": "equal_installment", "purpose": "装修", "income": "20000", "employment": "employed",
            "employer": "", "years_employed": "", "dependents": "0", "debt": "0", "repay": "0", "card_balance": "",
            "card_limit": "", "account_id": re.search(r'name="account_id"[^>]*><option value="(\d+)"', html).group(1),
            "idempotency_key": "web-key-123456", "action": "submit", **kw}
    return client.post("/loans/apply", data=data, follow_redirects=False)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_apply_accept_in_both_languages(client, setup, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    page = client.get("/loans/apply")
    assert page.status_code == 200 and raw_keys(page.text) == []
    assert ("申请贷款" if lang == "zh" else "Apply for a loan") in page.text
    est = _apply(client, action="estimate")
    assert est.status_code == 200 and 'id="loan-estimate"' in est.text
    r = _apply(client)
    assert r.status_code == 303, r.text
    url = r.headers["location"].split("?")[0]
    page = client.get(url).text
    assert 'id="loan-progress"' in page and 'id="loan-accept"' in page and raw_keys(page) == []
    again = _apply(client)  # the same form posted twice: the same application
    assert again.headers["location"].split("?")[0] == url
    r = client.post(url + "/withdraw", data={"csrf_token": csrf_token(page)}, follow_redirects=False)
    assert r.status_code == 303
    assert 'id="loan-accept"' not in client.get(url).text


def test_bad_form_shows_the_error_and_declined_reasons(client, setup):
    sign_in(client, "alice")
    r = _apply(client, amount="abc")
    assert r.status_code == 422 and 'id="form-error"' in r.text
    setup["scorer"].pd = 0.5
    r = _apply(client, idempotency_key="web-key-declined")
    page = client.get(r.headers["location"]).text
    assert 'id="loan-reasons"' in page and "信用评估" in page


def test_elder_mode_hides_optional_fields(client, setup):
    client.cookies.set("sb_elder", "1")
    sign_in(client, "alice")
    page = client.get("/loans/apply").text
    assert 'name="card_limit" value=""' in page and 'type="hidden" name="card_limit"' in page


def test_console_review_queue_and_maker_checker_state(client, setup, bank):
    setup["scorer"].pd = 0.10  # grade D: manual review
    sign_in(client, "alice")
    loc = _apply(client).headers["location"]
    app_id = int(re.search(r"/loans/applications/(\d+)", loc).group(1))
    client.cookies.clear()
    sign_in(client, "teller1", console=True)
    assert client.get("/console/lending/reviews").status_code == 403
    client.cookies.clear()
    sign_in(client, "lo1", console=True)
    q = client.get("/console/lending/reviews")
    assert q.status_code == 200 and f"/console/lending/reviews/{app_id}" in q.text
    case = client.get(f"/console/lending/reviews/{app_id}").text
    assert 'id="case-decide"' in case and raw_keys(case) == []
    r = client.post(f"/console/lending/reviews/{app_id}/decision",
                    data={"csrf_token": csrf_token(case), "outcome": "decline", "note": "x"}, follow_redirects=False)
    assert r.status_code == 422  # a decline needs a reason code
    r = client.post(f"/console/lending/reviews/{app_id}/decision",
                    data={"csrf_token": csrf_token(case), "outcome": "approve", "amount": "40000",
                          "version": re.search(r'name="version" value="(\d+)"', case).group(1)},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "已批准" in client.get(f"/console/lending/reviews/{app_id}").text
    assert client.get("/console/lending/products").status_code == 200


_TAGS = re.compile(r"<[^>]+>")
_SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")


def _visible(html: str) -> str:
    body = html.split("<body", 1)[-1]
    return _TAGS.sub(" ", re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_range_is_checked_at_the_first_step(client, setup, engine, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    page = client.get("/loans/apply?product=PERSONAL").text
    rng = "可借金额 ¥1,000.00 至 ¥300,000.00，期限 6–60 个月" if lang == "zh" else \
        "You can borrow ¥1,000.00 to ¥300,000.00 over 6–60 months"
    assert rng in page and 'aria-describedby="loan-range"' in page
    with engine.connect() as c:
        before = c.exec_driver_sql("SELECT count(*) FROM loan_applications").scalar()
    for action in ("estimate", "submit"):  # the estimate (first step) and the submit say the same, beside the field
        r = _apply(client, amount="500", action=action, idempotency_key=f"web-key-range-{action}")
        assert r.status_code == 422, action
        words = "贷款金额须在 ¥1,000.00 至 ¥300,000.00 之间" if lang == "zh" else \
            "The loan amount must be between ¥1,000.00 and ¥300,000.00"
        assert words in r.text and 'id="err-amount"' in r.text and 'aria-invalid="true"' in r.text
        assert 'id="form-error"' not in r.text and r.text.count(words) == 1
        r = _apply(client, term_months="99", action=action, idempotency_key=f"web-key-term-{action}")
        assert r.status_code == 422 and 'id="err-term_months"' in r.text
        term = "贷款期限须在 6 至 60 个月之间" if lang == "zh" else "The term must be between 6 and 60 months"
        assert term in r.text
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM loan_applications").scalar() == before


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_application_page_speaks_the_page_language(client, setup, lang):
    setup["scorer"].pd = 0.5  # grade E: declined, with reasons
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    r = _apply(client, idempotency_key="web-key-declined-words")
    page = client.get(r.headers["location"]).text
    text = _visible(page)
    assert raw_keys(page) == [] and _SNAKE.findall(text) == []
    assert 'id="loan-decision"' in page and 'id="loan-reasons"' in page
    if lang == "zh":
        assert "未通过" in text and "等额本息" in text and "24 个月" in text and "declined" not in text
    else:
        assert "Declined" in text and "Equal instalments" in text and "24 months" in text
        allowed = ("装修", "王芳", "中文")  # what the customer typed, her name, the language switch
        assert not re.search(r"[\u4e00-\u9fff]", functools.reduce(lambda t, w: t.replace(w, ""), allowed, text))
    listing = _visible(client.get("/loans/apply").text)
    assert ("未通过" if lang == "zh" else "Declined") in listing and "declined" not in listing


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_case_is_an_applicant_summary(client, setup, lang):
    setup["scorer"].pd = 0.10  # grade D: manual review
    sign_in(client, "alice")
    loc = _apply(client).headers["location"]
    app_id = int(re.search(r"/loans/applications/(\d+)", loc).group(1))
    client.cookies.clear()
    client.cookies.set("sb_lang", lang)
    sign_in(client, "lo1", console=True)
    case = client.get(f"/console/lending/reviews/{app_id}").text
    text = _visible(case).replace(setup["scorer"].version, "")  # the model's version is an identifier
    assert raw_keys(case) == [] and "_minor" not in text and _SNAKE.findall(text) == []
    assert re.search(r'id="case-income">¥20,000\.00<', case)
    assert re.search(r'id="case-pd">10\.00%<', case)
    assert re.search(r'id="case-rti">\d+(\.\d+)?%<', case)
    assert re.search(r'id="case-band">(D 级|Grade D)<', case)
    assert 'id="rule-POL-DTI"' in case and ("不超过" if lang == "zh" else "at most") in case
    assert "POL-" not in text and "GMSC-" not in text  # rules and reasons in words, not codes
    assert ("您现有负债相对收入较高" if lang == "zh" else "Your existing debts are high") in text
    assert 'type="radio" name="outcome" value="approve"' in case and 'class="choice"' in case
    # a decline without a note: the refusal beside the note, once
    r = client.post(f"/console/lending/reviews/{app_id}/decision",
                    data={"csrf_token": csrf_token(case), "outcome": "decline", "reason_code": "OFF-AFFORD"},
                    follow_redirects=False)
    assert r.status_code == 422 and 'id="err-note"' in r.text and 'id="form-error"' not in r.text
    assert ("请填写备注" if lang == "zh" else "Please write a note") in r.text
    assert 'value="decline" checked' in r.text  # what the officer chose is kept

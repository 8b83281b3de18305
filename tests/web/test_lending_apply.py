"""Loan pages: the portal's apply form (prefilled, estimate, submit, progress, accept / withdraw) in zh and en,
elderly mode, and the console review queue and case (loan officers only, maker-checker shown)."""

from __future__ import annotations

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
            "card_limit": "", "account_id": re.search(r'name="account_id"><option value="(\d+)"', html).group(1),
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
    assert "approved" in client.get(f"/console/lending/reviews/{app_id}").text
    assert client.get("/console/lending/products").status_code == 200

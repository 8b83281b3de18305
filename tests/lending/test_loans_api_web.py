"""The loan API and pages: a customer sees and repays only their own loans; staff read the book."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.ledger import service as ledger
from smartbank.lending import servicing
from tests.api.support import API, assert_error
from tests.conftest import login
from tests.lending.support import customer, disbursed
from tests.web.conftest import csrf_token, raw_keys, sign_in


def _state(engine) -> tuple:
    with engine.connect() as c:
        return tuple(int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar()) for t in (
            "transfers", "loan_repayments", "loan_installments"))


@pytest.fixture
def world(bank, engine):
    cid, acct, _ = customer(bank, "王芳", balance=500_000, username="alice")
    customer(bank, "李娜", username="bob")
    bank.user("officer1", role="loan_officer")
    bank.user("teller1", role="teller")
    start = servicing.today() - timedelta(days=40)  # the first instalment is 10 days overdue... or paid
    loan_id = disbursed(engine, cid, acct, start=start, amount=1_200_000, rate_bps=600, term=12)
    return {"loan": loan_id, "acct": acct, "cid": cid}


def test_api_customer_reads_and_repays(client, engine, bank, world):
    h, hb = login(client, "alice"), login(client, "bob")
    loan = world["loan"]
    r = client.get(f"{API}/lending/loans", headers=h)
    assert r.status_code == 200 and [x["id"] for x in r.json()] == [loan]
    view = client.get(f"{API}/lending/loans/{loan}?lang=zh", headers=h).json()
    assert view["due_now_minor"] > 0 and view["schedule"][0]["status"] == "overdue"
    assert len(client.get(f"{API}/lending/loans/{loan}/schedule", headers=h).json()) == 12
    assert client.get(f"{API}/lending/loans", headers=hb).json() == []
    before = _state(engine)
    for path in (f"/lending/loans/{loan}", f"/lending/loans/{loan}/schedule"):
        assert_error(client.get(f"{API}{path}", headers=hb), 404, "not_found")
    assert_error(client.post(f"{API}/lending/loans/{loan}/repayments", json={"idempotency_key": "b"}, headers=hb),
                 404, "not_found")
    for body, status in (({"amount_minor": 0, "idempotency_key": "x"}, 422), ({"amount_minor": "5"}, 422),
                         ({"recalc": "never", "idempotency_key": "x"}, 422), ({}, 422),
                         ({"amount_minor": 10**9, "idempotency_key": "y"}, 422)):
        assert client.post(f"{API}/lending/loans/{loan}/repayments", json=body, headers=h).status_code == status
    bad = client.post(f"{API}/lending/loans/{loan}/repayments", content=b"{", headers=h | {
        "Content-Type": "application/json"})
    assert bad.status_code == 400
    assert _state(engine) == before
    r = client.post(f"{API}/lending/loans/{loan}/repayments", json={}, headers=h | {"Idempotency-Key": "k1"})
    assert r.status_code == 201, r.text
    again = client.post(f"{API}/lending/loans/{loan}/repayments", json={}, headers=h | {"Idempotency-Key": "k1"})
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    r = client.post(f"{API}/lending/loans/{loan}/repayments", json={"early": True, "amount_minor": 100_000,
                                                                   "recalc": "shorten_term",
                                                                   "idempotency_key": "k2"}, headers=h)
    assert r.status_code == 201 and r.json()["kind"] == "early_partial", r.text
    bank.assert_invariants()


def test_api_book_for_staff_only(client, world):
    ho, ht, h = login(client, "officer1"), login(client, "teller1"), login(client, "alice")
    assert client.get(f"{API}/lending/book", headers=ho).status_code == 200
    s = client.get(f"{API}/lending/book/summary", headers=ho).json()
    assert s["loans"] == 1 and s["outstanding_minor"] == 1_200_000
    assert client.get(f"{API}/lending/book?bucket=M9", headers=ho).status_code == 422
    assert client.get(f"{API}/lending/loans/{world['loan']}", headers=ho).status_code == 200
    for hdr in (ht, h):
        assert_error(client.get(f"{API}/lending/book", headers=hdr), 403, "forbidden")
        assert_error(client.get(f"{API}/lending/book/summary", headers=hdr), 403, "forbidden")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_portal_pages_and_forms(client, engine, bank, world, lang):
    client.cookies.set("sb_lang", lang)
    sign_in(client, "alice")
    loan = world["loan"]
    for path in ("/loans", f"/loans/{loan}"):
        r = client.get(path)
        assert r.status_code == 200 and raw_keys(r.text) == [], (path, raw_keys(r.text))
    page = client.get(f"/loans/{loan}").text
    assert 'id="schedule"' in page and 'id="repay-form"' in page and 'id="payoff-form"' in page
    token = csrf_token(page)
    before = _state(engine)
    r = client.post(f"/loans/{loan}/repay", data={"csrf_token": token, "amount": "abc", "idempotency_key": "w0"},
                    follow_redirects=False)
    assert r.status_code == 422 and 'id="err-amount"' in r.text and 'id="form-error"' not in r.text
    r = client.post(f"/loans/{loan}/early", data={"csrf_token": token, "early_amount": "99999999",
                                                  "idempotency_key": "w1"}, follow_redirects=False)
    assert r.status_code == 422
    assert _state(engine) == before
    r = client.post(f"/loans/{loan}/repay", data={"csrf_token": token, "amount": "", "idempotency_key": "w2"},
                    follow_redirects=False)
    assert r.status_code == 303 and "notice=loan_repaid" in r.headers["location"]
    r = client.post(f"/loans/{loan}/early", data={"csrf_token": token, "payoff": "1", "idempotency_key": "w3"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert 'id="payoff-form"' not in client.get(f"/loans/{loan}").text
    bank.assert_invariants()


def test_portal_refuses_another_customers_loan(client, world):
    sign_in(client, "bob")
    assert client.get(f"/loans/{world['loan']}").status_code == 404
    assert 'id="no-loans"' in client.get("/loans").text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_console_loan_book(client, engine, world, lang):
    with db.session_scope(engine) as s:  # the customer spent everything: the loan falls behind
        sink = ledger.internal_account(s, "settlement", "CNY")
        ledger.transfer(s, ledger.TransferCommand(key="spend", debit_account_id=world["acct"],
                                                  credit_account_id=sink.id, amount_minor=1_700_000,
                                                  currency="CNY", kind="withdrawal"))
    day = servicing.today() - timedelta(days=10)
    while day <= servicing.today():
        with db.session_scope(engine) as s:
            servicing.run_day(s, day)
        day += timedelta(days=1)
    client.cookies.set("sb_lang", lang)
    sign_in(client, "officer1", console=True)
    assert "/console/lending/book" in client.get("/console").text
    for path in ("/console/lending/book", "/console/lending/book?bucket=M1", "/console/lending/book?classification=x",
                 f"/console/lending/book/{world['loan']}"):
        r = client.get(path)
        assert r.status_code == 200 and raw_keys(r.text) == [], (path, raw_keys(r.text))
    assert f'id="loan-{world["loan"]}"' in client.get("/console/lending/book?bucket=M1").text
    assert 'id="delinquency" class="num">100.00%<' in client.get("/console/lending/book").text


def test_console_loan_book_refuses_tellers(client, world):
    sign_in(client, "teller1", console=True)
    assert client.get("/console/lending/book").status_code == 403

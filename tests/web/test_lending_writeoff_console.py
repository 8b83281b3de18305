"""The console's loan page: risk officers and admins write off a loan classified loss (form, CSRF, zh/en);
loan officers see the loan but no form and are refused if they post anyway."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from smartbank import db
from smartbank.lending.models import Loan
from smartbank.security.models import AuditLog
from tests.lending.test_writeoff import bad_loan, written_off
from tests.web.conftest import csrf_token, raw_keys, sign_in


def _counts(engine) -> tuple:
    """Rows a refused form must not add (the page shown again is a read of the customer's loan: it is audited
    as object_type customer, not counted here)."""
    with engine.connect() as c:
        return tuple(
            int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar())
            for t in ("transfers", "loan_status_history", "audit_log WHERE object_type <> 'customer'")
        )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_console_write_off(client, bank, engine, lang):
    loan_id, _acct, _me = bad_loan(bank, engine)
    bank.user("risk1", role="risk_officer")
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk1", console=True)
    page = f"/console/lending/book/{loan_id}"
    r = client.get(page)
    assert r.status_code == 200 and raw_keys(r.text) == [], raw_keys(r.text)
    assert 'id="write-off-form"' in r.text
    token = csrf_token(r.text)
    before = _counts(engine)
    # a confirm step: the reason is required (by the service) and the confirmation ticked; each refusal is shown
    # once, beside its field
    r = client.post(f"{page}/write-off", data={"csrf_token": token, "reason": "  ", "confirm": "1"},
                    follow_redirects=False)
    assert r.status_code == 422 and 'id="err-reason"' in r.text and 'id="write-off-form"' in r.text
    assert 'id="form-error"' not in r.text and r.text.count("field-error") == 1
    assert ("请填写核销原因" if lang == "zh" else "Please give the reason for the write-off") in r.text
    r = client.post(f"{page}/write-off", data={"csrf_token": token, "reason": "借款人失联一年"}, follow_redirects=False)
    assert r.status_code == 422 and 'id="err-confirm"' in r.text and "借款人失联一年" in r.text
    r = client.post(f"{page}/write-off", data={"reason": "no token"}, follow_redirects=False)
    assert r.status_code in (400, 403)
    assert _counts(engine) == before
    r = client.post(f"{page}/write-off", data={"csrf_token": token, "reason": "借款人失联一年", "confirm": "1"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("notice=loan_written_off")
    r = client.get(r.headers["location"])
    assert r.status_code == 200 and raw_keys(r.text) == [], raw_keys(r.text)
    assert 'id="loan-written-off"' in r.text and 'id="write-off-form"' not in r.text
    assert 'id="still-owed"' in r.text  # what the customer still owes after the write-off
    r = client.get("/console/lending/book")
    assert r.status_code == 200 and 'id="written-off-summary"' in r.text and raw_keys(r.text) == []
    with db.session_scope(engine) as s:
        assert s.get(Loan, loan_id).status == "written_off"
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "loan.write_off")).one()
        assert audit.note == "借款人失联一年"  # the reason is recorded with the write-off
    after = _counts(engine)
    r = client.post(f"{page}/write-off", data={"csrf_token": token, "reason": "again", "confirm": "1"},
                    follow_redirects=False)
    assert r.status_code == 409 and 'id="form-error"' in r.text
    assert _counts(engine) == after
    bank.assert_invariants()


def test_loan_officers_see_no_write_off_form(client, bank, engine):
    loan_id, _acct, _me = bad_loan(bank, engine)
    bank.user("officer1", role="loan_officer")
    sign_in(client, "officer1", console=True)
    page = f"/console/lending/book/{loan_id}"
    r = client.get(page)
    assert r.status_code == 200 and 'id="write-off-form"' not in r.text
    before = _counts(engine)
    r = client.post(f"{page}/write-off", data={"csrf_token": csrf_token(r.text), "reason": "x"}, follow_redirects=False)
    assert r.status_code == 403
    assert _counts(engine) == before


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_customer_pays_what_is_still_owed_on_the_portal(client, bank, engine, lang):
    from tests.lending.support import fund

    loan_id, acct, me, owed = written_off(bank, engine)
    fund(bank, acct, 20_000, "found-money")
    client.cookies.set("sb_lang", lang)
    sign_in(client, me.username)
    page = f"/loans/{loan_id}"
    r = client.get(page)
    assert r.status_code == 200 and raw_keys(r.text) == [], raw_keys(r.text)
    assert 'id="still-owed"' in r.text and 'id="repay-form"' in r.text
    assert 'id="early-form"' not in r.text and 'id="payoff-form"' not in r.text
    r = client.post(f"{page}/repay", data={"csrf_token": csrf_token(r.text), "amount": "200.00",
                                           "idempotency_key": "w1"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert bank.balance(acct) == 0
    with db.session_scope(engine) as s:
        from smartbank.lending import servicing

        assert servicing.loan_view(s, me, loan_id)["still_owed_minor"] == owed - 20_000
    bank.assert_invariants()


def test_console_records_money_collected_on_a_written_off_loan(client, bank, engine):
    from smartbank.lending import servicing

    loan_id, _acct, me, owed = written_off(bank, engine)
    sign_in(client, "risk1", console=True)
    page = f"/console/lending/book/{loan_id}"
    r = client.get(page)
    assert r.status_code == 200 and 'id="collection-form"' in r.text and raw_keys(r.text) == []
    token = csrf_token(r.text)
    before = _counts(engine)
    r = client.post(f"{page}/collections", data={"csrf_token": token, "amount": "abc", "reference": "A1",
                                                 "idempotency_key": "w1"}, follow_redirects=False)
    assert r.status_code == 422 and 'id="form-error"' in r.text and 'value="A1"' in r.text
    assert _counts(engine) == before
    r = client.post(f"{page}/collections", data={"csrf_token": token, "amount": "300.00", "reference": "AGY-7",
                                                 "idempotency_key": "w1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("notice=loan_collected")
    r = client.get(r.headers["location"])
    assert r.status_code == 200 and raw_keys(r.text) == []
    with db.session_scope(engine) as s:
        assert servicing.loan_view(s, me, loan_id)["still_owed_minor"] == owed - 30_000

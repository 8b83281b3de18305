"""KYC cannot be skipped: only the identity documents the bank supports are accepted, each checked by its own
rule, and a customer is verified only when a teller really verified the identity (who and when recorded)."""

from __future__ import annotations

from datetime import date

import pytest

from smartbank.customers.validation import make_resident_id
from tests.api.support import API, assert_error, scalar, state
from tests.conftest import login


@pytest.fixture
def staff(client, bank):
    for name, role in (("teller1", "teller"), ("admin1", "admin"), ("risk1", "risk_officer")):
        bank.user(name, role=role)
    return {u: login(client, u) for u in ("teller1", "admin1", "risk1")}


def _body(**kw):
    return {"name": "赵六", "id_number": make_resident_id("110101", date(1990, 5, 17), 123), "phone": "13912345678",
            **kw}


@pytest.mark.parametrize(("id_type", "id_number"), [
    ("PRC_ID", "abc!!"), ("foo", "abc!!"), ("PRC_ID", "11010519491231002X"), ("external", "legacy:1"),
    ("business_licence", "914403001922038216"),  # a business's document for an individual
    ("passport", "abc!!"), ("hk_macau_permit", "H1234"), ("taiwan_permit", "abcdefgh"),
])
def test_unsupported_or_malformed_documents_are_refused_and_nothing_is_written(client, engine, staff, id_type,
                                                                                id_number):
    before = state(engine)
    r = client.post(f"{API}/customers", json=_body(id_type=id_type, id_number=id_number), headers=staff["teller1"])
    body = assert_error(r, 422, "validation_error")
    assert body["details"]["id_type" if "id_type" in body["details"] else "id_number"] in (id_type, id_number)
    assert state(engine) == before


def test_a_business_needs_a_valid_unified_social_credit_code(client, engine, staff):
    before = state(engine)
    bad = client.post(f"{API}/customers", headers=staff["teller1"],
                      json={"kind": "business", "name": "某某公司", "id_number": "91440300192203821X"})
    assert "check character" in assert_error(bad, 422, "validation_error")["message"]
    assert state(engine) == before
    ok = client.post(f"{API}/customers", json={"kind": "business", "name": "华为技术有限公司",
                                               "id_number": "914403001922038216"}, headers=staff["teller1"])
    assert ok.status_code == 201, ok.text
    assert (ok.json()["id_type"], ok.json()["kyc_status"]) == ("business_licence", "pending")


def test_a_passport_needs_the_birth_date_on_it(client, engine, staff):
    body = _body(id_type="passport", id_number="E12345678")
    assert "birth date" in assert_error(client.post(f"{API}/customers", json=body, headers=staff["teller1"]),
                                        422, "validation_error")["message"]
    r = client.post(f"{API}/customers", json=body | {"birth_date": "1988-02-03"}, headers=staff["teller1"])
    assert r.status_code == 201, r.text
    c = r.json()
    # the reply shows the teller the document number as the masking policy does (first one, last two)
    assert (c["id_type"], c["id_number"], c["birth_date"], c["kyc_status"]) == ("passport", "E******78",
                                                                                  "1988-02-03", "pending")


def test_a_customer_created_without_a_document_check_is_pending(client, staff):
    r = client.post(f"{API}/customers", json=_body(), headers=staff["teller1"])
    assert r.status_code == 201, r.text
    assert (r.json()["kyc_status"], r.json()["kyc_method"], r.json()["kyc_verified_at"]) == ("pending", None, None)


def test_a_teller_who_checked_the_document_verifies_at_opening(client, engine, staff):
    r = client.post(f"{API}/customers", json=_body(document_checked=True), headers=staff["teller1"])
    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["kyc_status"], c["kyc_method"]) == ("verified", "branch_document_check") and c["kyc_verified_at"]
    teller = scalar(engine, "SELECT id FROM users WHERE username = 'teller1'")
    assert scalar(engine, "SELECT kyc_verified_by FROM customers WHERE id = :i", i=c["id"]) == teller
    assert scalar(engine, "SELECT count(*) FROM audit_log WHERE action = 'customer.kyc.verified'"
                          " AND object_id = :i AND actor_user_id = :u", i=str(c["id"]), u=teller) == 1
    # only a teller attests a document check: an administrator opening a customer cannot
    before = state(engine)
    other = _body(id_number=make_resident_id("310101", date(1980, 1, 1), 5), document_checked=True)
    assert_error(client.post(f"{API}/customers", json=other, headers=staff["admin1"]), 403, "forbidden")
    assert state(engine) == before


def test_self_signup_is_pending_until_a_teller_verifies_it(client, engine, staff):
    r = client.post(f"{API}/auth/signup", json=_body(username="zhao6", password="jade-harbour-71"))
    assert r.status_code == 201, r.text
    cid = r.json()["customer_id"]
    me = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get(f"{API}/customers/{cid}", headers=me).json()["kyc_status"] == "pending"
    assert scalar(engine, "SELECT kyc_status FROM customers WHERE id = :i", i=cid) == "pending"

    # nobody but a teller records a verification: not the customer, not a risk officer, not an administrator
    before = state(engine)
    for who in (me, staff["risk1"], staff["admin1"]):
        assert_error(client.post(f"{API}/customers/{cid}/kyc", json={"outcome": "verified"}, headers=who),
                     403, "forbidden")
    assert state(engine) == before

    r = client.post(f"{API}/customers/{cid}/kyc", json={"outcome": "verified", "note": "ID card seen at branch 0101"},
                    headers=staff["teller1"])
    assert r.status_code == 200, r.text
    assert (r.json()["kyc_status"], r.json()["kyc_method"]) == ("verified", "branch_document_check")
    assert scalar(engine, "SELECT note FROM audit_log WHERE action = 'customer.kyc.verified'") == \
        "ID card seen at branch 0101"
    # verified once: a second verification or a late rejection is a conflict
    for outcome in ("verified", "rejected"):
        assert_error(client.post(f"{API}/customers/{cid}/kyc", json={"outcome": outcome},
                                 headers=staff["teller1"]), 409, "conflict")


def test_a_teller_rejects_an_identity_that_does_not_check_out(client, engine, staff):
    cid = client.post(f"{API}/customers", json=_body(), headers=staff["teller1"]).json()["id"]
    r = client.post(f"{API}/customers/{cid}/kyc", json={"outcome": "rejected", "note": "photo does not match"},
                    headers=staff["teller1"])
    assert r.status_code == 200 and r.json()["kyc_status"] == "rejected"
    assert_error(client.post(f"{API}/customers/{cid}/kyc", json={"outcome": "maybe"}, headers=staff["teller1"]),
                 422, "validation_error")

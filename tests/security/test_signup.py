"""Self-service sign-up through the API: validation, duplicates, and what a new customer gets."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from smartbank import clock
from smartbank.customers.validation import make_resident_id, resident_id_check_digit
from tests.api.support import API, assert_error, state

GOOD_ID = make_resident_id("110101", date(1990, 5, 17), 123)
X_ID = next(n for n in (make_resident_id("110101", date(1991, 3, 3), i) for i in range(1000)) if n.endswith("X"))


def _body(**kw):
    return {"name": "赵六", "id_number": GOOD_ID, "phone": "139 1234 5678", "email": "zhao@example.cn",
            "username": "zhao6", "password": "jade-harbour-71", **kw}


def _wrong_check_digit(number: str) -> str:
    return number[:17] + next(d for d in "0123456789X" if d != resident_id_check_digit(number[:17]))


def test_signup_creates_a_pending_customer_a_user_and_an_account(client, engine):
    r = client.post(f"{API}/auth/signup", json=_body())
    assert r.status_code == 201, r.text
    tok = r.json()
    assert tok["role"] == "customer" and tok["customer_id"] and tok["token"]
    h = {"Authorization": f"Bearer {tok['token']}"}
    me = client.get(f"{API}/auth/me", headers=h).json()
    assert me["username"] == "zhao6" and me["display_name"] == "赵六"
    accounts = client.get(f"{API}/accounts", headers=h).json()
    assert [(a["kind"], a["currency"], a["balance_minor"], a["status"]) for a in accounts] == [
        ("demand", "CNY", 0, "open")]
    c = client.get(f"{API}/customers/{tok['customer_id']}", headers=h).json()
    # the resident ID yields birth date and gender; the phone is stored normalised; nobody has checked the
    # identity document yet, so the customer's KYC is pending (a teller verifies it at a branch)
    assert (c["birth_date"], c["gender"], c["phone"], c["kyc_status"]) == ("1990-05-17", "M", "+8613912345678",
                                                                           "pending")


@pytest.mark.parametrize(("id_number", "words"), [
    (_wrong_check_digit(GOOD_ID), "check digit"),
    ("99" + GOOD_ID[2:], "region"),  # no such province
    (make_resident_id("110101", date(1990, 2, 1), 1)[:10] + "0230" + "001" + "X", "birth date"),  # 30 Feb
    (make_resident_id("110101", clock.today() + timedelta(days=30), 1), "birth date"),  # not born yet
    ("11010119900517123A", "17 digits"),
])
def test_bad_resident_id_is_422_with_a_clear_message(client, engine, id_number, words):
    before = state(engine)
    body = assert_error(client.post(f"{API}/auth/signup", json=_body(id_number=id_number)), 422, "validation_error")
    assert words in body["message"], body
    assert body["details"]["id_number"] == id_number
    assert state(engine) == before


@pytest.mark.parametrize("id_number", ["1101011990051712", GOOD_ID + "0", ""])
def test_resident_id_of_the_wrong_length_is_422_naming_the_field(client, engine, id_number):
    before = state(engine)
    body = assert_error(client.post(f"{API}/auth/signup", json=_body(id_number=id_number)), 422, "validation_error")
    assert [e["loc"] for e in body["details"]["errors"]] == [["body", "id_number"]]
    assert state(engine) == before


@pytest.mark.parametrize(("field", "value", "words"), [
    ("phone", "12345", "phone"),
    ("phone", "139123456789", "phone"),
    ("email", "not-an-address", "e-mail"),
    ("password", "passwordpassword", "letters and digits"),
    ("password", "1234567890", "letters and digits"),
    ("username", "has space", "username"),
    ("username", "中文名字", "username"),
    ("name", "   ", "name"),
])
def test_other_signup_fields_are_validated(client, engine, field, value, words):
    before = state(engine)
    body = assert_error(client.post(f"{API}/auth/signup", json=_body(**{field: value})), 422, "validation_error")
    text = (body["message"] + str(body["details"])).lower()
    assert words in text, body
    assert state(engine) == before


def test_duplicate_username_or_identity_is_409_and_writes_nothing(client, engine):
    assert client.post(f"{API}/auth/signup", json=_body()).status_code == 201
    before = state(engine)
    other_id = make_resident_id("310101", date(1980, 1, 1), 5)
    body = assert_error(client.post(f"{API}/auth/signup", json=_body(id_number=other_id)), 409, "conflict")
    assert "username" in body["message"]
    body = assert_error(client.post(f"{API}/auth/signup", json=_body(username="zhao7")), 409, "conflict")
    assert "identity document" in body["message"]
    # a number ending in X is the same number written with a lower-case x
    assert client.post(f"{API}/auth/signup", json=_body(id_number=X_ID, username="qian8")).status_code == 201
    before = state(engine)
    body = assert_error(client.post(f"{API}/auth/signup", json=_body(id_number=X_ID.lower(), username="qian9")), 409)
    assert "identity document" in body["message"]
    assert state(engine) == before  # the customer of a refused sign-up was rolled back too


@pytest.mark.commits
def test_concurrent_identical_signups_create_one_customer(client, engine, backend):
    """Two clicks on 'sign up' at once: one succeeds, the other is told it is a duplicate (never 500)."""
    from starlette.requests import Request

    from smartbank.api.routers.auth import post_signup
    from smartbank.api.schemas import SignupIn
    from smartbank.errors import Conflict

    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def go():
        barrier.wait()
        try:
            post_signup(SignupIn(**_body()), Request({"type": "http", "client": ("127.0.0.1", 1)}))
            outcomes.append("201")
        except Conflict:
            outcomes.append("409")
        except Exception as exc:  # noqa: BLE001 - anything else would be a 500
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["201", "409", "409", "409"], outcomes
    assert state(engine)["customers"] == 1 and state(engine)["users"] == 1

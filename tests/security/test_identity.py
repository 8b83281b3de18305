"""Strong identity: TOTP sign-in (enrolment, replay, drift, throttling), staff forced to enrol, recovery codes,
the secret encrypted at rest, step-up for a customer's high-risk changes and payments, password change, reset
by text message, sessions and devices, and the password policy."""

from __future__ import annotations

import json
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import text

from smartbank import clock, db
from smartbank.errors import ValidationFailed
from smartbank.security import keyring, mfa
from smartbank.security.password_policy import check_password_policy
from tests.api.support import API, assert_error, number, scalar
from tests.conftest import login, sms_code, totp_code

STRONG = "jade-harbour-71"


def _login(client, username: str, password: str = "passw0rd!", **headers):
    return client.post(f"{API}/auth/login", json={"username": username, "password": password}, headers=headers)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _enrol_customer(client, h) -> tuple[str, list[str]]:
    """A customer turns TOTP on through the API: (secret, recovery codes)."""
    r = client.post(f"{API}/auth/mfa/enrol", headers=h)
    assert r.status_code == 200, r.text
    secret, uri = r.json()["secret"], r.json()["otpauth_uri"]
    assert uri.startswith("otpauth://totp/smartbank:") and f"secret={secret}" in uri
    r = client.post(f"{API}/auth/mfa/confirm", headers=h, json={"code": pyotp.TOTP(secret).at(clock.now())})
    assert r.status_code == 200, r.text
    return secret, r.json()["recovery_codes"]


def _next_step(bank_clock) -> None:
    """Move the bank's clock to the start of the next 30-second step."""
    now = clock.now().timestamp()
    bank_clock.advance(timedelta(seconds=30 - now % 30 + 0.01))


@pytest.fixture
def alice(bank):
    cid = bank.customer("王芳", phone="13912345678")
    acct = bank.account(cid, balance=10_000_000)
    bank.user("alice", customer_id=cid)
    return {"customer_id": cid, "account": acct}


# --- TOTP sign-in -------------------------------------------------------------------------------------


def test_customer_enrols_then_signs_in_with_a_code_that_works_once(client, alice, engine, bank_clock):
    h = login(client, "alice")
    assert client.get(f"{API}/auth/mfa", headers=h).json() == {"enrolled": False, "required": False,
                                                              "recovery_codes_left": 0}
    secret, codes = _enrol_customer(client, h)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(f"{API}/auth/mfa", headers=h).json()["enrolled"] is True
    _next_step(bank_clock)
    r = _login(client, "alice")
    assert r.status_code == 200 and r.json()["status"] == "mfa_required" and "token" not in r.json()
    pending = r.json()["pending_token"]
    # the pending token is no session
    assert_error(client.get(f"{API}/auth/me", headers=_bearer(pending)), 401)
    code = pyotp.TOTP(secret).at(clock.now())
    ok = client.post(f"{API}/auth/login/mfa", json={"pending_token": pending, "code": code})
    assert ok.status_code == 200, ok.text
    assert client.get(f"{API}/auth/me", headers=_bearer(ok.json()["token"])).json()["username"] == "alice"
    # the pending token is spent, and the same code (same step) is never accepted again
    assert_error(client.post(f"{API}/auth/login/mfa", json={"pending_token": pending, "code": code}), 401)
    again = _login(client, "alice").json()["pending_token"]
    assert_error(client.post(f"{API}/auth/login/mfa", json={"pending_token": again, "code": code}), 401,
                 "mfa_invalid")
    # a sign-in with the second factor is on record as such
    with engine.connect() as c:
        afters = [r[0] for r in c.execute(text("SELECT after FROM audit_log WHERE action = 'auth.sign_in'"))]
    assert [a if isinstance(a, dict) else json.loads(a) for a in afters][-1]["second_factor"] == "totp"


def test_a_code_one_step_off_is_accepted_two_steps_off_is_not(client, alice, bank_clock):
    secret, _ = _enrol_customer(client, login(client, "alice"))
    totp = pyotp.TOTP(secret)
    _next_step(bank_clock)
    _next_step(bank_clock)  # two steps after the enrolment's code: the step before now is unused
    now = clock.now()
    for offset, ok in ((-60, False), (60, False), (-30, True)):
        pending = _login(client, "alice").json()["pending_token"]
        r = client.post(f"{API}/auth/login/mfa", json={"pending_token": pending,
                                                       "code": totp.at(now + timedelta(seconds=offset))})
        assert (r.status_code == 200) is ok, (offset, r.text)
    # after the step before now was used, a code of the step after now still works (drift either way)
    pending = _login(client, "alice").json()["pending_token"]
    r = client.post(f"{API}/auth/login/mfa", json={"pending_token": pending, "code": totp.at(now + timedelta(
        seconds=30))})
    assert r.status_code == 200, r.text


def test_wrong_codes_are_throttled(client, alice, bank_clock):
    _enrol_customer(client, login(client, "alice"))
    pending = _login(client, "alice").json()["pending_token"]
    for _ in range(5):
        assert_error(client.post(f"{API}/auth/login/mfa", json={"pending_token": pending, "code": "000000"}), 401)
    # blocked now, even for the right code
    r = client.post(f"{API}/auth/login/mfa", json={"pending_token": pending, "code": totp_code("alice")})
    assert_error(r, 429, "too_many_attempts")


def test_the_secret_is_encrypted_at_rest(client, alice, engine):
    secret, _ = _enrol_customer(client, login(client, "alice"))
    stored = scalar(engine, "SELECT secret_enc FROM user_mfa")
    assert secret not in stored
    assert keyring.decrypt_text(stored, context=mfa.SECRET_CONTEXT) == secret
    with pytest.raises(keyring.DecryptionError):
        keyring.decrypt_text(stored, context="customers.phone")


def test_staff_are_made_to_enrol_at_their_first_sign_in(client, bank, engine):
    bank.user("teller1", role="teller")
    r = _login(client, "teller1")
    body = r.json()
    assert r.status_code == 200 and body["status"] == "mfa_enrolment_required"
    assert body["otpauth_uri"].startswith("otpauth://totp/") and body["secret"]
    assert_error(client.get(f"{API}/auth/me", headers=_bearer(body["pending_token"])), 401)
    bad = client.post(f"{API}/auth/login/enrol", json={"pending_token": body["pending_token"], "code": "123456"})
    assert_error(bad, 401, "mfa_invalid")
    ok = client.post(f"{API}/auth/login/enrol", json={"pending_token": body["pending_token"],
                                                      "code": pyotp.TOTP(body["secret"]).at(clock.now())})
    assert ok.status_code == 200 and len(ok.json()["recovery_codes"]) == 10
    assert client.get(f"{API}/auth/me", headers=_bearer(ok.json()["token"])).json()["role"] == "teller"
    # from now on a code is asked for; staff cannot switch it off
    assert _login(client, "teller1").json()["status"] == "mfa_required"
    h = _bearer(ok.json()["token"])
    assert_error(client.post(f"{API}/auth/mfa/disable", headers=h, json={"password": "passw0rd!",
                                                                         "code": "123456"}), 403)
    assert scalar(engine, "SELECT count(*) FROM audit_log WHERE action = 'auth.mfa_enrolled'") == 1


def test_recovery_codes_each_work_once(client, alice, engine):
    _, codes = _enrol_customer(client, login(client, "alice"))
    pending = _login(client, "alice").json()["pending_token"]
    r = client.post(f"{API}/auth/login/mfa", json={"pending_token": pending, "code": codes[0].upper()})
    assert r.status_code == 200, r.text
    assert client.get(f"{API}/auth/mfa", headers=_bearer(r.json()["token"])).json()["recovery_codes_left"] == 9
    pending = _login(client, "alice").json()["pending_token"]
    assert_error(client.post(f"{API}/auth/login/mfa", json={"pending_token": pending, "code": codes[0]}), 401)
    assert scalar(engine, "SELECT count(*) FROM audit_log WHERE action = 'auth.recovery_code_used'") == 1


def test_recovery_codes_are_stored_hashed_and_renewed_against_a_code(client, alice, engine, bank_clock):
    h = login(client, "alice")
    _, codes = _enrol_customer(client, h)
    with engine.connect() as c:
        stored = [r[0] for r in c.execute(text("SELECT code_hash FROM user_recovery_codes"))]
    assert len(stored) == 10 and not {x.replace("-", "") for x in codes} & set(stored)
    _next_step(bank_clock)
    r = client.post(f"{API}/auth/mfa/recovery-codes", headers=h, json={"code": totp_code("alice")})
    assert r.status_code == 200 and not set(r.json()["recovery_codes"]) & set(codes)


def test_a_customer_turns_the_second_factor_off_with_password_and_code(client, alice, bank_clock):
    h = login(client, "alice")
    _enrol_customer(client, h)
    _next_step(bank_clock)
    assert_error(client.post(f"{API}/auth/mfa/disable", headers=h,
                             json={"password": "wrong-pass1", "code": totp_code("alice")}), 422)
    _next_step(bank_clock)
    r = client.post(f"{API}/auth/mfa/disable", headers=h, json={"password": "passw0rd!", "code": totp_code("alice")})
    assert r.status_code == 204, r.text
    assert _login(client, "alice").json()["status"] == "signed_in"


# --- step-up -------------------------------------------------------------------------------------------


def test_phone_change_needs_a_text_message_code_sent_to_the_old_number(client, alice, engine, sms_outbox):
    h = login(client, "alice")
    r = client.post(f"{API}/auth/phone", headers=h, json={"phone": "13800001111"})
    body = assert_error(r, 403, "challenge_required")
    assert body["details"]["method"] == "sms" and body["details"]["sent_to"] == "139****5678"
    code = sms_code(sms_outbox, "+8613912345678")
    assert_error(client.post(f"{API}/auth/phone", headers=h, json={"phone": "13800001111",
                                                                   "step_up_code": "000000"}), 422)
    ok = client.post(f"{API}/auth/phone", headers=h, json={"phone": "13800001111", "step_up_code": code})
    assert ok.status_code == 200 and ok.json()["phone"] == "138****1111", ok.text
    # the code is spent
    assert_error(client.post(f"{API}/auth/phone", headers=h, json={"phone": "13800002222",
                                                                   "step_up_code": code}), 422)
    row = scalar(engine, "SELECT after FROM audit_log WHERE action = 'customer.phone_changed'")
    after = row if isinstance(row, dict) else json.loads(row)
    assert after == {"phone": "138****1111", "step_up": "sms"}


def test_raising_the_daily_limit_needs_the_authenticator_code_when_enrolled(client, alice, sms_outbox, bank_clock):
    h = login(client, "alice")
    _enrol_customer(client, h)
    # lowering: at once
    r = client.post(f"{API}/auth/daily-limit", headers=h, json={"limit_minor": 1_000_00})
    assert r.status_code == 200 and r.json()["daily_limit_minor"] == 1_000_00
    # raising: a code from the app (no text message)
    body = assert_error(client.post(f"{API}/auth/daily-limit", headers=h, json={"limit_minor": 80_000_00}), 403,
                        "challenge_required")
    assert body["details"]["method"] == "totp" and sms_outbox.sent == []
    _next_step(bank_clock)
    r = client.post(f"{API}/auth/daily-limit", headers=h, json={"limit_minor": 80_000_00,
                                                               "step_up_code": totp_code("alice")})
    assert r.status_code == 200 and r.json()["daily_limit_minor"] == 80_000_00
    assert_error(client.post(f"{API}/auth/daily-limit", headers=h, json={"limit_minor": 10**12}), 422)


def test_a_large_payment_to_a_payee_saved_today_asks_for_the_authenticator_code(client, alice, bank, engine,
                                                                                  sms_outbox, bank_clock):
    h = login(client, "alice")
    _enrol_customer(client, h)
    to = number(engine, bank.account(bank.customer("李娜")))
    assert client.post(f"{API}/payees", headers=h, json={"name": "李娜", "account_number": to}).status_code == 201
    pay = {"from_account_id": alice["account"], "to_account_number": to, "amount_minor": 600_000,
           "idempotency_key": "big"}
    small = client.post(f"{API}/transfers", headers=h, json={**pay, "amount_minor": 10_000, "idempotency_key": "s"})
    assert small.status_code == 201, small.text
    body = assert_error(client.post(f"{API}/transfers", headers=h, json=pay), 403, "challenge_required")
    assert body["details"]["method"] == "totp" and sms_outbox.sent == []
    assert "step_up:new_payee" in str(body) or "saved less than a day ago" in str(body)
    _next_step(bank_clock)
    ok = client.post(f"{API}/transfers", headers=h, json={**pay, "challenge_id": body["details"]["challenge_id"],
                                                          "otp": totp_code("alice")})
    assert ok.status_code == 201, ok.text
    # a day later the payee is no longer new: the same payment goes through at once
    bank_clock.advance(timedelta(hours=25))
    later = client.post(f"{API}/transfers", headers=login(client, "alice"), json={**pay, "idempotency_key": "later"})
    assert later.status_code == 201, later.text
    bank.assert_invariants()


# --- passwords -----------------------------------------------------------------------------------------


def test_password_change_ends_the_other_sessions(client, alice):
    h1, h2 = login(client, "alice"), login(client, "alice")
    assert_error(client.post(f"{API}/auth/password", headers=h1,
                             json={"current_password": "nope-nope-1", "new_password": STRONG}), 422)
    weak = client.post(f"{API}/auth/password", headers=h1, json={"current_password": "passw0rd!",
                                                                 "new_password": "password123"})
    assert_error(weak, 422, "validation_error")
    r = client.post(f"{API}/auth/password", headers=h1, json={"current_password": "passw0rd!",
                                                              "new_password": STRONG})
    assert r.status_code == 200 and r.json()["sessions_ended"] == 1
    assert client.get(f"{API}/auth/me", headers=h1).status_code == 200
    assert_error(client.get(f"{API}/auth/me", headers=h2), 401)
    assert _login(client, "alice", STRONG).status_code == 200
    assert_error(_login(client, "alice"), 401)


def test_password_reset_by_text_message_without_revealing_who_exists(client, alice, bank, engine, sms_outbox):
    bank.user("teller1", role="teller")
    h = login(client, "alice")
    answers = {u: client.post(f"{API}/auth/password-reset", json={"username": u})
               for u in ("alice", "nobody", "teller1")}
    assert {r.status_code for r in answers.values()} == {202}
    assert len({r.text for r in answers.values()}) == 1
    (msg,) = sms_outbox.sent  # only alice, a customer with a phone on file, gets a code
    assert msg.phone == "+8613912345678"
    code = sms_code(sms_outbox)
    bad = client.post(f"{API}/auth/password-reset/confirm", json={"username": "alice", "code": "000000",
                                                                   "new_password": STRONG})
    assert_error(bad, 422, "reset_invalid")
    none = client.post(f"{API}/auth/password-reset/confirm", json={"username": "nobody", "code": code,
                                                                    "new_password": STRONG})
    assert none.json()["message"] == bad.json()["message"]
    ok = client.post(f"{API}/auth/password-reset/confirm", json={"username": "alice", "code": code,
                                                                  "new_password": STRONG})
    assert ok.status_code == 204, ok.text
    assert_error(client.get(f"{API}/auth/me", headers=h), 401)  # the reset ended every session
    assert _login(client, "alice", STRONG).status_code == 200
    again = client.post(f"{API}/auth/password-reset/confirm", json={"username": "alice", "code": code,
                                                                     "new_password": "other-harbour-72"})
    assert_error(again, 422)  # the code was used
    assert scalar(engine, "SELECT count(*) FROM audit_log WHERE action = 'auth.password_reset'") == 1


def test_password_reset_requests_are_throttled(client, alice, sms_outbox):
    codes = [client.post(f"{API}/auth/password-reset", json={"username": "alice"}).status_code for _ in range(6)]
    assert codes[:5] == [202] * 5 and codes[5] == 429


# --- sessions and devices ------------------------------------------------------------------------------


def test_sessions_are_listed_with_their_device_and_can_be_ended(client, alice):
    h1 = login(client, "alice")
    r = _login(client, "alice", **{"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1"})
    h2 = _bearer(r.json()["token"])
    listed = client.get(f"{API}/auth/sessions", headers=h1).json()
    assert len(listed) == 2 and [s["current"] for s in listed].count(True) == 1
    other = next(s for s in listed if not s["current"])
    assert "iPhone" in other["user_agent"] and other["address"] == "testclient"
    assert client.delete(f"{API}/auth/sessions/{other['id']}", headers=h1).status_code == 204
    assert_error(client.get(f"{API}/auth/me", headers=h2), 401)
    assert len(client.get(f"{API}/auth/sessions", headers=h1).json()) == 1
    assert_error(client.delete(f"{API}/auth/sessions/{'f' * 16}", headers=h1), 404)


def test_an_address_is_kept_coarse():
    from smartbank.security import service as security

    assert security.coarse_address("203.0.113.77") == "203.0.113.0/24"
    assert security.coarse_address("2001:db8:1:2:3:4:5:6") == "2001:db8:1::/48"
    assert security.coarse_address("::ffff:198.51.100.9") == "198.51.100.0/24"


# --- the password policy -------------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "rule"), [
    ("short1", "length"),
    ("onlylettershere", "letters_and_digits"),
    ("12345678901", "letters_and_digits"),
    ("zhangwei-2026x", "user_name"),
    ("password123", "common"),
    ("Qwerty12345!", "common"),
    ("aaaaaaaaaa1", "guessable"),
])
def test_the_password_policy_refuses(password, rule):
    with pytest.raises(ValidationFailed) as err:
        check_password_policy(password, username="zhangwei")
    assert err.value.details["rule"] == rule


@pytest.mark.parametrize("password", [STRONG, "Lotus-river-2026", "correct horse battery 9"])
def test_the_password_policy_accepts(password):
    check_password_policy(password, username="zhangwei")


def test_the_demo_code_command_prints_the_current_code(client, bank, engine):
    from typer.testing import CliRunner

    from smartbank.cli.main import app as cli
    from smartbank.security import service as security

    uid = bank.user("teller1", role="teller")
    with db.session_scope(engine) as s:
        security.enrol_demo_mfa(s, security.find_user(s, uid))
    r = CliRunner().invoke(cli, ["user", "totp", "teller1"])
    assert r.exit_code == 0, r.output
    assert totp_code("teller1") in r.output and "demo only" in r.output

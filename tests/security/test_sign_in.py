"""Passwords, sign-in throttling and sessions, through the API (the production argon2id parameters are checked
by the test marked real_argon2; the others hash cheaply, as everywhere in the suite)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from smartbank import clock, config, db
from smartbank.errors import NotAuthenticated, TooManyAttempts
from smartbank.security import passwords
from smartbank.security import service as security
from smartbank.security.models import AuthSession
from tests.api.support import API, assert_error, scalar
from tests.conftest import login


def _user_row(engine, username):
    with engine.connect() as c:
        return c.execute(text("SELECT id, password_hash, failed_logins, locked_until FROM users WHERE username = :u"),
                         {"u": username}).one()


def _login(client, username, password):
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


@pytest.mark.real_argon2
def test_passwords_are_stored_as_argon2id(bank, engine):
    c = bank.customer()
    bank.user("alice", "passw0rd!", customer_id=c)
    h = _user_row(engine, "alice").password_hash
    assert h.startswith("$argon2id$v=19$m=65536,t=3,p=2$")
    assert "passw0rd!" not in h
    assert passwords.verify_password(h, "passw0rd!")
    assert not passwords.verify_password(h, "passw0rd?")
    assert not passwords.verify_password("not a hash", "passw0rd!")
    # two users with the same password get different salts
    bank.user("bob", "passw0rd!", customer_id=bank.customer())
    assert _user_row(engine, "bob").password_hash != h


def _from(client, address: str):
    """Another caller of the same app, at ``address``."""
    from fastapi.testclient import TestClient

    return TestClient(client.app, client=(address, 50000), raise_server_exceptions=False)


def _failures(engine, key_prefix: str) -> int:
    return scalar(engine, "SELECT COALESCE(sum(failures), 0) FROM login_throttle WHERE key LIKE :k", k=key_prefix + "%")


def test_failures_throttle_that_name_from_that_address_only(client, bank, engine, bank_clock):
    """Five wrong passwords from one address block that (name, address) pair - even the right password,
    with the time to wait - but the customer still signs in from their own address."""
    bank.user("alice", customer_id=bank.customer())
    limit = config.get_settings().login_max_failures
    for n in range(1, limit + 1):
        assert_error(_login(client, "alice", f"wrong-{n}"), 401, "not_authenticated")
        # the failed request raised, yet its counters were committed
        assert _failures(engine, "a:testclient") == n
    body = assert_error(_login(client, "alice", "passw0rd!"), 429, "too_many_attempts")
    minutes = config.get_settings().login_lock_minutes
    assert 0 < body["details"]["retry_after_seconds"] <= minutes * 60
    assert_error(_login(client, "alice", "wrong-again"), 429, "too_many_attempts")
    # the stranger's failures do not lock the customer out: her own address signs in
    assert _login(_from(client, "198.51.100.7"), "alice", "passw0rd!").status_code == 200
    # once the block has passed, the right password works from the first address too
    bank_clock.advance(timedelta(minutes=minutes, seconds=1))
    assert _login(client, "alice", "passw0rd!").status_code == 200
    assert scalar(engine, "SELECT failed_logins FROM users WHERE username = 'alice'") == 0  # no per-user lock


def test_known_and_unknown_names_are_throttled_alike(client, bank):
    bank.user("alice", customer_id=bank.customer())
    limit = config.get_settings().login_max_failures
    known = [_login(client, "alice", f"wrong-{n}") for n in range(limit + 2)]
    unknown = [_login(client, "nobody", f"wrong-{n}") for n in range(limit + 2)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * limit + [429, 429]
    for a, b in zip(known, unknown, strict=True):
        ba, bb = a.json(), b.json()
        assert (ba["code"], ba["message"], set(ba["details"])) == (bb["code"], bb["message"], set(bb["details"]))


def test_success_resets_the_counter(client, bank, engine):
    bank.user("alice", customer_id=bank.customer())
    limit = config.get_settings().login_max_failures
    for _ in range(limit - 1):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", "passw0rd!").status_code == 200
    assert _failures(engine, "u:") == 0
    for _ in range(limit - 1):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", "passw0rd!").status_code == 200  # still not blocked


def test_one_address_trying_many_names_is_throttled(client, bank, monkeypatch):
    """Password spraying: one address, one guess per name. After the per-address limit the address is
    refused for every name, the right password included; other addresses are not affected."""
    monkeypatch.setenv("SMARTBANK_LOGIN_ADDRESS_MAX_FAILURES", "6")
    config.reset_settings()
    bank.user("alice", customer_id=bank.customer())
    sprayer = _from(client, "203.0.113.5")
    for n in range(6):
        assert_error(_login(sprayer, f"user{n}", "123456"), 401, "not_authenticated")
    assert_error(_login(sprayer, "user99", "123456"), 429, "too_many_attempts")
    assert_error(_login(sprayer, "alice", "passw0rd!"), 429, "too_many_attempts")
    assert _login(client, "alice", "passw0rd!").status_code == 200
    # an IPv6 client is one /64: the next address in the block is the same client
    v6 = _from(client, "2001:db8:1:2::1")
    for n in range(6):
        _login(v6, f"user{n}", "123456")
    assert_error(_login(_from(client, "2001:db8:1:2::ffff"), "alice", "passw0rd!"), 429, "too_many_attempts")
    assert _login(_from(client, "2001:db8:1:3::1"), "alice", "passw0rd!").status_code == 200


def test_many_failures_bank_wide_tighten_the_limits_without_locking_anyone_out(client, bank, monkeypatch):
    monkeypatch.setenv("SMARTBANK_LOGIN_GLOBAL_MAX_FAILURES", "8")
    config.reset_settings()
    bank.user("alice", customer_id=bank.customer())
    for n in range(8):  # a botnet: one guess at alice from each of eight addresses
        assert_error(_login(_from(client, f"192.0.2.{n + 1}"), "alice", "wrong"), 401)
    # under attack: a new address gets two failures for a name instead of five
    bot = _from(client, "192.0.2.100")
    assert_error(_login(bot, "alice", "wrong"), 401)
    assert_error(_login(bot, "alice", "wrong"), 401)
    assert_error(_login(bot, "alice", "passw0rd!"), 429, "too_many_attempts")
    # the customer, from her own address, still signs in
    assert _login(_from(client, "198.51.100.7"), "alice", "passw0rd!").status_code == 200


@pytest.mark.commits
def test_concurrent_failures_cannot_outrun_the_limit(client, bank, engine, backend):
    """Parallel wrong guesses must all be counted: otherwise an attacker gets more than
    ``login_max_failures`` guesses by sending them at the same time."""
    from smartbank.api.routers.auth import login as api_login

    bank.user("alice", customer_id=bank.customer())
    limit = config.get_settings().login_max_failures
    outcomes: list[str] = []
    barrier = threading.Barrier(limit * 2)

    def guess(i):
        barrier.wait()
        try:
            api_login("alice", f"wrong-{i}", address="testclient")
            outcomes.append("ok")
        except NotAuthenticated:
            outcomes.append("401")
        except TooManyAttempts:
            outcomes.append("429")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(limit * 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "ok" not in outcomes
    assert outcomes.count("401") <= limit, outcomes  # no more password checks than the limit allows
    assert_error(_login(client, "alice", "passw0rd!"), 429, "too_many_attempts")


def test_sessions_expire_slide_and_sign_out(client, bank, engine):
    bank.user("alice", customer_id=bank.customer())
    h1, h2 = login(client, "alice"), login(client, "alice")
    assert client.get(f"{API}/auth/me", headers=h1).json()["username"] == "alice"
    # only the token's hash is stored
    t1 = h1["Authorization"].split(" ", 1)[1]
    assert scalar(engine, "SELECT count(*) FROM auth_sessions WHERE token_hash = :t", t=t1) == 0

    # sliding expiry: a session in the second half of its life is extended on use
    minutes = config.get_settings().session_minutes
    soon = clock.now() + timedelta(minutes=minutes / 4)
    with engine.begin() as c:
        c.execute(text("UPDATE auth_sessions SET expires_at = :t"), {"t": soon})
    assert client.get(f"{API}/auth/me", headers=h1).status_code == 200
    with db.session_scope(engine) as s:
        exp = max(security._aware(x) for x in s.scalars(select(AuthSession.expires_at)))
    assert exp > clock.now() + timedelta(minutes=minutes * 0.9)

    # sign-out revokes this token only
    r = client.post(f"{API}/auth/logout", headers=h1)
    assert r.status_code == 204
    assert_error(client.get(f"{API}/auth/me", headers=h1), 401, "not_authenticated")
    assert_error(client.post(f"{API}/auth/logout", headers=h1), 401, "not_authenticated")
    assert client.get(f"{API}/auth/me", headers=h2).status_code == 200

    # an expired session is refused with its own code, and using it does not revive it
    with db.session_scope(engine) as s:
        security.expire_token_now(s, h2["Authorization"].split(" ", 1)[1])
    for _ in range(2):
        assert_error(client.get(f"{API}/auth/me", headers=h2), 401, "session_expired")


def test_disabled_user_cannot_sign_in_or_use_a_session(client, bank, engine):
    bank.user("alice", customer_id=bank.customer())
    h = login(client, "alice")
    with engine.begin() as c:
        c.execute(text("UPDATE users SET is_active = false WHERE username = 'alice'"))
    assert_error(client.get(f"{API}/auth/me", headers=h), 401, "not_authenticated")
    assert_error(_login(client, "alice", "passw0rd!"), 401, "not_authenticated")


def test_staff_flag_of_sign_in(client, bank, engine):
    """The API has one sign-in for everybody: /auth/login passes staff=None, so bank staff sign in
    there too and get a token carrying their role (the role checks then decide what they may do).
    The web entry points pass staff=True (operator console) or staff=False (customer portal)."""
    bank.user("teller1", role="teller")
    bank.user("alice", customer_id=bank.customer())
    r = _login(client, "teller1", "passw0rd!")  # staff: a second factor first (enrolled at this first sign-in)
    assert r.status_code == 200 and r.json()["status"] == "mfa_enrolment_required" and "role" not in r.json()
    me = client.get(f"{API}/auth/me", headers=login(client, "teller1")).json()
    assert me["role"] == "teller" and me["customer_id"] is None
    # the service refuses the wrong population when asked to, without counting it as a failure
    with db.session_scope(engine) as s:
        with pytest.raises(NotAuthenticated, match="operator console"):
            security.sign_in(s, username="teller1", password="passw0rd!", staff=False)
        with pytest.raises(NotAuthenticated, match="bank staff"):
            security.sign_in(s, username="alice", password="passw0rd!", staff=True)
    assert _failures(engine, "") == 0

"""Passwords, sign-in throttling and sessions, through the API (real argon2id parameters here)."""

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


def test_failures_lock_the_user_and_the_counter_survives_each_failed_request(client, bank, engine):
    bank.user("alice", customer_id=bank.customer())
    limit = config.get_settings().login_max_failures
    for n in range(1, limit):
        assert_error(_login(client, "alice", f"wrong-{n}"), 401, "not_authenticated")
        # the failed request raised, yet its counter was committed
        assert _user_row(engine, "alice").failed_logins == n
    assert _user_row(engine, "alice").locked_until is None
    assert_error(_login(client, "alice", "wrong-last"), 401, "not_authenticated")
    row = _user_row(engine, "alice")
    assert row.locked_until is not None
    # locked: even the right password is refused, with the time to wait
    body = assert_error(_login(client, "alice", "passw0rd!"), 429, "too_many_attempts")
    minutes = config.get_settings().login_lock_minutes
    assert 0 < body["details"]["retry_after_seconds"] <= minutes * 60
    assert_error(_login(client, "alice", "wrong-again"), 429, "too_many_attempts")
    # once the lock has passed, the right password works and clears the state
    with engine.begin() as c:
        c.execute(text("UPDATE users SET locked_until = :t WHERE username = 'alice'"),
                  {"t": clock.now() - timedelta(seconds=1)})
    assert _login(client, "alice", "passw0rd!").status_code == 200
    row = _user_row(engine, "alice")
    assert (row.failed_logins, row.locked_until) == (0, None)


def test_success_resets_the_counter(client, bank, engine):
    bank.user("alice", customer_id=bank.customer())
    limit = config.get_settings().login_max_failures
    for _ in range(limit - 1):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", "passw0rd!").status_code == 200
    assert _user_row(engine, "alice").failed_logins == 0
    for _ in range(limit - 1):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", "passw0rd!").status_code == 200  # still not locked


def test_unknown_user_and_wrong_password_look_the_same(client, bank):
    bank.user("alice", customer_id=bank.customer())
    a = assert_error(_login(client, "alice", "wrong"), 401, "not_authenticated")
    b = assert_error(_login(client, "nobody", "wrong"), 401, "not_authenticated")
    assert a == b


def test_concurrent_failures_cannot_outrun_the_lock(client, bank, engine, backend):
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
            api_login("alice", f"wrong-{i}")
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
    r = _login(client, "teller1", "passw0rd!")
    assert r.status_code == 200 and r.json()["role"] == "teller" and r.json()["customer_id"] is None
    me = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
    assert me["role"] == "teller"
    # the service refuses the wrong population when asked to, without counting it as a failure
    with db.session_scope(engine) as s:
        with pytest.raises(NotAuthenticated, match="operator console"):
            security.sign_in(s, username="teller1", password="passw0rd!", staff=False)
        with pytest.raises(NotAuthenticated, match="bank staff"):
            security.sign_in(s, username="alice", password="passw0rd!", staff=True)
    assert _user_row(engine, "teller1").failed_logins == 0
    assert _user_row(engine, "alice").failed_logins == 0

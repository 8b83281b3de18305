"""Helpers for the web tests: sign in through the real forms, read CSRF tokens and form values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pyotp
import pytest

from smartbank import clock, db
from smartbank.ledger.models import Account
from tests.conftest import totp_code

PASSWORD = "passw0rd!"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_token(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


_TAG = re.compile(r"<[^>]+>")
_KEYLIKE = re.compile(r"\b[a-z][a-z_]*\.[a-z_][a-z_.]*\b")


def raw_keys(html: str) -> list[str]:
    """Message keys that leaked into the visible text untranslated (``nav.home`` and the like)."""
    return _KEYLIKE.findall(_TAG.sub(" ", html.split("<body", 1)[-1]))


def hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert m, f"no field {name}"
    return m.group(1)


def post_form(client, page: str, action: str, data: dict, **kw):
    """GET ``page`` (for its CSRF token), then POST ``data`` to ``action`` as a browser would."""
    html = client.get(page).text
    return client.post(action, data={**data, "csrf_token": csrf_token(html)}, follow_redirects=False, **kw)


_SECRET = re.compile(r'id="mfa-secret">([A-Z2-7]+)<')


def sign_in(client, username: str, password: str = PASSWORD, *, console: bool = False):
    """Sign in through the forms, the second step included: a staff member without a second factor enrols
    one from the secret the enrolment page shows; one with a factor types its current code."""
    path = "/console/login" if console else "/login"
    r = post_form(client, path, path, {"username": username, "password": password})
    assert r.status_code == 303, r.text
    step = r.headers["location"].split("?")[0]
    if step.endswith("/login/enrol"):
        html = client.get(r.headers["location"]).text
        code = pyotp.TOTP(_SECRET.search(html).group(1)).at(clock.now())
        r = client.post(step, data={"code": code, "csrf_token": csrf_token(html)}, follow_redirects=False)
        assert r.status_code == 200 and "recovery-codes" in r.text, r.text
        r.headers["location"] = re.search(r'id="codes-continue" href="([^"]+)"', r.text).group(1)
    elif step.endswith("/login/mfa"):
        r = post_form(client, r.headers["location"], step, {"code": totp_code(username)})
        assert r.status_code == 303, r.text
    return r


def account_number(engine, account_id: int) -> str:
    with db.session_scope(engine) as s:
        return s.get(Account, account_id).number


@lru_cache(maxsize=1)
def _password_hash() -> str:
    from smartbank.security.passwords import hash_password

    return hash_password(PASSWORD)


def make_user(engine, username: str, *, role: str = "customer", customer_id: int | None = None) -> int:
    """Like ``bank.user`` but reusing one argon2 hash of PASSWORD, which keeps these tests quick."""
    from smartbank.security import service as security

    with db.session_scope(engine) as s:
        return security.create_user(s, username=username, password=PASSWORD, role=role, customer_id=customer_id,
                                    password_hash=_password_hash()).id


@dataclass
class People:
    alice: int
    bob: int
    alice_acct: int
    alice_savings: int
    bob_acct: int
    bob_number: str


@pytest.fixture
def people(bank, engine) -> People:
    alice = bank.customer("王芳")
    bob = bank.customer("李娜")
    a1 = bank.account(alice, balance=100_000)
    a2 = bank.account(alice, kind="savings", balance=5_000)
    b1 = bank.account(bob, balance=1_000)
    make_user(engine, "alice", customer_id=alice)
    make_user(engine, "bob", customer_id=bob)
    make_user(engine, "teller1", role="teller")
    make_user(engine, "market1", role="marketer")
    return People(alice=alice, bob=bob, alice_acct=a1, alice_savings=a2, bob_acct=b1,
                  bob_number=account_number(engine, b1))

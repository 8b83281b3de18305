"""The permission matrix: every API operation and web route, for every role, against the one table in the code
(:mod:`smartbank.security.permissions`).

* Every route the app serves has an entry in ``ROUTES`` (and every entry is a route): a new route without one
  fails here, and is refused at run time until it has one.
* For each role (each staff role, a customer, and an anonymous caller) every operation is called over HTTP
  and the outcome must be the one the table predicts: admitted -> anything but 401/403 (and, for a page, not
  a redirect to sign in); refused -> 401, 403 or 404 (a page: a redirect to sign in, the web's 401). The calls
  name real objects of one seeded bank (the customer's own), so an admitted call reaches the service, whose
  own permission check must agree with the table.

One bank is seeded per module (SQLite is enough here: the permission checks do not depend on the database;
``tests/security/test_customer_data_access.py`` runs the personal-data rules on both databases).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smartbank import clock, config, db
from smartbank.api.app import create_app
from smartbank.http.access import walk_routes
from smartbank.security import passwords, permissions
from smartbank.security.models import ROLES
from smartbank.web import nav
from tests import databases
from tests.api import test_authorization as seeded
from tests.conftest import CHEAP_HASHER, TEST_NOW, Bank, _forget_process_caches, login

USERS = {"customer": "alice", "teller": "teller1", "loan_officer": "loan1", "risk_officer": "risk1",
         "marketer": "mark1", "service_agent": "agent1", "admin": "admin1", "anonymous": None}
CSRF_SEED = "s" * 32
# the sign-in forms are open to anyone: called with real credentials, they sign in (a wrong password is 401)
SIGN_IN = {"/login": {"username": "alice", "password": "passw0rd!"},
           "/console/login": {"username": "teller1", "password": "passw0rd!"}}
# public operations that carry their own credential instead of a session (a signed body): called unsigned, every
# role gets 401 from that check
SIGNED = {("POST", "/api/v1/opinion/webhook")}


def app_routes() -> list[tuple[str, str]]:
    return sorted({(m, p) for m, p, _ in walk_routes(create_app().routes)})


def test_every_route_has_an_entry_in_the_table_and_every_entry_is_a_route():
    served = {f"{m} {p}" for m, p in app_routes()}
    assert len(served) > 250
    assert sorted(served - permissions.ROUTES.keys()) == [], "routes without an entry in permissions.ROUTES"
    assert sorted(permissions.ROUTES.keys() - served) == [], "entries in permissions.ROUTES for no route"


def test_the_table_names_known_permissions_and_roles():
    special = (permissions.PUBLIC, permissions.SIGNED_IN, permissions.STAFF)
    for key, access in permissions.ROUTES.items():
        assert access in special or all(p in permissions.PERMISSIONS for p in access), key
    for name, roles in permissions.PERMISSIONS.items():
        assert roles and roles <= set(ROLES), name
    # identity details, their break-glass reveal, identity verification and the counter's privacy tasks (consent
    # signed at a branch, corrections of a customer's record) are the only things an administrator does not hold
    assert sorted(p for p, roles in permissions.PERMISSIONS.items() if "admin" not in roles) == [
        "customer.consent.record", "customer.kyc.verify", "customer.pii.read", "customer.pii.reveal",
        "privacy.requests.resolve", "self.service"]
    assert "marketer" not in permissions.route_roles(permissions.ROUTES["GET /api/v1/customers/{customer_id}"])


def test_the_console_navigation_is_the_table():
    """A console page is listed for exactly the roles the table admits to it (no separate role lists)."""
    items = [i for i in nav.all_items() if i.path.startswith("/console")]
    assert items
    for item in items:
        assert f"GET {item.path}" in permissions.ROUTES, item.path


# ---------------------------------------------------------------------------------------------------------
# one seeded bank for the module


@dataclass
class Matrix:
    client: TestClient
    tokens: dict[str, str]  # role -> session token
    spare: dict[str, str]  # role -> a second token, for the sign-out routes
    subs: dict[str, Any]
    transfer_body: dict[str, Any]


@pytest.fixture(scope="module")
def matrix(_databases, app) -> Iterator[Matrix]:
    url = (_databases.get("sqlite") or next(iter(_databases.values()))).url
    with pytest.MonkeyPatch.context() as mp, clock.use(clock.TickingClock(TEST_NOW)):
        mp.setenv("SMARTBANK_DATABASE_URL", url)
        mp.setenv("SMARTBANK_LOG_JSON", "false")
        mp.setattr(passwords, "_hasher", lambda: CHEAP_HASHER)  # module-scoped: before the autouse cheap_argon2
        mp.setattr(passwords, "_DUMMY", [])
        config.reset_settings()
        _forget_process_caches()
        engine = db.get_engine(url)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                yield _seed(client, Bank(engine))
        finally:
            databases.empty_tables(engine)
            _forget_process_caches()
            config.reset_settings()


def _seed(client: TestClient, bank: Bank) -> Matrix:
    """The bank of the object-level authorisation tests (alice's accounts, payments, loans, orders, plans,
    conversations, risk cases...), with a loan officer and a service agent added."""
    w = seeded._world(client, bank, bank.engine)
    lending, loan, wealth = seeded._lending(w), seeded._loan(w), seeded._wealth(w)
    plan, chat, faq, handed = seeded._robo(w), seeded._chat(w), seeded._faq_entry(w), seeded._handed(w)
    bank.user("loan1", role="loan_officer")
    bank.user("agent1", role="service_agent")
    tokens, spare = {}, {}
    for role, user in USERS.items():
        if user:
            tokens[role] = login(client, user)["Authorization"][7:]
            spare[role] = login(client, user)["Authorization"][7:]
    today = clock.today()
    subs = {"customer_id": w.alice, "account_id": w.a1, "transfer_id": w.transfer, "payee_id": w.payee,
            "scheduled_id": w.scheduled, "alert_id": w.alert, "limit_id": w.limit, "warning_id": w.warning,
            "notification_id": w.notification, "loan_id": loan, "order_id": wealth["get"], "plan_id": plan,
            "year": today.year, "month": today.month, "lang": "zh", "state": "off",
            "_review": lending["review"], "_application": lending["accept"], "_faq": faq, "_risk": w.risk,
            "reversal_request_id": 1, "request_id": 1, "change_id": 10**6,  # none exists: an admitted role gets 404
            "campaign_id": 10**6,  # none exists: an admitted role gets 404
            "session_id": "0" * 16, "user_id": 1, "run_id": 10**6,
            "_handed": handed, "_chat": chat,
            # marketing contact: none exists (an admitted role gets 404); a policy scope
            "dnd_id": 10**6, "message_id": 10**6, "token": "1.0", "channel": "sms"}
    body = {"from_account_id": w.a1, "to_account_number": w.nb1, "amount_minor": 100, "currency": "CNY",
            "idempotency_key": "matrix"}
    return Matrix(client, tokens, spare, subs, body)


# ---------------------------------------------------------------------------------------------------------
# calling every operation


CODES = (("/insight/tags", "bill_payer"), ("/risk/rules", "large_to_new_account"), ("/lending/products", "PERSONAL"),
         ("/wealth/products", "F-BOND"), ("/bills", "BJPOWER"), ("/billers", "BJPOWER"),
         ("/marketing/campaigns", "NO-SUCH"), ("/marketing/journeys", "welcome"))
# operations that need the customer named (staff) to reach their service
NAMES_CUSTOMER = ("/api/v1/accounts", "/api/v1/payees", "/api/v1/scheduled-transfers", "/api/v1/lending/loans",
                  "/api/v1/wealth/orders", "/api/v1/wealth/holdings", "/api/v1/wealth/robo/plans")


def _url(m: Matrix, path: str) -> str:
    s = m.subs

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name == "code":
            return next(code for part, code in CODES if part in path)
        if name == "entry_id":
            return str(s["_faq"] if "faq" in path else s["_risk"])
        if name == "conversation_id":
            return str(s["_handed"] if "/agent/" in path or path.startswith("/console") else s["_chat"])
        if name in ("application_id", "app_id"):
            return str(s["_review"] if "review" in path else s["_application"])
        return str(s[name])

    url = re.sub(r"\{(\w+)\}", one, path)
    if path in NAMES_CUSTOMER:
        url += f"?customer_id={s['customer_id']}"
    if path == "/static":
        url += "/app.css"
    return url


def _call(m: Matrix, role: str, method: str, path: str):
    c = m.client
    c.cookies.clear()
    token = (m.spare if "logout" in path else m.tokens).get(role, "")
    url = _url(m, path)
    if path.startswith("/api/"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = m.transfer_body if (method, path) == ("POST", "/api/v1/transfers") else {}
        return c.request(method, url, json=body if method in ("POST", "PUT", "PATCH") else None, headers=headers,
                         follow_redirects=False)
    if token:
        c.cookies.set("sb_session", token)
    c.cookies.set("sb_csrf", CSRF_SEED)
    csrf = hmac.new(config.get_settings().secret_key.encode(), f"{CSRF_SEED}|{token}".encode(),
                    hashlib.sha256).hexdigest()
    form = {"csrf_token": csrf} | SIGN_IN.get(path, {})
    return c.request(method, url, data=form if method == "POST" else None, follow_redirects=False)


def _to_sign_in(r) -> bool:
    loc = r.headers.get("location", "")
    return r.status_code in (302, 303) and loc.split("?")[0] in ("/login", "/console/login") and "notice=" not in loc


def _expected(role: str, method: str, path: str) -> bool:
    roles = permissions.route_roles(permissions.ROUTES[f"{method} {path}"])
    return roles is None or (role != "anonymous" and role in roles)


# sign-out last: it ends the (spare) session it is called with
ORDER = sorted(app_routes(), key=lambda r: "logout" in r[1])


@pytest.mark.parametrize("role", list(USERS))
def test_every_operation_for_every_role_as_the_table_says(matrix, role):
    wrong = []
    for method, path in ORDER:
        r = _call(matrix, role, method, path)
        admitted = _expected(role, method, path)
        if (method, path) in SIGNED:
            ok = r.status_code == 401
        elif admitted:
            ok = r.status_code not in (401, 403) and not _to_sign_in(r) and r.status_code < 500
        else:
            ok = r.status_code in (401, 403, 404) or _to_sign_in(r)
        if not ok:
            wrong.append(f"{method} {path}: {'admitted' if admitted else 'refused'} by the table, got "
                         f"{r.status_code} {r.headers.get('location', '')} {r.text[:120]!r}")
    assert wrong == [], "\n".join(wrong)

"""Staff read a customer's personal data only as far as their job needs, and every such read is audited.

Before: any staff role (a marketer, a service agent, a loan officer) read any customer's full identity number,
phone, e-mail and birth date, listed every customer and read any account's history through the API, while the
console already kept marketers out. Now one permission table decides for the API, the web console and the
services the command line calls (:mod:`smartbank.security.permissions`).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from smartbank import clock, db
from smartbank.customers import service as customers
from smartbank.customers.validation import make_resident_id
from smartbank.errors import Forbidden
from smartbank.security.service import Principal
from tests.api.support import API, assert_error, scalar
from tests.conftest import login

STAFF = {"teller1": "teller", "agent1": "service_agent", "loan1": "loan_officer", "risk1": "risk_officer",
         "mark1": "marketer", "admin1": "admin"}
ID_NUMBER = make_resident_id("110101", date(1985, 3, 7), 234)


@pytest.fixture
def world(client, bank):
    alice = bank.customer("王芳", id_number=ID_NUMBER, phone="13812345678", email="wangfang@example.cn")
    bob = bank.customer("李娜")
    acct = bank.account(alice, balance=100_000)
    bank.account(bob, balance=5_000)
    bank.user("alice", customer_id=alice)
    for name, role in STAFF.items():
        bank.user(name, role=role)
    h = {u: login(client, u) for u in ("alice", *STAFF)}
    return {"alice": alice, "bob": bob, "acct": acct, "h": h}


def _reads(engine, *, customer_id: int | None = None, role: str | None = None) -> list[tuple]:
    sql = "SELECT action, actor_role, object_id FROM audit_log WHERE object_type = 'customer'"
    params: dict = {}
    if customer_id is not None:
        sql += " AND object_id = :c"
        params["c"] = str(customer_id)
    if role is not None:
        sql += " AND actor_role = :r"
        params["r"] = role
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql + " ORDER BY id"), params)]


def test_a_marketer_reads_no_customer_record_list_or_history(client, engine, world):
    h, alice, acct = world["h"]["mark1"], world["alice"], world["acct"]
    today = clock.today()
    for url in (f"{API}/customers/{alice}", f"{API}/customers?limit=200", f"{API}/customers?q=王芳",
                f"{API}/accounts/{acct}", f"{API}/accounts?customer_id={alice}",
                f"{API}/accounts/{acct}/transactions", f"{API}/accounts/{acct}/transactions.csv",
                f"{API}/accounts/{acct}/statements/{today.year}/{today.month}",
                f"{API}/payees?customer_id={alice}", f"{API}/scheduled-transfers?customer_id={alice}"):
        assert_error(client.get(url, headers=h), 403, "forbidden")
    assert _reads(engine) == []  # nothing was shown, so nothing to record
    # the console keeps them out too
    client.cookies.set("sb_session", h["Authorization"][7:])
    assert client.get(f"/console/customers/{alice}").status_code == 403
    assert client.get("/console/customers", params={"q": "王"}).status_code == 403


@pytest.mark.parametrize("user", ["agent1", "loan1", "admin1"])
def test_roles_without_identity_access_see_a_masked_record_and_are_audited(client, engine, world, user):
    alice = world["alice"]
    r = client.get(f"{API}/customers/{alice}", headers=world["h"][user])
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["masked"] is True and c["name"] == "王芳"
    assert c["id_number"] == ID_NUMBER[:3] + "*" * 11 + ID_NUMBER[-4:]
    assert c["phone"] == "138****5678" and c["email"] == "w***@example.cn"
    assert c["birth_date"] is None and c["annual_income_minor"] is None
    assert ID_NUMBER not in r.text and "13812345678" not in r.text and "1985-03-07" not in r.text
    assert _reads(engine, customer_id=alice) == [("customer.read", STAFF[user], str(alice))]

    # the search lists masked records, each one recorded as read
    found = client.get(f"{API}/customers?limit=200", headers=world["h"][user])
    assert found.status_code == 200 and {x["id"] for x in found.json()} == {alice, world["bob"]}
    assert all(x["masked"] for x in found.json()) and ID_NUMBER not in found.text
    assert {(a, o) for a, _r, o in _reads(engine, role=STAFF[user]) if a == "customer.search"} == {
        ("customer.search", str(alice)), ("customer.search", str(world["bob"]))}


@pytest.mark.parametrize("user", ["teller1", "risk1"])
def test_tellers_and_risk_officers_see_circumstances_but_identity_numbers_masked(client, engine, world, user):
    """Identity numbers are masked for every staff role (the full value is a break-glass reveal with a reason,
    tests/security/test_reveal.py); a teller and a risk officer see the birth date their work needs."""
    alice = world["alice"]
    r = client.get(f"{API}/customers/{alice}", headers=world["h"][user])
    c = r.json()
    assert (c["masked"], c["id_number"], c["phone"], c["birth_date"]) == (
        True, ID_NUMBER[:3] + "*" * 11 + ID_NUMBER[-4:], "138****5678", "1985-03-07")
    assert ID_NUMBER not in r.text and "13812345678" not in r.text
    assert _reads(engine, customer_id=alice) == [("customer.read", STAFF[user], str(alice))]


def test_staff_reading_an_account_history_is_audited_per_customer(client, engine, world):
    alice, acct = world["alice"], world["acct"]
    today = clock.today()
    for url in (f"{API}/accounts/{acct}/transactions", f"{API}/accounts/{acct}/transactions.csv",
                f"{API}/accounts/{acct}/statements/{today.year}/{today.month}"):
        assert client.get(url, headers=world["h"]["agent1"]).status_code == 200, url
    assert _reads(engine, customer_id=alice) == [("account.history.read", "service_agent", str(alice))] * 3
    # the administrator finds who looked at the customer in the audit log
    trail = client.get(f"{API}/audit?object_type=customer&object_id={alice}", headers=world["h"]["admin1"]).json()
    assert [(t["action"], t["actor_role"]) for t in trail] == [("account.history.read", "service_agent")] * 3
    assert all(t["after"] == {"account_id": acct} for t in trail)


def test_a_customer_reads_their_own_record_in_full_without_an_audit_record(client, engine, world):
    me = client.get(f"{API}/customers/{world['alice']}", headers=world["h"]["alice"]).json()
    assert (me["masked"], me["id_number"]) == (False, ID_NUMBER)
    assert client.get(f"{API}/accounts/{world['acct']}/transactions", headers=world["h"]["alice"]).status_code == 200
    assert_error(client.get(f"{API}/customers/{world['bob']}", headers=world["h"]["alice"]), 404, "not_found")
    assert_error(client.get(f"{API}/customers", headers=world["h"]["alice"]), 403, "forbidden")
    assert _reads(engine) == []


def test_the_services_apply_the_same_table_for_every_entry_point(engine, world):
    """The command line and the web call these services: the same refusal, the same masking."""
    mark = Principal(user_id=scalar(engine, "SELECT id FROM users WHERE username = 'mark1'"), username="mark1",
                     role="marketer", customer_id=None)
    agent = Principal(user_id=scalar(engine, "SELECT id FROM users WHERE username = 'agent1'"), username="agent1",
                      role="service_agent", customer_id=None)
    with db.session_scope(engine) as s:
        for call in (lambda: customers.view_customer(s, mark, world["alice"]),
                     lambda: customers.find_customers(s, mark, "王")):
            with pytest.raises(Forbidden):
                call()
        assert customers.view_customer(s, agent, world["alice"])["masked"] is True


def test_queues_that_list_customers_audit_each_customer_shown(client, engine, world):
    """The officers' queues name customers too: the risk alert queue records a read of every customer it lists
    (the loan review queue, the loan book and the assistant's queue do the same through the same call)."""
    from smartbank.risk.models import RiskAlert

    with db.session_scope(engine) as s:
        for n, cid in enumerate((world["alice"], world["bob"]), 1):
            s.add(RiskAlert(decision_id=900 + n, customer_id=cid, decision="review", amount_minor=100,
                            currency="CNY", priority=1, status="open"))
    r = client.get(f"{API}/risk/alerts", headers=world["h"]["risk1"])
    assert r.status_code == 200, r.text
    assert {c[2] for c in _reads(engine, role="risk_officer") if c[0] == "risk_alerts.list"} == {
        str(world["alice"]), str(world["bob"])}
    for path, user, action in (("/lending/reviews", "loan1", "loan_applications.list"),
                               ("/lending/book", "loan1", "loan_book.list"),
                               ("/assistant/agent/queue", "agent1", "handoffs.list")):
        r = client.get(f"{API}{path}", headers=world["h"][user])
        assert r.status_code == 200, (path, r.text)  # nothing listed here, so nothing to record
        assert [c for c in _reads(engine) if c[0] == action] == []

"""Customer-side writes that change what a person can do or owns are audited like staff writes: who (user and
role), what, on which object, before and after, the request id; in the same transaction as the change. A
refused write leaves no audit record. Covered: sign-in, sign-out, sign-up, payees, scheduled transfers and the
wealth risk assessment (the grade decides what the customer may buy)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from smartbank import clock, db
from smartbank.customers.validation import make_resident_id
from smartbank.errors import SmartbankError
from smartbank.payments import service as payments
from smartbank.security import service as security
from smartbank.security.models import AuditLog
from smartbank.wealth import questionnaire
from tests.api.support import API, assert_error, number, scalar, state
from tests.conftest import login
from tests.lending.support import customer
from tests.web.conftest import post_form, sign_in


@pytest.fixture(autouse=True)
def _fast(cheap_argon2):
    """Hashing cost is not the point here."""


def records(engine, action: str) -> list[AuditLog]:
    with db.session_scope(engine) as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def count(engine) -> int:
    return scalar(engine, "SELECT count(*) FROM audit_log")


@pytest.fixture
def alice(client, bank, engine):
    cid = bank.customer("王芳")
    acct = bank.account(cid, balance=100_000)
    bob = bank.customer("李娜")
    b1 = bank.account(bob)
    uid = bank.user("alice", customer_id=cid)
    return {"cid": cid, "uid": uid, "acct": acct, "b1": b1, "nb1": number(engine, b1)}


# ---- sign-in, sign-out, sign-up ------------------------------------------------------------------------

def test_sign_in_and_sign_out_are_audited_as_the_persons_own_acts(client, alice, engine):
    h = client.post(f"{API}/auth/login", json={"username": "alice", "password": "passw0rd!"},
                    headers={"X-Request-ID": "rid-sign-in"})
    assert h.status_code == 200
    token = h.json()["token"]
    [row] = records(engine, "auth.sign_in")
    assert (row.actor_user_id, row.actor_role, row.object_type, row.object_id, row.request_id) == (
        alice["uid"], "customer", "user", str(alice["uid"]), "rid-sign-in")
    session_ref = row.after["session"]
    assert row.before is None and len(session_ref) == 16 and token not in str(row.after)  # never the token
    assert row.after["address"] and row.after["expires_at"]

    assert client.post(f"{API}/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    [out] = records(engine, "auth.sign_out")
    assert (out.actor_user_id, out.actor_role, out.object_id) == (alice["uid"], "customer", str(alice["uid"]))
    assert (out.before, out.after) == ({"session": session_ref, "revoked": False},
                                       {"session": session_ref, "revoked": True})
    # the session is over: signing it out again changes nothing and records nothing
    n = count(engine)
    assert_error(client.post(f"{API}/auth/logout", headers={"Authorization": f"Bearer {token}"}), 401)
    db.run_in_transaction(lambda s: security.sign_out(s, token), engine=engine)
    assert count(engine) == n


def test_a_refused_sign_in_leaves_no_audit_record(client, alice, engine):
    n = count(engine)
    assert_error(client.post(f"{API}/auth/login", json={"username": "alice", "password": "wrong-pass1"}), 401)
    assert_error(client.post(f"{API}/auth/login", json={"username": "nobody", "password": "wrong-pass1"}), 401)
    assert count(engine) == n  # the throttle counts them; the audit log records changes only


def test_web_sign_in_and_out_on_the_console_are_audited(client, bank, engine):
    uid = bank.user("teller1", role="teller")
    sign_in(client, "teller1", "passw0rd!", console=True)
    [row] = records(engine, "auth.sign_in")
    assert (row.actor_user_id, row.actor_role, row.after["area"]) == (uid, "teller", "console")
    r = post_form(client, "/console", "/console/logout", {})
    assert r.status_code == 303
    [out] = records(engine, "auth.sign_out")
    assert (out.actor_user_id, out.before["session"], out.after["revoked"]) == (uid, row.after["session"], True)


def test_sign_up_is_audited_and_a_refused_one_is_not(client, engine):
    body = {"name": "赵六", "id_number": make_resident_id("110101", date(1990, 5, 17), 123), "phone": "13912345678",
            "username": "zhao6", "password": "jade-harbour-71"}
    before = state(engine)
    assert_error(client.post(f"{API}/auth/signup", json={**body, "password": "password"}), 422)  # no digit
    assert state(engine) == before
    r = client.post(f"{API}/auth/signup", json=body)
    assert r.status_code == 201, r.text
    [row] = records(engine, "customer.sign_up")
    assert (row.actor_user_id, row.actor_role, row.object_type, row.object_id) == (
        r.json()["user_id"], "customer", "user", str(r.json()["user_id"]))
    assert row.after["username"] == "zhao6" and row.after["customer_id"] == r.json()["customer_id"]
    assert row.after["account_id"] and "password" not in str(row.after) and row.before is None
    assert [x.actor_user_id for x in records(engine, "auth.sign_in")] == [r.json()["user_id"]]


# ---- payees --------------------------------------------------------------------------------------------

def test_payees_added_and_removed_are_audited(client, alice, engine):
    h = login(client, "alice")
    r = client.post(f"{API}/payees", json={"name": "李娜", "account_number": alice["nb1"], "nickname": "Nana"},
                    headers={**h, "X-Request-ID": "rid-payee"})
    assert r.status_code == 201
    pid = r.json()["id"]
    [add] = records(engine, "payee.add")
    assert (add.actor_user_id, add.actor_role, add.object_type, add.object_id, add.request_id) == (
        alice["uid"], "customer", "payee", str(pid), "rid-payee")
    expected = {"customer_id": alice["cid"], "name": "李娜", "account_number": alice["nb1"], "nickname": "Nana"}
    assert (add.before, add.after) == (None, expected)

    assert client.delete(f"{API}/payees/{pid}", headers=h).status_code == 204
    [rm] = records(engine, "payee.remove")
    assert (rm.actor_user_id, rm.object_id, rm.before, rm.after) == (alice["uid"], str(pid), expected, None)


def test_refused_payee_writes_leave_no_audit_record(client, alice, bank, engine):
    h = login(client, "alice")
    assert client.post(f"{API}/payees", json={"name": "李娜", "account_number": alice["nb1"]},
                       headers=h).status_code == 201
    other = bank.customer("陈静")
    bank.user("chen", customer_id=other)
    hc = login(client, "chen")
    pid = client.get(f"{API}/payees", headers=h).json()[0]["id"]
    before = state(engine)
    assert_error(client.post(f"{API}/payees", json={"name": "again", "account_number": alice["nb1"]}, headers=h),
                 409)
    assert_error(client.post(f"{API}/payees", json={"name": "x", "account_number": "123"}, headers=h), 422)
    assert_error(client.delete(f"{API}/payees/{pid}", headers=hc), 404)  # another customer's payee
    assert_error(client.delete(f"{API}/payees/999999", headers=h), 404)
    assert state(engine) == before


def test_the_audit_record_is_written_in_the_same_transaction_as_the_change(alice, engine):
    me = security.Principal(user_id=alice["uid"], username="alice", role="customer", customer_id=alice["cid"])

    class Later(Exception):
        pass

    with pytest.raises(Later), db.session_scope(engine) as s:  # something after the change fails: both go
        payments.add_payee(s, me, alice["cid"], name="李娜", account_number=alice["nb1"])
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "payee.add")) == "payee.add"
        raise Later
    assert scalar(engine, "SELECT count(*) FROM payees") == 0 and records(engine, "payee.add") == []


# ---- scheduled transfers ---------------------------------------------------------------------------------

def test_scheduled_transfers_created_and_cancelled_are_audited(client, alice, engine):
    h = login(client, "alice")
    start = (clock.today() + timedelta(days=3)).isoformat()
    body = {"from_account_id": alice["acct"], "to_account_number": alice["nb1"], "amount_minor": 2_500,
            "currency": "CNY", "frequency": "monthly", "start_date": start, "memo": "rent"}
    before = state(engine)
    assert_error(client.post(f"{API}/scheduled-transfers", headers=h,
                             json={**body, "start_date": (clock.today() - timedelta(days=1)).isoformat()}), 422)
    assert_error(client.post(f"{API}/scheduled-transfers", headers=h, json={**body, "amount_minor": 0}), 422)
    assert state(engine) == before
    r = client.post(f"{API}/scheduled-transfers", headers=h, json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    [made] = records(engine, "scheduled_transfer.create")
    assert (made.actor_user_id, made.actor_role, made.object_type, made.object_id) == (
        alice["uid"], "customer", "scheduled_transfer", str(sid))
    assert made.before is None
    assert {k: made.after[k] for k in ("from_account_id", "to_account_id", "amount_minor", "frequency",
                                       "start_date", "status", "next_run", "memo")} == {
        "from_account_id": alice["acct"], "to_account_id": alice["b1"], "amount_minor": 2_500,
        "frequency": "monthly", "start_date": start, "status": "active", "next_run": start, "memo": "rent"}

    assert client.delete(f"{API}/scheduled-transfers/{sid}", headers=h).status_code == 200
    [gone] = records(engine, "scheduled_transfer.cancel")
    assert (gone.actor_user_id, gone.object_id) == (alice["uid"], str(sid))
    assert (gone.before["status"], gone.before["next_run"]) == ("active", start)
    assert (gone.after["status"], gone.after["next_run"]) == ("cancelled", None)
    n = count(engine)
    assert_error(client.delete(f"{API}/scheduled-transfers/{sid}", headers=h), 409)  # already cancelled
    assert count(engine) == n


# ---- the wealth risk assessment --------------------------------------------------------------------------

def test_a_risk_assessment_is_audited_with_the_grade_before_and_after(bank, engine):
    _, _, me = customer(bank)
    at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    answers = {q["id"]: 1 for q in questionnaire.V1_QUESTIONS}
    with db.session_scope(engine) as s:
        questionnaire.ensure_seeded(s)
        first = questionnaire.take(s, me, answers, now=at)
    with pytest.raises(SmartbankError), db.session_scope(engine) as s:  # within the cooling-off period
        questionnaire.take(s, me, answers | {"loss": 3}, now=at + timedelta(hours=1))
    with db.session_scope(engine) as s:
        second = questionnaire.take(s, me, {q["id"]: 3 for q in questionnaire.V1_QUESTIONS} | {"age": 1},
                                    now=at + timedelta(days=2))
    rows = records(engine, "wealth.assessment")
    assert [r.object_id for r in rows] == [str(first.id), str(second.id)]  # the refusal: on record, not audited
    assert all((r.actor_user_id, r.actor_role, r.object_type) == (me.user_id, "customer", "risk_assessment")
               for r in rows)
    assert (rows[0].before, rows[0].after["grade"]) == ({"grade": None, "assessment_id": None}, first.grade)
    assert rows[1].before == {"grade": first.grade, "assessment_id": first.id}
    assert rows[1].after["grade"] == second.grade == "C5"

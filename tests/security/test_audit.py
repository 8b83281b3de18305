"""Every staff write leaves one audit record: who (user and role), what, on which object, the state
before and after, and the request id. Replays and refused or failed writes leave none."""

from __future__ import annotations

from datetime import date

from smartbank.customers.validation import make_resident_id
from tests.api.support import API, assert_error, scalar
from tests.conftest import login


def _audit_count(engine) -> int:
    return scalar(engine, "SELECT count(*) FROM audit_log")


def test_every_staff_write_is_audited(client, bank, engine):
    alice = bank.customer("王芳")
    a1 = bank.account(alice, balance=50_000)
    bob = bank.customer("李娜")
    b1 = bank.account(bob)
    ids = {u: bank.user(u, role=r) for u, r in (("teller1", "teller"), ("risk1", "risk_officer"), ("admin1", "admin"))}
    h = {u: login(client, u) for u in ids}
    seen: list[dict] = []

    def do(user, method, url, body, *, status, action, object_type, before=True, check=None):
        rid = f"req-{len(seen)}-{action}"
        n = _audit_count(engine)
        r = client.request(method, f"{API}{url}", json=body, headers={**h[user], "X-Request-ID": rid})
        assert r.status_code == status, (url, r.text)
        assert r.headers["x-request-id"] == rid
        assert _audit_count(engine) == n + 1, f"{action}: expected exactly one audit record"
        rows = client.get(f"{API}/audit?limit=1", headers=h["admin1"]).json()
        row = rows[0]
        assert (row["actor_user_id"], row["actor_role"], row["action"], row["object_type"], row["request_id"]) == (
            ids[user], {"teller1": "teller", "risk1": "risk_officer", "admin1": "admin"}[user], action,
            object_type, rid), row
        assert row["object_id"] is not None and row["after"], row
        if before:
            assert row["before"], row
        if check:
            check(row, r.json())
        seen.append(row)
        return r.json()

    person = make_resident_id("440106", date(1979, 8, 8), 42)
    cust = do("teller1", "POST", "/customers", {"name": "周七", "id_number": person, "phone": "13800138000"},
              status=201, action="customer.create", object_type="customer", before=False,
              check=lambda row, out: row["object_id"] == str(out["id"]) and row["after"]["name"] == "周七")
    acct = do("teller1", "POST", f"/customers/{cust['id']}/accounts", {"kind": "savings"}, status=201,
              action="account.open", object_type="account", before=False,
              check=lambda row, out: row["object_id"] == str(out["id"]) and row["after"]["kind"] == "savings")
    # maker-checker: the limit is proposed (one record), then a second person approves it (two: the change
    # itself, by its owner, and the approval naming the maker)
    proposed = do("risk1", "PUT", f"/customers/{alice}/daily-limit", {"daily_limit_minor": 1_000_00}, status=202,
                  action="change.propose", object_type="change_request",
                  check=lambda row, out: (row["before"]["daily_limit_minor"], row["after"]["payload"]) == (
                      None, {"daily_limit_minor": 1_000_00}) and row["object_id"] == str(out["change"]["id"]))
    n = _audit_count(engine)
    r = client.post(f"{API}/changes/{proposed['change']['id']}/approve", json={"note": "form seen"},
                    headers={**h["teller1"], "X-Request-ID": "req-approve"})
    assert r.status_code == 200, r.text
    assert _audit_count(engine) == n + 2
    rows = client.get(f"{API}/audit?limit=2", headers=h["admin1"]).json()
    assert [(x["action"], x["actor_user_id"], x["request_id"]) for x in rows] == [
        ("change.approve", ids["teller1"], "req-approve"), ("customer.daily_limit", ids["teller1"], "req-approve")]
    assert rows[0]["after"]["requested_by"] == ids["risk1"]
    assert (rows[1]["before"], rows[1]["after"]) == ({"daily_limit_minor": None}, {"daily_limit_minor": 1_000_00})
    seen.extend(rows)
    do("teller1", "POST", "/cash/deposits", {"account_id": acct["id"], "amount_minor": 800, "idempotency_key": "d1"},
       status=201, action="cash.deposit", object_type="transfer",
       check=lambda row, out: (row["object_id"], row["before"]["balance_minor"], row["after"]["balance_minor"]) == (
           str(out["id"]), 0, 800))
    do("teller1", "POST", "/cash/withdrawals",
       {"account_id": acct["id"], "amount_minor": 800, "idempotency_key": "w1"}, status=201,
       action="cash.withdrawal", object_type="transfer",
       check=lambda row, out: (row["before"]["balance_minor"], row["after"]["balance_minor"]) == (800, 0))
    do("teller1", "POST", f"/accounts/{a1}/freeze", {"reason": "suspected fraud"}, status=200,
       action="account.frozen", object_type="account",
       check=lambda row, out: (row["before"]["status"], row["after"]["status"], row["object_id"]) == (
           "open", "frozen", str(a1)))
    do("risk1", "POST", f"/accounts/{a1}/unfreeze", {"reason": "cleared"}, status=200, action="account.open",
       object_type="account",
       check=lambda row, out: (row["before"]["status"], row["after"]["status"]) == ("frozen", "open"))
    hold = do("teller1", "POST", "/holds", {"from_account_id": a1, "to_account_id": b1, "amount_minor": 300,
                                            "idempotency_key": "h1"},
              status=201, action="hold.create", object_type="transfer", before=False,
              check=lambda row, out: row["after"]["amount_minor"] == 300 and row["object_id"] == str(out["id"]))
    posted = do("teller1", "POST", f"/holds/{hold['id']}/post", {"idempotency_key": "p1"}, status=201,
                action="hold.post", object_type="transfer",
                check=lambda row, out: (row["object_id"], row["before"]["state"], row["after"]["state"]) == (
                    str(hold["id"]), "pending", "posted"))
    hold2 = do("risk1", "POST", "/holds", {"from_account_id": a1, "to_account_id": b1, "amount_minor": 200,
                                           "idempotency_key": "h2"},
               status=201, action="hold.create", object_type="transfer", before=False)
    do("risk1", "POST", f"/holds/{hold2['id']}/void", {"idempotency_key": "v2"}, status=201, action="hold.void",
       object_type="transfer", check=lambda row, out: row["after"]["state"] == "voided")
    asked = do("risk1", "POST", f"/transfers/{posted['id']}/reverse",
               {"idempotency_key": "r1", "memo": "customer dispute"}, status=201,
               action="transfer.reverse_request", object_type="transfer", before=False,
               check=lambda row, out: row["after"]["reversal_request_id"] == out["id"]
               and row["object_id"] == str(posted["id"]))
    do("admin1", "POST", f"/reversals/{asked['id']}/approve", {"note": "checked"}, status=200,
       action="transfer.reverse", object_type="transfer",
       check=lambda row, out: row["after"]["reversal_id"] == out["reversal_id"]
       and row["before"]["requested_by"] == ids["risk1"] and row["object_id"] == str(posted["id"]))
    do("teller1", "POST", f"/accounts/{acct['id']}/close", {"reason": "customer request"}, status=200,
       action="account.closed", object_type="account",
       check=lambda row, out: row["after"]["status"] == "closed")
    # a new staff sign-in is created inactive, its activation proposed for a second administrator
    n = _audit_count(engine)
    r = client.post(f"{API}/users", json={"username": "teller2", "password": "s3cret-pass", "role": "teller"},
                    headers={**h["admin1"], "X-Request-ID": "req-user"})
    assert r.status_code == 201 and r.json()["is_active"] is False, r.text
    assert _audit_count(engine) == n + 2
    rows = client.get(f"{API}/audit?limit=2", headers=h["admin1"]).json()
    assert [(x["action"], x["request_id"]) for x in rows] == [("change.propose", "req-user"),
                                                              ("user.create", "req-user")]
    assert rows[1]["after"] == {"username": "teller2", "role": "teller", "is_active": False}
    assert rows[0]["after"]["payload"] == {"active": True}
    seen.extend(rows)

    # no secret ever lands in the trail
    trail = client.get(f"{API}/audit", headers=h["admin1"]).json()
    assert sorted(r["actor_user_id"] for r in trail if r["action"] == "auth.sign_in") == sorted(ids.values())
    # each staff member enrolled a second factor at their first sign-in (a record each, besides the sign-in)
    assert sorted(r["actor_user_id"] for r in trail if r["action"] == "auth.mfa_enrolled") == sorted(
        i for u, i in ids.items() if u != "alice")
    assert len([r for r in trail if r["action"] not in ("auth.sign_in", "auth.mfa_enrolled")]) == len(seen)
    assert "argon2" not in str(trail) and "s3cret" not in str(trail)
    # the trail of one object, newest first
    mine = client.get(f"{API}/audit?object_type=account&object_id={a1}", headers=h["admin1"]).json()
    assert [r["action"] for r in mine] == ["account.open", "account.frozen"]
    bank.assert_invariants()


def test_replays_and_failed_writes_leave_no_audit_record(client, bank, engine):
    alice = bank.customer()
    a1 = bank.account(alice, balance=10_000)
    closed = bank.account(alice)
    bank.user("teller1", role="teller")
    bank.user("risk1", role="risk_officer")
    ht, hr = login(client, "teller1"), login(client, "risk1")
    dep = {"account_id": a1, "amount_minor": 100, "idempotency_key": "dep"}
    first = client.post(f"{API}/cash/deposits", json=dep, headers=ht)
    assert first.status_code == 201
    n = _audit_count(engine)
    again = client.post(f"{API}/cash/deposits", json=dep, headers=ht)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    rev = client.post(f"{API}/transfers/{first.json()['id']}/reverse", json={"idempotency_key": "rv",
                                                                          "memo": "paid twice"}, headers=hr)
    assert rev.status_code == 201
    n += 1
    assert client.post(f"{API}/transfers/{first.json()['id']}/reverse", json={"idempotency_key": "rv",
                                                                          "memo": "paid twice"},
                       headers=hr).status_code == 200
    assert client.post(f"{API}/accounts/{closed}/close", json={}, headers=ht).status_code == 200
    n += 1
    assert _audit_count(engine) == n
    # failures: a closed account cannot be frozen, a reversal twice, cash into the bank's own books
    assert_error(client.post(f"{API}/accounts/{closed}/freeze", json={}, headers=ht), 422)
    assert_error(client.post(f"{API}/transfers/{first.json()['id']}/reverse", json={"idempotency_key": "rv-2",
                                                                          "memo": "paid twice"},
                             headers=hr), 409)
    assert_error(client.post(f"{API}/cash/withdrawals", json={"account_id": a1, "amount_minor": 10**9,
                                                               "idempotency_key": "big"}, headers=ht),
                 422, "insufficient_funds")
    assert_error(client.post(f"{API}/accounts/{10**9}/freeze", json={}, headers=ht), 404)
    assert _audit_count(engine) == n

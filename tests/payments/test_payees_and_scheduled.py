"""Payees and scheduled transfers through the API, and the close-of-day run of scheduled transfers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from smartbank import clock, db
from smartbank.ledger import service as ledger
from smartbank.payments import service as payments
from tests.api.support import API, assert_error, number, scalar, state
from tests.conftest import login


def _setup(client, bank, engine):
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=100_000)
    a2 = bank.account(alice)
    usd = bank.account(alice, currency="USD", balance=1_000)
    b1 = bank.account(bob)
    bank.user("alice", customer_id=alice)
    bank.user("teller1", role="teller")
    return {"alice": alice, "a1": a1, "a2": a2, "usd": usd, "b1": b1, "nb1": number(engine, b1),
            "ha": login(client, "alice"), "ht": login(client, "teller1")}


def _bad_check_digit(n: str) -> str:
    return n[:-1] + str((int(n[-1]) + 1) % 10)


def test_payees(client, bank, engine):
    w = _setup(client, bank, engine)
    h = w["ha"]
    before = state(engine)
    bad = _bad_check_digit(w["nb1"])
    body = assert_error(client.post(f"{API}/payees", json={"name": "李娜", "account_number": bad}, headers=h),
                        422, "validation_error")
    assert "check digit" in body["message"]
    assert_error(client.post(f"{API}/payees", json={"name": "x", "account_number": "abcdefghijkl"}, headers=h), 422)
    unknown = ledger.new_account_number(rand=777)
    assert_error(client.post(f"{API}/payees", json={"name": "x", "account_number": unknown}, headers=h), 404)
    settlement = scalar(engine, "SELECT number FROM accounts WHERE kind = 'internal' LIMIT 1")
    assert_error(client.post(f"{API}/payees", json={"name": "bank", "account_number": settlement}, headers=h), 404)
    assert_error(client.post(f"{API}/payees", json={"name": "  ", "account_number": w["nb1"]}, headers=h), 422)
    assert state(engine) == before

    spaced = " ".join(w["nb1"][i:i + 4] for i in range(0, len(w["nb1"]), 4))
    r = client.post(f"{API}/payees", json={"name": " 李  娜 ", "account_number": spaced, "nickname": "Nana"},
                    headers=h)
    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["name"], p["account_number"], p["nickname"]) == ("李 娜", w["nb1"], "Nana")
    dup = assert_error(client.post(f"{API}/payees", json={"name": "again", "account_number": w["nb1"]}, headers=h),
                       409, "conflict")
    assert dup["details"]["account_number"] == w["nb1"]
    assert [x["id"] for x in client.get(f"{API}/payees", headers=h).json()] == [p["id"]]
    # staff have no payees of their own: saving one is a customer's operation
    assert_error(client.post(f"{API}/payees", json={"name": "x", "account_number": w["nb1"]}, headers=w["ht"]), 403)

    assert client.delete(f"{API}/payees/{p['id']}", headers=h).status_code == 204
    assert client.get(f"{API}/payees", headers=h).json() == []
    assert_error(client.delete(f"{API}/payees/{p['id']}", headers=h), 404, "not_found")
    # deleted, it can be added again
    assert client.post(f"{API}/payees", json={"name": "李娜", "account_number": w["nb1"]}, headers=h).status_code == 201


def test_scheduled_transfer_validation(client, bank, engine):
    w = _setup(client, bank, engine)
    today = clock.today()

    def sched(**kw):
        body = {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": 1_000,
                "frequency": "monthly", "start_date": str(today + timedelta(days=1)), **kw}
        return client.post(f"{API}/scheduled-transfers", json=body, headers=w["ha"])

    before = state(engine)
    body = assert_error(sched(start_date=str(today - timedelta(days=1))), 422, "validation_error")
    assert "past" in body["message"]
    body = assert_error(sched(end_date=str(today)), 422, "validation_error")
    assert "end date" in body["message"]
    for freq in ("yearly", "", "Monthly", None, 1):
        err = assert_error(sched(frequency=freq), 422, "validation_error")
        assert [e["loc"] for e in err["details"]["errors"]] == [["body", "frequency"]]
    assert_error(sched(start_date="2026-02-30"), 422, "validation_error")
    assert_error(sched(start_date="tomorrow"), 422, "validation_error")
    assert_error(sched(to_account_number=number(engine, w["a1"])), 422, "validation_error")  # to itself
    assert_error(sched(from_account_id=w["usd"]), 422, "validation_error")  # currencies differ
    assert_error(sched(currency="XYZ"), 422, "validation_error")
    assert_error(sched(to_account_number=ledger.new_account_number(rand=5)), 404, "not_found")
    assert_error(sched(from_account_id=w["b1"]), 404, "not_found")
    assert_error(sched(amount_minor=0), 422, "validation_error")
    assert state(engine) == before

    # today is allowed, and so is an end date equal to the start
    ok = sched(start_date=str(today), end_date=str(today), frequency="daily")
    assert ok.status_code == 201, ok.text
    s = ok.json()
    assert (s["status"], s["next_run"], s["runs"], s["from_account_id"], s["to_account_id"]) == (
        "active", str(today), 0, w["a1"], w["b1"])
    # to one's own other account
    assert sched(to_account_number=number(engine, w["a2"]), frequency="weekly").status_code == 201
    listed = client.get(f"{API}/scheduled-transfers", headers=w["ha"]).json()
    assert [x["frequency"] for x in listed] == ["daily", "weekly"]

    r = client.delete(f"{API}/scheduled-transfers/{s['id']}", headers=w["ha"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["next_run"] is None
    assert_error(client.delete(f"{API}/scheduled-transfers/{s['id']}", headers=w["ha"]), 409, "conflict")
    assert_error(client.delete(f"{API}/scheduled-transfers/{10**9}", headers=w["ha"]), 404, "not_found")
    assert bank.balance(w["a1"]) == 100_000  # scheduling moves no money


def test_close_of_day_runs_due_schedules_once(client, bank, engine):
    w = _setup(client, bank, engine)
    today = clock.today()
    start = today + timedelta(days=1)
    body = {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": 1_000, "frequency": "daily",
            "start_date": str(start), "end_date": str(start + timedelta(days=2)), "memo": "rent"}
    sid = client.post(f"{API}/scheduled-transfers", json=body, headers=w["ha"]).json()["id"]
    cancelled = client.post(f"{API}/scheduled-transfers", json={**body, "memo": "cancelled"},
                            headers=w["ha"]).json()["id"]
    client.delete(f"{API}/scheduled-transfers/{cancelled}", headers=w["ha"])

    def run(day):
        with db.session_scope(engine) as s:
            return payments.run_due_scheduled(s, day)

    assert run(today) == {"executed": 0, "failed": 0}  # nothing due yet
    # catching up three days at once runs each day once, dated on its own day
    assert run(start + timedelta(days=5)) == {"executed": 3, "failed": 0}
    assert run(start + timedelta(days=5)) == {"executed": 0, "failed": 0}
    assert bank.balance(w["b1"]) == 3_000 and bank.balance(w["a1"]) == 97_000
    with engine.connect() as c:
        from sqlalchemy import text

        dates = [r[0] for r in c.execute(text("SELECT value_date FROM transfers WHERE kind = 'scheduled'"
                                              " ORDER BY value_date"))]
    assert [str(d) for d in dates] == [str(start + timedelta(days=i)) for i in range(3)]
    s = client.get(f"{API}/scheduled-transfers", headers=w["ha"]).json()
    assert [(x["id"], x["status"], x["runs"]) for x in s] == [(sid, "completed", 3), (cancelled, "cancelled", 0)]
    bank.assert_invariants()


def test_a_failing_scheduled_run_is_recorded_and_moves_no_money(client, bank, engine):
    w = _setup(client, bank, engine)
    start = clock.today() + timedelta(days=1)
    body = {"from_account_id": w["a1"], "to_account_number": w["nb1"], "amount_minor": 200_000, "frequency": "once",
            "start_date": str(start)}
    assert client.post(f"{API}/scheduled-transfers", json=body, headers=w["ha"]).status_code == 201
    with db.session_scope(engine) as s:
        assert payments.run_due_scheduled(s, start) == {"executed": 0, "failed": 1}
    x = client.get(f"{API}/scheduled-transfers", headers=w["ha"]).json()[0]
    assert (x["status"], x["runs"], x["failures"]) == ("completed", 0, 1)
    assert "insufficient funds" in x["last_error"]
    assert bank.balance(w["a1"]) == 100_000
    bank.assert_invariants()


def test_monthly_schedule_keeps_its_day_through_short_months():
    s = payments.ScheduledTransfer(frequency="monthly", start_date=date(2027, 1, 31), end_date=None)
    runs = [date(2027, 1, 31)]
    for _ in range(4):
        runs.append(payments.next_run_after(s, runs[-1]))
    assert runs == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]
    s.end_date = date(2027, 3, 30)
    assert payments.next_run_after(s, date(2027, 2, 28)) is None


@pytest.mark.commits
def test_concurrent_identical_payees_make_one_payee(client, bank, engine):
    """A double-tapped 'save payee': one is saved, the other is told it exists (never a 500)."""
    import threading

    from smartbank.errors import Conflict
    from smartbank.security.service import Principal

    w = _setup(client, bank, engine)
    uid = scalar(engine, "SELECT id FROM users WHERE username = 'alice'")
    me = Principal(user_id=uid, username="alice", role="customer", customer_id=w["alice"])
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def add():
        barrier.wait()
        try:
            db.run_in_transaction(lambda s: payments.add_payee(s, me, w["alice"], name="李娜", account_number=w["nb1"]))
            outcomes.append("201")
        except Conflict:
            outcomes.append("409")
        except Exception as exc:  # noqa: BLE001 - anything else would be a 500
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["201", "409", "409", "409"], outcomes
    assert scalar(engine, "SELECT count(*) FROM payees") == 1


def test_a_scheduled_transfer_is_checked_like_a_payment_when_it_is_made(client, bank, engine):
    """¥99,999,999,999 from an account holding ¥8,499 used to be accepted. The amount is now held to what an
    immediate transfer is held to (bounds, the daily limit to another customer); a balance that is too small
    now is a warning, since money may arrive before the date."""
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=849_900)
    a2 = bank.account(alice)
    b1 = bank.account(bob)
    bank.user("alice", customer_id=alice)
    h = login(client, "alice")
    today = clock.today()

    def sched(amount, to=None, **kw):
        body = {"from_account_id": a1, "to_account_number": to or number(engine, b1), "amount_minor": amount,
                "frequency": "monthly", "start_date": str(today + timedelta(days=1)), **kw}
        return client.post(f"{API}/scheduled-transfers", json=body, headers=h)

    before = state(engine)
    huge = assert_error(sched(9_999_999_999_900), 422, "daily_limit_exceeded")
    assert huge["details"] == {"daily_limit_minor": 5_000_000, "amount_minor": 9_999_999_999_900}
    assert_error(sched(5_000_001), 422, "daily_limit_exceeded")  # one fen over the daily limit
    assert_error(sched(10**15 + 1), 422, "validation_error")
    assert_error(sched(1_000, memo="x" * 201), 422, "validation_error")
    assert state(engine) == before

    # at the limit, above the balance: accepted, with a warning saying what the account holds
    r = sched(5_000_000)
    assert r.status_code == 201, r.text
    (w,) = r.json()["warnings"]
    assert w["code"] == "insufficient_funds" and "8,499.00" in w["message"]
    assert w["details"] == {"available_minor": 849_900, "amount_minor": 5_000_000,
                            "next_run": str(today + timedelta(days=1))}
    # within the balance: no warning
    assert sched(849_900).json()["warnings"] == []
    # between one's own accounts there is no daily limit, only the amount bounds (and the balance warning)
    own = sched(60_000_000, to=number(engine, a2))
    assert own.status_code == 201 and [x["code"] for x in own.json()["warnings"]] == ["insufficient_funds"]
    listed = client.get(f"{API}/scheduled-transfers", headers=h).json()
    assert [len(x["warnings"]) for x in listed] == [1, 0, 1]
    assert bank.balance(a1) == 849_900


def test_a_schedule_due_today_warns_of_what_is_left_of_todays_limit(client, bank, engine):
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=10_000_000)
    b1 = bank.account(bob)
    bank.user("alice", customer_id=alice)
    h = login(client, "alice")
    nb1 = number(engine, b1)
    paid = client.post(f"{API}/transfers", headers=h, json={"from_account_id": a1, "to_account_number": nb1,
                                                             "amount_minor": 4_500_000, "idempotency_key": "k1"})
    assert paid.status_code == 201, paid.text
    body = {"from_account_id": a1, "to_account_number": nb1, "amount_minor": 1_000_000, "frequency": "once",
            "start_date": str(clock.today())}
    r = client.post(f"{API}/scheduled-transfers", json=body, headers=h)
    assert r.status_code == 201, r.text
    (w,) = r.json()["warnings"]
    assert w["code"] == "daily_limit" and w["details"]["remaining_minor"] == 500_000
    # on a later day the whole limit is there again
    later = client.post(f"{API}/scheduled-transfers", headers=h,
                        json={**body, "start_date": str(clock.today() + timedelta(days=1))})
    assert later.status_code == 201 and later.json()["warnings"] == []

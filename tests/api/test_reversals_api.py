"""Reversals through the back-office API and the console: maker-checker, and a reversal that would overdraw the
account the money comes back from (refused, or posted on request with a recorded negative-balance exception)."""

from __future__ import annotations

import pytest

from smartbank import db
from smartbank.ledger import service as ledger
from tests.api.support import API, assert_error, scalar, state
from tests.conftest import login
from tests.web.conftest import csrf_token, make_user, raw_keys, sign_in


def _move(engine, key: str, debit: int, credit: int, amount: int) -> int:
    with db.session_scope(engine) as s:
        return ledger.transfer(s, ledger.TransferCommand(key=key, debit_account_id=debit, credit_account_id=credit,
                                                         amount_minor=amount, currency="CNY")).id


def _world(client, bank, engine):
    alice, bob, carol = bank.customer("王芳"), bank.customer("李娜"), bank.customer("陈静")
    a = bank.account(alice)  # empty, no overdraft
    b = bank.account(bob, balance=100_000)
    c = bank.account(carol)
    for name, role in (("risk1", "risk_officer"), ("risk2", "risk_officer"), ("teller1", "teller")):
        make_user(engine, name, role=role)
    return {"a": a, "b": b, "c": c, "h1": login(client, "risk1", "passw0rd!"), "h2": login(client, "risk2"),
            "ht": login(client, "teller1")}


def _ask(client, w, tid, key, who="h1", **body):
    body = {"idempotency_key": key, "memo": "paid twice", **body}
    return client.post(f"{API}/transfers/{tid}/reverse", json=body, headers=w[who])


def test_a_reversal_that_would_overdraw_is_refused_unless_asked_for_and_approved(client, bank, engine):
    """¥100 to an empty account, spent, then the incoming transfer reversed: without an explicit overdraw the
    reversal is refused; with it (and a reason) a second officer approves, it posts, and the account's negative
    balance is recorded as an exception for collections."""
    w = _world(client, bank, engine)
    incoming = _move(engine, "in", w["b"], w["a"], 10_000)
    _move(engine, "spent", w["a"], w["c"], 10_000)
    before = state(engine)
    body = assert_error(_ask(client, w, incoming, "r1"), 422, "insufficient_funds")
    assert body["details"] == {"account_id": w["a"], "shortfall_minor": 10_000}
    assert_error(_ask(client, w, incoming, "r2", overdraw=True, memo=""), 422, "validation_error")  # no reason
    assert state(engine) == before

    r = _ask(client, w, incoming, "r3", overdraw=True, memo="credited by mistake; the customer spent it")
    assert r.status_code == 201, r.text
    req = r.json()
    assert (req["status"], req["overdraw"], req["shortfall_if_approved_minor"]) == ("requested", True, 10_000)
    assert bank.balance(w["a"]) == 0 and bank.balance(w["b"]) == 90_000  # nothing moved yet
    # the officer who asked cannot approve it
    before = state(engine)
    assert_error(client.post(f"{API}/reversals/{req['id']}/approve", json={}, headers=w["h1"]), 409, "same_officer")
    assert state(engine) == before

    r = client.post(f"{API}/reversals/{req['id']}/approve", json={"note": "agreed, to collections"}, headers=w["h2"])
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["status"], done["shortfall_account_id"], done["shortfall_minor"]) == ("executed", w["a"], 10_000)
    assert bank.balance(w["a"]) == -10_000 and bank.balance(w["b"]) == 100_000
    assert scalar(engine, "SELECT reverses_id FROM transfers WHERE id = :t", t=done["reversal_id"]) == incoming
    # the exception is listed for collections, and audited with the shortfall
    listed = client.get(f"{API}/reversals", params={"overdrawn": "true"}, headers=w["h2"]).json()
    assert [(x["id"], x["shortfall_minor"]) for x in listed] == [(req["id"], 10_000)]
    assert scalar(engine, "SELECT count(*) FROM audit_log WHERE action = 'transfer.reverse' AND object_id = :t",
                  t=str(incoming)) == 1


def test_a_reversal_within_the_balance_needs_no_overdraw_and_leaves_no_exception(client, bank, engine):
    w = _world(client, bank, engine)
    incoming = _move(engine, "in", w["b"], w["a"], 10_000)
    _move(engine, "spent", w["a"], w["c"], 4_000)
    _move(engine, "back", w["c"], w["a"], 4_000)
    req = _ask(client, w, incoming, "r1").json()
    r = client.post(f"{API}/reversals/{req['id']}/approve", json={}, headers=w["h2"])
    assert r.status_code == 200 and r.json()["shortfall_minor"] is None
    assert bank.balance(w["a"]) == 0
    assert client.get(f"{API}/reversals", params={"overdrawn": "true"}, headers=w["h2"]).json() == []
    bank.assert_invariants()


def test_approval_rechecks_the_balance(client, bank, engine):
    """Asked for while the money was there, spent before the approval: the approval is refused, nothing moves."""
    w = _world(client, bank, engine)
    incoming = _move(engine, "in", w["b"], w["a"], 10_000)
    req = _ask(client, w, incoming, "r1").json()
    _move(engine, "spent", w["a"], w["c"], 10_000)
    before = state(engine)
    assert_error(client.post(f"{API}/reversals/{req['id']}/approve", json={}, headers=w["h2"]), 422,
                 "insufficient_funds")
    assert state(engine) == before
    assert client.get(f"{API}/reversals/{req['id']}", headers=w["h2"]).json()["status"] == "requested"


def test_a_reversal_needs_a_second_person(client, bank, engine):
    w = _world(client, bank, engine)
    tid = _move(engine, "pay", w["b"], w["c"], 5_000)
    r = _ask(client, w, tid, "k1", memo="paid twice")
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert bank.balance(w["b"]) == 95_000
    assert scalar(engine, "SELECT count(*) FROM transfers WHERE kind = 'reversal'") == 0
    # a replay is the same request; the same key for something else is a conflict
    again = _ask(client, w, tid, "k1", memo="paid twice")
    assert again.status_code == 200 and again.json()["id"] == rid
    before = state(engine)
    assert_error(_ask(client, w, tid, "k1", overdraw=True, memo="x"), 409, "idempotency_key_reused")
    # one waiting request per transfer
    body = assert_error(_ask(client, w, tid, "k2", who="h2"), 409, "conflict")
    assert body["details"] == {"reversal_request_id": rid}
    # other roles neither ask nor decide
    assert_error(_ask(client, w, tid, "t1", who="ht"), 403, "forbidden")
    assert_error(client.post(f"{API}/reversals/{rid}/approve", json={}, headers=w["ht"]), 403, "forbidden")
    assert_error(client.get(f"{API}/reversals", headers=w["ht"]), 403, "forbidden")
    assert_error(client.post(f"{API}/reversals/{rid}/approve", json={}, headers=w["h1"]), 409, "same_officer")
    assert_error(client.post(f"{API}/reversals/{rid}/reject", json={"note": ""}, headers=w["h2"]), 422)
    assert_error(client.post(f"{API}/reversals/{10**9}/approve", json={}, headers=w["h2"]), 404, "not_found")
    assert state(engine) == before
    assert [x["id"] for x in client.get(f"{API}/reversals", headers=w["h2"]).json()] == [rid]

    r = client.post(f"{API}/reversals/{rid}/reject", json={"note": "not a duplicate"}, headers=w["h2"])
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert_error(client.post(f"{API}/reversals/{rid}/approve", json={}, headers=w["h2"]), 409, "conflict")
    assert bank.balance(w["b"]) == 95_000

    # asked again, approved by the other officer: it posts, once
    rid2 = _ask(client, w, tid, "k3", who="h2").json()["id"]
    r = client.post(f"{API}/reversals/{rid2}/approve", json={}, headers=w["h1"])
    assert r.status_code == 200, r.text
    assert bank.balance(w["b"]) == 100_000 and bank.balance(w["c"]) == 0
    assert_error(client.post(f"{API}/reversals/{rid2}/approve", json={}, headers=w["h2"]), 409, "conflict")
    assert_error(_ask(client, w, tid, "k4"), 409, "pending_already_resolved")
    assert scalar(engine, "SELECT count(*) FROM transfers WHERE kind = 'reversal'") == 1
    bank.assert_invariants()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_console_reversal_queue(client, bank, engine, lang):
    w = _world(client, bank, engine)
    tid = _move(engine, "pay", w["b"], w["c"], 5_000)
    rid = _ask(client, w, tid, "k1", memo="paid twice").json()["id"]
    client.cookies.set("sb_lang", lang)

    sign_in(client, "risk1", console=True)
    assert "/console/reversals" in client.get("/console").text
    for tab in ("requested", "executed", "rejected", "overdrawn", "nonsense"):
        r = client.get("/console/reversals", params={"tab": tab})
        assert r.status_code == 200 and raw_keys(r.text) == [], (tab, raw_keys(r.text))
    page = client.get("/console/reversals").text
    assert f'data-request="{rid}"' in page and f'id="approve-{rid}"' not in page  # not for the one who asked
    # forged anyway: refused with the reason, nothing moved
    r = client.post(f"/console/reversals/{rid}/approve", data={"csrf_token": csrf_token(page)},
                    follow_redirects=False)
    assert r.status_code == 409 and 'id="form-error"' in r.text
    assert ("另一位人员" if lang == "zh" else "second person") in r.text
    assert bank.balance(w["b"]) == 95_000

    client.cookies.clear()
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk2", console=True)
    page = client.get("/console/reversals").text
    assert f'id="approve-{rid}"' in page
    r = client.post(f"/console/reversals/{rid}/approve", data={"csrf_token": csrf_token(page), "note": "ok"},
                    follow_redirects=False)
    assert r.status_code == 303 and "notice=reversal_approved" in r.headers["location"]
    assert bank.balance(w["b"]) == 100_000
    done = client.get("/console/reversals", params={"tab": "executed"}).text
    assert f'data-request="{rid}"' in done and raw_keys(done) == []
    # tellers do not see the page
    client.cookies.clear()
    sign_in(client, "teller1", console=True)
    assert client.get("/console/reversals").status_code == 403


def test_asking_for_a_reversal_needs_its_reason(client, bank, engine):
    w = _world(client, bank, engine)
    tid = _move(engine, "in", w["b"], w["a"], 10_000)
    before = state(engine)
    for memo in ("", "   "):
        body = assert_error(_ask(client, w, tid, f"k{len(memo)}", memo=memo), 422, "validation_error")
        assert body["reason"] == "backoffice.reversal_reason_required"
    assert state(engine) == before
    assert _ask(client, w, tid, "k9", memo="paid to the wrong account").status_code == 201

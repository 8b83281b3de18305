"""The alert queue and cases through the API (/risk/alerts) and the console pages (CSRF forms)."""

from __future__ import annotations

import pytest

from tests.api.support import assert_error
from tests.conftest import login
from tests.risk.test_cases import AMOUNT, _fingerprint, blocked, held, posted
from tests.risk.test_cases import w as w  # noqa: F401 - fixture
from tests.web.conftest import csrf_token, raw_keys, sign_in

API = "/api/v1/risk/alerts"


# ---- API -------------------------------------------------------------------------------------------------


def test_api_queue_case_assign_note_resolve(client, engine, bank, w):  # noqa: F811
    aid, tid = held(engine, w)
    h = login(client, "risk1")
    r = client.get(API, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [a["id"] for a in body["items"]] == [aid] and body["counts"]["open"] == 1
    case = client.get(f"{API}/{aid}", headers=h, params={"lang": "zh"}).json()
    assert case["decision"]["model_version"] == "fraud-test-1" and case["payment_state"] == "held"

    r = client.post(f"{API}/{aid}/assign", headers=h)
    assert r.status_code == 200 and r.json()["assigned_to"] == w.officer.user_id
    assert [a["id"] for a in client.get(API, headers=h, params={"mine": True}).json()["items"]] == [aid]
    r = client.post(f"{API}/{aid}/notes", headers=h, json={"note": "checking"})
    assert r.status_code == 201, r.text

    r = client.post(f"{API}/{aid}/resolve", headers=h,
                    json={"resolution": "false_alarm", "action": "release", "note": "known payee"})
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "released"
    assert bank.balance(w.b) == 1_000 + AMOUNT
    r = client.post(f"{API}/{aid}/resolve", headers=h, json={"resolution": "false_alarm", "action": "release"})
    assert_error(r, 409, "conflict")
    assert bank.balance(w.b) == 1_000 + AMOUNT
    assert client.get(API, headers=h, params={"status": "closed"}).json()["items"][0]["resolution"] == "false_alarm"


@pytest.mark.parametrize("body,status", [
    ({}, 422),
    ({"resolution": "fraud"}, 422),
    ({"resolution": "fraud", "action": "refund"}, 422),
    ({"resolution": "fraud", "action": "release"}, 422),  # a rule of the service, not the schema
    ({"resolution": "false_alarm", "action": "none"}, 422),
    ({"resolution": "fraud", "action": "void", "extra": 1}, 422),
    ({"resolution": "fraud", "action": "void", "note": "x" * 2001}, 422),
    ({"resolution": "fraud", "action": "void", "note": "a\x00b"}, 422),
])
def test_api_bad_resolve_writes_nothing(client, engine, w, body, status):  # noqa: F811
    aid, _ = held(engine, w)
    h = login(client, "risk1")
    before = _fingerprint(engine)
    assert_error(client.post(f"{API}/{aid}/resolve", headers=h, json=body), status)
    assert_error(client.post(f"{API}/{aid}/notes", headers=h, json={"note": ""}), 422)
    assert_error(client.post(f"{API}/{aid}/assign", headers=h, json={"user_id": "7"}), 422)
    assert_error(client.post(f"{API}/{aid}/assign", headers=h, json={"user_id": w.teller.user_id}), 422)
    assert_error(client.post(f"{API}/987654/resolve", headers=h, json={"resolution": "fraud", "action": "void"}), 404)
    assert_error(client.get(f"{API}/0", headers=h), 422)
    assert_error(client.get(API, headers=h, params={"status": "weird"}), 422)
    assert _fingerprint(engine) == before


def test_api_refuses_other_roles(client, engine, w):  # noqa: F811
    aid, _ = held(engine, w)
    heads = {user: login(client, user) for user in ("teller1", "alice")}  # signing in is itself audited
    before = _fingerprint(engine)
    for h in heads.values():
        assert_error(client.get(API, headers=h), 403)
        assert_error(client.get(f"{API}/{aid}", headers=h), 403)
        assert_error(client.post(f"{API}/{aid}/assign", headers=h), 403)
        assert_error(client.post(f"{API}/{aid}/notes", headers=h, json={"note": "x"}), 403)
        assert_error(client.post(f"{API}/{aid}/resolve", headers=h, json={"resolution": "fraud", "action": "void"}),
                     403)
    assert_error(client.get(API), 401)
    assert _fingerprint(engine) == before


# ---- console pages -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_render_for_officers(client, engine, w, lang):  # noqa: F811
    aid, _ = held(engine, w)
    blk = blocked(engine, w)
    pid, _ = posted(engine, w, amount=500, key="p-1")
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk1", console=True)
    assert "/console/risk/alerts" in client.get("/console").text
    for path in ("/console/risk/alerts", "/console/risk/alerts?status=all", "/console/risk/alerts?status=closed",
                 "/console/risk/alerts?mine=1", "/console/risk/alerts?status=nonsense",
                 f"/console/risk/alerts/{aid}", f"/console/risk/alerts/{blk}", f"/console/risk/alerts/{pid}"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert raw_keys(r.text) == [], (path, raw_keys(r.text))
    queue = client.get("/console/risk/alerts").text
    assert f'data-alert="{aid}"' in queue and 'id="count-active">3<' in queue
    page = client.get(f"/console/risk/alerts/{aid}").text
    assert 'data-code="new_payee_large"' in page and "fraud-test-1" in page
    assert 'value="false_alarm:release"' in page and 'value="fraud:void"' in page
    assert 'value="fraud:reverse"' not in page


def test_case_actions_through_forms(client, engine, bank, w):  # noqa: F811
    aid, tid = held(engine, w)
    sign_in(client, "risk1", console=True)
    page = f"/console/risk/alerts/{aid}"

    token = csrf_token(client.get(page).text)
    r = client.post(f"{page}/assign", data={"csrf_token": token, "user_id": ""}, follow_redirects=False)
    assert r.status_code == 303 and "notice=riskcase_assigned" in r.headers["location"]
    r = client.post(f"{page}/note", data={"csrf_token": token, "note": "rang the customer"}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"{page}/assign", data={"csrf_token": token, "user_id": "abc"}, follow_redirects=False)
    assert r.status_code == 422 and 'id="form-error"' in r.text

    before = _fingerprint(engine)
    # no CSRF token: refused, nothing written
    r = client.post(f"{page}/resolve", data={"choice": "fraud:void"}, follow_redirects=False)
    assert r.status_code == 403
    # a choice the payment does not allow, and none at all: the case again with the error
    r = client.post(f"{page}/resolve", data={"csrf_token": token, "choice": "fraud:release"}, follow_redirects=False)
    assert r.status_code == 422 and 'id="form-error"' in r.text
    r = client.post(f"{page}/resolve", data={"csrf_token": token, "choice": ""}, follow_redirects=False)
    assert r.status_code == 422
    assert _fingerprint(engine) == before

    r = client.post(f"{page}/resolve", data={"csrf_token": token, "choice": "fraud:void", "note": "not the customer"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert bank.available(w.a) == 100_000 and bank.balance(w.b) == 1_000
    closed = client.get(page).text
    assert 'id="closed"' in closed and 'id="resolve-form"' not in closed and 'data-event="voided"' in closed
    r = client.post(f"{page}/resolve", data={"csrf_token": token, "choice": "fraud:void"}, follow_redirects=False)
    assert r.status_code == 409
    bank.assert_invariants()


def test_pages_refuse_other_roles(client, engine, w):  # noqa: F811
    aid, _ = held(engine, w)
    sign_in(client, "teller1", console=True)
    assert "/console/risk/alerts" not in client.get("/console").text
    assert client.get("/console/risk/alerts").status_code == 403
    assert client.get(f"/console/risk/alerts/{aid}").status_code == 403
    token = csrf_token(client.get("/console").text)
    before = _fingerprint(engine)
    r = client.post(f"/console/risk/alerts/{aid}/resolve", data={"csrf_token": token, "choice": "fraud:void"},
                    follow_redirects=False)
    assert r.status_code == 403
    assert _fingerprint(engine) == before


# ---- end to end: a payment held by the decision path, released by an officer -------------------------------


@pytest.mark.parametrize("resolution,action,paid", [("false_alarm", "release", True), ("fraud", "void", False)])
def test_held_payment_end_to_end(client, bank, engine, resolution, action, paid):
    from tests.risk.test_decisions import _pay, _rule, _setup

    _rule(engine, "hold", "amount_minor >= 1000000 and amount_minor < 2000000", "review")
    ha, _, a1, b1, to, alice = _setup(client, bank)
    bank.user("officer", role="risk_officer")
    r = _pay(client, ha, a1, to, 1_500_000, "e2e-1")
    assert r.status_code == 202, r.text
    ho = login(client, "officer")
    (alert,) = client.get(API, headers=ho).json()["items"]
    case = client.get(f"{API}/{alert['id']}", headers=ho).json()
    assert case["payment_state"] == "held" and case["decision"]["rule_hits"][0]["code"] == "hold"
    assert [n["kind"] for n in case["timeline"]["notifications"]] == ["payment_held"]
    r = client.post(f"{API}/{alert['id']}/resolve", headers=ho, json={"resolution": resolution, "action": action})
    assert r.status_code == 200, r.text
    assert bank.balance(b1) == (1_500_000 if paid else 0)
    assert bank.available(a1) == bank.balance(a1) == 10_000_000 - (1_500_000 if paid else 0)
    mine = client.get("/api/v1/notifications", headers=ha).json()
    assert [n["kind"] for n in mine["items"]] == ["payment_released" if paid else "payment_stopped", "payment_held"]
    assert "15,000.00" in mine["items"][0]["body"] and "李娜" in mine["items"][0]["body"]
    bank.assert_invariants()

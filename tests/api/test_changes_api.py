"""Change requests through the API and the console page: proposals from the entry points, the queue, approval
by a second person with the right role, rejection, withdrawal, staleness, staff roles and new staff sign-ins."""

from __future__ import annotations

import re

import pytest

from tests.api.support import API, assert_error, scalar
from tests.conftest import login
from tests.web.conftest import csrf_token, raw_keys, sign_in


@pytest.fixture
def w(client, bank):
    alice = bank.customer("王芳")
    ids = {u: bank.user(u, role=r) for u, r in (
        ("risk1", "risk_officer"), ("risk2", "risk_officer"), ("teller1", "teller"), ("mark1", "marketer"),
        ("admin1", "admin"), ("admin2", "admin"))}
    return {"alice": alice, "ids": ids, "h": {u: login(client, u) for u in ids}}


def _limit(engine, cid):
    return scalar(engine, "SELECT daily_limit_minor FROM customers WHERE id = :c", c=cid)


def test_risk_limit_through_the_api_and_the_queue(client, engine, w):
    h = w["h"]
    n = scalar(engine, "SELECT count(*) FROM risk_limits")
    r = client.post(f"{API}/risk/limits", json={"scope": "channel", "scope_value": "web", "daily_count": 5,
                                                "reason": "bot traffic"}, headers=h["risk1"])
    assert r.status_code == 202 and r.json()["status"] == "pending_approval", r.text
    cid = r.json()["change"]["id"]
    assert scalar(engine, "SELECT count(*) FROM risk_limits") == n
    # the queue: risk officers and administrators see it, a marketer does not, the maker cannot approve
    assert [c["id"] for c in client.get(f"{API}/changes", headers=h["risk2"]).json()["items"]] == [cid]
    assert client.get(f"{API}/changes", headers=h["mark1"]).json()["items"] == []
    assert_error(client.get(f"{API}/changes/{cid}", headers=h["mark1"]), 404)
    assert_error(client.post(f"{API}/changes/{cid}/approve", headers=h["risk1"]), 409, "same_officer")
    assert_error(client.post(f"{API}/changes/{cid}/approve", headers=h["mark1"]), 403)
    r = client.post(f"{API}/changes/{cid}/approve", json={"note": "agreed"}, headers=h["risk2"])
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text
    lid = r.json()["after"]["id"]
    assert scalar(engine, "SELECT daily_count FROM risk_limits WHERE id = :i", i=lid) == 5
    # an edit, then a second edit of the same limit: approving one makes the other stale
    a = client.patch(f"{API}/risk/limits/{lid}", json={"daily_count": 6}, headers=h["risk1"]).json()["change"]["id"]
    b = client.patch(f"{API}/risk/limits/{lid}", json={"daily_count": 9}, headers=h["risk1"]).json()["change"]["id"]
    assert client.post(f"{API}/changes/{a}/approve", headers=h["admin1"]).status_code == 200
    assert_error(client.post(f"{API}/changes/{b}/approve", headers=h["admin1"]), 409, "stale_change")
    assert scalar(engine, "SELECT daily_count FROM risk_limits WHERE id = :i", i=lid) == 6
    # the maker withdraws the stale one; a decided request is not decided again
    assert client.post(f"{API}/changes/{b}/withdraw", headers=h["risk1"]).json()["status"] == "withdrawn"
    assert_error(client.post(f"{API}/changes/{b}/reject", json={"note": "x"}, headers=h["risk2"]), 409)
    listed = client.get(f"{API}/changes?status=all", headers=h["risk2"]).json()["items"]
    assert [(c["id"], c["status"]) for c in listed][:3] == [(b, "withdrawn"), (a, "applied"), (cid, "applied")]


def test_daily_limit_reject_leaves_the_value(client, engine, w):
    h, alice = w["h"], w["alice"]
    before = _limit(engine, alice)
    r = client.put(f"{API}/customers/{alice}/daily-limit", json={"daily_limit_minor": 1}, headers=h["teller1"])
    assert r.status_code == 202
    cid = r.json()["change"]["id"]
    assert_error(client.post(f"{API}/changes/{cid}/reject", json={}, headers=h["risk1"]), 422)
    r = client.post(f"{API}/changes/{cid}/reject", json={"note": "no signed form"}, headers=h["risk1"])
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert _limit(engine, alice) == before
    assert_error(client.post(f"{API}/changes/{cid}/approve", headers=h["admin1"]), 409)
    assert _limit(engine, alice) == before


def test_staff_roles_and_new_staff_need_a_second_administrator(client, engine, w):
    h, ids = w["h"], w["ids"]
    r = client.put(f"{API}/users/{ids['teller1']}/role", json={"role": "risk_officer", "reason": "moved team"},
                   headers=h["admin1"])
    assert r.status_code == 202 and r.json()["change"]["before"]["role"] == "teller"
    cid = r.json()["change"]["id"]
    assert_error(client.put(f"{API}/users/{ids['teller1']}/role", json={"role": "admin"}, headers=h["risk1"]), 403)
    assert_error(client.post(f"{API}/changes/{cid}/approve", headers=h["risk1"]), 403)  # only administrators
    assert_error(client.post(f"{API}/changes/{cid}/approve", headers=h["admin1"]), 409, "same_officer")
    assert client.post(f"{API}/changes/{cid}/approve", headers=h["admin2"]).status_code == 200
    assert scalar(engine, "SELECT role FROM users WHERE id = :i", i=ids["teller1"]) == "risk_officer"
    # an administrator changes no one's role to customer, nor their own
    assert_error(client.put(f"{API}/users/{ids['mark1']}/role", json={"role": "customer"}, headers=h["admin1"]), 422)
    assert_error(client.put(f"{API}/users/{ids['admin1']}/active", json={"active": False}, headers=h["admin1"]), 422)
    # a new staff sign-in cannot sign in until a second administrator activates it
    r = client.post(f"{API}/users", json={"username": "admin3", "password": "passw0rd!x", "role": "admin"},
                    headers=h["admin1"])
    assert r.status_code == 201 and r.json()["is_active"] is False, r.text
    assert client.post(f"{API}/auth/login", json={"username": "admin3", "password": "passw0rd!x"}).status_code == 401
    assert client.post(f"{API}/changes/{r.json()['change']['id']}/approve", headers=h["admin2"]).status_code == 200
    assert login(client, "admin3", "passw0rd!x")
    # deactivation ends the sessions of the user at once
    hm = h["mark1"]
    cid = client.put(f"{API}/users/{ids['mark1']}/active", json={"active": False}, headers=h["admin2"]).json()
    assert client.get(f"{API}/auth/me", headers=hm).status_code == 200
    assert client.post(f"{API}/changes/{cid['change']['id']}/approve", headers=h["admin1"]).status_code == 200
    assert client.get(f"{API}/auth/me", headers=hm).status_code == 401


def test_bad_proposals_are_refused_and_write_nothing(client, engine, w):
    h = w["h"]
    n = scalar(engine, "SELECT count(*) FROM change_requests")
    assert_error(client.post(f"{API}/risk/limits", json={"scope": "channel", "scope_value": "fax", "daily_count": 1},
                             headers=h["risk1"]), 422)
    assert_error(client.patch(f"{API}/risk/limits/999999", json={"daily_count": 1}, headers=h["risk1"]), 404)
    assert_error(client.put(f"{API}/customers/999999/daily-limit", json={"daily_limit_minor": 1},
                            headers=h["teller1"]), 404)
    assert_error(client.patch(f"{API}/wealth/products/NOPE", json={"redemption_fee_bps": 1}, headers=h["mark1"]), 404)
    assert scalar(engine, "SELECT count(*) FROM change_requests") == n


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_console_page_shows_before_and_after_and_approves(client, engine, w, lang):
    alice = w["alice"]
    client.cookies.set("sb_lang", lang)
    sign_in(client, "teller1", console=True)
    assert "/console/changes" in client.get("/console").text
    # the teller proposes from the API with their session token, then sees it as their own (no approve button)
    r = client.put(f"{API}/customers/{alice}/daily-limit",
                   json={"daily_limit_minor": 2_000_00, "reason": "customer request"}, headers=w["h"]["teller1"])
    cid = r.json()["change"]["id"]
    page = client.get("/console/changes").text
    assert f'data-change="{cid}"' in page and f'id="approve-{cid}"' not in page and f'id="withdraw-{cid}"' in page
    assert "¥2,000.00" in page and raw_keys(page) == []
    if lang == "zh":
        assert "调整客户每日限额" in page and "每日转账限额" in page and "daily_limit" not in page.split("<body", 1)[1]
    else:
        assert "Customer&#39;s daily limit" in page or "Customer's daily limit" in page
    client.cookies.clear()
    client.cookies.set("sb_lang", lang)
    sign_in(client, "risk1", console=True)
    page = client.get("/console/changes").text
    assert f'id="approve-{cid}"' in page
    r = client.post(f"/console/changes/{cid}/approve", data={"csrf_token": csrf_token(page), "note": "ok"},
                    follow_redirects=False)
    assert r.status_code == 303 and "notice=change_approved" in r.headers["location"]
    assert _limit(engine, alice) == 2_000_00
    applied = client.get("/console/changes?tab=applied").text
    assert re.search(rf'data-change="{cid}"', applied)
    # a marketer decides no change of this kind: the page is not theirs
    client.cookies.clear()
    sign_in(client, "mark1", console=True)
    assert client.get("/console/changes").status_code in (200, 403)
    assert f'data-change="{cid}"' not in client.get("/console/changes?tab=applied").text


def test_a_teller_proposes_a_daily_limit_from_the_customer_page(client, engine, w):
    alice = w["alice"]
    client.cookies.set("sb_lang", "zh")
    sign_in(client, "teller1", console=True)
    page = client.get(f"/console/customers/{alice}").text
    assert 'id="daily-limit-form"' in page and raw_keys(page) == []
    bad = client.post(f"/console/customers/{alice}/daily-limit", data={"csrf_token": csrf_token(page), "limit": "x"})
    assert bad.status_code == 422 and scalar(engine, "SELECT count(*) FROM change_requests") == 0
    r = client.post(f"/console/customers/{alice}/daily-limit",
                    data={"csrf_token": csrf_token(page), "limit": "8,000", "reason": "柜面申请"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/changes?notice=change_proposed"
    queue = client.get("/console/changes?notice=change_proposed").text
    assert "已提交，待另一位人员复核后生效。" in queue and "¥8,000.00" in queue and "柜面申请" in queue
    assert _limit(engine, alice) is None
    cid = client.get(f"{API}/changes", headers=w["h"]["risk1"]).json()["items"][0]["id"]
    assert client.post(f"{API}/changes/{cid}/approve", headers=w["h"]["risk1"]).status_code == 200
    assert _limit(engine, alice) == 8_000_00

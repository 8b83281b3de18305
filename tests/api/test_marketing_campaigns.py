"""/api/v1/marketing/campaigns: draft, preview, maker-checker approval, run, results; the wrong role refused."""

from __future__ import annotations

from tests.api.support import API, assert_error
from tests.conftest import login
from tests.marketing.campaign_helpers import arrange, spec

BASE = f"{API}/marketing/campaigns"


def test_draft_preview_approve_run_and_results(client, bank, bank_clock):
    ids = arrange(bank, 8, consent_every=2)
    bank.user("market1", role="marketer")
    bank.user("market2", role="marketer")
    h1, h2 = login(client, "market1"), login(client, "market2")
    r = client.post(BASE, json=spec(), headers=h1)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    p = client.post(f"{BASE}/preview", json={"audience": {"segments": ["S1"]}, "channels": ["inapp"]}, headers=h1)
    assert p.status_code == 200, p.text
    assert p.json()["in_audience"] == 4 and p.json()["reachable"] == 4  # even customers: S1 and consenting
    assert client.post(f"{BASE}/{cid}/submit", headers=h1).status_code == 200
    body = assert_error(client.post(f"{BASE}/{cid}/approve", headers=h1), 409)
    assert body["reason"] == "marketing.same_maker"
    ok = client.post(f"{BASE}/{cid}/approve", json={"note": "looks right"}, headers=h2)
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    run = client.post(f"{BASE}/WEALTH1/run", headers=h1)
    assert run.status_code == 200, run.text
    assert run.json()["in_audience"] == len(ids)
    res = client.get(f"{BASE}/{cid}/results", headers=h2).json()
    assert res["totals"]["assigned"] == len(ids)
    assert res["totals"]["sent"] + res["suppressed_by_reason"].get("no_consent", 0) == res["totals"]["messages"]
    lst = client.get(BASE, headers=h2).json()
    assert [c["code"] for c in lst] == ["WEALTH1"] and lst[0]["status"] == "completed"


def test_bad_input_and_wrong_roles(client, bank, bank_clock):
    bank.user("market1", role="marketer")
    bank.user("teller1", role="teller")
    h = login(client, "market1")
    body = assert_error(client.post(BASE, json=spec(holdout_bp=9000), headers=h), 422)
    assert body["reason"] == "marketing.holdout_range"
    body = assert_error(client.post(BASE, json=spec(audience={"expression": "age >"}), headers=h), 422)
    assert body["reason"].startswith("expr.")
    assert client.get(BASE, headers=h).json() == []
    ht = login(client, "teller1")
    assert_error(client.get(BASE, headers=ht), 403)
    assert_error(client.post(BASE, json=spec(), headers=ht), 403)
    assert_error(client.post(f"{BASE}/preview", json={"audience": {}}, headers=ht), 403)
    assert_error(client.get(f"{BASE}/NOPE", headers=h), 404)

"""The privacy API: the customer's consents, export, corrections and deletion; staff read-only consents, branch
consent recorded by a teller, the correction queue."""

from __future__ import annotations

import io
import zipfile

from tests.conftest import login


def test_consents_export_corrections_and_deletion_over_http(client, bank):
    cid = bank.customer("孙九", phone="13600001111")
    bank.account(cid, balance=1_000)
    bank.user("sun", customer_id=cid)
    bank.user("teller1", role="teller")
    bank.user("mark1", role="marketer")
    me, teller, marketer = login(client, "sun"), login(client, "teller1"), login(client, "mark1")

    r = client.get("/api/v1/privacy/consents", headers=me)
    assert r.status_code == 200
    assert {c["purpose"]: c["granted"] for c in r.json()["items"]}["personalised_recommendation"] is True
    r = client.put("/api/v1/privacy/consents", json={"purpose": "personalised_recommendation", "granted": False},
                   headers=me)
    assert r.status_code == 200 and r.json()["granted"] is False and r.json()["given_via"] == "api"
    assert client.put("/api/v1/privacy/consents", json={"purpose": "telepathy", "granted": True},
                      headers=me).status_code == 422
    assert client.put("/api/v1/privacy/consents", json={"purpose": "analytics", "granted": "maybe"},
                      headers=me).status_code == 422
    hist = client.get("/api/v1/privacy/consents/history", headers=me).json()["items"]
    assert [(h["purpose"], h["granted"]) for h in hist] == [("personalised_recommendation", False)]
    # the recommender serves a non-personalised list from now on
    rec = client.get("/api/v1/recommendations", headers=me)
    assert rec.status_code == 200 and rec.json()["personalised"] is False

    # staff: read-only for customer.read roles, branch consent for tellers only
    r = client.get(f"/api/v1/customers/{cid}/consents", headers=teller)
    assert r.status_code == 200 and len(r.json()["history"]) == 1
    assert client.get(f"/api/v1/customers/{cid}/consents", headers=marketer).status_code == 403
    r = client.post(f"/api/v1/customers/{cid}/consents", json={"purpose": "marketing_phone", "granted": True},
                    headers=teller)
    assert r.status_code == 201 and r.json()["given_via"] == "branch"
    assert client.post(f"/api/v1/customers/{cid}/consents", json={"purpose": "marketing_phone", "granted": True},
                       headers=marketer).status_code == 403

    r = client.get("/api/v1/privacy/export?format=csv", headers=me)
    assert r.status_code == 200 and "consents.csv" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert client.get("/api/v1/privacy/export?format=xml", headers=me).status_code == 422

    r = client.post("/api/v1/privacy/corrections", json={"field": "city", "value": "杭州"}, headers=me)
    assert r.status_code == 201
    queue = client.get("/api/v1/privacy/correction-queue", headers=teller).json()["items"]
    assert [q["requested_value"] for q in queue] == ["杭州"]
    assert client.get("/api/v1/privacy/correction-queue", headers=marketer).status_code == 403
    r = client.post(f"/api/v1/privacy/corrections/{queue[0]['id']}/resolve", json={"accept": False}, headers=teller)
    assert r.status_code == 422  # a refusal needs its reason
    r = client.post(f"/api/v1/privacy/corrections/{queue[0]['id']}/resolve",
                    json={"accept": False, "note": "请到网点办理"}, headers=teller)
    assert r.status_code == 200 and r.json()["status"] == "rejected"

    check = client.get("/api/v1/privacy/deletion", headers=me).json()
    assert check["allowed"] is False and {b["code"] for b in check["blockers"]} == {"money", "open_accounts"}
    r = client.post("/api/v1/privacy/deletion", json={"confirm": True}, headers=me)
    assert r.status_code == 409 and r.json()["code"] == "deletion_refused"
    assert {b["code"] for b in r.json()["details"]["blockers"]} == {"money", "open_accounts"}
    assert client.post("/api/v1/privacy/deletion", json={}, headers=me).status_code == 422

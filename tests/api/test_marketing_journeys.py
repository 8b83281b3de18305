"""/api/v1/marketing/journeys: create, approve (maker != checker), events, runs, refusals."""

from __future__ import annotations

from tests.api.support import API, assert_error
from tests.conftest import login

J = f"{API}/marketing/journeys"
STEPS = [{"id": "hi", "type": "send", "channel": "inapp", "content": {"zh": {"body": "你好"}, "en": {"body": "Hi"}},
          "next": "w"},
         {"id": "w", "type": "wait", "hours": 12, "next": "end"},
         {"id": "end", "type": "exit"}]


def test_create_approve_emit_and_explain(client, bank):
    cid = bank.customer()
    bank.user("mkt1", role="marketer")
    bank.user("mkt2", role="marketer")
    h1 = login(client, "mkt1")
    r = client.post(J, headers=h1, json={"code": "hello", "name_zh": "问候", "name_en": "Hello",
                                         "trigger": "salary_credited", "steps": STEPS, "reentry_days": 0})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    own = assert_error(client.post(f"{J}/hello/approve", headers=h1), 409)
    assert own["reason"] == "marketing.journey_self_approval"
    h2 = login(client, "mkt2")
    assert client.post(f"{J}/hello/approve", headers=h2).json()["status"] == "enabled"
    ev = client.post(f"{J}/events", headers=h1, json={"kind": "salary_credited", "customer_id": cid, "ref": "t:1"})
    assert ev.status_code == 201 and len(ev.json()["runs_started"]) == 1
    again = client.post(f"{J}/events", headers=h1, json={"kind": "salary_credited", "customer_id": cid, "ref": "t:1"})
    assert again.json()["created"] is False and again.json()["runs_started"] == []
    assert_error(client.post(f"{J}/events", headers=h1, json={"kind": "salary_credited", "customer_id": 10**6,
                                                              "ref": "t:2"}), 404)
    run_id = ev.json()["runs_started"][0]
    run = client.get(f"{J}/runs/{run_id}", headers=h1).json()
    assert run["status"] == "active" and run["step"] == "hi" and run["history"] == []
    listed = client.get(J, headers=h2).json()["items"]
    assert [(j["code"], j["runs"]["active"]) for j in listed] == [("hello", 1)]
    detail = client.get(f"{J}/hello", headers=h2).json()
    assert detail["stats"]["runs"]["active"] == 1 and [v["version"] for v in detail["versions"]] == [1]


def test_bad_definitions_and_roles(client, bank):
    bank.user("mkt1", role="marketer")
    bank.user("tel1", role="teller")
    h = login(client, "mkt1")
    before = bank.count("mkt_journeys")
    body = {"code": "bad", "name_zh": "坏", "name_en": "Bad", "trigger": "salary_credited",
            "steps": [{"id": "a", "type": "wait", "days": 1, "next": "nowhere"}]}
    e = assert_error(client.post(J, headers=h, json=body), 422)
    assert e["reason"] == "marketing.journey_unknown_next"
    assert_error(client.post(J, headers=h, json={**body, "trigger": "birthday", "steps": STEPS}), 422)
    assert_error(client.post(J, headers=h, json={**body, "steps": STEPS, "extra": 1}), 422)
    assert_error(client.get(f"{J}/NOPE", headers=h), 422)
    assert_error(client.get(f"{J}/nope", headers=h), 404)
    assert bank.count("mkt_journeys") == before
    ht = login(client, "tel1")
    assert_error(client.get(J, headers=ht), 403)
    assert_error(client.post(f"{J}/seed", headers=ht), 403)

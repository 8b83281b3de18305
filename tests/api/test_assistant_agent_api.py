"""Staff API of the assistant: knowledge base, hand-off queue, analytics; customers are refused."""

from __future__ import annotations

from smartbank import db
from smartbank.assistant import faq_seed
from smartbank.security.service import SYSTEM
from tests.api.support import API, assert_error, state
from tests.assistant.support import conversation
from tests.conftest import login

TURNS = [{"sender": "customer", "text": "我要投诉", "intent": "complaint", "confidence": 0.9, "sentiment": -0.7}]


def _desk(client, bank):
    cust = bank.customer("王芳")
    bank.account(cust, balance=5_000)
    bank.user("wangfang", customer_id=cust)
    bank.user("agent1", role="service_agent")
    bank.user("agent2", role="service_agent")
    bank.user("mark1", role="marketer")
    return cust, {u: login(client, u) for u in ("wangfang", "agent1", "agent2", "mark1")}


def test_faq_api(client, bank, engine):
    _, h = _desk(client, bank)
    db.run_in_transaction(lambda s: faq_seed.seed(s, SYSTEM), engine=engine)
    body = {"category": "card", "question_zh": "信用卡怎么激活？", "question_en": "How do I activate my credit card?",
            "answer_zh": "在手机银行激活。", "answer_en": "Activate it in mobile banking.", "variants": ["激活新卡"]}
    before = state(engine)
    assert_error(client.post(f"{API}/assistant/faq", json=body, headers=h["wangfang"]), 403, "forbidden")
    assert_error(client.post(f"{API}/assistant/faq", json={**body, "answer_en": ""}, headers=h["agent1"]), 422)
    assert state(engine) == before
    r = client.post(f"{API}/assistant/faq", json=body, headers=h["agent1"])
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    r = client.patch(f"{API}/assistant/faq/{eid}", json={"version": 1, "variants": ["激活新卡", "新卡怎么开通"]},
                     headers=h["agent1"])
    assert r.status_code == 200 and r.json()["version"] == 2
    assert_error(client.patch(f"{API}/assistant/faq/{eid}", json={"version": 1, "answer_en": "x"},
                              headers=h["agent2"]), 409)
    r = client.post(f"{API}/assistant/faq/test", json={"text": "新卡怎么开通", "language": "zh"}, headers=h["agent1"])
    assert r.status_code == 200 and r.json()["match"]["entry_id"] == eid
    r = client.post(f"{API}/assistant/faq/test", json={"text": "今天天气怎么样"}, headers=h["agent1"])
    assert r.json()["match"] is None
    assert_error(client.post(f"{API}/assistant/faq/test", json={"text": "x"}, headers=h["wangfang"]), 403)
    r = client.post(f"{API}/assistant/faq/{eid}/active", json={"active": False}, headers=h["agent1"])
    assert r.json()["active"] is False
    items = client.get(f"{API}/assistant/faq?include_inactive=false", headers=h["agent1"]).json()["items"]
    assert eid not in [i["id"] for i in items] and len(items) == len(faq_seed.ENTRIES)
    assert_error(client.get(f"{API}/assistant/faq", headers=h["wangfang"]), 403)


def test_queue_api(client, bank, engine):
    cust, h = _desk(client, bank)
    cid = conversation(engine, cust, TURNS, reason="complaint", summary={"intent": "complaint"})
    assert_error(client.get(f"{API}/assistant/agent/queue", headers=h["wangfang"]), 403)
    assert_error(client.get(f"{API}/assistant/agent/queue", headers=h["mark1"]), 403)
    r = client.get(f"{API}/assistant/agent/queue", headers=h["agent1"])
    assert r.status_code == 200
    item = r.json()["items"][0]
    assert item["conversation_id"] == cid and item["priority"] == 1 and item["customer"]["name"] == "王芳"
    assert r.json()["counts"]["waiting"] == 1
    assert client.post(f"{API}/assistant/agent/conversations/{cid}/claim", headers=h["agent1"]).status_code == 200
    assert_error(client.post(f"{API}/assistant/agent/conversations/{cid}/claim", headers=h["agent2"]), 409,
                 "already_claimed")
    r = client.post(f"{API}/assistant/agent/conversations/{cid}/messages", json={"text": "您好"}, headers=h["agent1"])
    assert r.status_code == 201 and r.json()["sender"] == "agent"
    case = client.get(f"{API}/assistant/agent/conversations/{cid}", headers=h["agent1"]).json()
    assert [m["sender"] for m in case["messages"]] == ["customer", "agent"]
    assert case["conversation"]["status"] == "agent"
    assert client.post(f"{API}/assistant/agent/conversations/{cid}/close", headers=h["agent1"]).status_code == 200
    assert_error(client.get(f"{API}/assistant/agent/conversations/999999", headers=h["agent1"]), 404)
    r = client.get(f"{API}/assistant/agent/analytics", headers=h["mark1"])
    assert r.status_code == 200 and r.json()["handed_off"] == 1
    assert_error(client.get(f"{API}/assistant/agent/analytics", headers=h["wangfang"]), 403)
    assert_error(client.get(f"{API}/assistant/agent/analytics?start=2026-02-01&end=2026-01-01",
                            headers=h["mark1"]), 422)

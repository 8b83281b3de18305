"""API /opinion: the signed webhook (a bad signature is 401 and writes nothing), ingest, mentions, the series,
the alert workflow, topics, and roles."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from smartbank import clock, db
from smartbank.config import reset_settings
from smartbank.opinion import service as opinion
from tests.api.support import API, assert_error, state
from tests.conftest import login
from tests.opinion.support import add_series

SECRET = "hook-secret-0123456789"


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv("SMARTBANK_OPINION_WEBHOOK_SECRET", SECRET)
    reset_settings()
    yield SECRET
    monkeypatch.delenv("SMARTBANK_OPINION_WEBHOOK_SECRET")
    reset_settings()


def _body(ids=("a1", "a2")) -> bytes:
    return json.dumps({"source": "hook", "mentions": [
        {"id": i, "text": "智慧银行转账失败，系统故障！", "posted_at": "2026-11-24T09:00:00+08:00"} for i in ids]},
        ensure_ascii=False).encode()


def test_webhook_signature(client, engine, secret):
    body = _body()
    before = state(engine)
    for sig in (None, "sha256=" + "0" * 64, opinion.sign(body, "wrong"), opinion.sign(body[:-1], SECRET)):
        headers = {"Content-Type": "application/json"} | ({opinion.SIGNATURE_HEADER: sig} if sig else {})
        assert_error(client.post(f"{API}/opinion/webhook", content=body, headers=headers), 401)
    assert state(engine) == before
    ok = client.post(f"{API}/opinion/webhook", content=body,
                     headers={"Content-Type": "application/json", opinion.SIGNATURE_HEADER: opinion.sign(body, SECRET)})
    assert ok.status_code == 200, ok.text
    assert ok.json()["inserted"] == 2
    again = client.post(f"{API}/opinion/webhook", content=body,
                        headers={opinion.SIGNATURE_HEADER: opinion.sign(body, SECRET)})
    assert again.json()["duplicates"] == 2


def test_ingest_mentions_alerts_workflow_and_roles(client, bank, engine):
    bank.user("mk1", role="marketer")
    bank.user("ro1", role="risk_officer")
    bank.user("teller1", role="teller")
    hm, hr, ht = login(client, "mk1"), login(client, "ro1"), login(client, "teller1")
    row = {"text": "智慧银行的客服态度很差", "posted_at": "2026-11-24T08:00:00+08:00"}
    content = "\n".join(json.dumps(row | {"id": f"x{i}"}, ensure_ascii=False) for i in range(3))
    r = client.post(f"{API}/opinion/ingest", json={"source": "weibo", "format": "jsonl", "content": content},
                    headers=hm)
    assert r.status_code == 201, r.text
    assert r.json()["inserted"] == 3
    before = state(engine)
    assert_error(client.post(f"{API}/opinion/ingest", json={"source": "weibo", "format": "jsonl",
                                                             "content": content}, headers=hr), 403)
    bad = client.post(f"{API}/opinion/ingest", json={"source": "weibo", "format": "csv",
                                                      "content": "id,text,posted_at\n1,,x\n"}, headers=hm)
    body = assert_error(bad, 422)
    assert body["reason"] == "opinion.bad_rows" and body["details"]["errors"][0]["line"] == 2
    assert_error(client.get(f"{API}/opinion/mentions", headers=ht), 403)
    assert state(engine) == before
    got = client.get(f"{API}/opinion/mentions", params={"label": "negative", "topic": "service_attitude"}, headers=hr)
    assert got.status_code == 200 and len(got.json()) == 3, got.text
    # a spike in the last hour, found by detect
    now = opinion.hour_floor(clock.now())
    with db.session_scope(engine) as s:
        add_series(s, now, spike_at=now - timedelta(hours=1), spike=25)
    r = client.post(f"{API}/opinion/detect", json={"start": (now - timedelta(hours=3)).isoformat(),
                                                    "end": now.isoformat()}, headers=hr)
    assert r.status_code == 200, r.text
    assert {a["kind"] for a in r.json()} == {"volume", "negative"}
    aid = next(a["id"] for a in r.json() if a["kind"] == "negative")
    series = client.get(f"{API}/opinion/series", params={"hours": 24}, headers=hm).json()
    assert len(series["points"]) == 24 and any(a["id"] == aid for a in series["alerts"])
    steps = [("acknowledge", {}), ("assign", {"assignee": "pr"}), ("respond", {"note": "posted a statement"}),
             ("close", {})]
    for step, payload in steps:
        r = client.post(f"{API}/opinion/alerts/{aid}/{step}", json=payload, headers=hr)
        assert r.status_code == 200, r.text
    assert_error(client.post(f"{API}/opinion/alerts/{aid}/escalate", json={}, headers=hm), 409)
    assert_error(client.post(f"{API}/opinion/alerts/{aid}/acknowledge", json={}, headers=ht), 403)
    assert_error(client.get(f"{API}/opinion/alerts/999999", headers=hm), 404)
    view = client.get(f"{API}/opinion/alerts/{aid}", headers=hm).json()
    assert view["status"] == "closed" and [e["action"] for e in view["events"]][-1] == "close"
    # topics are editable
    r = client.post(f"{API}/opinion/topics", json={"code": "branch_queue", "name_zh": "排队", "name_en": "Queues",
                                                    "keywords_zh": ["排队"]}, headers=hm)
    assert r.status_code == 200, r.text
    assert_error(client.post(f"{API}/opinion/topics", json={"code": "x", "bogus": 1}, headers=hm), 422)
    assert_error(client.post(f"{API}/opinion/topics", json={"code": "new_one"}, headers=hm), 422)  # names needed

"""The contact policy's API: reads for staff who may, changes for the roles that may, refusals as the wrong role,
bad input refused with nothing written."""

from __future__ import annotations

from smartbank import db
from smartbank.customers import service as customers
from smartbank.marketing import service as marketing
from tests.conftest import login
from tests.marketing.test_contact import CONTENT, consent

BASE = "/api/v1/marketing/contact"


def _world(bank, engine):
    cid = bank.customer("王芳")
    bank.user("alice", customer_id=cid)
    bank.user("mk1", role="marketer")
    bank.user("teller1", role="teller")
    bank.user("risk1", role="risk_officer")
    with db.session_scope(engine) as s:
        number = customers.get_customer(s, cid).number
    return cid, number


def test_policy_read_and_set_by_a_marketer_refused_to_a_teller_and_a_customer(client, bank, engine, bank_clock):
    _world(bank, engine)
    mk, teller, alice = login(client, "mk1"), login(client, "teller1"), login(client, "alice")
    r = client.get(f"{BASE}/policy", headers=mk)
    assert r.status_code == 200 and r.json()["sms"]["max_count"] == 2 and r.json()["all"]["max_count"] == 6
    r = client.put(f"{BASE}/policy/sms", headers=teller, json={"max_count": 9, "period_days": 7})
    assert r.status_code == 403
    assert client.get(f"{BASE}/policy", headers=alice).status_code == 403
    r = client.put(f"{BASE}/policy/sms", headers=mk, json={"max_count": 1, "period_days": 3, "quiet_start": "22:00",
                                                            "quiet_end": "08:00", "cost_micro": 40_000})
    assert r.status_code == 200, r.text
    assert client.get(f"{BASE}/policy", headers=mk).json()["sms"]["quiet_start"] == "22:00"
    bad = client.put(f"{BASE}/policy/sms", headers=mk, json={"max_count": 1, "quiet_start": "22:00"})
    assert bad.status_code == 422 and bad.json()["reason"] == "marketing.policy_quiet"
    assert client.put(f"{BASE}/policy/fax", headers=mk, json={}).status_code == 422
    assert client.get(f"{BASE}/policy", headers=mk).json()["sms"]["max_count"] == 1


def test_dnd_by_a_teller_then_why_shows_the_refusal(client, bank, engine, bank_clock):
    cid, number = _world(bank, engine)
    consent(engine, cid, "sms")
    teller, mk, risk = login(client, "teller1"), login(client, "mk1"), login(client, "risk1")
    r = client.post(f"{BASE}/dnd", headers=teller, json={"customer_number": number, "channel": "sms",
                                                         "reason": "客户来电要求"})
    assert r.status_code == 201, r.text
    dnd_id = r.json()["id"]
    assert client.post(f"{BASE}/dnd", headers=risk, json={"customer_number": number, "reason": "x"}).status_code == 403
    with db.session_scope(engine) as s:
        marketing.send(s, marketing.Outgoing(customer_id=cid, channel="sms", content=CONTENT, campaign_id=4))
    why = client.get(f"{BASE}/why", headers=mk, params={"customer_number": number})
    assert why.status_code == 200
    assert why.json()["attempts"][0]["reason"] == "do_not_disturb" and why.json()["customer"]["name"] != "王芳"
    assert client.get(f"{BASE}/why", headers=risk, params={"customer_number": number}).status_code == 403
    summary = client.get(f"{BASE}/campaigns/4/summary", headers=mk).json()
    assert summary["by_reason"] == {"do_not_disturb": 1}
    assert client.get(f"{BASE}/campaigns/4/summary", headers=teller).status_code == 403
    listed = client.get(f"{BASE}/dnd", headers=teller, params={"customer_number": number}).json()["items"]
    assert [d["id"] for d in listed] == [dnd_id]
    assert client.delete(f"{BASE}/dnd/{dnd_id}", headers=mk).status_code == 200
    assert client.delete(f"{BASE}/dnd/{dnd_id}", headers=mk).status_code == 404
    assert client.get(f"{BASE}/why", headers=mk, params={"customer_number": "NOPE1"}).status_code == 404


def test_bad_dnd_input_writes_nothing(client, bank, engine, bank_clock):
    _, number = _world(bank, engine)
    teller = login(client, "teller1")
    for body in ({"customer_number": number, "reason": ""}, {"customer_number": number, "reason": "x",
                                                              "channel": "fax"},
                 {"customer_number": "../x", "reason": "x"}, {"customer_number": number, "reason": "x",
                                                               "until": "2000-01-01T00:00:00+08:00"}):
        assert client.post(f"{BASE}/dnd", headers=teller, json=body).status_code == 422, body
    assert client.get(f"{BASE}/dnd", headers=teller).json()["items"] == []

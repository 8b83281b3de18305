"""The /risk limits, register, matrix, KRI, warning, model-monitor and dashboard endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartbank import clock, db
from smartbank.risk import limits, monitor
from smartbank.risk.models import RiskDecision
from tests.api.support import assert_error
from tests.changes import approve
from tests.conftest import login

API = "/api/v1/risk"


@pytest.fixture(autouse=True)
def _fresh_limits():
    limits.invalidate()


@pytest.fixture
def users(bank):
    c = bank.customer()
    bank.user("amy", role="customer", customer_id=c)
    for role in ("risk_officer", "teller", "admin"):
        bank.user(f"{role}1", role=role)


# the audit records of the officers' writes (their sign-ins are on record too)
STAFF_WRITES = "audit_log WHERE action NOT IN ('auth.sign_in', 'auth.mfa_enrolled')"


def test_limits_lifecycle(client, users, bank):
    h = login(client, "risk_officer1")
    # each change is proposed (202) and applies once a second risk officer or administrator approves it
    r = client.post(f"{API}/limits", headers=h, json={"scope": "channel", "scope_value": "assistant",
                                                       "daily_amount_minor": 2_000_000, "action": "challenge"})
    assert r.status_code == 202, r.text
    lid = approve(r)["after"]["id"]
    r = client.patch(f"{API}/limits/{lid}", headers=h, json={"daily_count": 5, "daily_amount_minor": None})
    assert r.status_code == 202, r.text
    after = approve(r)["after"]
    assert (after["daily_count"], after["daily_amount_minor"]) == (5, None)
    r = client.patch(f"{API}/limits/{lid}", headers=h, json={"active": False})
    assert approve(r)["after"]["active"] is False
    assert [x["id"] for x in client.get(f"{API}/limits", headers=h).json()] == [lid]
    assert client.get(f"{API}/limits?include_inactive=false", headers=h).json() == []
    assert client.get(f"{API}/limits/breaches", headers=h).json() == []
    # the three limit writes, each with its proposal and its approval
    assert bank.count(STAFF_WRITES + " AND object_type <> 'change_request'") == 3
    assert bank.count(STAFF_WRITES + " AND object_type = 'change_request'") == 6


@pytest.mark.parametrize("body", [
    {"scope": "region", "scope_value": "x", "daily_count": 1},
    {"scope": "channel", "scope_value": "fax", "daily_count": 1},
    {"scope": "channel", "scope_value": "web"},
    {"scope": "channel", "scope_value": "web", "daily_count": "5"},
    {"scope": "channel", "scope_value": "web", "daily_amount_minor": 10.5},
    {"scope": "channel", "scope_value": "web", "daily_count": 1, "action": "allow"},
    {"scope": "channel", "scope_value": "web", "daily_count": 1, "extra": 1},
])
def test_bad_limit_writes_nothing(client, users, bank, body):
    r = client.post(f"{API}/limits", headers=login(client, "risk_officer1"), json=body)
    assert_error(r, 422)
    assert bank.count("risk_limits") == 0 and bank.count(STAFF_WRITES) == 0


def test_register_matrix_and_errors(client, users, bank):
    h = login(client, "risk_officer1")
    body = {"code": "OP-01", "category": "operational", "title_en": "Fraud", "title_zh": "欺诈",
            "likelihood": 4, "impact": 5}
    r = client.post(f"{API}/register", headers=h, json=body)
    assert r.status_code == 201 and r.json()["rating"] == "critical"
    assert_error(client.post(f"{API}/register", headers=h, json=body), 409)
    rid = r.json()["id"]
    assert_error(client.patch(f"{API}/register/{rid}", headers=h, json={"impact": 6}), 422)
    assert_error(client.patch(f"{API}/register/999999", headers=h, json={"impact": 2}), 404)
    r = client.patch(f"{API}/register/{rid}", headers=h, json={"impact": 2, "owner": "Ops"})
    assert r.json()["rating"] == "medium" and r.json()["owner"] == "Ops"
    m = client.get(f"{API}/matrix", headers=h).json()
    assert m["cells"][3][1]["count"] == 1 and m["n"] == 1
    assert [x["code"] for x in client.get(f"{API}/register", headers=h).json()] == ["OP-01"]
    assert bank.count("risk_register") == 1 and bank.count(STAFF_WRITES) == 2


def test_kris_warnings_dashboard(client, users, engine):
    now = clock.now()
    with db.session_scope(engine) as s:
        monitor.seed_defaults(s)
        limits.seed_defaults(s)
        for i in range(20):
            s.add(RiskDecision(created_at=now - timedelta(hours=1), customer_id=1, account_id=1, channel="web",
                               kind="transfer", product="demand", amount_minor=100, currency="CNY",
                               decision="block" if i < 2 else "allow", model_version="rules-only"))
        s.flush()
        monitor.run(s, now)
    h = login(client, "risk_officer1")
    kris = {k["code"]: k for k in client.get(f"{API}/kris", headers=h).json()}
    assert kris["KRI-BLOCK-RATE"]["level"] == "breach"
    ws = client.get(f"{API}/warnings?open_only=true", headers=h).json()
    assert ws and all(w["acknowledged_at"] is None for w in ws)
    r = client.post(f"{API}/warnings/{ws[0]['id']}/ack", headers=h)
    assert r.status_code == 200 and r.json()["acknowledged_at"]
    assert_error(client.post(f"{API}/warnings/999999/ack", headers=h), 404)
    assert client.get(f"{API}/model-monitor", headers=h).json() == []
    d = client.get(f"{API}/dashboard", headers=h).json()
    assert d["matrix"]["n"] >= 10 and len(d["decision_mix"]) == 30 and d["kris"] and d["limits"]
    assert d["metrics"]["block_rate"]["value"] == pytest.approx(0.1)


@pytest.mark.parametrize("who", ["teller1", "amy"])
def test_others_refused(client, users, bank, who):
    h = login(client, who)
    for path in ("/limits", "/limits/breaches", "/register", "/matrix", "/kris", "/warnings", "/model-monitor",
                 "/dashboard"):
        assert_error(client.get(API + path, headers=h), 403)
    assert_error(client.post(f"{API}/limits", headers=h, json={"scope": "channel", "scope_value": "web",
                                                                "daily_count": 1}), 403)
    assert_error(client.post(f"{API}/register", headers=h, json={
        "code": "OP-01", "category": "operational", "title_en": "x", "title_zh": "x", "likelihood": 1,
        "impact": 1}), 403)
    assert bank.count("risk_limits") == 0 and bank.count("risk_register") == 0
    assert client.get(f"{API}/dashboard", headers=login(client, "admin1")).status_code == 200


def test_needs_sign_in(client, users):
    assert_error(client.get(f"{API}/dashboard"), 401)


def test_register_states_each_control_as_implemented_or_planned(client, users, engine):
    from smartbank.risk import register

    with db.session_scope(engine) as s:
        register.seed_defaults(s)
    h = login(client, "risk_officer1")
    rows = {x["code"]: x for x in client.get(f"{API}/register", headers=h).json()}
    status = {i["name"]: i["status"] for x in rows.values() for i in x["control_items"]}
    assert status["Encryption at rest"] == status["Consent records"] == status["field encryption"] == "planned"
    assert status["tamper-evident journal"] == status["Lock-out after repeated failures"] == "implemented"
    r = client.patch(f"{API}/register/{rows['IS-01']['id']}", headers=h,
                     json={"controls": "Audit log; Encryption at rest [planned]"})
    assert r.status_code == 200 and r.json()["control_items"] == [
        {"name": "Audit log", "status": "implemented"}, {"name": "Encryption at rest", "status": "planned"}]

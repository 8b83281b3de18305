"""The /risk/rules API: who may do what, versions through the API, backtest, bad input writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.api.support import assert_error
from tests.changes import approve
from tests.conftest import login

API = "/api/v1/risk/rules"
RULE = {"code": "big_api", "name_en": "Big by API", "name_zh": "接口大额", "expression": 'channel == "api"',
        "action": "challenge", "reason_en": "A large payment through the API.", "reason_zh": "通过接口的大额付款。"}


@pytest.fixture
def people(bank):
    c = bank.customer("王芳")
    bank.user("amy", role="customer", customer_id=c)
    for role in ("risk_officer", "teller", "marketer", "admin"):
        bank.user(f"{role}1", role=role)


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as c:
        return (c.execute(text("SELECT count(*) FROM risk_rules")).scalar(),
                c.execute(text("SELECT count(*) FROM audit_log")).scalar())


def test_officer_creates_edits_switches_and_reads_versions(client, people, engine):
    h = login(client, "risk_officer1")
    listed = client.get(API, headers=h)
    assert listed.status_code == 200 and {r["code"] for r in listed.json()} >= {"large_to_new_account"}
    # each change is proposed (202) and applies once a second risk officer or administrator approves it
    r = client.post(API, headers=h, json=RULE | {"reason": "API fraud wave"})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending_approval" and r.json()["change"]["reason"] == "API fraud wave"
    assert client.get(f"{API}/big_api", headers=h).status_code == 404  # not yet
    done = approve(r)
    assert (done["after"]["version"], done["after"]["mode"]) == (1, "shadow")
    r = client.put(f"{API}/big_api", headers=h, json={"expression": 'channel == "api" and amount_minor > 100'})
    assert r.status_code == 202 and client.get(f"{API}/big_api", headers=h).json()["version"] == 1
    assert approve(r)["after"]["version"] == 2
    r = client.post(f"{API}/big_api/mode", headers=h, json={"mode": "active", "reason": "tested in shadow"})
    assert r.status_code == 202
    assert r.json()["change"]["changes"] == [{"field": "mode", "before": "shadow", "after": "active"}]
    done = approve(r)
    assert (done["after"]["version"], done["after"]["mode"]) == (3, "active")
    got = client.get(f"{API}/big_api", headers=h).json()
    assert got["version"] == 3 and [v["version"] for v in got["versions"]] == [1, 2, 3]
    assert got["versions"][0]["expression"] == 'channel == "api"'
    stats = client.get(f"{API}/stats", headers=h)
    assert stats.status_code == 200 and any(s["code"] == "big_api" for s in stats.json())
    t = client.post(f"{API}/test", headers=h, json={"expression": "amount_minor > 1", "action": "block",
                                                    "start": "2024-05-01", "end": "2024-05-07"})
    assert t.status_code == 200, t.text
    assert t.json()["scanned"] == 0 and t.json()["hits"] == 0 and t.json()["precision"] is None
    assert client.get(API, headers=login(client, "admin1")).status_code == 200
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_log WHERE object_type = 'risk_rule'")).scalar() == 3


@pytest.mark.parametrize("who", ["amy", "teller1", "marketer1"])
def test_others_are_refused(client, people, engine, who):
    h = login(client, who)
    before = _counts(engine)
    assert_error(client.get(API, headers=h), 403, "forbidden")
    assert_error(client.get(f"{API}/large_to_new_account", headers=h), 403)
    assert_error(client.post(API, headers=h, json=RULE), 403)
    assert_error(client.put(f"{API}/large_to_new_account", headers=h, json={"name_en": "x"}), 403)
    assert_error(client.post(f"{API}/large_to_new_account/mode", headers=h,
                             json={"mode": "retired", "reason": "x"}), 403)
    assert_error(client.post(f"{API}/test", headers=h, json={"expression": "amount_minor > 1",
                                                             "start": "2024-05-01", "end": "2024-05-02"}), 403)
    assert_error(client.get(f"{API}/stats", headers=h), 403)
    assert _counts(engine) == before
    assert_error(client.get(API), 401)


def test_bad_input_is_a_clear_4xx_and_writes_nothing(client, people, engine):
    h = login(client, "risk_officer1")
    client.get(API, headers=h)  # seeds the defaults
    approve(client.post(API, headers=h, json=RULE))
    before = _counts(engine)
    body = assert_error(client.post(API, headers=h, json={**RULE, "code": "x2", "expression": "open('f') > 1"}),
                        422, "invalid_rule_expression")
    assert "function calls" in body["message"]
    assert_error(client.post(API, headers=h, json={**RULE, "code": "x2", "action": "freeze"}), 422)
    assert_error(client.post(API, headers=h, json={**RULE, "code": "Bad code"}), 422)
    assert_error(client.post(API, headers=h, json={**RULE, "code": "x2", "mode": "retired"}), 422)
    assert_error(client.post(API, headers=h, json={**RULE, "extra": 1}), 422)
    assert_error(client.post(API, headers=h, json=RULE), 409, "conflict")
    assert_error(client.put(f"{API}/big_api", headers=h, json={"expression": "amount_minor >"}), 422)
    assert_error(client.put(f"{API}/big_api", headers=h, json={}), 422)
    assert_error(client.put(f"{API}/nope_rule", headers=h, json={"name_en": "x"}), 404, "not_found")
    assert_error(client.get(f"{API}/nope_rule", headers=h), 404)
    assert_error(client.post(f"{API}/big_api/mode", headers=h, json={"mode": "paused", "reason": "x"}), 422)
    assert_error(client.post(f"{API}/big_api/mode", headers=h, json={"mode": "shadow", "reason": "x"}), 409)
    test = {"expression": "amount_minor > 1", "start": "2024-05-02", "end": "2024-05-01"}
    assert_error(client.post(f"{API}/test", headers=h, json=test), 422)
    assert_error(client.post(f"{API}/test", headers=h, json={**test, "end": "2024-05-03",
                                                             "source": "../../etc/passwd"}), 422)
    assert_error(client.post(f"{API}/test", headers=h, json={**test, "end": "2024-05-03", "expression": "x"}), 422)
    assert_error(client.post(f"{API}/test", headers={**h, "Content-Type": "application/json"}, content=b"{not"), 400)
    assert _counts(engine) == before

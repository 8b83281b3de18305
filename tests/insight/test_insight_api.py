"""The insight API: who may read which profile, tag definitions through their versions, errors."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from smartbank.insight import service
from tests.api.support import assert_error
from tests.conftest import login
from tests.insight.test_profiles import AS_OF, build, build_borrower

API = "/api/v1/insight"


@pytest.fixture
def world(bank, engine):
    w = build(bank, engine)
    service.refresh_all(engine, as_of=AS_OF)
    bank.user("amy", role="customer", customer_id=w["a"])
    bank.user("bob", role="customer", customer_id=w["b"])
    for role in ("marketer", "service_agent", "risk_officer", "teller", "admin"):
        bank.user(f"{role}1", role=role)
    return w


def test_marketer_reads_any_profile_with_staff_fields(client, world):
    h = login(client, "marketer1")
    r = client.get(f"{API}/customers/{world['a']}", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["profile"]["salary_months_365d"] == 3 and body["profile"]["risk_level"] == "low"
    assert {t["code"] for t in body["tags"]} >= {"salary_earner"}
    assert "churn_score" in body and body["timeline"][0]["ts"] >= body["timeline"][-1]["ts"]
    # the masking policy's marketing row: the name masked (first character), no identity field at all
    assert body["name"] == "王*" and not {"id_number", "phone", "email", "address", "birth_date"} & set(body)
    for role in ("service_agent1", "risk_officer1", "admin1"):
        r = client.get(f"{API}/customers/{world['b']}", headers=login(client, role))
        assert r.status_code == 200 and r.json()["name"].endswith("*")


def test_teller_may_not_read_profiles_or_edit_tags(client, world):
    h = login(client, "teller1")
    assert_error(client.get(f"{API}/customers/{world['a']}", headers=h), 403, "forbidden")
    assert_error(client.post(f"{API}/tags", headers=h, json={
        "code": "vip", "name_en": "VIP", "name_zh": "贵宾", "expression": "age > 1"}), 403, "forbidden")
    assert_error(client.put(f"{API}/tags/bill_payer", headers=h, json={"expression": "age > 1"}), 403)
    assert_error(client.post(f"{API}/tags/bill_payer/retire", headers=h), 403)


def test_customer_sees_only_own_and_only_customer_audience(client, world, engine):
    h = login(client, "amy")
    me = client.get(f"{API}/me", headers=h).json()
    assert me["customer_id"] == world["a"]
    assert "risk_level" not in me["profile"] and "churn_score" not in me["profile"]
    assert "churn_score" not in me and "segment" not in me
    assert all(t["audience"] == "customer" for t in me["tags"])
    # give A a staff-only tag and check it stays hidden
    with engine.begin() as c:
        c.execute(text("INSERT INTO customer_tags (customer_id, code, version, assigned_at)"
                       " VALUES (:c, 'high_value', 1, CURRENT_TIMESTAMP)"), {"c": world["a"]})
    codes = {t["code"] for t in client.get(f"{API}/me", headers=h).json()["tags"]}
    assert "salary_earner" in codes and "high_value" not in codes
    own = client.get(f"{API}/customers/{world['a']}", headers=h)
    assert own.status_code == 200 and own.json()["name"] == "王芳"  # a customer's own name, in full
    assert_error(client.get(f"{API}/customers/{world['b']}", headers=h), 404, "not_found")
    assert_error(client.get(f"{API}/customers/999999", headers=h), 404, "not_found")
    assert_error(client.get(f"{API}/tags", headers=h), 403)
    assert_error(client.post(f"{API}/tags/test", headers=h, json={"expression": "age > 1"}), 403)


def test_staff_have_no_me_page(client, world):
    assert_error(client.get(f"{API}/me", headers=login(client, "marketer1")), 403)  # a customer's own page


def test_tag_lifecycle_through_versions(client, world, engine):
    h = login(client, "marketer1")
    r = client.post(f"{API}/tags", headers=h, json={
        "code": "big_spender", "name_en": "Big spender", "name_zh": "高消费", "audience": "customer",
        "expression": "monetary_365d >= 100000", "description": "spent 1,000 yuan or more in a year"})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    assert_error(client.post(f"{API}/tags", headers=h, json={
        "code": "big_spender", "name_en": "x", "name_zh": "x", "expression": "age > 1"}), 409)
    r = client.put(f"{API}/tags/big_spender", headers=h, json={"expression": "monetary_365d >= 200000"})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["name_en"] == "Big spender"
    versions = client.get(f"{API}/tags/big_spender", headers=h).json()
    assert [(v["version"], v["expression"]) for v in versions] == [
        (1, "monetary_365d >= 100000"), (2, "monetary_365d >= 200000")]
    service.refresh_incremental(engine, as_of=AS_OF)
    amy = client.get(f"{API}/customers/{world['a']}", headers=h).json()
    assert {"code": "big_spender", "version": 2}.items() <= next(
        t for t in amy["tags"] if t["code"] == "big_spender").items()
    listed = {t["code"]: t for t in client.get(f"{API}/tags", headers=h).json()}
    assert listed["big_spender"]["version"] == 2 and listed["big_spender"]["customers"] == 1
    r = client.post(f"{API}/tags/big_spender/retire", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "retired"
    assert "big_spender" not in {t["code"] for t in client.get(f"{API}/tags", headers=h).json()}
    assert_error(client.post(f"{API}/tags/big_spender/retire", headers=h), 409)
    assert_error(client.put(f"{API}/tags/nope", headers=h, json={"expression": "age > 1"}), 404)
    assert_error(client.put(f"{API}/tags/bill_payer", headers=h, json={}), 422)
    with engine.connect() as c:  # every change to a tag is in the audit trail, with who made it
        trail = c.execute(text("SELECT action, actor_role FROM audit_log WHERE object_type = 'tag'"
                               " AND object_id = 'big_spender' ORDER BY id")).all()
    assert [tuple(r) for r in trail] == [("insight.tag.create", "marketer"), ("insight.tag.edit", "marketer"),
                                         ("insight.tag.retire", "marketer")]


def test_bad_expressions_are_422_and_write_nothing(client, world, engine):
    h = login(client, "marketer1")
    with engine.connect() as c:
        before = c.execute(text("SELECT count(*) FROM tag_definitions")).scalar()
    for expr in ("__import__('os')", "open('x').read()", "age.real > 1", "nope > 1", "age >", "city > 3"):
        body = assert_error(client.post(f"{API}/tags", headers=h, json={
            "code": "bad_one", "name_en": "Bad", "name_zh": "坏", "expression": expr}), 422)
        assert body["code"] == "invalid_tag_expression" and body["message"]
        assert_error(client.post(f"{API}/tags/test", headers=h, json={"expression": expr}), 422)
        assert_error(client.put(f"{API}/tags/bill_payer", headers=h, json={"expression": expr}), 422)
    assert_error(client.post(f"{API}/tags", headers=h, json={
        "code": "Bad Code", "name_en": "Bad", "name_zh": "坏", "expression": "age > 1"}), 422)
    assert_error(client.post(f"{API}/tags", headers=h, json={
        "code": "cust_churn", "name_en": "c", "name_zh": "c", "audience": "customer",
        "expression": "churn_score > 0.5"}), 422)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM tag_definitions")).scalar() == before


def test_draft_rule_test_counts_matches_without_saving(client, world, engine):
    h = login(client, "marketer1")
    r = client.post(f"{API}/tags/test", headers=h, json={"expression": "salary_months_365d >= 1", "sample": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["profiles"] == 3 and body["matches"] == 1
    assert body["sample"] == [{"customer_id": world["a"], "name": "王*"}]  # the masking policy: a marketer's view
    assert body["features"] == ["salary_months_365d"]


def test_segments_list(client, world, engine):
    with engine.begin() as c:
        c.execute(text("INSERT INTO segments (run_id, label, name_en, name_zh, description, centroid, size)"
                       " VALUES ('r1', 'savers', 'Savers', '储蓄型', '{\"en\": \"keep money\"}', '{}', 2)"))
        c.execute(text("UPDATE customer_profiles SET segment = 'savers' WHERE customer_id = :c"), {"c": world["a"]})
    h = login(client, "marketer1")
    segs = client.get(f"{API}/segments", headers=h).json()
    assert segs[0]["label"] == "savers" and segs[0]["profiles"] == 1 and segs[0]["description"]["en"] == "keep money"
    assert_error(client.get(f"{API}/segments", headers=login(client, "amy")), 403)


def test_default_tags_are_there_before_any_refresh(client, bank):
    bank.user("marketer2", role="marketer")
    h = login(client, "marketer2")
    assert client.get(f"{API}/tags/bill_payer", headers=h).json()[0]["version"] == 1
    assert client.put(f"{API}/tags/dormant", headers=h, json={"description": "x"}).json()["version"] == 2


def test_my_insights_report_a_loan_as_owed_and_spending_without_own_money_moves(client, bank, engine):
    w = build_borrower(bank, engine)
    service.refresh_all(engine, as_of=AS_OF)
    bank.user("dora", role="customer", customer_id=w["d"])
    me = client.get(f"{API}/me", headers=login(client, "dora"))
    assert me.status_code == 200, me.text
    p = me.json()["profile"]
    assert p["loan_outstanding_minor"] == 46_000_00 and p["overdraft_used_minor"] == 0
    assert p["total_balance_minor"] > 0
    assert me.json()["spending_by_category"] == {"dining": 300_00}
    from tests.web.conftest import sign_in

    sign_in(client, "dora")
    page = client.get("/insights")
    assert page.status_code == 200 and "¥300.00" in page.text and "¥10,000.00" not in page.text

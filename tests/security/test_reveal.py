"""Break-glass: a teller at the counter or an officer on a case reveals one field of one customer with a stated
reason; the reveal is audited (who, which customer, which field, reason, request id); other roles are refused and
nothing is written. Through the API and through the console page, in both languages."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from smartbank.customers.validation import make_resident_id
from tests.api.support import API, assert_error
from tests.conftest import login
from tests.web.conftest import csrf_token, make_user, raw_keys, sign_in

ID_NUMBER = make_resident_id("110101", date(1985, 3, 7), 234)
STAFF = {"teller1": "teller", "loan1": "loan_officer", "risk1": "risk_officer", "agent1": "service_agent",
         "mark1": "marketer", "admin1": "admin"}
REVEALERS = ("teller1", "loan1", "risk1")


@pytest.fixture
def alice(bank, engine) -> int:
    cid = bank.customer("王芳", id_number=ID_NUMBER, phone="13812345678", email="wangfang@example.cn")
    bank.account(cid, balance=10_000)
    make_user(engine, "alice", customer_id=cid)
    for name, role in STAFF.items():
        make_user(engine, name, role=role)
    return cid


def _reveals(engine) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            "SELECT actor_role, object_id, after, request_id FROM audit_log WHERE action = 'customer.pii.reveal' "
            "ORDER BY id"))]


@pytest.mark.parametrize("user", REVEALERS)
def test_a_teller_or_an_officer_reveals_one_field_with_a_reason_and_it_is_audited(client, engine, alice, user):
    h = login(client, user)
    r = client.post(f"{API}/customers/{alice}/reveal", headers={**h, "X-Request-ID": "rid-reveal-1"},
                    json={"field": "id_number", "reason": "  customer at the counter, card renewal  "})
    assert r.status_code == 200, r.text
    assert r.json() == {"customer_id": alice, "field": "id_number", "value": ID_NUMBER}
    [(role, obj, after, rid)] = _reveals(engine)
    after = after if isinstance(after, dict) else __import__("json").loads(after)
    assert (role, obj, rid) == (STAFF[user], str(alice), "rid-reveal-1")
    assert after == {"field": "id_number", "reason": "customer at the counter, card renewal"}
    # one field at a time: the record itself stays masked
    c = client.get(f"{API}/customers/{alice}", headers=h).json()
    assert c["id_number"] != ID_NUMBER and c["masked"] is True


@pytest.mark.parametrize("user", ["agent1", "mark1", "admin1", "alice"])
def test_other_roles_are_refused_and_nothing_is_written(client, engine, alice, user):
    r = client.post(f"{API}/customers/{alice}/reveal", headers=login(client, user),
                    json={"field": "phone", "reason": "curious"})
    assert_error(r, 403, "forbidden")
    assert ID_NUMBER not in r.text and "13812345678" not in r.text
    assert _reveals(engine) == []


@pytest.mark.parametrize(("body", "status"), [
    ({"field": "phone", "reason": "   "}, 422),  # a reason is required (text.clean_text)
    ({"field": "phone"}, 422),
    ({"field": "phone", "reason": "x" * 201}, 422),
    ({"field": "annual_income_minor", "reason": "why not"}, 422),  # not a revealable field
    ({"field": "phone", "reason": "ok\x00"}, 422),
])
def test_a_reveal_without_a_proper_reason_or_field_is_refused(client, engine, alice, body, status):
    r = client.post(f"{API}/customers/{alice}/reveal", headers=login(client, "teller1"), json=body)
    assert_error(r, status)
    assert "13812345678" not in r.text and _reveals(engine) == []


def test_revealing_for_a_customer_who_does_not_exist_is_not_found(client, engine, alice):
    r = client.post(f"{API}/customers/999999/reveal", headers=login(client, "risk1"),
                    json={"field": "phone", "reason": "case 17"})
    assert_error(r, 404, "not_found")
    assert _reveals(engine) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_console_customer_page_reveals_with_a_reason(client, engine, alice, lang):
    sign_in(client, "teller1", console=True)
    client.cookies.set("sb_lang", lang)
    page = client.get(f"/console/customers/{alice}")
    assert page.status_code == 200 and 'id="reveal-form"' in page.text
    assert ID_NUMBER not in page.text and "13812345678" not in page.text
    assert "110***********" in page.text and "138****5678" in page.text
    assert raw_keys(page.text) in ([], ["example.cn"])  # w***@example.cn is not a message key
    token = csrf_token(page.text)
    # no reason: refused in the page's language, nothing shown or written
    r = client.post(f"/console/customers/{alice}/reveal", data={"field": "phone", "reason": "", "csrf_token": token})
    assert r.status_code == 422 and "13812345678" not in r.text and _reveals(engine) == []
    assert ("查看完整个人信息须填写原因" if lang == "zh" else "A reason is required") in r.text
    r = client.post(f"/console/customers/{alice}/reveal",
                    data={"field": "phone", "reason": "柜面核实来电", "csrf_token": token})
    assert r.status_code == 200 and 'id="revealed-value">+8613812345678<' in r.text
    assert ("完整信息" if lang == "zh" else "Shown in full") in r.text and raw_keys(r.text) in ([], ["example.cn"])
    assert [(role, obj) for role, obj, _a, _r in _reveals(engine)] == [("teller", str(alice))]


def test_the_console_offers_no_reveal_to_an_agent_and_refuses_one(client, engine, alice):
    sign_in(client, "agent1", console=True)
    page = client.get(f"/console/customers/{alice}")
    assert page.status_code == 200 and 'id="reveal-form"' not in page.text and ID_NUMBER not in page.text
    r = client.post(f"/console/customers/{alice}/reveal",
                    data={"field": "id_number", "reason": "x", "csrf_token": csrf_token(page.text)})
    assert r.status_code == 403 and ID_NUMBER not in r.text and _reveals(engine) == []

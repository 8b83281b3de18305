"""The customer's rights: a copy of their data (JSON, CSV zip), corrections, deletion with retention."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from smartbank import clock, db
from smartbank.assistant.models import AssistantConversation, AssistantMessage
from smartbank.customers import service as customers
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.ledger import service as ledger
from smartbank.notifications import service as notifications
from smartbank.payments.models import Payee, ScheduledTransfer
from smartbank.privacy import service as privacy
from smartbank.security import service as security
from smartbank.security.models import User
from smartbank.security.service import Principal


def me(bank, cid: int, name: str | None = None) -> Principal:
    uname = name or f"cust{cid}"
    return Principal(user_id=bank.user(uname, customer_id=cid), username=uname, role="customer", customer_id=cid)


def staff(bank, role: str) -> Principal:
    return Principal(user_id=bank.user(f"s_{role}", role=role), username=f"s_{role}", role=role, customer_id=None)


def run(engine, fn):
    return db.run_in_transaction(fn, engine=engine)


def _chat(engine, cid: int, text: str) -> None:
    with db.session_scope(engine) as s:
        conv = AssistantConversation(customer_id=cid, channel="web", language="zh", status="bot", state={},
                                     misunderstood=0, version=1)
        s.add(conv)
        s.flush()
        s.add(AssistantMessage(conversation_id=conv.id, sender="customer", text=text, language="zh"))
        notifications.notify(s, customer_id=cid, kind="info", title_en="Hello", title_zh="您好", body_en="b",
                             body_zh="b")


def _closed_customer(engine, bank, other_account_number: str):
    """A customer whose one account is closed, with a payee, a chat and a message."""
    cid = bank.customer(name="李娜", phone="13800138000", email="lina@example.com", address="北京市朝阳区1号")
    acct = bank.account(cid)
    other_acct = bank.account(bank.customer(name="赵钱"))
    with db.session_scope(engine) as s:
        s.add(ScheduledTransfer(customer_id=cid, from_account_id=acct, to_account_id=other_acct, amount_minor=100,
                                currency="CNY", memo="给妈妈的生活费", frequency="monthly", start_date=clock.today(),
                                next_run=clock.today(), status="active"))
        s.flush()
        ledger.set_account_status(s, ledger.get_account(s, acct), "closed")
        s.add(Payee(customer_id=cid, name="王芳", account_number=other_account_number, nickname="妈妈"))
    _chat(engine, cid, "我的身份证号是110101198503070012")
    return cid


def test_export_json_and_csv_hold_every_kind(engine, bank):
    cid = bank.customer(name="王五", phone="13912345678")
    acct = bank.account(cid, balance=12_345)
    actor = me(bank, cid)
    run(engine, lambda s: customers.set_consent(s, actor, cid, purpose="marketing_email", granted=True,
                                                given_via="web"))
    _chat(engine, cid, "查余额")
    body, name, media = run(engine, lambda s: privacy.export_own(s, actor, fmt="json"))
    assert media == "application/json" and name.endswith(".json")
    doc = json.loads(body)
    data = doc["data"]
    assert set(data) == set(privacy.EXPORT_KINDS)
    assert data["profile"][0]["name"] == "王五" and data["profile"][0]["phone"] == "+8613912345678"
    assert data["profile"][0]["masked"] is False
    assert [a["balance_minor"] for a in data["accounts"] if a["id"] == acct] == [12_345]
    assert [t["amount_minor"] for t in data["transactions"]] == [12_345]
    assert {c["purpose"]: c["granted"] for c in data["consents"]}["marketing_email"] is True
    assert data["consent_history"][0]["purpose"] == "marketing_email"
    assert [m["text"] for m in data["assistant_messages"]] == ["查余额"]
    assert data["notifications"][0]["title"] == "您好"

    body, name, media = run(engine, lambda s: privacy.export_own(s, actor, fmt="csv"))
    assert media == "application/zip" and name.endswith(".zip")
    z = zipfile.ZipFile(io.BytesIO(body))
    assert {f"{k}.csv" for k in privacy.EXPORT_KINDS} <= set(z.namelist())
    profile = z.read("profile.csv").decode("utf-8-sig").splitlines()
    assert profile[0].startswith("id,number,kind,name") and "王五" in profile[1]
    assert "12345" in z.read("transactions.csv").decode("utf-8-sig")
    with db.session_scope(engine) as s:
        assert [a.after["format"] for a in security.audit_trail(s, object_type="customer", object_id=str(cid))
                if a.action == "privacy.export"] == ["csv", "json"]
    with pytest.raises(ValidationFailed):
        run(engine, lambda s: privacy.export_own(s, actor, fmt="xml"))
    with pytest.raises(NotFound):
        run(engine, lambda s: privacy.export_own(s, staff(bank, "teller"), fmt="json"))


def test_operator_export_by_customer_number(engine, bank):
    cid = bank.customer(name="赵六")
    me(bank, cid)
    with db.session_scope(engine) as s:
        number = customers.get_customer(s, cid).number
    body, _, _ = run(engine, lambda s: privacy.export_for_customer(s, number, fmt="json"))
    assert json.loads(body)["data"]["profile"][0]["name"] == "赵六"
    with pytest.raises(NotFound):
        run(engine, lambda s: privacy.export_for_customer(s, "C0000000000", fmt="json"))


def test_correction_requested_then_accepted_or_rejected(engine, bank):
    cid = bank.customer(phone="13800138000")
    actor, teller, marketer = me(bank, cid), staff(bank, "teller"), staff(bank, "marketer")
    with pytest.raises(ValidationFailed):
        run(engine, lambda s: privacy.request_correction(s, actor, field="phone", value="12345"))
    with pytest.raises(ValidationFailed):
        run(engine, lambda s: privacy.request_correction(s, actor, field="id_number", value="x"))
    r = run(engine, lambda s: privacy.request_correction(s, actor, field="phone", value="139 0000 1111",
                                                         note="换号了"))
    assert r["status"] == "open" and r["requested_value"] == "+8613900001111"
    with pytest.raises(Conflict):
        run(engine, lambda s: privacy.request_correction(s, actor, field="phone", value="13900001112"))
    with pytest.raises(Forbidden):
        run(engine, lambda s: privacy.correction_queue(s, marketer))
    queue = run(engine, lambda s: privacy.correction_queue(s, teller))
    # shown as the masking policy shows a phone to a teller serving a customer
    assert [(q["id"], q["current_value"], q["requested_value"]) for q in queue] == [(r["id"], "138****8000",
                                                                                    "139****1111")]
    with pytest.raises(ValidationFailed):  # a rejection needs a reason
        run(engine, lambda s: privacy.resolve_correction(s, teller, r["id"], accept=False))
    done = run(engine, lambda s: privacy.resolve_correction(s, teller, r["id"], accept=True))
    assert done["status"] == "accepted"
    with pytest.raises(Conflict):
        run(engine, lambda s: privacy.resolve_correction(s, teller, r["id"], accept=True))
    r2 = run(engine, lambda s: privacy.request_correction(s, actor, field="city", value="上海"))
    run(engine, lambda s: privacy.resolve_correction(s, teller, r2["id"], accept=False, note="请携带证明到网点"))
    with db.session_scope(engine) as s:
        c = customers.get_customer(s, cid)
        assert c.phone == "+8613900001111" and c.city != "上海"
        actions = [a.action for a in security.audit_trail(s, object_type="customer", object_id=str(cid))]
        assert {"privacy.correction.request", "privacy.correction.accepted",
                "privacy.correction.rejected"} <= set(actions)
    mine = run(engine, lambda s: privacy.list_requests(s, actor))
    assert [(x["field"], x["status"]) for x in mine] == [("city", "rejected"), ("phone", "accepted")]
    assert mine[0]["resolution_note"] == "请携带证明到网点"


def test_deletion_refused_while_money_or_open_products(engine, bank):
    cid = bank.customer()
    bank.account(cid, balance=100)
    actor = me(bank, cid)
    check = run(engine, lambda s: privacy.deletion_check(s, actor))
    assert check["allowed"] is False
    assert {b["code"] for b in check["blockers"]} == {"money", "open_accounts"}
    with pytest.raises(privacy.DeletionRefused) as exc:
        run(engine, lambda s: privacy.request_deletion(s, actor, confirm=True))
    assert exc.value.status_code == 409 and {b["code"] for b in exc.value.details["blockers"]} == {
        "money", "open_accounts"}
    with db.session_scope(engine) as s:
        c = customers.get_customer(s, cid)
        assert c.status == "active" and c.phone is not None
        assert s.scalars(select(privacy.PrivacyRequest)).first() is None


def test_deletion_anonymises_and_keeps_what_aml_requires(engine, bank):
    other = bank.customer(name="王芳")
    other_acct = bank.account(other)
    with db.session_scope(engine) as s:
        other_number = ledger.get_account(s, other_acct).number
    cid = _closed_customer(engine, bank, other_number)
    actor = me(bank, cid)
    with pytest.raises(ValidationFailed):
        run(engine, lambda s: privacy.request_deletion(s, actor, confirm=False))
    out = run(engine, lambda s: privacy.request_deletion(s, actor, confirm=True))
    today = clock.today()
    until = date(today.year + 5, today.month, min(today.day, 28) if (today.month, today.day) == (2, 29)
                 else today.day).isoformat()
    assert out["status"] == "done"
    kept = {k["category"]: k["until"] for k in out["outcome"]["kept"]}
    assert kept == {"identity": until, "transactions": until, "consents_and_audit": until}
    assert set(out["outcome"]["cleared_fields"]) == {"phone", "email", "address"}
    with db.session_scope(engine) as s:
        c = customers.get_customer(s, cid)
        assert (c.phone, c.email, c.address, c.status) == (None, None, None, "closed")
        assert c.name == "李娜" and c.id_number  # identity data kept for its period
        assert s.scalars(select(Payee).where(Payee.customer_id == cid)).first() is None
        order = s.scalars(select(ScheduledTransfer).where(ScheduledTransfer.customer_id == cid)).one()
        assert (order.memo, order.status, order.next_run) == ("", "cancelled", None)
        assert {m.text for m in s.scalars(select(AssistantMessage))} == {"[deleted]"}
        assert s.scalars(select(User).where(User.customer_id == cid)).one().is_active is False
        assert ledger.customer_accounts(s, cid)  # the account record stays
        assert any(a.action == "privacy.deletion" for a in security.audit_trail(s, object_type="customer",
                                                                                 object_id=str(cid)))
    with pytest.raises(Conflict):
        run(engine, lambda s: privacy.request_deletion(s, actor, confirm=True))
    with pytest.raises(ValidationFailed):  # a closed relationship takes no new consent
        run(engine, lambda s: customers.set_consent(s, actor, cid, purpose="analytics", granted=True,
                                                    given_via="web"))


def test_identity_purged_when_its_retention_ends(engine, bank):
    other = bank.customer(name="王芳")
    with db.session_scope(engine) as s:
        other_number = ledger.get_account(s, bank.account(other)).number
    cid = _closed_customer(engine, bank, other_number)
    actor = me(bank, cid)
    out = run(engine, lambda s: privacy.request_deletion(s, actor, confirm=True))
    until = date.fromisoformat(out["outcome"]["kept"][0]["until"])
    early = run(engine, lambda s: privacy.purge_expired(s, today=until - timedelta(days=1)))
    assert early["purged"] == 0
    with db.session_scope(engine) as s:
        assert customers.get_customer(s, cid).name == "李娜"
    done = run(engine, lambda s: privacy.purge_expired(s, today=until))
    assert done["customer_ids"] == [cid]
    with db.session_scope(engine) as s:
        c = customers.get_customer(s, cid)
        assert (c.name, c.id_number, c.birth_date, c.gender) == ("已注销客户", f"PURGED-{cid}", None, None)
        assert ledger.customer_accounts(s, cid)  # the records stay, no longer naming a person
        assert any(a.action == "privacy.purge" for a in security.audit_trail(s, object_type="customer",
                                                                               object_id=str(cid)))
    assert run(engine, lambda s: privacy.purge_expired(s, today=until))["purged"] == 0  # once

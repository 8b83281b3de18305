"""Payment step-up: the one-time code travels by text message, never through the session that asks for it,
and no code is sent for a payment that would be refused anyway."""

from __future__ import annotations

from sqlalchemy import text

from smartbank import db
from smartbank.risk.models import RiskRule
from tests.api.support import API, assert_error, number
from tests.conftest import login, sms_code


def _rule(engine, expression: str = "amount_minor >= 1", action: str = "challenge") -> None:
    with db.session_scope(engine) as s:
        s.add(RiskRule(code="stepup", version=1, name_en="stepup", name_zh="stepup", expression=expression,
                       action=action, mode="active", reason_en="step-up reason", reason_zh="验证原因"))


def _setup(client, bank, engine, *, balance: int = 1_000_000, phone: str | None = "13912345678"):
    alice = bank.customer("王芳", phone=phone)
    a1 = bank.account(alice, balance=balance)
    b1 = bank.account(bank.customer("李娜"))
    bank.user("alice", customer_id=alice)
    return login(client, "alice"), a1, b1, number(engine, b1)


def _pay(client, h, a1, to, amount, key, **extra):
    return client.post(f"{API}/transfers", headers=h, json={"from_account_id": a1, "to_account_number": to,
                                                             "amount_minor": amount, "idempotency_key": key, **extra})


def test_the_code_goes_by_text_message_and_never_into_the_session_readable_feed(client, bank, engine, sms_outbox):
    _rule(engine)
    h, a1, b1, to = _setup(client, bank, engine)
    r = _pay(client, h, a1, to, 30_000, "c1")
    body = assert_error(r, 403, "challenge_required")
    assert body["details"]["sent_to"] == "139****5678"
    (msg,) = sms_outbox.sent
    assert msg.phone == "+8613912345678" and msg.ref == f"challenge:{body['details']['challenge_id']}"
    code = sms_code(sms_outbox, "+8613912345678")
    # a stolen session token reads the notifications: the code is not there, in either language
    feed = client.get(f"{API}/notifications", headers=h)
    assert feed.status_code == 200
    assert code not in feed.text
    feed_zh = client.get(f"{API}/notifications", headers=h, params={"lang": "zh"})
    assert code not in feed_zh.text
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM notifications WHERE kind = 'otp'")).scalar() == 0
    ok = _pay(client, h, a1, to, 30_000, "c1", challenge_id=body["details"]["challenge_id"], otp=code)
    assert ok.status_code == 201, ok.text
    assert bank.balance(b1) == 30_000
    bank.assert_invariants()


def test_no_code_for_a_payment_the_ledger_would_refuse(client, bank, engine, sms_outbox):
    """A ¥9,999,999 transfer from an account holding ¥10,000 is refused for its funds, not challenged."""
    _rule(engine)
    h, a1, _, to = _setup(client, bank, engine)
    assert_error(_pay(client, h, a1, to, 999_999_900, "big"), 422, "insufficient_funds")
    # over the customer's daily limit (default ¥50,000): refused as such, again without a code
    bank.account(bank.customer("赵磊"))
    rich = bank.customer("钱多", phone="13700000000")
    r1 = bank.account(rich, balance=100_000_00)
    bank.user("rich", customer_id=rich)
    hr = login(client, "rich")
    assert_error(_pay(client, hr, r1, to, 60_000_00, "limit"), 422, "daily_limit_exceeded")
    # a frozen paying account
    with engine.begin() as c:
        c.execute(text("UPDATE accounts SET status = 'frozen' WHERE id = :i"), {"i": a1})
    assert_error(_pay(client, h, a1, to, 100, "frozen"), 422, "account_not_open")
    assert sms_outbox.sent == []
    assert bank.count("risk_challenges") == 0 and bank.count("risk_decisions") == 0


def test_a_bill_payment_beyond_the_funds_is_refused_before_a_code(client, bank, engine, sms_outbox):
    from tests.api.support import add_biller, issue_bill

    _rule(engine)
    h, a1, _, _ = _setup(client, bank, engine, balance=1_000)
    add_biller(engine, "SGCC")
    bill = issue_bill(engine, "SGCC", "110-22", 50_000)
    r = client.post(f"{API}/bill-payments", headers=h, json={"from_account_id": a1, "bill_id": bill,
                                                               "idempotency_key": "b1"})
    assert_error(r, 422, "insufficient_funds")
    assert sms_outbox.sent == [] and bank.count("risk_challenges") == 0


def test_a_customer_without_a_phone_is_held_for_review_instead(client, bank, engine, sms_outbox):
    _rule(engine)
    h, a1, _, to = _setup(client, bank, engine, phone=None)
    r = _pay(client, h, a1, to, 30_000, "p1")
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    assert sms_outbox.sent == [] and bank.count("risk_alerts") == 1


def test_the_assistant_checks_funds_before_asking_for_a_code(client, bank, engine, sms_outbox):
    _rule(engine)
    h, a1, _, to = _setup(client, bank, engine, balance=1_000_000)
    assert client.post(f"{API}/payees", headers=h, json={"name": "李娜", "account_number": to,
                                                         "nickname": "妈妈"}).status_code == 201
    r = client.post(f"{API}/assistant/messages", headers=h, json={"text": "给妈妈转9999999"})
    assert r.status_code == 200, r.text
    cid = r.json()["conversation_id"]
    r = client.post(f"{API}/assistant/messages", headers=h, json={"text": "确认", "conversation_id": cid})
    assert r.status_code == 200, r.text
    action = r.json()["action"]
    assert action["status"] == "failed" and action["error"]["code"] == "insufficient_funds", action
    assert sms_outbox.sent == [] and bank.count("risk_challenges") == 0
    # an amount the account can pay is challenged, and the code goes by text message
    r = client.post(f"{API}/assistant/messages", headers=h, json={"text": "给妈妈转500", "conversation_id": cid})
    r = client.post(f"{API}/assistant/messages", headers=h, json={"text": "确认", "conversation_id": cid})
    assert r.json()["action"]["status"] == "challenge", r.json()
    assert "短信" in r.json()["replies"][-1]["text"]
    code = sms_code(sms_outbox)
    assert code not in client.get(f"{API}/notifications", headers=h).text
    r = client.post(f"{API}/assistant/messages", headers=h, json={"text": code, "conversation_id": cid})
    assert r.json()["action"]["status"] == "done", r.json()

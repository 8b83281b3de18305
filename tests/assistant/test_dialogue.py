"""Dialogue flows end to end through the service layer: slot filling, confirmation, corrections, context,
interruptions, cancellation, risk refusals, hand-off and object-level authorisation."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.assistant import service
from smartbank.errors import NotFound
from smartbank.payments import service as payments
from smartbank.risk.models import RiskRule
from smartbank.security import service as security
from smartbank.security.service import Principal
from tests.conftest import sms_code

TODAY = date(2026, 11, 24)


@pytest.fixture
def world(bank, engine):
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=10_000_000)
    b1 = bank.account(bob, balance=1_000)
    b2 = bank.account(bob, balance=0)
    au = bank.user("alice", customer_id=alice)
    bu = bank.user("bob", customer_id=bob)
    pa = Principal(user_id=au, username="alice", role="customer", customer_id=alice)
    pb = Principal(user_id=bu, username="bob", role="customer", customer_id=bob)
    with db.session_scope(engine) as s:
        n1 = s.execute(text("SELECT number FROM accounts WHERE id = :i"), {"i": b1}).scalar_one()
        n2 = s.execute(text("SELECT number FROM accounts WHERE id = :i"), {"i": b2}).scalar_one()
        payments.add_payee(s, pa, alice, name="李娜", account_number=n1, nickname="妈妈")
        payments.add_payee(s, pb, bob, name="房东", account_number=n2, nickname="landlord")
    return {"alice": pa, "bob": pb, "a1": a1, "b1": b1, "b2": b2, "n1": n1}


def say(actor, txt, cid=None):
    return db.run_in_transaction(lambda s: service.send(s, actor, text=txt, conversation_id=cid, today=TODAY))


def test_confirmed_transfer_moves_money(world, bank):
    r = say(world["alice"], "给妈妈转500")
    assert r["intent"] == "transfer" and r["replies"][-1]["kind"] == "confirm"
    assert "¥500.00" in r["replies"][-1]["text"] and "妈妈" in r["replies"][-1]["text"]
    assert bank.balance(world["b1"]) == 1_000  # nothing before the explicit yes
    r = say(world["alice"], "确认", r["conversation_id"])
    assert r["action"]["status"] == "done", r
    assert bank.balance(world["b1"]) == 51_000 and bank.balance(world["a1"]) == 10_000_000 - 50_000
    bank.assert_invariants()


def test_slot_filling_correction_and_context(world, bank):
    r = say(world["alice"], "I want to make a transfer")
    cid = r["conversation_id"]
    assert "payees" in r["replies"][-1]["text"]
    r = say(world["alice"], "to my mother", cid)
    assert r["replies"][-1]["text"] == "How much?"
    r = say(world["alice"], "300", cid)
    assert "¥300.00" in r["replies"][-1]["text"]
    r = say(world["alice"], "no, 800", cid)  # a correction asks again with the new amount
    assert "¥800.00" in r["replies"][-1]["text"] and r["replies"][-1]["kind"] == "confirm"
    r = say(world["alice"], "yes", cid)
    assert r["action"]["status"] == "done"
    assert bank.balance(world["b1"]) == 81_000
    r = say(world["alice"], "再给妈妈转200", cid)  # the last intent with the new slot
    assert r["replies"][-1]["kind"] == "confirm" and "¥200.00" in r["replies"][-1]["text"]
    r = say(world["alice"], "确认", cid)
    assert bank.balance(world["b1"]) == 101_000


def test_interruption_and_cancellation(world, bank):
    r = say(world["alice"], "转1000块给妈妈")
    cid = r["conversation_id"]
    r = say(world["alice"], "我的余额是多少", cid)  # answered, then the confirmation again
    assert "余额" in r["replies"][0]["text"] and r["replies"][-1]["kind"] == "confirm"
    r = say(world["alice"], "取消", cid)
    assert "取消" in r["replies"][-1]["text"]
    r = say(world["alice"], "确认", cid)  # nothing pending any more
    assert r["action"] is None
    assert bank.balance(world["b1"]) == 1_000


def test_unintelligible_never_acts_and_two_hand_off(world, bank):
    r = say(world["alice"], "asdfghjkl")
    assert r["intent"] == "unknown" and r["action"] is None and r["status"] == "bot"
    r = say(world["alice"], "qwpeoi zxmcn", r["conversation_id"])
    assert r["status"] == "waiting" and bank.count("transfers") == 2


def test_cannot_name_another_customers_payee(world, bank):
    r = say(world["alice"], "transfer 500 to my landlord")  # bob's payee, not alice's
    assert r["replies"][-1]["kind"] != "confirm"
    with pytest.raises(NotFound):
        say(world["bob"], "hello", r["conversation_id"])


@pytest.mark.parametrize("words", ["我要人工", "talk to a person"])
def test_hand_off_on_request(world, words):
    r = say(world["alice"], words)
    assert r["intent"] == "human" and r["status"] == "waiting"
    r2 = say(world["alice"], "hello?", r["conversation_id"])  # stored; the bot only says a colleague will answer
    assert r2["status"] == "waiting" and r2["intent"] is None and len(r2["replies"]) == 1
    ack = r2["replies"][0]["text"]
    assert ("人工客服会尽快" in ack) if words == "我要人工" else ("A colleague will answer you here" in ack)


def test_risk_block_reported_in_plain_words(world, bank, engine):
    with db.session_scope(engine) as s:
        s.add(RiskRule(code="big", version=1, name_en="big", name_zh="big", expression="amount_minor >= 100000",
                       action="block", mode="active", reason_en="big reason", reason_zh="大额原因"))
    r = say(world["alice"], "send 2000 to my mother")
    r = say(world["alice"], "yes", r["conversation_id"])
    assert r["action"]["status"] == "blocked"
    assert "no money moved" in r["replies"][-1]["text"] and "big reason" in r["replies"][-1]["text"]
    assert bank.balance(world["b1"]) == 1_000 and bank.count("risk_decisions") == 1


def _rule(engine, action: str, expression: str = "amount_minor >= 100000") -> None:
    with db.session_scope(engine) as s:
        s.add(RiskRule(code="r", version=1, name_en="r", name_zh="r", expression=expression, action=action,
                       mode="active", reason_en="r reason", reason_zh="r 原因"))


def _otp(engine, customer_id: int, sms_outbox) -> str:
    """The code texted to the customer's phone; none is in the notifications the session can read."""
    with engine.connect() as c:
        phone = security.decrypt_text(c.execute(text("SELECT phone FROM customers WHERE id = :c"),
                                                {"c": customer_id}).scalar_one(), context="customers.phone")
        assert c.execute(text("SELECT count(*) FROM notifications WHERE kind = 'otp'")).scalar() == 0
    return sms_code(sms_outbox, phone)


def test_challenge_asks_for_the_code_in_chat(world, bank, engine, sms_outbox):
    _rule(engine, "challenge")
    r = say(world["alice"], "send 2000 to my mother")
    cid = r["conversation_id"]
    r = say(world["alice"], "yes", cid)
    assert r["action"]["status"] == "challenge" and r["replies"][-1]["kind"] == "otp"
    assert bank.count("risk_challenges") == 1 and bank.balance(world["b1"]) == 1_000  # the challenge is kept
    code = _otp(engine, world["alice"].customer_id, sms_outbox)
    wrong = "000000" if code != "000000" else "111111"
    r = say(world["alice"], wrong, cid)
    assert r["action"]["status"] == "otp_invalid" and r["replies"][-1]["kind"] == "otp"
    r = say(world["alice"], code, cid)
    assert r["action"]["status"] == "done", r
    assert bank.balance(world["b1"]) == 201_000
    bank.assert_invariants()


def test_bill_payment_and_top_up(world, bank, engine):
    from tests.api.support import add_biller, issue_bill

    add_biller(engine, "BJPOWER")
    add_biller(engine, "CMCC", category="mobile", requires_bill=False)
    bill = issue_bill(engine, "BJPOWER", "88776655", 12_345)
    r = say(world["alice"], "交电费")
    cid = r["conversation_id"]
    assert "户号" in r["replies"][-1]["text"]
    r = say(world["alice"], "11112222", cid)  # no such bill: asked again
    assert "11112222" in r["replies"][-1]["text"] and r["replies"][-1]["kind"] != "confirm"
    r = say(world["alice"], "户号 88776655", cid)
    assert r["replies"][-1]["kind"] == "confirm" and "¥123.45" in r["replies"][-1]["text"]
    r = say(world["alice"], "确认", cid)
    assert r["action"]["status"] == "done"
    with engine.connect() as c:
        assert c.execute(text("SELECT status FROM bills WHERE id = :i"), {"i": bill}).scalar_one() == "paid"
    r = say(world["alice"], "给13812345678充值100元", cid)
    assert r["replies"][-1]["kind"] == "confirm"
    r = say(world["alice"], "yes", cid)
    assert r["action"]["status"] == "done"
    assert bank.balance(world["a1"]) == 10_000_000 - 12_345 - 10_000


def test_later_date_schedules_the_transfer(world, bank, engine):
    r = say(world["alice"], "下个月5号给妈妈转300")
    assert "2026-12-05" in r["replies"][-1]["text"]
    r = say(world["alice"], "确认", r["conversation_id"])
    assert r["action"]["status"] == "scheduled"
    assert bank.count("scheduled_transfers") == 1 and bank.balance(world["b1"]) == 1_000


def test_complaint_and_negative_sentiment_hand_off(world, monkeypatch):
    r = say(world["alice"], "我要投诉")
    assert r["status"] == "waiting"
    from smartbank.assistant.nlp import sentiment

    monkeypatch.setattr(sentiment, "score", lambda t, **kw: sentiment.Sentiment(-0.9, "angry", "en", "fake"))
    r = say(world["bob"], "what's my balance")
    assert r["intent"] == "balance" and r["status"] == "waiting" and r["sentiment"] == -0.9


def test_messages_store_what_was_decided(world, engine):
    r = say(world["alice"], "给妈妈转500")
    with engine.connect() as c:
        row = c.execute(text("SELECT intent, confidence, entities, sentiment, model_versions, latency_ms FROM "
                             "assistant_messages WHERE conversation_id = :c AND sender = 'customer'"),
                        {"c": r["conversation_id"]}).one()
    assert row.intent == "transfer" and row.confidence > 0.3 and row.latency_ms is not None
    assert row.sentiment is not None and row.model_versions is not None and row.entities is not None


def test_follow_up_in_english_reuses_the_amount(world, bank, engine):
    from tests.web.conftest import account_number

    with db.session_scope(engine) as s:
        payments.add_payee(s, world["alice"], world["alice"].customer_id, name="Zhang Wei",
                           account_number=account_number(engine, world["b2"]), nickname="landlord")
    r = say(world["alice"], "send 300 to my landlord")
    cid = r["conversation_id"]
    say(world["alice"], "yes", cid)
    r = say(world["alice"], "and to my mother?", cid)
    assert r["replies"][-1]["kind"] == "confirm" and "¥300.00" in r["replies"][-1]["text"]
    assert "妈妈" in r["replies"][-1]["text"]
    say(world["alice"], "yes", cid)
    assert bank.balance(world["b1"]) == 31_000 and bank.balance(world["b2"]) == 30_000


def test_cli_chat_one_turn(world, database_url):
    from typer.testing import CliRunner

    from smartbank.cli import app

    r = CliRunner().invoke(app, ["assistant", "chat", "--customer", str(world["alice"].customer_id),
                                 "我的余额是多少"])
    assert r.exit_code == 0, r.output
    assert "¥100,000.00" in r.output and "balance" in r.output

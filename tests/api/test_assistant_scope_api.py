"""The assistant through HTTP: products the bank does not offer, periods of past time, the conversation's
language and messages sent while a colleague is awaited."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.ledger import service as ledger
from tests.api.support import API
from tests.conftest import login

# the test clock: Tuesday 2026-11-24 (bank time); last week is 16-22 November, last month October


@pytest.fixture
def amy(client, bank, engine):
    c = bank.customer("王芳")
    cur = bank.account(c, balance=1_000_000)
    sav = bank.account(c, kind="savings")
    bank.user("amy", customer_id=c)
    n = 0

    def post(debit, credit, amount, day, kind="card_payment"):
        nonlocal n
        n += 1
        with db.session_scope(engine) as s:
            ledger.transfer(s, ledger.TransferCommand(
                key=f"t{n}", debit_account_id=debit, credit_account_id=credit, amount_minor=amount, currency="CNY",
                kind=kind, value_date=day))

    with db.session_scope(engine) as s:
        shop = ledger.internal_account(s, "settlement", "CNY").id
    post(cur, shop, 300_00, date(2026, 10, 10))                        # dinner
    post(cur, sav, 1_000_00, date(2026, 10, 15), kind="transfer")      # to her own savings account
    post(cur, shop, 2_000_00, date(2026, 10, 18), kind="wealth_purchase")
    post(cur, shop, 200_00, date(2026, 10, 20))
    post(cur, shop, 700_00, date(2026, 11, 5))
    post(cur, shop, 50_00, date(2026, 11, 18))
    return login(client, "amy")


def send(client, h, words, cid=None):
    body = {"text": words} | ({"conversation_id": cid} if cid else {})
    r = client.post(f"{API}/assistant/messages", json=body, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_credit_card_question_gets_an_honest_answer_not_a_balance(client, amy):
    r = send(client, amy, "我的信用卡账单多少")
    assert r["intent"] == "out_of_scope" and r["entities"]["unavailable_product"] == "credit_card"
    reply = r["replies"][0]["text"]
    assert "不提供信用卡" in reply and "¥" not in reply
    r = send(client, amy, "what is my credit card bill this month")
    assert r["intent"] == "out_of_scope" and "don't offer credit cards" in r["replies"][0]["text"]
    r = send(client, amy, "我想买黄金", r["conversation_id"])
    assert r["intent"] == "out_of_scope" and "不提供黄金" in r["replies"][0]["text"]


def test_spending_in_a_period(client, amy):
    r = send(client, amy, "上个月花了多少钱")
    assert r["intent"] == "spending" and r["entities"]["period"]["start"] == "2026-10-01"
    reply = r["replies"][0]["text"]
    # the dinner and the other payment; not the move to savings, not the wealth purchase, not November
    assert "2026-10-01至2026-10-31" in reply and "¥500.00" in reply and "2 笔" in reply
    r = send(client, amy, "how much did I spend this month")
    assert "From 2026-11-01 to 2026-11-24 you spent ¥750.00 in 2 payments" in r["replies"][0]["text"]


def test_transactions_of_last_week_and_of_the_last_three_months(client, amy):
    r = send(client, amy, "上周的交易")
    assert r["intent"] == "recent_transactions", r
    reply = r["replies"][0]["text"]
    assert "2026-11-16至2026-11-22" in reply and "共有 1 笔交易" in reply and "¥50.00" in reply
    r = send(client, amy, "show my transactions from last month")  # the move to savings shows on both accounts
    reply = r["replies"][0]["text"]
    assert "From 2026-10-01 to 2026-10-31 you have 5 transactions: ¥1,000.00 in, ¥3,500.00 out" in reply
    r = send(client, amy, "最近三个月的交易")
    assert "2026-08-25至2026-11-24" in r["replies"][0]["text"]


def test_the_conversation_keeps_its_language(client, amy):
    r = send(client, amy, "我的余额是多少")
    cid = r["conversation_id"]
    r = send(client, amy, "ATM", cid)  # one English word in a Chinese conversation
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in x["text"]) for x in r["replies"])
    r = send(client, amy, "what is my balance please", cid)  # a whole English message: the customer switched
    assert r["replies"][0]["text"].startswith("Your balances")
    r = send(client, amy, "ok", cid)
    assert not any("\u4e00" <= ch <= "\u9fff" for x in r["replies"] for ch in x["text"])


def test_messages_while_waiting_for_a_colleague_are_acknowledged(client, amy, engine):
    r = send(client, amy, "我要人工")
    assert r["status"] == "waiting"
    r = send(client, amy, "还在吗", r["conversation_id"])
    assert r["status"] == "waiting" and len(r["replies"]) == 1 and "人工客服会尽快" in r["replies"][0]["text"]
    with engine.connect() as c:
        senders = [row[0] for row in c.execute(text(
            "SELECT sender FROM assistant_messages WHERE conversation_id = :c ORDER BY id"),
            {"c": r["conversation_id"]})]
    assert senders[-2:] == ["customer", "assistant"]

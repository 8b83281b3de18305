from __future__ import annotations

import pytest

from tests.api.support import API, assert_error, state
from tests.conftest import login


@pytest.fixture
def alice(client, bank):
    c = bank.customer("王芳")
    bank.account(c, balance=100_000)
    bank.user("alice", customer_id=c)
    other = bank.customer("李娜")
    bank.user("bob", customer_id=other)
    return login(client, "alice")


def test_chat_round_trip(client, alice):
    r = client.post(f"{API}/assistant/messages", json={"text": "what's my balance"}, headers=alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["intent"] == "balance" and "¥1,000.00" in body["replies"][0]["text"]
    cid = body["conversation_id"]
    h = client.get(f"{API}/assistant/conversations/{cid}", headers=alice).json()
    assert [m["sender"] for m in h["messages"]] == ["customer", "assistant"]
    assert [c["id"] for c in client.get(f"{API}/assistant/conversations", headers=alice).json()] == [cid]
    r = client.post(f"{API}/assistant/conversations/{cid}/rating", json={"score": 4}, headers=alice)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert_error(client.post(f"{API}/assistant/messages", json={"text": "hi", "conversation_id": cid},
                             headers=alice), 409)


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 1001}, {"text": "hi", "conversation_id": "a"},
                                  {"text": "hi", "conversation_id": 2**63}, {"text": "hi", "extra": 1}, {"text": 5}])
def test_bad_input_writes_nothing(client, alice, engine, body):
    before = state(engine)
    assert_error(client.post(f"{API}/assistant/messages", json=body, headers=alice), 422)
    assert state(engine) == before


def test_bad_rating_and_others_conversation(client, alice, engine):
    cid = client.post(f"{API}/assistant/messages", json={"text": "你好"}, headers=alice).json()["conversation_id"]
    bob = login(client, "bob")  # (a sign-in is itself on record)
    before = state(engine)
    for score in (0, 6, "5"):
        assert_error(client.post(f"{API}/assistant/conversations/{cid}/rating", json={"score": score},
                                 headers=alice), 422)
    assert_error(client.get(f"{API}/assistant/conversations/{cid}", headers=bob), 404)
    assert_error(client.post(f"{API}/assistant/messages", json={"text": "hi", "conversation_id": cid},
                             headers=bob), 404)
    assert state(engine) == before


def test_faq_answers_quote_the_catalogue(client, alice, engine):
    from smartbank import clock, db
    from smartbank.assistant import faq, faq_seed
    from smartbank.lending import seed as lending_seed
    from smartbank.security.service import SYSTEM
    from smartbank.wealth import seed as wealth_seed

    def work(s):
        wealth_seed.seed(s, until=clock.today(), codes=["TD3M", "TD6M", "TD1Y", "TD2Y", "TD3Y"])
        lending_seed.seed(s)
        faq_seed.seed(s, SYSTEM)

    db.run_in_transaction(work, engine=engine)
    faq.clear_cache()
    r = client.post(f"{API}/assistant/messages", json={"text": "一年定期存款利率多少"}, headers=alice)
    assert r.status_code == 200, r.text
    text = r.json()["replies"][0]["text"]
    assert "1年 0.95%" in text and "1年 1.25%" not in text and "0.10%" not in text
    r = client.post(f"{API}/assistant/messages", json={"text": "我的密码忘记了怎么办"}, headers=alice)
    text = r.json()["replies"][0]["text"]
    assert "“忘记密码？”" in text and "短信验证码" in text and "网点" in text

"""Console pages of the assistant: the hand-off queue and conversation, the knowledge base, analytics."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartbank import clock, db
from smartbank.assistant import faq_seed, handoff
from smartbank.security.service import SYSTEM
from tests.assistant.support import agent, conversation, get_handoff
from tests.web.conftest import make_user, post_form, raw_keys, sign_in

TURNS = [
    {"sender": "customer", "text": "转账一直失败", "intent": "transfer", "confidence": 0.91, "sentiment": -0.6,
     "emotion": "angry"},
    {"sender": "assistant", "text": "抱歉，正在为您转接人工客服。"},
]


@pytest.fixture
def agents(engine, people):
    make_user(engine, "agent1", role="service_agent")
    make_user(engine, "agent2", role="service_agent")
    return people


def test_queue_conversation_claim_reply_close(client, engine, agents):
    late = conversation(engine, agents.alice, TURNS, reason="explicit", summary={"intent": "transfer"},
                        started=clock.now() - timedelta(minutes=40))
    sign_in(client, "agent1", console=True)
    page = client.get("/console/assistant/queue")
    assert page.status_code == 200 and "王芳" in page.text and 'class="overdue"' in page.text
    assert "已超时" in page.text and "客户要求" in page.text and raw_keys(page.text) == []
    assert ">转账</td>" in page.text and ">transfer<" not in page.text  # the intent by its name, not its code
    conv = f"/console/assistant/conversations/{late}"
    case = client.get(conv).text
    assert "转账一直失败" in case and "91%" in case and "-0.60" in case and "愤怒" in case and "¥1,050.00" in case
    assert "angry" not in case and ">customer<" not in case and "本轮意图" in case  # words, not codes
    r = post_form(client, conv, f"{conv}/claim", {})
    assert r.status_code == 303 and get_handoff(engine, late).status == "assigned"
    r = post_form(client, conv, f"{conv}/reply", {"text": "  "})
    assert r.status_code == 422
    r = post_form(client, conv, f"{conv}/reply", {"text": "您好，我是客服小王，马上为您查看。"})
    assert r.status_code == 303
    assert "马上为您查看" in client.get(conv).text
    r = post_form(client, conv, f"{conv}/close", {})
    assert r.status_code == 303 and get_handoff(engine, late).status == "closed"
    assert "此会话已结束" in client.get(conv).text
    assert str(late) in client.get("/console/assistant/queue?tab=closed").text

    client.cookies.clear()
    other = conversation(engine, agents.alice, TURNS, reason="complaint")
    sign_in(client, "agent2", console=True)
    client.cookies.set("sb_lang", "en")
    page = client.get("/console/assistant/queue").text
    assert "Complaint" in page and "min left" in page and raw_keys(page) == []
    case = client.get(f"/console/assistant/conversations/{other}")
    assert case.status_code == 200 and raw_keys(case.text) == []
    assert ">Transfer</td>" in case.text and ">transfer<" not in case.text and ">Customer<" in case.text  # words


def test_second_claim_is_refused_with_the_reason(client, engine, agents):
    cid = conversation(engine, agents.alice, TURNS)
    db.run_in_transaction(lambda s: handoff.claim(s, agent(1, "agent1"), cid), engine=engine)
    sign_in(client, "agent2", console=True)
    conv = f"/console/assistant/conversations/{cid}"
    r = post_form(client, conv, f"{conv}/reply", {"text": "hi"})
    assert r.status_code == 409 and 'id="form-error"' in r.text


def test_faq_editor(client, engine, agents):
    db.run_in_transaction(lambda s: faq_seed.seed(s, SYSTEM), engine=engine)
    sign_in(client, "agent1", console=True)
    page = client.get("/console/assistant/faq")
    assert page.status_code == 200 and "银行卡丢了怎么办" in page.text and raw_keys(page.text) == []
    trial = client.get("/console/assistant/faq", params={"q": "我的卡丢了", "language": "zh"}).text
    assert "挂失" in trial and "匹配" in trial
    data = {"category": "card", "question_zh": "信用卡怎么激活？", "question_en": "How do I activate a credit card?",
            "variants": "激活新卡\n新卡开通", "answer_zh": "在手机银行激活。", "answer_en": "In mobile banking."}
    r = post_form(client, "/console/assistant/faq", "/console/assistant/faq", {**data, "answer_en": ""})
    assert r.status_code == 422
    r = post_form(client, "/console/assistant/faq", "/console/assistant/faq", data)
    assert r.status_code == 303
    edit = r.headers["location"].split("?")[0]
    r = post_form(client, edit, edit, {**data, "answer_en": "Activate it in mobile banking.", "version": "1"})
    assert r.status_code == 303 and "Activate it in mobile banking." in client.get(edit).text
    r = post_form(client, edit, edit, {**data, "version": "1"})
    assert r.status_code == 409
    r = post_form(client, edit, f"{edit}/active", {"active": "0"})
    assert r.status_code == 303 and "已停用" in client.get("/console/assistant/faq").text


def test_analytics_page(client, engine, agents):
    conversation(engine, agents.alice, TURNS, reason=None, satisfaction=4)
    conversation(engine, agents.alice, TURNS, reason="sentiment")
    sign_in(client, "market1", console=True)
    page = client.get("/console/assistant/analytics")
    assert page.status_code == 200 and raw_keys(page.text) == []
    assert 'id="kpi-containment" class="num">50%' in page.text and page.text.count("<svg") >= 3
    r = client.get("/console/assistant/analytics", params={"start": "2026-02-01", "end": "2026-01-01"})
    assert r.status_code == 422 and 'id="form-error"' in r.text
    assert client.get("/console/assistant/queue").status_code == 403  # marketers: analytics only


def test_customers_and_other_staff_cannot_reach_the_agent_pages(client, engine, agents):
    cid = conversation(engine, agents.alice, TURNS)
    sign_in(client, "teller1", console=True)
    for path in ("/console/assistant/queue", f"/console/assistant/conversations/{cid}", "/console/assistant/faq",
                 "/console/assistant/analytics"):
        assert client.get(path).status_code == 403, path
    client.cookies.clear()
    sign_in(client, "alice")
    r = client.get(f"/console/assistant/conversations/{cid}", follow_redirects=False)
    assert r.status_code in (303, 401, 403)
    assert get_handoff(engine, cid).status == "waiting"

"""Hand-off to a human: the queue with transcript and context, SLA, claim (one winner), reply and close."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select, text

from smartbank import clock, db
from smartbank.assistant import handoff
from smartbank.assistant.models import AssistantConversation, AssistantMessage
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.security.models import AuditLog
from smartbank.security.service import Principal
from tests.assistant.support import agent, conversation, get_handoff

TURNS = [
    {"sender": "customer", "text": "我要转账给妈妈 500 元", "intent": "transfer", "confidence": 0.93,
     "sentiment": 0.1, "emotion": "neutral"},
    {"sender": "assistant", "text": "请确认……"},
    {"sender": "customer", "text": "你们怎么老是出错！我要投诉", "intent": "complaint", "confidence": 0.88,
     "sentiment": -0.8, "emotion": "angry"},
]


@pytest.fixture
def desk(bank):
    cust = bank.customer("王芳")
    bank.account(cust, balance=120_000)
    bank.account(cust, balance=30_000)
    a1 = bank.user("agent1", role="service_agent")
    a2 = bank.user("agent2", role="service_agent")
    return {"cust": cust, "a1": agent(a1, "agent1"), "a2": agent(a2, "agent2"),
            "customer": Principal(user_id=bank.user("wangfang", customer_id=cust), username="wangfang", role="customer",
                                  customer_id=cust, display_name="wf"),
            "teller": agent(bank.user("teller1", role="teller"), "teller1", "teller")}


def _run(engine, fn):
    return db.run_in_transaction(fn, engine=engine)


def test_hand_off_is_idempotent_and_sets_priority_and_sla(engine, desk):
    cid = conversation(engine, desk["cust"], TURNS, reason=None)

    def twice(s):
        c = s.get(AssistantConversation, cid)
        h1 = handoff.hand_off(s, c, reason="complaint", summary={"intent": "transfer", "sentiment": -0.8})
        h2 = handoff.hand_off(s, c, reason="explicit", summary={})
        assert h1.id == h2.id and c.status == "waiting" and c.handoff_reason == "complaint"
        due = h1.sla_due_at if h1.sla_due_at.tzinfo else h1.sla_due_at.replace(tzinfo=UTC)
        created = h1.created_at if h1.created_at.tzinfo else h1.created_at.replace(tzinfo=UTC)
        return h1.priority, (due - created)

    priority, sla = _run(engine, twice)
    assert priority == 1 and sla == timedelta(minutes=5)
    assert handoff.priority_for("misunderstood", {}) == 3 and handoff.priority_for("explicit", {}) == 2
    assert handoff.priority_for("explicit", {"sentiment": -0.9}) == 1
    with pytest.raises(ValidationFailed):
        _run(engine, lambda s: handoff.hand_off(s, s.get(AssistantConversation, cid), reason="bored", summary={}))


def test_sla_minutes_are_configurable(monkeypatch):
    monkeypatch.setenv("SMARTBANK_ASSISTANT_SLA_MINUTES", "30")
    assert handoff.sla_minutes(2) == 30 and handoff.sla_minutes(1) == 5
    monkeypatch.setenv("SMARTBANK_ASSISTANT_SLA_HIGH_MINUTES", "x")
    assert handoff.sla_minutes(1) == 5


def test_queue_shows_transcript_context_and_overdue(engine, desk):
    old = clock.now() - timedelta(minutes=20)
    late = conversation(engine, desk["cust"], TURNS, reason="explicit", summary={"intent": "transfer"},
                        started=old)
    fresh = conversation(engine, desk["cust"], TURNS[:1], reason="complaint")
    items = _run(engine, lambda s: handoff.queue(s, desk["a1"]))
    assert [i["conversation_id"] for i in items] == [fresh, late]  # priority 1 first
    by = {i["conversation_id"]: i for i in items}
    assert by[late]["overdue"] is True and by[late]["sla_seconds_left"] < 0
    assert by[fresh]["overdue"] is False and 0 < by[fresh]["sla_seconds_left"] <= 300
    assert by[late]["intent"] == "transfer" and by[late]["reason"] == "explicit"
    ctx = by[late]["customer"]
    assert ctx["name"] == "王芳" and ctx["accounts_count"] == 2 and ctx["balance_minor"] == {"CNY": 150_000}
    case = _run(engine, lambda s: handoff.get_conversation(s, desk["a1"], late))
    assert [m["sender"] for m in case["messages"]] == ["customer", "assistant", "customer"]
    assert case["messages"][2]["sentiment"] == -0.8 and case["messages"][0]["confidence"] == 0.93
    assert case["customer"]["name"] == "王芳" and case["handoff"]["overdue"] is True
    assert _run(engine, lambda s: handoff.counts(s, desk["a1"]))["overdue"] == 1


def test_claim_reply_close(engine, desk):
    cid = conversation(engine, desk["cust"], TURNS)
    _run(engine, lambda s: handoff.claim(s, desk["a1"], cid))
    with pytest.raises(Conflict) as exc:
        _run(engine, lambda s: handoff.claim(s, desk["a2"], cid))
    assert exc.value.code == "already_claimed"
    with pytest.raises(Conflict):
        _run(engine, lambda s: handoff.agent_reply(s, desk["a2"], cid, "我来帮您"))
    with pytest.raises(ValidationFailed):
        _run(engine, lambda s: handoff.agent_reply(s, desk["a1"], cid, "   "))
    m = _run(engine, lambda s: handoff.agent_reply(s, desk["a1"], cid, "您好，我是客服小李"))
    assert m["sender"] == "agent" and m["agent_name"] == "agent1"
    assert _run(engine, lambda s: s.get(AssistantConversation, cid).status) == "agent"
    assert [i["conversation_id"] for i in _run(engine, lambda s: handoff.queue(s, desk["a1"], status="assigned"))] \
        == [cid]
    _run(engine, lambda s: handoff.close(s, desk["a1"], cid))
    assert _run(engine, lambda s: s.get(AssistantConversation, cid).status) == "closed"
    assert get_handoff(engine, cid).status == "closed"
    with pytest.raises(Conflict):
        _run(engine, lambda s: handoff.agent_reply(s, desk["a1"], cid, "还在吗"))
    actions = _run(engine, lambda s: list(s.scalars(select(AuditLog.action).where(
        AuditLog.object_type == "assistant_conversation", AuditLog.object_id == str(cid)).order_by(AuditLog.id))))
    assert actions == ["assistant_handoff.claim", "assistant_handoff.reply", "assistant_handoff.close"]
    agent_msgs = _run(engine, lambda s: s.scalar(select(text("count(*)")).select_from(AssistantMessage).where(
        AssistantMessage.sender == "agent")))
    assert agent_msgs == 1


def test_reply_claims_a_waiting_conversation(engine, desk):
    cid = conversation(engine, desk["cust"], TURNS)
    _run(engine, lambda s: handoff.agent_reply(s, desk["a2"], cid, "Hello"))
    h = get_handoff(engine, cid)
    assert h.status == "assigned" and h.assigned_to == desk["a2"].user_id


def test_only_agents(engine, desk):
    cid = conversation(engine, desk["cust"], TURNS)
    for who in (desk["customer"], desk["teller"]):
        for fn in (lambda s, w=who: handoff.queue(s, w), lambda s, w=who: handoff.claim(s, w, cid),
                   lambda s, w=who: handoff.get_conversation(s, w, cid),
                   lambda s, w=who: handoff.agent_reply(s, w, cid, "hi"), lambda s, w=who: handoff.close(s, w, cid)):
            with pytest.raises(Forbidden):
                _run(engine, fn)
    assert get_handoff(engine, cid).status == "waiting"
    with pytest.raises(NotFound):
        _run(engine, lambda s: handoff.get_conversation(s, desk["a1"], cid + 999))
    with pytest.raises(ValidationFailed):
        _run(engine, lambda s: handoff.queue(s, desk["a1"], status="nope"))


@pytest.mark.commits
def test_two_agents_claiming_at_once_one_wins(engine, desk, is_pg):
    if not is_pg:
        pytest.skip("row locks: PostgreSQL")
    cid = conversation(engine, desk["cust"], TURNS)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def act(who):
        barrier.wait()
        try:
            _run(engine, lambda s: handoff.claim(s, who, cid))
            results.append("ok")
        except Conflict as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=act, args=(desk[k],)) for k in ("a1", "a2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already_claimed", "ok"]
    claims = _run(engine, lambda s: s.scalar(select(text("count(*)")).select_from(AuditLog).where(
        AuditLog.action == "assistant_handoff.claim")))
    assert claims == 1


def test_the_agent_reads_the_transcript_without_the_identity_numbers_the_customer_typed(engine, desk):
    """The masking part: what the customer typed reaches the agent redacted (smartbank.pii); the turns are kept."""
    from datetime import date

    from smartbank.customers.validation import make_resident_id

    id_number = make_resident_id("110101", date(1985, 3, 7), 234)
    turns = [{"sender": "customer", "text": f"我的身份证{id_number}，电话13812345678，卡4111111111111111",
              "intent": "complaint", "confidence": 0.9, "entities": {"phone": "13812345678"}}]
    cid = conversation(engine, desk["cust"], turns, summary={"last": f"证件 {id_number}"})
    case = _run(engine, lambda s: handoff.get_conversation(s, desk["a1"], cid))
    [msg] = case["messages"]
    assert msg["text"] == "我的身份证<CN_RESIDENT_ID>，电话<CN_MOBILE>，卡<BANK_CARD>"
    assert msg["entities"] == {"phone": "<CN_MOBILE>"} and msg["intent"] == "complaint"
    assert case["handoff"]["summary"] == {"last": "证件 <CN_RESIDENT_ID>"}
    assert id_number not in str(case) and "13812345678" not in str(case)
    # the queue's summaries too
    rows = _run(engine, lambda s: handoff.queue(s, desk["a1"]))
    assert id_number not in str(rows)

"""Consents through the assistant: the same registry as the portal, read from the customer's words."""

from __future__ import annotations

import pytest

from smartbank import db
from smartbank.assistant import intents
from smartbank.customers import service as customers
from smartbank.security import service as security
from tests.assistant.test_dialogue import say, world  # noqa: F401


@pytest.mark.parametrize("text,expected", [
    ("关闭个性化推荐", ("consent_off", ["personalised_recommendation"])),
    ("turn off personalised recommendations", ("consent_off", ["personalised_recommendation"])),
    ("开启个性化推荐", ("consent_on", ["personalised_recommendation"])),
    ("取消营销短信", ("consent_off", ["marketing_sms"])),
    ("stop marketing emails", ("consent_off", ["marketing_email"])),
    ("unsubscribe from marketing", ("consent_off", ["marketing_sms", "marketing_email", "marketing_push",
                                                    "marketing_phone"])),
    ("my consents", ("consent_show", [])),
    ("我的授权", ("consent_show", [])),
    ("给我推荐理财产品", None), ("短信验证码收不到", None), ("转账500给妈妈", None), ("取消", None),
])
def test_consent_words(text, expected):
    assert intents.consent_request(text) == expected


def test_switch_off_and_on_through_the_chat(world, engine):  # noqa: F811
    alice = world["alice"]
    cid = alice.customer_id
    r = say(alice, "关闭个性化推荐")
    assert r["intent"] == "consent_off" and r["action"]["status"] == "done"
    assert "已为您关闭个性化推荐" in r["replies"][-1]["text"]
    with db.session_scope(engine) as s:
        assert not customers.has_consent(s, cid, "personalised_recommendation")
        hist = customers.consent_history(s, alice, cid)
        assert hist[0]["given_via"] == "assistant" and hist[0]["granted"] is False
        assert any(a.action == "consent.withdraw" for a in security.audit_trail(s, object_type="customer",
                                                                                 object_id=str(cid)))
    r = say(alice, "my consents", r["conversation_id"])
    assert r["intent"] == "consent_show" and "personalised recommendations: off" in r["replies"][-1]["text"]
    r = say(alice, "turn on personalised recommendations", r["conversation_id"])
    assert "turned on" in r["replies"][-1]["text"]
    with db.session_scope(engine) as s:
        assert customers.has_consent(s, cid, "personalised_recommendation")


def test_a_consent_request_in_the_middle_of_a_transfer_resumes_it(world, bank):  # noqa: F811
    alice = world["alice"]
    r = say(alice, "给妈妈转500")
    assert r["replies"][-1]["kind"] == "confirm"
    r = say(alice, "不要再给我发营销短信", r["conversation_id"])
    assert r["intent"] == "consent_off" and r["replies"][-1]["kind"] == "confirm"
    r = say(alice, "确认", r["conversation_id"])
    assert r["action"]["status"] == "done"

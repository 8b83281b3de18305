from __future__ import annotations

import pytest

from smartbank.assistant import intents


@pytest.mark.parametrize("text,intent", [
    ("我的余额是多少", "balance"), ("what's my balance", "balance"), ("给妈妈转500", "transfer"),
    ("send 300 to dad", "transfer"), ("交电费", "pay_bill"), ("pay my water bill", "pay_bill"),
    ("充话费", "top_up"), ("top up my phone", "top_up"), ("我的卡丢了", "card_lost"),
    ("I lost my card", "card_lost"), ("我要人工", "human"), ("talk to a person", "human"),
    ("我要投诉", "complaint"), ("有什么理财产品", "product_question"), ("申请贷款", "loan_apply"),
    ("贷款审批进度", "loan_status"), ("最近的交易", "recent_transactions"), ("你好", "greeting"),
    ("thanks", "thanks"), ("确认", "affirm"), ("yes", "affirm"), ("取消", "cancel"), ("no", "deny"),
])
def test_intents(text, intent):
    assert intents.classify(text).intent == intent


@pytest.mark.parametrize("text", ["asdfghjkl", "qwpeoi zxmcn", "12345", "???"])
def test_gibberish_is_not_understood(text):
    p = intents.classify(text)
    assert p.intent == "unknown"


def test_train_saves_and_loads(tmp_path, monkeypatch):
    info = intents.train(model_dir=tmp_path)
    assert info["holdout_accuracy"] > 0.8
    from smartbank.ml import registry

    monkeypatch.setattr(registry, "default_model_dir", lambda: tmp_path)
    intents.reset()
    try:
        assert intents.model()[1] == info["version"]
    finally:
        intents.reset()


@pytest.mark.parametrize(("text", "asks"), [
    ("上个月花了多少钱", True), ("本月支出", True), ("how much did I spend this month", True),
    ("what did I spend in May", True), ("消费贷利率", False), ("How much can I spend per day?", False),
    ("spending limit", False), ("我的余额是多少", False),
])
def test_spending_questions_are_read_from_their_words(text, asks):
    assert intents.spending_question(text) is asks

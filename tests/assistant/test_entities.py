from __future__ import annotations

from datetime import date

import pytest

from smartbank.assistant import entities
from smartbank.assistant.entities import Party, extract, language, zh_number

TODAY = date(2026, 11, 24)  # a Tuesday
PARTIES = [Party("payee", 1, "李娜", "6217001234567891234", "妈妈"),
           Party("payee", 2, "Zhang Wei", "6217000000000005678", "landlord"),
           Party("account", 3, "demand", "6217000000000009999")]


@pytest.mark.parametrize("text,minor", [
    ("三千五百元", 350_000), ("两万", 2_000_000), ("3.5k", 350_000), ("¥3,500", 350_000),
    ("3,500.50 yuan", 350_050), ("一百块", 10_000), ("转500给妈妈", 50_000), ("no, 800", 80_000),
    ("不对，是800", 80_000), ("一万二千元", 1_200_000), ("1.5万", 1_500_000),
])
def test_amounts(text, minor):
    assert extract(text, today=TODAY)["amount_minor"] == minor


@pytest.mark.parametrize("text,day", [
    ("明天", "2026-11-25"), ("下周一", "2026-11-30"), ("月底", "2026-11-30"), ("下个月5号", "2026-12-05"),
    ("next Friday", "2026-12-04"), ("tomorrow", "2026-11-25"), ("end of month", "2026-11-30"),
    ("2026-12-05", "2026-12-05"), ("周五", "2026-11-27"), ("12月5日", "2026-12-05"),
])
def test_dates(text, day):
    assert extract(text, today=TODAY)["date"] == day


@pytest.mark.parametrize("text,ids", [
    ("给妈妈转500", [1]), ("send 500 to my mother", [1]), ("转给尾号1234", [1]), ("pay Zhang Wei", [2]),
    ("to my landlord", [2]), ("ending 9999", [3]), ("给王五转钱", []),
])
def test_parties(text, ids):
    assert [p["id"] for p in extract(text, today=TODAY, candidates=PARTIES).get("parties", [])] == ids


@pytest.mark.parametrize("text,kind", [
    ("交电费", "electricity"), ("pay the water bill", "water"), ("交燃气费", "gas"), ("充话费", "mobile"),
    ("充值100", "mobile"), ("宽带费", "broadband"), ("top up my phone", "mobile"),
])
def test_bill_types(text, kind):
    assert extract(text, today=TODAY)["bill_type"] == kind


def test_numbers_that_are_not_amounts():
    e = extract("明天转500给尾号1234", today=TODAY, candidates=PARTIES)
    assert e["amount_minor"] == 50_000 and e["date"] == "2026-11-25"
    e = extract("交电费 户号 12345678", today=TODAY)
    assert e["reference"] == "12345678" and "amount_minor" not in e
    e = extract("给13812345678充值100元", today=TODAY)
    assert e["phone"] == "13812345678" and e["amount_minor"] == 10_000
    assert extract("654321", today=TODAY) == {"otp": "654321"}


def test_numerals_and_language():
    assert [zh_number(x) for x in ("十五", "一千零五", "三千五", "二十万")] == [15, 1005, 3500, 200_000]
    assert language("你好") == "zh" and language("hello") == "en"


# periods of past time: Tuesday 2026-11-24
@pytest.mark.parametrize(("words", "start", "end"), [
    ("上个月花了多少钱", "2026-10-01", "2026-10-31"), ("本月的交易", "2026-11-01", "2026-11-24"),
    ("这个月", "2026-11-01", "2026-11-24"), ("上周的交易", "2026-11-16", "2026-11-22"),
    ("本周", "2026-11-23", "2026-11-24"), ("最近三个月的交易", "2026-08-25", "2026-11-24"),
    ("近十天", "2026-11-15", "2026-11-24"), ("过去30天", "2026-10-26", "2026-11-24"),
    ("昨天", "2026-11-23", "2026-11-23"), ("今年", "2026-01-01", "2026-11-24"), ("去年", "2025-01-01", "2025-12-31"),
    ("10月的交易", "2026-10-01", "2026-10-31"), ("十二月", "2025-12-01", "2025-12-31"),
    ("last week", "2026-11-16", "2026-11-22"), ("last month", "2026-10-01", "2026-10-31"),
    ("this month", "2026-11-01", "2026-11-24"), ("the last 7 days", "2026-11-18", "2026-11-24"),
    ("past 3 months", "2026-08-25", "2026-11-24"), ("what did I spend in May", "2026-05-01", "2026-05-31"),
])
def test_periods(words, start, end):
    p = entities.period(words, date(2026, 11, 24))
    assert p is not None and (p["start"], p["end"]) == (start, end), p


@pytest.mark.parametrize("words", ["给妈妈转500", "10月5号给房东转1000", "May I see my balance", "一个月"])
def test_no_period(words):
    assert entities.period(words, date(2026, 11, 24)) is None


def test_a_period_is_not_an_amount():
    assert "amount_minor" not in entities.extract("近十天的交易", today=date(2026, 11, 24))


@pytest.mark.parametrize(("words", "code"), [
    ("我的信用卡账单多少", "credit_card"), ("credit card limit", "credit_card"), ("我想换点美元外汇", "forex"),
    ("怎么开股票账户炒股", "stocks"), ("我要租保管箱", "safe_deposit"), ("can I order a chequebook", "cheque"),
    ("买金条", "gold"), ("我的银行卡丢了", None), ("个人消费贷利率", None), ("有没有股票基金", None),
])
def test_products_the_bank_does_not_offer(words, code):
    assert entities.unavailable_product(words) == code


@pytest.mark.parametrize(("words", "current", "lang"), [
    ("ATM", "zh", "zh"), ("OK", "zh", "zh"), ("yes", "zh", "zh"), ("500", "zh", "zh"),
    ("what is my balance", "zh", "en"), ("ATM在哪里", "zh", "zh"), ("send 500 to 妈妈", "en", "en"),
    ("我要转账", "en", "zh"), ("好", "en", "en"), ("我要转账", None, "zh"), ("hi", None, "en"),
])
def test_conversation_language(words, current, lang):
    assert entities.conversation_language(words, current) == lang

from __future__ import annotations

from datetime import date

import pytest

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

"""The PII recognisers on true and false cases: checksums right and wrong, numbers inside longer runs of digits,
amounts that look like phone numbers; and the redactor."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartbank import pii
from smartbank.customers.validation import make_resident_id

ID = make_resident_id("110101", date(1985, 3, 7), 234)
ID_X = next(n for n in (make_resident_id("440305", date(1990, 12, 31), s) for s in range(1000)) if n.endswith("X"))
CARD = "6222020200112233446"  # a UnionPay-style 19-digit number with a right Luhn digit (checked below)
VISA = "4111111111111111"
USCC = "91110000600037341L"


def _bad_check(n: str) -> str:
    """The same number with a wrong last character."""
    last = n[-1]
    return n[:-1] + ("1" if last != "1" else "2")


def _entities(text: str) -> list[tuple[str, str]]:
    return [(f.entity, f.text) for f in pii.find(text)]


def test_the_fixtures_are_what_they_claim():
    from stdnum import luhn
    from stdnum.cn import ric, uscc

    assert ric.is_valid(ID) and ric.is_valid(ID_X) and uscc.is_valid(USCC)
    assert luhn.is_valid(VISA)
    if not luhn.is_valid(CARD):  # keep the constant honest
        pytest.fail(f"CARD needs check digit {luhn.calc_check_digit(CARD[:-1])}")


@pytest.mark.parametrize(("text", "found"), [
    # resident ID numbers: the check character decides
    (f"我的身份证号是{ID}，请核实", [("CN_RESIDENT_ID", ID)]),
    (f"id:{ID_X.lower()}", [("CN_RESIDENT_ID", ID_X.lower())]),
    (f"流水号 1{ID}", []),  # inside a longer run of digits
    (f"{ID}9", []),
    ("110101198513072342", []),  # month 13: not a date
    # mobiles, with and without +86, spaced or dashed
    ("请打13812345678联系我", [("CN_MOBILE", "13812345678")]),
    ("tel +86 138-1234-5678 thanks", [("CN_MOBILE", "+86 138-1234-5678")]),
    ("电话：0086 13912345678", [("CN_MOBILE", "0086 13912345678")]),
    ("call 138 1234 5678", [("CN_MOBILE", "138 1234 5678")]),
    ("12812345678", []),  # 12x is not a mobile prefix
    ("订单号 2138123456789", []),  # part of a longer number
    ("金额 13812345678.50 元", []),  # an amount with a decimal part
    ("¥13812345678", []),
    ("CNY 15912345678", []),
    ("1381234567", []),  # ten digits
    # bank cards: Luhn
    (f"卡号 {CARD} 谢谢", [("BANK_CARD", CARD)]),
    (f"card {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}", [("BANK_CARD", "4111 1111 1111 1111")]),
    (f"card {_bad_check(VISA)}", []),
    ("account 1234567890123452", []),  # a Luhn-valid number starting 1 is no card
    (f"ref 9{VISA}", []),
    # e-mails
    ("mail zhao.liu@example.cn now", [("EMAIL", "zhao.liu@example.cn")]),
    ("邮箱wang_fang+bank@mail.example.com。", [("EMAIL", "wang_fang+bank@mail.example.com")]),
    ("not an address: user@localhost", []),
    # unified social credit codes
    (f"统一社会信用代码{USCC}", [("CN_USCC", USCC)]),
    (f"code {_bad_check(USCC)}", []),
    # several at once, in order
    (f"{ID} / 13812345678 / {VISA}", [("CN_RESIDENT_ID", ID), ("CN_MOBILE", "13812345678"), ("BANK_CARD", VISA)]),
    # ordinary bank text
    ("转账 ¥1,234.56 至 6217 尾号账户, 2026-12-07 10:30:00, 交易号 100234", []),
    ("", []),
])
def test_recognisers_find_true_cases_and_pass_false_ones(text, found):
    assert _entities(text) == found


def test_a_wrong_check_character_is_no_resident_id():
    for bad in (_bad_check(ID), _bad_check(ID_X)):
        assert [f for f in pii.find(f"身份证 {bad}") if f.entity == "CN_RESIDENT_ID"] == []
    # (an all-digit 18-character string can still be a credit code by its own check character, and is then
    # redacted as one: in a log, recall matters more than the label)


def test_redact_replaces_each_finding_with_its_entity():
    text = f"客户{ID}手机13812345678卡{VISA}邮箱a@b.cn"
    assert pii.redact(text) == "客户<CN_RESIDENT_ID>手机<CN_MOBILE>卡<BANK_CARD>邮箱<EMAIL>"
    assert pii.redact("nothing here 12345") == "nothing here 12345"
    assert pii.redact_value({"a": [f"x {ID}", 5], "b": ("13812345678",), "c": None}) == {
        "a": ["x <CN_RESIDENT_ID>", 5], "b": ("<CN_MOBILE>",), "c": None}


def test_only_the_entities_asked_for():
    assert _entities(f"{ID} 13812345678") == [("CN_RESIDENT_ID", ID), ("CN_MOBILE", "13812345678")]
    assert [f.entity for f in pii.find(f"{ID} 13812345678", ["CN_MOBILE"])] == ["CN_MOBILE"]


@given(st.lists(st.sampled_from([ID, ID_X, "13812345678", "+86 139-1234-5678", VISA, CARD, USCC, "a@b.cn", "0",
                                  "1", "9", " ", "-", ".", "¥", "元", "号", "X", "@", "+86"]), max_size=12))
def test_redaction_never_leaves_a_finding_and_is_idempotent(parts):
    text = "".join(parts)
    once = pii.redact(text)
    assert pii.find(once) == []
    assert pii.redact(once) == once


def test_digits_inside_a_hexadecimal_id_are_no_phone_number():
    # a request id or a hash can hold eleven digits in a row that look like a mobile number
    assert pii.find('"request_id": "ab16578568220cd9aa"') == []
    assert [f.text for f in pii.find("电话16578568220，请回电")] == ["16578568220"]

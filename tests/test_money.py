"""Money: integer minor units, typed amounts parsed exactly, one exact formatter, half-even rounding."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from smartbank.errors import ValidationFailed
from smartbank.money import (
    CURRENCIES,
    MAX_MINOR,
    check_currency,
    format_mean_minor,
    format_minor,
    parse_major,
    round_minor,
)
from smartbank.web.render import money as web_money


@pytest.mark.parametrize("text,currency,minor", [
    ("12.34", "CNY", 1234), ("12", "CNY", 1200), ("0.5", "CNY", 50), ("0.05", "CNY", 5), (" 7.10 ", "CNY", 710),
    ("1,234.50", "CNY", 123450), ("1,000,000", "CNY", 100000000), ("¥1,234.50", "CNY", 123450),
    ("￥88", "CNY", 8800), ("12.3400", "CNY", 1234), ("1500", "JPY", 1500), ("1,500", "JPY", 1500),
    ("999999999999999", "CNY", 99999999999999900),
])
def test_parse_major(text, currency, minor):
    assert parse_major(text, currency) == minor


@pytest.mark.parametrize("text", [
    "", " ", "abc", "-1", "+1", "1e5", "12.", ".5", "1.2.3", "12.345", "0.001", "1 000", "NaN", "Infinity",
    "1234567890123456",
])
def test_parse_major_rejects(text):
    with pytest.raises(ValidationFailed):
        parse_major(text, "CNY")


@pytest.mark.parametrize("text", ["12,5", "1,00", "1,0,0", "1,2345", ",100", "100,", "1,000,00", "12,34.5",
                                  "1234,567"])
def test_commas_only_as_thousands_separators(text):
    """'12,5' is 12.5 written with a decimal comma or a typo, never 125.00: refuse, do not guess."""
    with pytest.raises(ValidationFailed):
        parse_major(text, "CNY")


@pytest.mark.parametrize("text", [
    "\u0661\u0662", "\u0661\u0662.\u0665\u0660",  # Arabic-Indic ١٢ and ١٢.٥٠
    "\u06f1\u06f2",  # extended Arabic-Indic (Persian)
    "\u0967\u0968",  # Devanagari
    "\u0e51\u0e52",  # Thai
    "1\u0662", "\U0001d7cf\U0001d7d0",  # a mixed amount; mathematical bold digits
    "1,\u0662\u0663\u0664",
])
def test_digits_of_other_scripts_are_not_amounts(text):
    """Only ASCII (and full-width) digits are read: an amount in another script's digits is refused."""
    with pytest.raises(ValidationFailed):
        parse_major(text, "CNY")


@pytest.mark.parametrize("text,minor", [
    ("１２", 1200), ("１２３４．５０", 123450), ("１，２３４．５０", 123450), ("￥８８", 8800), ("12．5", 1250),
])
def test_full_width_digits_are_read(text, minor):
    assert parse_major(text, "CNY") == minor


def test_more_decimals_than_the_currency_has():
    with pytest.raises(ValidationFailed, match="decimals"):
        parse_major("12.5", "JPY")
    assert parse_major("12.50", "CNY") == 1250


@given(minor=st.integers(0, MAX_MINOR - 1), currency=st.sampled_from(["CNY", "USD", "JPY"]), grouping=st.booleans())
def test_format_then_parse_round_trips(minor, currency, grouping):
    text = format_minor(minor, currency, grouping=grouping)
    assert parse_major(text, currency) == minor


def test_format_minor():
    assert format_minor(123450, "CNY", grouping=True) == "1,234.50"
    assert format_minor(-5, "CNY") == "-0.05"
    assert format_minor(1500, "JPY", grouping=True) == "1,500"
    assert format_minor(100, "USD", symbol=True) == "1.00 USD"


@pytest.mark.parametrize("value,expected", [("0.5", 0), ("1.5", 2), ("2.5", 2), ("-0.5", 0), ("-1.5", -2),
                                            ("2.5000001", 3), ("2.4999999", 2)])
def test_round_minor_is_half_even(value, expected):
    assert round_minor(Decimal(value)) == expected


def test_check_currency():
    assert check_currency("cny") == "CNY"
    for bad in ("", None, "RMB", "XXX"):
        with pytest.raises(ValidationFailed):
            check_currency(bad)


# -- the one formatter ------------------------------------------------------------------------------------------

def _web_filter_before(minor: int, currency: str) -> str:
    """What the web pages' ``money`` filter printed before it used :func:`format_minor` with ``symbol``."""
    if currency == "CNY":
        return ("-" if minor < 0 else "") + "¥" + format_minor(abs(minor), currency, grouping=True)
    return f"{format_minor(minor, currency, grouping=True)} {currency}"


@given(minor=st.integers(-MAX_MINOR, MAX_MINOR), currency=st.sampled_from(sorted(CURRENCIES) + ["XXX"]))
def test_the_web_filter_shows_what_it_showed(minor, currency):
    assert web_money(minor, currency) == _web_filter_before(minor, currency)


@given(minor=st.integers(-MAX_MINOR, MAX_MINOR), currency=st.sampled_from(sorted(CURRENCIES)),
       grouping=st.booleans(), symbol=st.booleans(), drop=st.booleans())
def test_every_form_reads_back_to_the_same_minor_units(minor, currency, grouping, symbol, drop):
    assume(abs(minor) // 10 ** CURRENCIES[currency] < 10**15)  # typed amounts have at most 15 whole digits
    text = format_minor(minor, currency, grouping=grouping, symbol=symbol, drop_zero_fraction=drop)
    negative = text.startswith("-")
    assert negative == (minor < 0)
    amount = text[1:] if negative else text
    if symbol and currency != "CNY":
        assert amount.endswith(" " + currency)
        amount = amount[: -len(currency) - 1]
    assert parse_major(amount, currency) == abs(minor)  # "¥" is read by parse_major itself


@given(minor=st.integers(-(10**40), 10**40), currency=st.sampled_from(sorted(CURRENCIES)))
def test_never_through_a_float(minor, currency):
    """Exact far beyond a float's 53 bits: the digits are the integer's own digits."""
    text = format_minor(minor, currency, grouping=True)
    exp = CURRENCIES[currency]
    digits = text.lstrip("-").replace(",", "").replace(".", "")
    assert int(digits) == abs(minor)
    if exp:
        assert len(text.rsplit(".", 1)[1]) == exp


def test_a_float_is_refused():
    with pytest.raises(TypeError):
        format_minor(12.5)  # type: ignore[arg-type]
    assert format_minor(np.int64(123456), grouping=True) == "1,234.56"


def test_symbols_grouping_and_round_figures():
    assert format_minor(123456789, grouping=True, symbol=True) == "¥1,234,567.89"
    assert format_minor(-123456789, grouping=True, symbol=True) == "-¥1,234,567.89"
    assert format_minor(-5, "USD", symbol=True) == "-0.05 USD"
    assert format_minor(1500, "JPY", grouping=True, symbol=True) == "1,500 JPY"
    assert format_minor(5_000_000, grouping=True, drop_zero_fraction=True) == "50,000"
    assert format_minor(5_000_005, grouping=True, drop_zero_fraction=True) == "50,000.05"
    assert format_minor(0) == "0.00"
    assert format_minor(-1) == "-0.01"


@pytest.mark.parametrize("value,text", [(12345.5, "123.46"), (12344.5, "123.44"), (-250.4, "-2.50"),
                                        (123456789.0, "1,234,567.89"), (None, "-"), (float("nan"), "-"),
                                        (float("inf"), "-")])
def test_a_mean_is_rounded_once_half_even_then_formatted(value, text):
    assert format_mean_minor(value, grouping=True) == text


def test_the_assistant_writes_amounts_in_the_currencys_own_decimals():
    """It used to divide by 100 whatever the currency (1,500 yen came out as JPY 15.00)."""
    from smartbank.assistant.dialogue import money as assistant_money

    assert assistant_money(1500, "JPY") == "1,500 JPY"
    assert assistant_money(-123456) == "-¥1,234.56"

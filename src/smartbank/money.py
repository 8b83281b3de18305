"""Money as integer minor units. No floats anywhere near money."""

from __future__ import annotations

import math
import operator
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from smartbank.errors import ValidationFailed

# ISO 4217 minor-unit exponents for the currencies the data model knows.
CURRENCIES: dict[str, int] = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0, "GBP": 2}
MAX_MINOR = 10**15  # one quadrillion minor units: anything larger is absurd for one transfer


def check_currency(code: str) -> str:
    code = (code or "").upper()
    if code not in CURRENCIES:
        raise ValidationFailed(f"unknown currency {code!r}", reason="money.unknown_currency",
                               details={"currency": code})
    return code


def format_minor(minor: int, currency: str = "CNY", *, grouping: bool = False, symbol: bool = False,
                 drop_zero_fraction: bool = False) -> str:
    """The one money formatter: integer minor units to text, exactly (integer arithmetic; a float is refused).

    The currency's minor unit decides the decimals (two for CNY, none for JPY). ``grouping`` puts in thousands
    separators (1,234,567.89). ``symbol`` marks the currency as the web pages show it: CNY by ¥ before the amount
    (-¥1,234.50), any other currency by its code after it (-1,234.50 USD). ``drop_zero_fraction`` leaves out a
    fraction of zeros (50,000 rather than 50,000.00) for round figures. Without ``symbol`` the text is read back
    by :func:`parse_major` (negative amounts apart: typed amounts are never negative).

    >>> format_minor(123456789, grouping=True, symbol=True)
    '¥1,234,567.89'
    >>> format_minor(-5, "USD", symbol=True)
    '-0.05 USD'
    """
    minor = operator.index(minor)  # ints (and numpy integers) only: money never goes through a float
    exp = CURRENCIES.get(currency, 2)
    whole, frac = divmod(abs(minor), 10**exp)
    text = f"{whole:,}" if grouping else str(whole)
    if exp and not (drop_zero_fraction and frac == 0):
        text += f".{frac:0{exp}d}"
    sign = "-" if minor < 0 else ""
    if not symbol:
        return sign + text
    return f"{sign}¥{text}" if currency == "CNY" else f"{sign}{text} {currency}"


def format_money(minor: int, currency: str = "CNY") -> str:
    """An amount as a customer reads it in a message: grouped, with its currency (¥1,234.50, 1,234.50 USD)."""
    return format_minor(minor, currency, grouping=True, symbol=True)


def format_mean_minor(value: float | None, currency: str = "CNY", **options: bool) -> str:
    """A statistic in minor units that is not itself an amount of money (a mean, a forecast error: a float),
    rounded once to whole minor units (half-even) and then formatted by :func:`format_minor`; "-" when there is
    none or it is not a number."""
    if value is None or not math.isfinite(value):
        return "-"
    return format_minor(round_minor(Decimal(float(value))), currency, **options)


# ASCII digits only ([0-9], not \d, which matches every script's digits: Arabic-Indic, Devanagari...)
_AMOUNT_RE = re.compile(r"^\s*([0-9]{1,15})(?:\.([0-9]{1,4}))?\s*$")
# commas only as thousands separators: "1,234.50" yes; "12,5" or "1,00" (a decimal comma, a typo) no
_GROUPED_RE = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?$")
# a Chinese input method types full-width digits, point and comma ("１２３．５０"): read as their ASCII forms
_FULL_WIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": ".", "，": ","})


def parse_major(text: str, currency: str = "CNY") -> int:
    """Parse a decimal string in major units ("12.34") into minor units, refusing extra precision.

    Digits are ASCII or full-width (as a Chinese input method types them); digits of any other script are
    refused, not read as numbers."""
    exp = CURRENCIES.get(currency, 2)
    cleaned = str(text).translate(_FULL_WIDTH).replace("¥", "").replace("￥", "").strip()
    if "," in cleaned:
        if not _GROUPED_RE.match(cleaned):
            raise ValidationFailed(f"not an amount: {text!r}", reason="money.not_an_amount",
                                   details={"amount": str(text)})
        cleaned = cleaned.replace(",", "")
    m = _AMOUNT_RE.match(cleaned)
    if not m:
        raise ValidationFailed(f"not an amount: {text!r}", reason="money.not_an_amount", details={"amount": str(text)})
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - regex guards this
        raise ValidationFailed(f"not an amount: {text!r}", reason="money.not_an_amount",
                               details={"amount": str(text)}) from exc
    scaled = value * (10**exp)
    if scaled != scaled.to_integral_value():
        raise ValidationFailed(f"{text!r} has more decimals than {currency} allows", reason="money.too_many_decimals",
                               details={"amount": text, "currency": currency})
    return int(scaled)


def round_minor(value: Decimal) -> int:
    """Round a Decimal amount of minor units once, half-even (banker's rounding)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))

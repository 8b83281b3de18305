"""Money as integer minor units. No floats anywhere near money."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from smartbank.errors import CurrencyMismatch, ValidationFailed

# ISO 4217 minor-unit exponents for the currencies the data model knows.
CURRENCIES: dict[str, int] = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0, "GBP": 2}
MAX_MINOR = 10**15  # one quadrillion minor units: anything larger is absurd for one transfer


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot add {other.currency} to {self.currency}")
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot subtract {other.currency} from {self.currency}")
        return Money(self.minor - other.minor, self.currency)

    def __str__(self) -> str:
        return f"{format_minor(self.minor, self.currency)} {self.currency}"


def check_currency(code: str) -> str:
    code = (code or "").upper()
    if code not in CURRENCIES:
        raise ValidationFailed(f"unknown currency {code!r}", details={"currency": code})
    return code


def format_minor(minor: int, currency: str = "CNY", *, grouping: bool = False) -> str:
    exp = CURRENCIES.get(currency, 2)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp) if exp else (abs(minor), 0)
    whole_s = f"{whole:,}" if grouping else str(whole)
    return f"{sign}{whole_s}.{frac:0{exp}d}" if exp else f"{sign}{whole_s}"


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
            raise ValidationFailed(f"not an amount: {text!r}", details={"amount": str(text)})
        cleaned = cleaned.replace(",", "")
    m = _AMOUNT_RE.match(cleaned)
    if not m:
        raise ValidationFailed(f"not an amount: {text!r}", details={"amount": str(text)})
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - regex guards this
        raise ValidationFailed(f"not an amount: {text!r}") from exc
    scaled = value * (10**exp)
    if scaled != scaled.to_integral_value():
        raise ValidationFailed(f"{text!r} has more decimals than {currency} allows", details={"amount": text})
    return int(scaled)


def round_minor(value: Decimal) -> int:
    """Round a Decimal amount of minor units once, half-even (banker's rounding)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))

"""One formatter per language for what pages show: money, percentages, numbers, dates and times.

Every figure on a page goes through these (the templates' filters and the error messages' parameters), so
an amount never shows in fen, a probability never as ``0.048955446699388526`` and a date the same way on
every page. Amounts and dates are written so that they do not break across lines (see ``.num`` in the CSS).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from smartbank.money import format_money


def money(minor: Any, currency: str = "CNY", lang: str = "zh") -> str:
    """¥1,234.50 (CNY), 1,234.50 USD otherwise; empty for no amount."""
    if minor is None or minor == "":
        return ""
    return format_money(int(minor), currency or "CNY")


def percent(fraction: Any, lang: str = "zh", digits: int | None = None) -> str:
    """A fraction (0.2245) as a percentage ("22.45%"); at most two decimals, trailing zeros dropped unless
    ``digits`` is given; "-" when there is none."""
    if fraction is None or fraction == "":
        return "-"
    x = float(fraction)
    if not math.isfinite(x):
        return "-"
    p = x * 100
    if digits is not None:
        return f"{p:.{digits}f}%"
    text = f"{p:.2f}".rstrip("0").rstrip(".")
    return f"{'0' if text in ('-0', '') else text}%"


def number(value: Any, lang: str = "zh", digits: int = 2) -> str:
    """A plain figure with thousands separators; integers without decimals."""
    if value is None or value == "":
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    x = float(value) if not isinstance(value, Decimal) else value
    if isinstance(x, float) and not math.isfinite(x):
        return "-"
    text = f"{x:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def day(value: Any, lang: str = "zh") -> str:
    """2026-10-29 in both languages (the form customers of a Chinese bank read everywhere)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value or "")[:10]


def moment(value: Any, lang: str = "zh") -> str:
    """2026-10-29 14:05."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value or "")[:16].replace("T", " ")


def param(name: str, value: Any, lang: str, currency: str = "CNY") -> Any:
    """An error's or message's parameter for people, chosen by its name: ``*_minor`` money, ``*_rate``,
    ``*_ratio``, ``*_share``, ``*_pct`` (a fraction) percentages, ``*_date``/``*_on`` days, ``*_at`` moments;
    lists joined with the language's separator; anything else as it is."""
    if value is None:
        return "-"
    if name.endswith("_minor") and isinstance(value, int | float | Decimal | str):
        try:
            return money(int(value), currency, lang)
        except (TypeError, ValueError):
            return str(value)
    if name.endswith(("_rate", "_ratio", "_share", "_pct")) and isinstance(value, int | float | Decimal):
        return percent(value, lang)
    if name.endswith(("_date", "_on")):
        return day(value, lang)
    if name.endswith("_at"):
        return moment(value, lang)
    if isinstance(value, list | tuple | set):
        return ("、" if lang == "zh" else ", ").join(str(v) for v in value)
    if isinstance(value, float):
        return number(value, lang)
    return value


def params(details: dict[str, Any] | None, lang: str) -> dict[str, Any]:
    d = details or {}
    currency = str(d.get("currency") or "CNY")
    return {k: param(k, v, lang, currency) for k, v in d.items()}


def code_marks(text: str) -> Any:
    """Catalogue text with code a person types between backticks (``and``, a field's name, an example
    expression) as HTML: the text escaped, each `code` in ``<code translate="no">`` (monospace, not to be
    translated), so a page in Chinese shows the expression as it is typed beside its words."""
    from markupsafe import Markup, escape

    parts = str(text).split("`")
    return Markup("").join(Markup('<code translate="no">{}</code>').format(p) if i % 2 else escape(p)
                           for i, p in enumerate(parts))

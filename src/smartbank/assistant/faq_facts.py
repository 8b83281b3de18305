"""Figures in knowledge-base answers, read from the catalogue when the answer is given.

A knowledge-base answer never carries a rate, a product list or a limit as typed text: it names a placeholder
and :func:`render` fills it in the answer's language from where the bank keeps the figure, at the moment the
customer asks, so a rate change in the catalogue is what the assistant says next.

========================= ==========================================================================
placeholder               filled with
========================= ==========================================================================
``{{deposit_rates}}``     the active time deposits and their annual rates (wealth catalogue, ``rate_bps``)
``{{rate:CODE}}``         one wealth product's annual rate, e.g. ``{{rate:TD1Y}}`` -> ``0.95%``
``{{loan_rates}}``        each active loan product with its rate range today (reference rate + spreads)
``{{lpr}}``               the reference rates (LPR1Y, LPR5Y) in force today
``{{penalty_markup}}``    the loan products' penalty markup (``50%``), per product when they differ
``{{settlement}}``        the active wealth products grouped by settlement (T+0, T+1 ...)
``{{daily_limit}}``       the default daily payment limit (settings)
``{{lock_failures}}``     how many wrong passwords lock sign-in (settings)
``{{lock_minutes}}``      how long sign-in stays locked (settings)
========================= ==========================================================================

When the catalogue has no such figure (a product not set up, no reference rate yet), the placeholder says so
("see the product page") instead of quoting a number that nobody stands behind. An unknown placeholder is left
as it is, so an agent sees the typo in the console.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings
from smartbank.errors import NotFound, ValidationFailed
from smartbank.lending import service as lending
from smartbank.money import format_minor
from smartbank.wealth import service as wealth

__all__ = ["PLACEHOLDERS", "quoted_rates", "render"]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)(?::([A-Za-z0-9_\-]+))?\s*\}\}")
_SEP = {"zh": "，", "en": ", "}
_UNKNOWN = {"zh": "（请以产品页面公布为准）", "en": "(see the product page)"}


def _pct(bps: int | float) -> str:
    return f"{bps / 100:.2f}%"


def _term(days: int, lang: str) -> str:
    months = round(days / 30.4)
    if months and months % 12 == 0:
        years = months // 12
        return f"{years}年" if lang == "zh" else f"{years} year{'s' if years > 1 else ''}"
    if months:
        return f"{months}个月" if lang == "zh" else f"{months} months"
    return f"{days}天" if lang == "zh" else f"{days} days"


def _name(p: Any, lang: str) -> str:
    get = p.get if isinstance(p, dict) else lambda k: getattr(p, k, None)
    return str(get("name_zh" if lang == "zh" else "name_en") or get("code"))


class _Facts:
    """Reads each source once per rendered answer."""

    def __init__(self, session: Session, lang: str, day: date):
        self.s, self.lang, self.day = session, lang, day
        self._wealth: list[dict[str, Any]] | None = None
        self._loans: list[Any] | None = None

    def wealth(self) -> list[dict[str, Any]]:
        if self._wealth is None:
            self._wealth = wealth.list_products(self.s)
        return self._wealth

    def loans(self) -> list[Any]:
        if self._loans is None:
            self._loans = lending.list_products(self.s)
        return self._loans

    def deposit_rates(self, _arg: str | None) -> str | None:
        tds = sorted((p for p in self.wealth() if p["kind"] == "time_deposit" and p.get("rate_bps") is not None
                      and p.get("term_days")), key=lambda p: p["term_days"])
        if not tds:
            return None
        return _SEP[self.lang].join(f"{_term(p['term_days'], self.lang)} {_pct(p['rate_bps'])}" for p in tds)

    def rate(self, code: str | None) -> str | None:
        p = next((p for p in self.wealth() if p["code"] == code), None)
        return None if p is None or p.get("rate_bps") is None else _pct(p["rate_bps"])

    def _ref(self, name: str) -> int | None:
        try:
            return lending.rate_on(self.s, name, self.day)
        except (NotFound, ValidationFailed):  # no rate published yet
            return None

    def loan_rates(self, _arg: str | None) -> str | None:
        parts = []
        for p in self.loans():
            if self._ref(p.reference_rate) is None:
                continue
            lo, hi = lending.rate_bounds(self.s, p, self.day)
            parts.append(f"{_name(p, self.lang)} {_pct(lo)}–{_pct(hi)}")
        return _SEP[self.lang].join(parts) or None

    def lpr(self, _arg: str | None) -> str | None:
        names = {"LPR1Y": ("一年期 LPR", "1-year LPR"), "LPR5Y": ("五年期以上 LPR", "5-year LPR")}
        parts = []
        for code, (zh, en) in names.items():
            bps = self._ref(code)
            if bps is not None:
                parts.append(f"{zh if self.lang == 'zh' else en} {_pct(bps)}")
        return _SEP[self.lang].join(parts) or None

    def penalty_markup(self, _arg: str | None) -> str | None:
        marks = {p.code: float(p.penalty_markup) for p in self.loans() if p.penalty_markup is not None}
        if not marks:
            return None
        if len(set(marks.values())) == 1:
            return f"{next(iter(marks.values())) * 100:g}%"
        by_code = {p.code: p for p in self.loans()}
        return _SEP[self.lang].join(f"{_name(by_code[c], self.lang)} {m * 100:g}%" for c, m in marks.items())

    def settlement(self, _arg: str | None) -> str | None:
        groups: dict[int, list[str]] = {}
        deposits = "定期存款" if self.lang == "zh" else "time deposits"
        for p in self.wealth():
            name = deposits if p["kind"] == "time_deposit" else _name(p, self.lang)
            names = groups.setdefault(int(p.get("settlement_days") or 0), [])
            if name not in names:
                names.append(name)
        if not groups:
            return None
        join = "、" if self.lang == "zh" else ", "
        colon = "：" if self.lang == "zh" else ": "
        return ("；" if self.lang == "zh" else "; ").join(
            f"T+{d}{colon}{join.join(names)}" for d, names in sorted(groups.items()))

    def daily_limit(self, _arg: str | None) -> str | None:
        minor = get_settings().default_daily_limit_minor
        yuan = format_minor(minor, "CNY", grouping=True, drop_zero_fraction=True)
        return f"人民币 {yuan} 元" if self.lang == "zh" else f"CNY {yuan}"

    def lock_failures(self, _arg: str | None) -> str | None:
        return str(get_settings().login_max_failures)

    def lock_minutes(self, _arg: str | None) -> str | None:
        return str(get_settings().login_lock_minutes)


PLACEHOLDERS: dict[str, Callable[[_Facts, str | None], str | None]] = {
    name: getattr(_Facts, name) for name in ("deposit_rates", "rate", "loan_rates", "lpr", "penalty_markup",
                                             "settlement", "daily_limit", "lock_failures", "lock_minutes")}


def render(session: Session, text: str, *, language: str, day: date | None = None) -> str:
    """``text`` with every known placeholder filled in ``language`` (zh / en) from today's catalogue."""
    if "{{" not in (text or ""):
        return text
    lang = "en" if language == "en" else "zh"
    facts = _Facts(session, lang, day or clock.today())

    def fill(m: re.Match[str]) -> str:
        fn = PLACEHOLDERS.get(m.group(1))
        if fn is None:
            return m.group(0)
        value = fn(facts, m.group(2))
        return _UNKNOWN[lang] if value is None else value

    return _PLACEHOLDER.sub(fill, text)


def quoted_rates(text: str) -> list[float]:
    """Every percentage quoted in ``text`` (``0.95%`` -> 0.95), for checking answers against the catalogue."""
    return [float(x) for x in re.findall(r"(\d+(?:\.\d+)?)\s*%", text or "")]

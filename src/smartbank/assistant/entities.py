"""Entities in a customer's chat message, in Chinese and English. Pure functions: no database, no clock.

- amounts in fen (``三千五百元`` 350000, ``两万`` 2000000, ``3.5k`` 350000, ``¥3,500`` 350000,
  ``3,500.50 yuan`` 350050, ``一百块`` 10000); more than two decimals of a yuan is not an amount;
- dates against a given ``today`` (``明天``, ``下周一``, ``月底``, ``下个月5号``, ``next Friday``,
  ``tomorrow``, ``end of month``, ``2026-12-05``). ``下周X`` / ``next X`` is that weekday of the next
  calendar week (weeks start on Monday); ``周X`` / ``this X`` / ``on X`` is the coming one (today included);
- the customer's own payees and accounts (a list given by the caller from the payments service) by name,
  nickname, a relation word in the other language (``my mother`` finds a payee saved as ``妈妈``) or the
  last four digits (``尾号1234``, ``ending 1234``);
- bill types (``电费`` electricity, ``水费`` water, ``燃气`` gas, ``话费``/``充值`` mobile top-up,
  ``宽带`` broadband), a mobile number and a bill reference number;
- the one-time code a customer types back when a payment is challenged (4-8 digits alone).

Spans that are dates, phone numbers, last-four digits or references are taken out before amounts are read,
so ``尾号1234`` or ``5号`` is never an amount.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

_CJK = re.compile(r"[\u4e00-\u9fff]")


def language(text: str) -> str:
    """``zh`` when the message has any Chinese character, else ``en``."""
    return "zh" if _CJK.search(text or "") else "en"


# ---------------------------------------------------------------------------------------------
# Chinese numerals

_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "俩": 2, "三": 3, "叁": 3, "四": 4,
           "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}
_ZH_NUM_CHARS = "".join(_DIGITS) + "".join(_SMALL) + "".join(_BIG)


def zh_number(s: str) -> int | None:
    """``三千五百`` 3500, ``两万`` 20000, ``十五`` 15, ``一万二`` 12000; None when it is not a number."""
    if not s or any(ch not in _ZH_NUM_CHARS for ch in s):
        return None
    total = section = 0
    digit: int | None = None
    last_unit = 1
    zero = False  # a 零 since the last unit: 一千零五 is 1005, 一千五 is 1500
    for ch in s:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
            zero = zero or digit == 0
        elif ch in _SMALL:
            unit = _SMALL[ch]
            section += (digit if digit is not None else 1) * unit
            digit, last_unit, zero = None, unit, False
        else:
            unit = _BIG[ch]
            section += digit or 0
            total += (section or 1) * unit
            section, digit, last_unit, zero = 0, None, unit, False
    if digit is not None:
        section += digit * (1 if zero or last_unit <= 10 else last_unit // 10)
    return total + section


# ---------------------------------------------------------------------------------------------
# amounts

_CUR_BEFORE = r"(?:[¥￥]|rmb\s*|cny\s*)"
_CUR_AFTER = r"(?:元|块钱|块|圆|yuan|rmb|cny|kuai)"
_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_AMOUNT = re.compile(
    rf"(?P<pre>{_CUR_BEFORE})?\s*(?P<num>{_ARABIC})\s*(?P<mult>k|w|千|万)?(?![\d])\s*(?P<post>{_CUR_AFTER})?"
    rf"|(?P<zh>[{_ZH_NUM_CHARS}]+)\s*(?P<zhpost>{_CUR_AFTER})?", re.IGNORECASE)
_MULT = {"k": 1000, "w": 10_000, "千": 1000, "万": 10_000}


def _to_minor(value: Decimal) -> int | None:
    minor = value * 100
    if minor != minor.to_integral_value() or minor <= 0:
        return None
    return int(minor)


def amounts(text: str) -> list[tuple[int, bool]]:
    """Every amount in ``text`` as (fen, has a currency marker), in order. Call on text whose dates,
    phone numbers and references were taken out (see :func:`extract`)."""
    out: list[tuple[int, bool]] = []
    for m in _AMOUNT.finditer(text):
        if m.group("zh"):
            zh = m.group("zh")
            n = zh_number(zh)
            marked = bool(m.group("zhpost"))
            # a lone 一/两 ("一下", "两个") is not an amount without a currency word
            if n is None or (not marked and len(zh) == 1 and zh not in _SMALL and zh not in _BIG):
                continue
            minor = n * 100
        else:
            try:
                value = Decimal(m.group("num").replace(",", ""))
            except InvalidOperation:
                continue
            mult = (m.group("mult") or "").lower()
            if mult:
                value *= _MULT[mult]
            v = _to_minor(value)
            if v is None:
                continue
            minor = v
            marked = bool(m.group("pre") or m.group("post") or mult)
        if minor > 0:
            out.append((minor, marked))
    return out


def amount(text: str) -> int | None:
    """The amount the message names (one with a currency marker first), in fen."""
    found = amounts(text)
    for minor, marked in found:
        if marked:
            return minor
    return found[0][0] if found else None


# ---------------------------------------------------------------------------------------------
# dates

_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAYS_EN = {name: i for i, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
_WD_EN = "|".join(_WEEKDAYS_EN) + "|mon|tue|wed|thu|fri|sat|sun"


def _wd_en(word: str) -> int:
    word = word.lower()
    return next(i for name, i in _WEEKDAYS_EN.items() if name.startswith(word[:3]))


def _month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def _next_month(d: date, day: int) -> date | None:
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    try:
        return date(y, m, day)
    except ValueError:
        return None


def _this_or_next_month(today: date, day: int) -> date | None:
    try:
        d = date(today.year, today.month, day)
    except ValueError:
        d = None
    if d is not None and d >= today:
        return d
    return _next_month(today, day)


def _coming(today: date, weekday: int) -> date:
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _next_week(today: date, weekday: int) -> date:
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    return monday + timedelta(days=weekday)


_DATE_RULES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?"),
     lambda m, t: date(int(m[1]), int(m[2]), int(m[3]))),
    (re.compile(r"(?:下个?月|next month(?: on)?(?: the)?)\s*(\d{1,2})\s*(?:号|日|st|nd|rd|th)?", re.I),
     lambda m, t: _next_month(t, int(m[1]))),
    (re.compile(r"(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\s+(?:of\s+)?next month", re.I),
     lambda m, t: _next_month(t, int(m[1]))),
    (re.compile(r"(\d{1,2})月(\d{1,2})[日号]"),
     lambda m, t: _year_ahead(t, int(m[1]), int(m[2]))),
    (re.compile(r"下个?月[底末]|end of next month", re.I),
     lambda m, t: _month_end(_next_month(t, 1) or t)),
    (re.compile(r"月[底末]|end of (?:the |this )?month", re.I), lambda m, t: _month_end(t)),
    (re.compile(r"大后天"), lambda m, t: t + timedelta(days=3)),
    (re.compile(r"后天|day after tomorrow", re.I), lambda m, t: t + timedelta(days=2)),
    (re.compile(r"明天|明日|tomorrow", re.I), lambda m, t: t + timedelta(days=1)),
    (re.compile(r"今天|今日|\btoday\b|\bnow\b", re.I), lambda m, t: t),
    (re.compile(r"下(?:个)?(?:周|星期|礼拜)([一二三四五六日天])"),
     lambda m, t: _next_week(t, _WEEKDAYS_ZH[m[1]])),
    (re.compile(rf"\bnext\s+({_WD_EN})\b", re.I), lambda m, t: _next_week(t, _wd_en(m[1]))),
    (re.compile(r"(?:这|本)?(?:周|星期|礼拜)([一二三四五六日天])"),
     lambda m, t: _coming(t, _WEEKDAYS_ZH[m[1]])),
    (re.compile(rf"\b(?:this|on|coming)\s+({_WD_EN})\b", re.I), lambda m, t: _coming(t, _wd_en(m[1]))),
    (re.compile(r"(?<![\d.])(\d{1,2})\s*号"), lambda m, t: _this_or_next_month(t, int(m[1]))),
    (re.compile(r"\bon the (\d{1,2})(?:st|nd|rd|th)\b", re.I), lambda m, t: _this_or_next_month(t, int(m[1]))),
]


def _year_ahead(today: date, month: int, day: int) -> date | None:
    try:
        d = date(today.year, month, day)
        return d if d >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def dates(text: str, today: date) -> list[tuple[date, tuple[int, int]]]:
    """Dates and their spans, first rule wins on overlapping text."""
    out: list[tuple[date, tuple[int, int]]] = []
    taken: list[tuple[int, int]] = []
    for pattern, fn in _DATE_RULES:
        for m in pattern.finditer(text):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            try:
                d = fn(m, today)
            except ValueError:
                d = None
            taken.append(m.span())
            if d is not None:
                out.append((d, m.span()))
    out.sort(key=lambda x: x[1])
    return out


def when(text: str, today: date) -> date | None:
    found = dates(text, today)
    return found[0][0] if found else None


# ---------------------------------------------------------------------------------------------
# payees and accounts

# relation words: a payee saved as 妈妈 is found by "my mother", and "Mom" by 妈妈
_RELATIONS: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("妈妈", "母亲", "老妈", "妈"), ("mother", "mom", "mum", "mommy", "mama")),
    (("爸爸", "父亲", "老爸", "爸"), ("father", "dad", "daddy", "papa")),
    (("老婆", "妻子", "太太", "爱人"), ("wife",)),
    (("老公", "丈夫", "先生"), ("husband",)),
    (("儿子",), ("son",)),
    (("女儿",), ("daughter",)),
    (("哥哥", "弟弟", "兄弟"), ("brother",)),
    (("姐姐", "妹妹", "姐妹"), ("sister",)),
    (("房东",), ("landlord",)),
    (("朋友",), ("friend",)),
]


def _relation_words(label: str) -> set[str]:
    low = label.lower().strip()
    for zh, en in _RELATIONS:
        if low in zh or low in en or any(w in low for w in zh) or any(re.search(rf"\b{w}\b", low) for w in en):
            return set(zh) | set(en)
    return set()


_LAST4 = re.compile(r"(?:尾号|末四位|后四位|尾数|ending(?: in| with)?|last (?:4|four)(?: digits)?(?: of)?"
                    r"|\*{2,4})\s*[:：]?\s*(\d{4})(?!\d)", re.I)


@dataclass(frozen=True)
class Party:
    """A payee or one of the customer's own accounts, as the caller hands them in."""

    kind: str  # payee | account
    id: int
    name: str
    number: str
    nickname: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "nickname": self.nickname,
                "last4": self.number[-4:]}


def _mentions(text: str, word: str) -> bool:
    word = word.lower().strip()
    if not word:
        return False
    if _CJK.search(word):
        return word in text
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None


def parties(text: str, candidates: list[Party]) -> list[Party]:
    """The candidates the message names: by last four digits, name, nickname or relation word."""
    low = (text or "").lower()
    found: list[Party] = []
    for m in _LAST4.finditer(text or ""):
        found += [c for c in candidates if c.number.endswith(m.group(1)) and c not in found]
    for c in candidates:
        if c in found:
            continue
        labels = [x for x in (c.nickname, c.name) if x]
        if any(_mentions(low, x) for x in labels):
            found.append(c)
            continue
        words: set[str] = set()
        for x in labels:
            words |= _relation_words(x)
        # a one-character relation (妈, 爸) only counts on its own, not inside another word
        if any(_mentions(low, w) for w in words if len(w) > 1 or w == low.strip()):
            found.append(c)
    return found


# ---------------------------------------------------------------------------------------------
# bills, phones, references, one-time codes

BILL_WORDS: dict[str, tuple[str, ...]] = {
    "electricity": ("电费", "电力", "电单", "electricity", "electric", "power bill"),
    "water": ("水费", "自来水", "water"),
    "gas": ("燃气", "煤气", "天然气", "gas"),
    "mobile": ("话费", "充值", "手机费", "手机充", "top up", "top-up", "topup", "recharge", "phone credit",
               "mobile"),
    "broadband": ("宽带", "网费", "broadband", "internet"),
}


def bill_type(text: str) -> str | None:
    low = (text or "").lower()
    for category, words in BILL_WORDS.items():
        if any(_mentions(low, w) for w in words):
            return category
    return None


_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d{9})(?!\d)")
_REF = re.compile(r"(?P<kw>户号|缴费号|编号|参考号|reference|ref\.?|account no\.?|number)?\s*[:：#]?\s*"
                  r"(?<![\d.,])(?P<ref>[A-Za-z]{0,3}\d{6,20})(?![\d.,])", re.I)
_OTP = re.compile(r"^\s*(?:验证码|code|otp)?\s*[:：是is]*\s*(\d{4,8})\s*$", re.I)


def otp(text: str) -> str | None:
    m = _OTP.match(text or "")
    return m.group(1) if m else None


def extract(text: str, *, today: date, candidates: list[Party] | None = None) -> dict[str, Any]:
    """Everything found in one message. Keys are present only when found: ``amount_minor``, ``date``
    (ISO), ``parties`` (list of :meth:`Party.as_dict`), ``bill_type``, ``phone``, ``reference``, ``otp``."""
    text = text or ""
    out: dict[str, Any] = {}
    code = otp(text)
    if code is not None:
        out["otp"] = code
    rest = text
    spans: list[tuple[int, int]] = []
    found_dates = dates(text, today)
    if found_dates:
        out["date"] = found_dates[0][0].isoformat()
        spans += [s for _, s in found_dates]
    for m in _LAST4.finditer(text):
        spans.append(m.span())
    pm = _PHONE.search(text)
    if pm:
        out["phone"] = pm.group(1)
        spans.append(pm.span())
    bt = bill_type(text)
    for m in _REF.finditer(text):
        if any(m.start("ref") < b and a < m.end("ref") for a, b in spans):
            continue
        if not (m.group("kw") or bt) or re.match(rf"\s*(?:k|w|千|万|{_CUR_AFTER})", text[m.end("ref"):], re.I):
            continue
        if not re.search(r"[\d,]+\.\d{1,2}$", m.group("ref")) and len(re.sub(r"\D", "", m.group("ref"))) >= 6:
            out.setdefault("reference", m.group("ref"))
            spans.append(m.span("ref"))
    for a, b in sorted(spans, reverse=True):
        rest = rest[:a] + " " * (b - a) + rest[b:]
    if code is None:
        minor = amount(rest)
        if minor is not None:
            out["amount_minor"] = minor
    if candidates:
        named = parties(text, candidates)
        if named:
            out["parties"] = [p.as_dict() for p in named]
    if bt is not None:
        out["bill_type"] = bt
    return out

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
- the one-time code a customer types back when a payment is challenged (4-8 digits alone);
- a period of past time for transaction and spending questions (``上个月``, ``本月``, ``上周``, ``本周``,
  ``今年``, ``去年``, ``昨天``, ``今天``, ``最近三个月``, ``近7天``, ``10月``, ``last month``, ``this month``,
  ``last week``, ``this week``, ``yesterday``, ``the last 3 months``, ``past 30 days``, ``in October``): first and
  last day, both included, never after ``today``. ``上周`` / ``last week`` is the previous calendar week (Monday to
  Sunday), ``最近N天`` / ``last N days`` the N days up to today;
- a product this bank does not offer (credit cards, foreign exchange, stock trading, safe deposit boxes,
  cheques, gold), so the assistant can say so instead of answering another question.

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


_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def conversation_language(text: str, current: str | None) -> str:
    """The language to answer in: a new conversation takes the message's (:func:`language`); an ongoing one
    keeps its own unless the customer clearly switches - a message without Chinese and with at least two English
    words switches to English (``ATM``, ``OK`` or ``yes`` alone do not), a message with at least two Chinese
    characters and more of them than English words switches to Chinese (a payee named ``妈妈`` inside an
    English sentence does not)."""
    if current not in ("zh", "en"):
        return language(text)
    cjk = len(_CJK.findall(text or ""))
    words = len(_LATIN_WORD.findall(text or ""))
    if current == "zh" and cjk == 0 and words >= 2:
        return "en"
    if current == "en" and cjk >= 2 and cjk > words:
        return "zh"
    return current


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
    (ISO), ``parties`` (list of :meth:`Party.as_dict`), ``bill_type``, ``phone``, ``reference``, ``otp``,
    ``period`` (:func:`period`), ``unavailable_product`` (:func:`unavailable_product`)."""
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
    per = _period(text, today)
    if per is not None:  # "近十天" names a period, not ten yuan
        out["period"] = per[0]
        spans.append(per[1])
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
    missing = unavailable_product(text)
    if missing is not None:
        out["unavailable_product"] = missing
    return out


# ---------------------------------------------------------------------------------------------
# periods of past time

_ZH_NUM = "0-9一二两三四五六七八九十"
_MONTHS_EN = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
              "november", "december")


def _num(s: str) -> int | None:
    return int(s) if s.isdigit() else zh_number(s)


def add_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months, the day clamped to the month's length."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _month_period(today: date, month: int) -> tuple[date, date] | None:
    if not 1 <= month <= 12:
        return None
    year = today.year if month <= today.month else today.year - 1
    first = date(year, month, 1)
    return first, min(_month_end(first), today)


def _last_n(today: date, n: int | None, unit: str) -> tuple[date, date] | None:
    if n is None or n <= 0 or n > 3660:
        return None
    if unit in ("天", "日", "day", "days"):
        start = today - timedelta(days=n - 1)
    elif unit in ("周", "星期", "礼拜", "week", "weeks"):
        start = today - timedelta(days=7 * n - 1)
    elif unit in ("月", "month", "months"):
        start = add_months(today, -n) + timedelta(days=1)
    else:  # years
        start = add_months(today, -12 * n) + timedelta(days=1)
    return start, today


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


_EN_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "twelve": 12}
_PERIOD_RULES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(rf"(?:最近|近|过去|前)\s*([{_ZH_NUM}]+)\s*个?\s*(天|日|周|星期|礼拜|月|年)"),
     lambda m, t: _last_n(t, _num(m[1]), m[2])),
    (re.compile(r"\b(?:in\s+)?(?:the\s+)?(?:last|past|previous)\s+(\d{1,4}|one|two|three|four|five|six|seven|eight|"
                r"nine|ten|twelve)\s+(days?|weeks?|months?|years?)\b", re.I),
     lambda m, t: _last_n(t, _EN_NUM.get(m[1].lower()) or (int(m[1]) if m[1].isdigit() else None),
                          m[2].lower().rstrip("s") + "s")),
    (re.compile(r"上上个?月"), lambda m, t: (add_months(t.replace(day=1), -2),
                                          _month_end(add_months(t.replace(day=1), -2)))),
    (re.compile(r"上个?月|\b(?:last|previous)\s+month\b", re.I),
     lambda m, t: (add_months(t.replace(day=1), -1), _month_end(add_months(t.replace(day=1), -1)))),
    (re.compile(r"本月|这个?月|当月|\bthis\s+month\b", re.I), lambda m, t: (t.replace(day=1), t)),
    (re.compile(r"上个?(?:周|星期|礼拜)|\b(?:last|previous)\s+week\b", re.I),
     lambda m, t: (_monday(t) - timedelta(days=7), _monday(t) - timedelta(days=1))),
    (re.compile(r"本周|这周|这个?(?:星期|礼拜)|\bthis\s+week\b", re.I), lambda m, t: (_monday(t), t)),
    (re.compile(r"去年|\blast\s+year\b", re.I),
     lambda m, t: (date(t.year - 1, 1, 1), date(t.year - 1, 12, 31))),
    (re.compile(r"今年|\bthis\s+year\b", re.I), lambda m, t: (date(t.year, 1, 1), t)),
    (re.compile(r"前天"), lambda m, t: (t - timedelta(days=2), t - timedelta(days=2))),
    (re.compile(r"昨天|昨日|\byesterday\b", re.I), lambda m, t: (t - timedelta(days=1), t - timedelta(days=1))),
    (re.compile(r"今天|今日|\btoday\b", re.I), lambda m, t: (t, t)),
    (re.compile(rf"(?<![\d年])([0-9]{{1,2}}|[一二三四五六七八九十]{{1,3}})\s*月份?(?![\d{_ZH_NUM}]*\s*[日号])"),
     lambda m, t: _month_period(t, _num(m[1]) or 0)),
    # "May I ...": May is a month only after "in"
    (re.compile(r"\b(?:in\s+(may)|(?:in\s+)?(" + "|".join(x for x in _MONTHS_EN if x != "may") + r"))\b", re.I),
     lambda m, t: _month_period(t, _MONTHS_EN.index((m[1] or m[2]).lower()) + 1)),
]


def period(text: str, today: date) -> dict[str, str] | None:
    """The period of past time the message names, ``{"start", "end", "text"}`` (ISO dates, both included, the
    end never after ``today``), or None."""
    found = _period(text, today)
    return found[0] if found else None


def _period(text: str, today: date) -> tuple[dict[str, str], tuple[int, int]] | None:
    for pattern, fn in _PERIOD_RULES:
        m = pattern.search(text or "")
        if m is None:
            continue
        try:
            found = fn(m, today)
        except ValueError:
            found = None
        if found is None:
            continue
        start, end = found
        end = min(end, today)
        if start > end:
            continue
        return {"start": start.isoformat(), "end": end.isoformat(), "text": m.group(0).strip()}, m.span()
    return None


# ---------------------------------------------------------------------------------------------
# products this bank does not offer

UNAVAILABLE: dict[str, re.Pattern[str]] = {
    "credit_card": re.compile(r"信用卡|贷记卡|credit[\s-]?cards?", re.I),
    "forex": re.compile(r"外汇|换汇|购汇|结汇|外币兑换|兑换外币|汇率|foreign\s+exchange|currency\s+exchange|"
                        r"exchange\s+rates?|\bforex\b", re.I),
    "stocks": re.compile(r"炒股|买股票|卖股票|股票账户|证券账户|股票交易|stock\s+trading|brokerage|"
                         r"(?:buy|sell|trade)\s+(?:some\s+)?(?:stocks|shares)", re.I),
    "safe_deposit": re.compile(r"保管箱|保险箱|safe[\s-]?deposit", re.I),
    "cheque": re.compile(r"支票|\bcheques?\b|chequebook|checkbook", re.I),
    "gold": re.compile(r"黄金|积存金|金条|\bgold\b", re.I),
}


def unavailable_product(text: str) -> str | None:
    """The code of a product this bank does not offer that the message names (:data:`UNAVAILABLE`), or None."""
    for code, pattern in UNAVAILABLE.items():
        if pattern.search(text or ""):
            return code
    return None

"""Personal information in free text people type (chat messages, case notes, memos, complaints, log lines):
recognisers for Chinese PII and a redactor.

Each recogniser is a pattern (which candidates to look at) and a validator (which candidates are real), the
shape of Presidio's ``PatternRecognizer`` (a regex, then ``validate_result``). The checksums come from
``python-stdnum``:

- ``CN_RESIDENT_ID``: 18-character resident identity numbers, ISO 7064 MOD 11-2 check character and a real
  birth date (``stdnum.cn.ric``; the county lookup is left out on purpose: a county code newer than stdnum's
  table must still be redacted);
- ``CN_MOBILE``: mainland mobile numbers, 11 digits starting 13-19, with or without ``+86``/``0086`` and with
  spaces or dashes as people write them (``138 1234 5678``); not a run of digits inside a longer number and
  not an amount (followed by a decimal part, or after a currency sign);
- ``BANK_CARD``: 16-19 digit card numbers (plain or grouped by four) starting 3-6 with a valid Luhn check
  digit (``stdnum.luhn``);
- ``EMAIL``: e-mail addresses;
- ``CN_USCC``: unified social credit codes of organisations (GB 32100-2015 check character,
  ``stdnum.cn.uscc``).

A candidate is looked for only where no digit touches it, so part of a longer run of digits
(an account number, a transfer id, a timestamp) is never a finding. Overlapping findings keep the longest.

:func:`find` returns the findings, :func:`redact` replaces each with ``<ENTITY>``. This module is in the core
(below ``logs``), so every log line can pass through it (:class:`smartbank.logs.RedactingFilter`).

Presidio itself (``presidio-analyzer``) was measured and not taken: it pulls spaCy and its stack (about 400 MB
installed) and ``from presidio_analyzer import PatternRecognizer`` takes about one second, because the package
imports its NLP engine; a log filter imported by every command cannot pay that.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from stdnum import luhn
from stdnum.cn import ric, uscc

__all__ = ["ENTITIES", "Finding", "Recognizer", "RECOGNIZERS", "find", "redact",
           "redact_value"]


@dataclass(frozen=True, slots=True)
class Finding:
    entity: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Recognizer:
    entity: str
    pattern: re.Pattern[str]
    validate: Callable[[str], bool]
    score: float  # the confidence after validation, as Presidio reports it

    def find(self, text: str) -> list[Finding]:
        out = []
        for m in self.pattern.finditer(text):
            g = "v" if "v" in m.groupdict() else 0
            s, e = m.span(g)
            value = m.group(g)
            if self.validate(value):
                out.append(Finding(self.entity, s, e, value))
        return out


def _digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value)


def _valid_resident_id(value: str) -> bool:
    n = value.upper()
    try:
        if n[-1] != ric.calc_check_digit(n):
            return False
        ric.get_birth_date(n)
    except Exception:  # stdnum raises its ValidationError, or ValueError for an impossible date
        return False
    return True


def _valid_card(value: str) -> bool:
    d = _digits(value)
    return 16 <= len(d) <= 19 and d[0] in "3456" and luhn.is_valid(d)


def _valid_uscc(value: str) -> bool:
    # all digits is an 18-digit number (an ID number, an account): a code names its registering authority with
    # a letter or a digit, but a code without any letter is taken only when its check character is right
    return uscc.is_valid(value.upper())


def _always(_value: str) -> bool:
    return True


_NB = r"(?<![0-9])"  # not preceded by a digit
_NA = r"(?![0-9])"  # not followed by one
_NBW = r"(?<![0-9A-Za-z])"  # not preceded by a digit or a letter (a code with letters)
_NAW = r"(?![0-9A-Za-z])"
_SEP = r"[ -]?"

RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("CN_RESIDENT_ID", re.compile(
        _NB + r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]" + _NAW),
        _valid_resident_id, 1.0),
    Recognizer("BANK_CARD", re.compile(
        _NB + r"(?:[3-6][0-9]{3}(?:[ -][0-9]{4}){3}(?:[ -]?[0-9]{1,3})?|[3-6][0-9]{15,18})" + _NA),
        _valid_card, 0.9),
    Recognizer("CN_USCC", re.compile(_NBW + r"[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{2}[0-9]{6}"
                                     r"[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{10}" + _NAW), _valid_uscc, 0.9),
    # (not beside a hexadecimal letter either: eleven digits inside a request id or a hash are no phone number)
    Recognizer("CN_MOBILE", re.compile(
        r"(?<![0-9a-fA-F.¥￥$])(?<!CNY)(?<!RMB)(?<!CNY )(?<!RMB )"
        r"(?P<v>(?:(?:\+|00)86" + _SEP + r")?1[3-9][0-9]" + _SEP + r"[0-9]{4}" + _SEP + r"[0-9]{4})"
        r"(?![0-9a-fA-F])(?!\.[0-9])"), _always, 0.7),
    Recognizer("EMAIL", re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                                   r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"), _always, 1.0),
)
ENTITIES = tuple(r.entity for r in RECOGNIZERS)


def find(text: str, entities: Iterable[str] | None = None) -> list[Finding]:
    """The personal information in ``text``, in order, without overlaps (the longest finding wins; on a tie
    the recogniser listed first)."""
    if not text:
        return []
    wanted = set(entities) if entities is not None else None
    found: list[tuple[int, Finding]] = []
    for rank, r in enumerate(RECOGNIZERS):
        if wanted is None or r.entity in wanted:
            found += [(rank, f) for f in r.find(text)]
    found.sort(key=lambda rf: (-(rf[1].end - rf[1].start), rf[0], rf[1].start))
    kept: list[Finding] = []
    for _rank, f in found:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def _replace(text: str, findings: list[Finding]) -> str:
    out, pos = [], 0
    for f in findings:
        out += [text[pos:f.start], f"<{f.entity}>"]
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def redact(text: str, entities: Iterable[str] | None = None) -> str:
    """``text`` with each finding replaced by ``<ENTITY>`` (``<CN_MOBILE>``, ``<CN_RESIDENT_ID>``...). Repeated
    until nothing is found: a number glued to another one is found once its neighbour is replaced."""
    if not text:
        return text
    wanted = list(entities) if entities is not None else None
    for _ in range(8):  # each pass replaces at least one finding; glued numbers are few
        found = find(text, wanted)
        if not found:
            break
        text = _replace(text, found)
    return text


def redact_value(value: Any) -> Any:
    """:func:`redact` applied to every string inside ``value`` (strings, lists, tuples and dict values, nested);
    anything else as it is."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    return value

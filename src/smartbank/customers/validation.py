"""KYC field validation: the identity documents the bank accepts, each by its own rule, and phone numbers.

Individuals: the PRC resident identity card (GB 11643-1999), a passport (ICAO 9303 document number),
the Mainland Travel Permit for Hong Kong and Macao Residents and the Mainland Travel Permit for Taiwan
Residents (the card formats in issue since 2013 and 2015). Businesses: the unified social credit code
(GB 32100-2015). Any other document type is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from smartbank import clock
from smartbank.errors import ValidationFailed

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# first two digits: province-level division codes
_PROVINCES = {
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54,
    61, 62, 63, 64, 65, 71, 81, 82,
}


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    gender: str  # "M" | "F"
    region: str


def resident_id_check_digit(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse_resident_id(raw: str, *, today: date | None = None) -> ResidentId:
    """Validate an 18-digit PRC resident identity card number: format, region, birth date, checksum."""
    number = (raw or "").strip().replace(" ", "").upper()
    # ASCII only: \d would also match other scripts' digits (which int() reads), letting the same number
    # be stored under a different spelling, past the unique identity-document index
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise ValidationFailed("a resident ID number has 17 digits and a final digit or X", details={"id_number": raw})
    if int(number[:2]) not in _PROVINCES:
        raise ValidationFailed("the resident ID number has an unknown region code", details={"id_number": raw})
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise ValidationFailed("the resident ID number has an impossible birth date",
                               details={"id_number": raw}) from exc
    today = today or clock.today()
    if born > today or born.year < 1900:
        raise ValidationFailed("the resident ID number's birth date is out of range", details={"id_number": raw})
    if resident_id_check_digit(number[:17]) != number[17]:
        raise ValidationFailed("the resident ID number's check digit is wrong", details={"id_number": raw})
    return ResidentId(number=number, birth_date=born, gender="M" if int(number[16]) % 2 else "F", region=number[:6])


def make_resident_id(region: str, born: date, seq: int) -> str:
    """Build a valid number (used by the synthetic bank and tests)."""
    first17 = f"{region}{born:%Y%m%d}{seq % 1000:03d}"
    return first17 + resident_id_check_digit(first17)


_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# A landline without its trunk 0: a two-digit area code (Beijing 10, 20-29) and 8 digits, or a
# three-digit area code (3xx-9xx) and 7 or 8 digits.
_LANDLINE = re.compile(r"^(?:(?:10|2[0-9])[0-9]{8}|[3-9][0-9]{2}[0-9]{7,8})$")


def normalise_phone(raw: str) -> str:
    """Normalise a mainland phone number to E.164 (+86...). Accepts spaces, dashes, 0086/+86 prefixes."""
    s = re.sub(r"[\s\-()（）]", "", (raw or "").strip())
    international = False
    if s.startswith("+86"):
        s, international = s[3:], True
    elif s.startswith("0086"):
        s, international = s[4:], True
    elif s.startswith("86") and len(s) == 13:
        s = s[2:]
    if _MOBILE.fullmatch(s):
        return "+86" + s
    if s.startswith("0") and _LANDLINE.fullmatch(s[1:]):  # landline dialled with its trunk 0
        return "+86" + s[1:]
    if international and _LANDLINE.fullmatch(s):  # +86 10 ...: the form this function returns
        return "+86" + s
    raise ValidationFailed("not a valid mainland China phone number", details={"phone": raw})


# ----------------------------------------------------------------------------------------------
# the other identity documents

INDIVIDUAL_ID_TYPES = ("resident_id", "passport", "hk_macau_permit", "taiwan_permit")
BUSINESS_ID_TYPES = ("business_licence",)
ID_TYPES = INDIVIDUAL_ID_TYPES + BUSINESS_ID_TYPES

# ICAO 9303: the document number field holds at most 9 characters, Latin capitals and digits; real
# numbers have at least 6 and at least one digit (China E12345678, Japan TK1234567, the US 9 digits)
_PASSPORT = re.compile(r"(?=[A-Z0-9]*[0-9])[A-Z0-9]{6,9}")
# 港澳居民来往内地通行证 (card since 2013): H (Hong Kong) or M (Macao) and 8 digits
_HK_MACAU = re.compile(r"[HM][0-9]{8}")
# 台湾居民来往大陆通行证 (card since 2015): 8 digits
_TAIWAN = re.compile(r"[0-9]{8}")

# GB 32100-2015: 18 characters from 31 (no I, O, Z, S, V), the last a check character
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check(first17: str) -> str:
    """The check character of a unified social credit code (GB 32100-2015, MOD 31)."""
    total = sum(_USCC_CHARS.index(ch) * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def parse_uscc(raw: str) -> str:
    code = (raw or "").strip().replace(" ", "").upper()
    if len(code) != 18 or any(ch not in _USCC_CHARS for ch in code):
        raise ValidationFailed("a unified social credit code has 18 characters (digits and capitals other than "
                               "I, O, S, V, Z)", details={"id_number": raw})
    if uscc_check(code[:17]) != code[17]:
        raise ValidationFailed("the unified social credit code's check character is wrong", details={"id_number": raw})
    return code


@dataclass(frozen=True)
class IdDocument:
    id_type: str
    number: str
    birth_date: date | None = None  # read from the number (resident ID) or None
    gender: str | None = None


def parse_id_document(kind: str, id_type: str | None, raw: str, *, today: date | None = None) -> IdDocument:
    """Validate an identity document of a customer of ``kind`` (individual | business) by its type's rule.

    The type defaults to the resident ID card (individuals) or the unified social credit code
    (businesses); an unknown type, or one that does not fit the kind of customer, is refused.
    """
    allowed = INDIVIDUAL_ID_TYPES if kind == "individual" else BUSINESS_ID_TYPES
    id_type = id_type or allowed[0]
    if id_type not in allowed:
        raise ValidationFailed(f"the bank does not accept this type of identity document from {kind} customers",
                               reason="customers.id_type_not_accepted",
                               details={"id_type": id_type, "supported": list(allowed)})
    if id_type == "resident_id":
        rid = parse_resident_id(raw, today=today)
        return IdDocument(id_type, rid.number, rid.birth_date, rid.gender)
    if id_type == "business_licence":
        return IdDocument(id_type, parse_uscc(raw))
    number = (raw or "").strip().replace(" ", "").upper()
    rule, words = {
        "passport": (_PASSPORT, "a passport number has 6-9 Latin letters and digits, at least one a digit"),
        "hk_macau_permit": (_HK_MACAU, "a Hong Kong or Macao residents' travel permit number is H or M and 8 digits"),
        "taiwan_permit": (_TAIWAN, "a Taiwan residents' travel permit number has 8 digits"),
    }[id_type]
    if not rule.fullmatch(number):
        raise ValidationFailed(words, reason=f"customers.bad_id_number.{id_type}",
                               details={"id_number": raw, "id_type": id_type})
    return IdDocument(id_type, number)

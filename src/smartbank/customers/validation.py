"""KYC field validation: PRC resident ID numbers (GB 11643-1999) and phone numbers."""

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

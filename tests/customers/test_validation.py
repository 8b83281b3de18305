"""KYC field validation: PRC resident identity numbers (GB 11643-1999), the other identity documents the bank
accepts, and mainland phone numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartbank.customers.validation import (
    IdDocument,
    make_resident_id,
    normalise_phone,
    parse_id_document,
    parse_resident_id,
)
from smartbank.errors import ValidationFailed

TODAY = date(2026, 3, 2)
PROVINCES = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53,
             54, 61, 62, 63, 64, 65, 71, 81, 82]


def iso7064_check(first17: str) -> str:
    """The check character computed independently of the code under test: ISO 7064 MOD 11-2, where
    digit i (from the left) weighs 2**(17-i) mod 11 and the check is (12 - sum mod 11) mod 11, X for 10."""
    total = sum(int(ch) * pow(2, 17 - i, 11) for i, ch in enumerate(first17))
    v = (12 - total % 11) % 11
    return "X" if v == 10 else str(v)


# ---- resident ID ---------------------------------------------------------------------------------

# Published examples: the one printed in GB 11643-1999 guidance and widely reproduced, a Shanghai
# and a Shenzhen number built by hand with the check character worked out below.
PUBLIC = [
    ("11010519491231002X", date(1949, 12, 31), "F", "110105"),
    ("310101" "19800101" "001" + iso7064_check("31010119800101001"), date(1980, 1, 1), "M", "310101"),
    ("440305" "20000229" "124" + iso7064_check("44030520000229124"), date(2000, 2, 29), "F", "440305"),
]


def test_the_check_helper_agrees_with_the_published_example():
    assert iso7064_check("11010519491231002") == "X"
    assert iso7064_check("44052418800101001") == "4"  # the standard's own example, 440524188001010014


@pytest.mark.parametrize("number,born,gender,region", PUBLIC)
def test_valid_resident_ids(number, born, gender, region):
    rid = parse_resident_id(number, today=TODAY)
    assert (rid.number, rid.birth_date, rid.gender, rid.region) == (number, born, gender, region)


@pytest.mark.parametrize("raw", ["11010519491231002x", " 11010519491231002X ", "110105 19491231 002X",
                                 "110105 1949 1231 002x"])
def test_lowercase_x_and_spaces_are_accepted(raw):
    assert parse_resident_id(raw, today=TODAY).number == "11010519491231002X"


def test_built_numbers_are_valid():
    for seq in (0, 1, 2, 7, 998, 999, 1_234):
        n = make_resident_id("320106", date(1990, 6, 15), seq)
        assert n[-1] == iso7064_check(n[:17])
        assert parse_resident_id(n, today=TODAY).gender == ("M" if seq % 1000 % 2 else "F")


@pytest.mark.parametrize("shift", range(1, 11))
def test_every_wrong_check_character_is_rejected(shift):
    good = make_resident_id("110101", date(1985, 3, 7), 42)
    chars = "0123456789X"
    wrong = chars[(chars.index(good[-1]) + shift) % 11]
    with pytest.raises(ValidationFailed, match="check digit"):
        parse_resident_id(good[:17] + wrong, today=TODAY)


def with_check(first17: str) -> str:
    return first17 + iso7064_check(first17)


@pytest.mark.parametrize("birth", ["19900230", "19900231", "19000229", "20230229", "19901301", "19900001",
                                   "19900100", "19900431"])
def test_impossible_birth_dates(birth):
    with pytest.raises(ValidationFailed, match="impossible birth date"):
        parse_resident_id(with_check(f"110101{birth}123"), today=TODAY)


def test_birth_dates_at_the_edges():
    assert parse_resident_id(with_check("110101" "20000229" "123"), today=TODAY).birth_date == date(2000, 2, 29)
    assert parse_resident_id(with_check(f"110101{TODAY:%Y%m%d}123"), today=TODAY).birth_date == TODAY
    tomorrow = TODAY + timedelta(days=1)
    with pytest.raises(ValidationFailed, match="out of range"):
        parse_resident_id(with_check(f"110101{tomorrow:%Y%m%d}123"), today=TODAY)
    with pytest.raises(ValidationFailed, match="out of range"):
        parse_resident_id(with_check("110101" "20990101" "123"), today=TODAY)
    with pytest.raises(ValidationFailed, match="out of range"):
        parse_resident_id("440524188001010014", today=TODAY)  # valid checksum, born 1880


@pytest.mark.parametrize("region", ["000000", "990101", "100101", "200101", "300101", "700101", "830101",
                                    "910101"])
def test_unknown_region(region):
    with pytest.raises(ValidationFailed, match="region"):
        parse_resident_id(with_check(f"{region}19900101123"), today=TODAY)


@pytest.mark.parametrize("raw", ["", None, "1101051949123100", "1101051949123100200", "11010519491231002Y",
                                 "X1010519491231002X", "110105-19491231-002X", "11010519491231002XX"])
def test_malformed_resident_ids(raw):
    with pytest.raises(ValidationFailed):
        parse_resident_id(raw, today=TODAY)


@pytest.mark.parametrize("raw", [
    "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X",  # Arabic-Indic digits
    "११०१०५१९४९१२३१००२X",  # Devanagari digits
    "１１０１０５１９４９１２３１００２X",  # fullwidth digits
])
def test_non_ascii_digits_are_not_stored(raw):
    """Python's \\d matches any Unicode digit and int() reads them, so such a number could pass every
    check and be stored as a different string from the same ASCII number, slipping past the unique
    identity-document index. It must either be rejected or come back as plain ASCII."""
    try:
        rid = parse_resident_id(raw, today=TODAY)
    except ValidationFailed:
        return
    assert rid.number == "11010519491231002X" and rid.region == "110105"


regions = st.builds(lambda p, rest: f"{p:02d}{rest:04d}", st.sampled_from(PROVINCES), st.integers(0, 9999))
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


@given(region=regions, born=births, seq=st.integers(0, 10**6))
def test_any_built_number_parses_back(region, born, seq):
    n = make_resident_id(region, born, seq)
    assert len(n) == 18 and n[-1] == iso7064_check(n[:17])
    rid = parse_resident_id(n, today=TODAY)
    assert rid.birth_date == born and rid.region == region and rid.number == n
    assert rid.gender == ("M" if (seq % 1000) % 2 else "F")
    assert parse_resident_id(n.lower(), today=TODAY) == rid


@given(region=regions, born=births, seq=st.integers(0, 999), pos=st.integers(0, 16), delta=st.integers(1, 9))
def test_any_single_digit_change_is_caught(region, born, seq, pos, delta):
    n = make_resident_id(region, born, seq)
    changed = n[:pos] + str((int(n[pos]) + delta) % 10) + n[pos + 1:]
    with pytest.raises(ValidationFailed):
        parse_resident_id(changed, today=TODAY)


# ---- phone numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,expected", [
    ("13800138000", "+8613800138000"),
    ("138 0013 8000", "+8613800138000"),
    ("138-0013-8000", "+8613800138000"),
    ("+86 138 0013 8000", "+8613800138000"),
    ("+86-138-0013-8000", "+8613800138000"),
    ("0086 13800138000", "+8613800138000"),
    ("0086-138-0013-8000", "+8613800138000"),
    ("8613800138000", "+8613800138000"),
    ("  19912345678 ", "+8619912345678"),
    ("(+86) 166 1234 5678", "+8616612345678"),
    # landlines: area code with its trunk 0, 7 or 8 digit subscriber number
    ("010-12345678", "+861012345678"),
    ("(010) 1234 5678", "+861012345678"),
    ("（010）12345678", "+861012345678"),
    ("021 8765 4321", "+862187654321"),
    ("0755-1234567", "+867551234567"),
    ("0755-12345678", "+8675512345678"),
    ("+86 010 12345678", "+861012345678"),
])
def test_phone_normalisation(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["+86 10 1234 5678", "0086 21 8765 4321", "+86 755 1234 5678"])
def test_landlines_in_international_form(raw):
    """+86 followed by the area code without its trunk 0 is how a landline is written for callers
    abroad, and it is exactly the form normalise_phone itself produces."""
    assert normalise_phone(raw) == "+86" + "".join(ch for ch in raw[raw.index("86") + 2:] if ch.isdigit())


@pytest.mark.parametrize("raw", ["+8613800138000", "+861012345678", "+862187654321", "+867551234567",
                                 "+8675512345678"])
def test_normalising_twice_changes_nothing(raw):
    assert normalise_phone(raw) == raw
    assert normalise_phone(normalise_phone(raw)) == raw


@pytest.mark.parametrize("raw", [
    "", None, "abc", "12345", "1380013800", "138001380001", "12800138000", "10800138000", "23800138000",
    "+1 415 555 0100", "+44 20 7946 0958", "+8613800138000x", "138 0013 800O", "phone: 13800138000",
    "0086", "+86", "010-123456", "010-123456789", "0123-4567890", "01381234567", "00861", "++8613800138000",
    "１３８００１３８０００", "1３８００１３８０００", "13８００１３８０００", "+86 13８００１３８０００",
])
def test_phone_garbage_is_rejected(raw):
    with pytest.raises(ValidationFailed):
        normalise_phone(raw)


@given(prefix=st.sampled_from(["", "+86", "+86 ", "0086", "0086-", "86"]),
       second=st.sampled_from("3456789"), rest=st.text("0123456789", min_size=9, max_size=9),
       sep=st.sampled_from(["", " ", "-"]))
def test_any_mobile_number_normalises_to_e164(prefix, second, rest, sep):
    national = "1" + second + rest
    raw = prefix + sep.join([national[:3], national[3:7], national[7:]])
    out = normalise_phone(raw)
    assert out == "+86" + national
    assert normalise_phone(out) == out


# ---- the other identity documents -------------------------------------------------------------------

# unified social credit codes of well-known companies, as published on their business licences
REAL_USCC = ["914403001922038216", "91330100799655058B", "9144030071526726XG", "91110000100006485K"]


@pytest.mark.parametrize("code", REAL_USCC)
def test_published_unified_social_credit_codes_are_valid(code):
    assert parse_id_document("business", None, code.lower(), today=TODAY) == IdDocument("business_licence", code)


@pytest.mark.parametrize("raw", ["914403001922038217", "91440300192203821", "9144030019220382160",
                                 "91440300192203821I", "914403001922O38216", ""])
def test_bad_unified_social_credit_codes(raw):
    with pytest.raises(ValidationFailed):
        parse_id_document("business", "business_licence", raw, today=TODAY)


@pytest.mark.parametrize(("id_type", "raw", "number"), [
    ("passport", "E12345678", "E12345678"),
    ("passport", "ea 1234567", "EA1234567"),
    ("passport", "123456789", "123456789"),
    ("hk_macau_permit", "H12345678", "H12345678"),
    ("hk_macau_permit", "m87654321", "M87654321"),
    ("taiwan_permit", "01234567", "01234567"),
])
def test_accepted_passports_and_travel_permits(id_type, raw, number):
    doc = parse_id_document("individual", id_type, raw, today=TODAY)
    assert (doc.id_type, doc.number, doc.birth_date) == (id_type, number, None)


@pytest.mark.parametrize(("id_type", "raw"), [
    ("passport", "abc!!"), ("passport", "ABCDEFGH"), ("passport", "E1234"), ("passport", "E123456789"),
    ("passport", "Ｅ12345678"), ("hk_macau_permit", "H1234567"), ("hk_macau_permit", "X12345678"),
    ("hk_macau_permit", "H1234567890"), ("taiwan_permit", "1234567"), ("taiwan_permit", "1234567890"),
    ("taiwan_permit", "T1234567"),
])
def test_malformed_passports_and_travel_permits(id_type, raw):
    with pytest.raises(ValidationFailed):
        parse_id_document("individual", id_type, raw, today=TODAY)


@pytest.mark.parametrize(("kind", "id_type"), [
    ("individual", "PRC_ID"), ("individual", "foo"), ("individual", "business_licence"), ("individual", "external"),
    ("business", "resident_id"), ("business", "passport"), ("individual", "RESIDENT_ID"),
])
def test_unsupported_document_types_are_refused(kind, id_type):
    with pytest.raises(ValidationFailed, match="does not accept") as exc:
        parse_id_document(kind, id_type, "11010519491231002X", today=TODAY)
    assert exc.value.details["id_type"] == id_type and "supported" in exc.value.details

"""The one masking policy: its formats, and the table of role x purpose x field (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from smartbank.security import service as security
from smartbank.security.masking import POLICY
from smartbank.security.models import ROLES, STAFF_ROLES

ID = "11010119850307234X"


@pytest.mark.parametrize(("field", "value", "masked"), [
    ("id_number", ID, "110***********234X"),
    ("id_number", "E12345678", "E******78"),  # a passport keeps its first one and last two
    ("id_number", "12", "**"),
    ("phone", "+8613812345678", "138****5678"),
    ("phone", "13812345678", "138****5678"),  # with or without +86: the same text
    ("phone", "+86 138-1234-5678", "138****5678"),
    ("phone", "+861087654321", "*********4321"),  # a landline keeps its last four
    ("name", "张三", "张*"),
    ("name", "王芳", "王*"),
    ("name", "欧阳娜娜", "欧***"),
    ("name", "Zhao Liu", "Z*** L***"),
    ("email", "zhao.liu@example.cn", "z***@example.cn"),
    ("email", "broken", "***"),
    ("card_number", "6222020200112233445", "622202*********3445"),
    ("account_number", "6212345678901234", "****1234"),
    ("birth_date", date(1985, 3, 7), "1985-**-**"),
    ("address", "北京市朝阳区建国路88号", "北京市朝阳区****"),
    ("income", 1_200_000, None),
])
def test_each_field_has_one_masked_format(field, value, masked):
    assert security.mask_value(field, value) == masked
    assert security.mask_value(field, None) is None


def test_a_marketer_never_sees_a_raw_identity_field_for_any_purpose():
    for purpose in security.MASKING_PURPOSES:
        for field in ("id_number", "phone", "email", "address", "birth_date", "income", "card_number"):
            assert security.masking_rule("marketer", purpose, field) != "full", (purpose, field)
        assert security.masking_rule("marketer", purpose, "name") != "full"


def test_identity_numbers_are_masked_for_every_staff_role_and_purpose():
    """The full value of an ID number, phone or e-mail reaches a staff member only by a break-glass reveal."""
    for role in STAFF_ROLES:
        for purpose in security.MASKING_PURPOSES:
            for field in ("id_number", "phone", "email"):
                assert security.masking_rule(role, purpose, field) in ("masked", "hidden"), (role, purpose, field)


def test_a_customer_sees_their_own_data_and_logs_never_see_it_in_full():
    assert all(security.masking_rule("customer", "self", f) == "full" for f in security.PII_FIELDS
               if f != "card_number")
    for role in ROLES:
        assert all(security.masking_rule(role, "log", f) != "full" for f in security.PII_FIELDS), role


def test_what_is_not_in_the_table_is_hidden():
    assert security.masking_rule("marketer", "service", "name") == "hidden"
    assert security.masking_rule("nobody", "self", "id_number") == "hidden"
    assert security.present("marketer", "service", "id_number", ID) is None
    with pytest.raises(KeyError):
        security.masking_rule("teller", "service", "shoe_size")


def test_every_role_of_the_table_is_a_role_and_every_row_names_every_field():
    assert set(POLICY) <= set(ROLES)
    for role, purposes in POLICY.items():
        assert set(purposes) <= set(security.MASKING_PURPOSES), role
        for row in purposes.values():
            assert set(row) == set(security.PII_FIELDS)


def test_present_record_masks_each_field_by_its_kind():
    rec = {"name": "王芳", "id_number": ID, "phone": "+8613812345678", "annual_income_minor": 100, "city": "北京"}
    out = security.present_record("service_agent", "service", rec, {"annual_income_minor": "income"})
    assert out == {"name": "王芳", "id_number": "110***********234X", "phone": "138****5678",
                   "annual_income_minor": None, "city": "北京"}
    assert security.present_record("marketer", "marketing", rec)["name"] == "王*"


def test_break_glass_is_for_tellers_and_officers_and_follows_the_permission_table():
    assert set(security.REVEAL_ROLES) == {"teller", "loan_officer", "risk_officer"}
    assert set(security.REVEAL_ROLES) == set(security.roles_for("customer.pii.reveal"))
    assert security.may_reveal("teller", "id_number") and not security.may_reveal("marketer", "id_number")
    assert not security.may_reveal("service_agent", "phone") and not security.may_reveal("admin", "phone")
    assert not security.may_reveal("teller", "income")

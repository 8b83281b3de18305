"""The table registry's personal-information classification (JR/T 0171-2020): every column of a table that
belongs to a person has a class, and a column that looks personal anywhere has one of its own."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, ForeignKey, String, Table

import smartbank.models as registry
from smartbank.db import Base


def test_every_personal_column_is_classified():
    assert registry.unclassified() == []


def test_the_classes_of_the_identity_and_authentication_fields():
    c = registry.classification()
    assert {c["customers"][k] for k in ("id_number", "phone", "email", "address", "name", "birth_date")} == {"C2"}
    assert c["users"]["password_hash"] == "C3" and c["auth_sessions"]["token_hash"] == "C3"
    assert c["risk_challenges"]["code_hash"] == "C3"
    assert c["assistant_messages"]["text"] == "C2" and c["transfers"]["memo"] == "C2"
    assert c["loan_applications"]["employer"] == "C2" and c["credit_decisions"]["features"] == "C2"
    assert set(registry.person_tables()) >= {"customers", "users", "accounts", "loan_applications", "payees"}


@pytest.fixture
def extra_table():
    tables: list[Table] = []

    def make(name: str, *cols: Column) -> Table:
        t = Table(name, Base.metadata, Column("id", BigInteger, primary_key=True), *cols)
        tables.append(t)
        return t

    yield make
    for t in tables:
        Base.metadata.remove(t)


def test_a_new_personal_column_without_a_class_fails(extra_table):
    extra_table("partner_leads", Column("mobile_phone", String(20)), Column("campaign", String(20)))
    assert registry.unclassified() == ["partner_leads.mobile_phone: looks like personal data and has no class of "
                                       "its own"]


def test_a_new_table_of_a_person_needs_every_column_classified(extra_table):
    extra_table("user_devices", Column("user_id", BigInteger, ForeignKey("users.id")), Column("label", String(20)))
    problems = registry.unclassified()
    assert "user_devices.label: a column of a table that belongs to a person has no class" in problems
    assert len([p for p in problems if p.startswith("user_devices.")]) == 3


def test_a_class_on_the_column_itself_counts(extra_table):
    extra_table("user_devices", Column("user_id", BigInteger, ForeignKey("users.id"), info={"pi": "C1"}),
                Column("id_number", String(20), info={"pi": "C2"}), Column("x", String(2), info={"pi": "C9"}))
    problems = registry.unclassified()
    assert problems == ["user_devices.id: a column of a table that belongs to a person has no class",
                        "user_devices.x: unknown class 'C9' (one of C3, C2, C1, none)"]


@pytest.mark.parametrize("name, personal", [
    ("id_number", True), ("phone", True), ("phone_bidx", True), ("contact_email", True), ("home_address", True),
    ("name", True), ("payee_name", True), ("memo", True), ("monthly_income_minor", True), ("employer", True),
    ("birth_date", True), ("totp_secret", True), ("name_zh", False), ("amount_minor", False), ("status", False),
    ("created_at", False),
])
def test_the_name_detector(name, personal):
    assert registry.looks_personal(name) is personal

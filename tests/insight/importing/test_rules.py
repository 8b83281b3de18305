"""Each cleaning rule with a failing and a passing example (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from smartbank.customers.validation import make_resident_id
from smartbank.insight.importing.mapping import MappingError, load_mapping
from smartbank.insight.importing.rules import Cleaner

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
GOOD_ID = make_resident_id("110101", date(1985, 3, 7), 12)  # seq 012: even -> F


def tx_mapping(**amount):
    return load_mapping(data={"kind": "transactions", "source": "t", "fields": {
        "external_id": "id", "customer_external_id": "cust", "occurred_at": {"column": "at"},
        "amount": {"column": "amt", **amount}, "currency": {"column": "cur", "default": "CNY"},
        "is_fraud": {"column": "fraud"}}})


def cust_mapping():
    return load_mapping(data={"kind": "customers", "source": "c", "fields": {
        "external_id": "id", "name": "name", "id_number": "idno", "phone": "phone", "email": "email",
        "gender": {"column": "sex", "values": {"男": "M", "女": "F"}}, "birth_date": "born", "address": "addr"}})


def run_tx(rows: list[dict], **amount):
    base = {"id": "1", "cust": "9", "at": "2024-01-02 03:04:05", "amt": "1.00", "cur": "CNY", "fraud": "0"}
    raw = pl.DataFrame([{**base, "id": str(i), **r} for i, r in enumerate(rows)])
    c = Cleaner(tx_mapping(**amount), now=NOW).run(raw)
    c.df = c.df.with_columns(c.rejected())
    return c, c.finish_hits()


def run_cust(rows: list[dict]):
    base = {"id": "1", "name": "张伟", "idno": GOOD_ID, "phone": "13800001234", "email": None, "sex": None,
            "born": None, "addr": None}
    raw = pl.DataFrame([{**base, "id": str(i), **r} for i, r in enumerate(rows)], schema={k: pl.String for k in base})
    c = Cleaner(cust_mapping(), now=NOW).run(raw)
    c.df = c.df.with_columns(c.rejected())
    return c, c.finish_hits()


@pytest.mark.parametrize(("amt", "minor", "code"), [
    ("12.34", 1234, None), ("1,234.50", 123450, None), ("¥ 7", 700, None), ("１２．３", 1230, "STD_NFKC"),
    ("12.345", None, "AMT_PRECISION"), ("12,5", None, "AMT_INVALID"), ("abc", None, "AMT_INVALID"),
    ("-5.00", 500, "AMT_NEGATIVE"), ("0", 0, "AMT_ZERO"), ("99999999999999.99", None, "AMT_TOO_LARGE"),
])
def test_amount_rules_are_exact(amt, minor, code):
    c, hits = run_tx([{"amt": amt}])
    row = c.df.row(0, named=True)
    if code is None or code == "STD_NFKC":
        assert row["f_amount"] == minor and not row["_rejected"]
    else:
        assert row["_rejected"], hits
    if code:
        assert hits.get(code) == 1, hits


def test_rounding_half_even_on_the_decimal_string_not_floats():
    c, hits = run_tx([{"amt": "85.64999999999999"}, {"amt": "0.125"}, {"amt": "0.135"}, {"amt": "1.005"}],
                     rounding="half_even")
    assert c.df["f_amount"].to_list() == [8565, 12, 14, 100]
    assert hits["AMT_ROUNDED"] == 4 and not c.df["_rejected"].any()


def test_minor_unit_amounts():
    c, _ = run_tx([{"amt": "1234"}, {"amt": "12.34"}], unit="minor")
    assert c.df["f_amount"].to_list()[0] == 1234
    assert c.df["_rejected"].to_list() == [False, True]


def test_dates_and_currency_rules():
    c, hits = run_tx([{}, {"at": "2024/13/01 00:00:00"}, {"at": "2030-01-01 00:00:00"}, {"at": "1960-01-01 00:00:00"},
                      {"cur": "XXX"}, {"cur": None}, {"cur": "usd"}])
    assert c.df["_rejected"].to_list() == [False, True, True, True, True, False, False]
    assert hits["DATE_INVALID"] == 1 and hits["DATE_FUTURE"] == 1 and hits["DATE_TOO_OLD"] == 1
    assert hits["CUR_UNKNOWN"] == 1 and hits["IMP_CURRENCY"] == 1
    assert c.df["f_currency"].to_list()[5:] == ["CNY", "USD"]
    # naive local time (Asia/Shanghai by default) is stored as UTC
    assert c.df["f_occurred_at"][0] == datetime(2024, 1, 1, 19, 4, 5, tzinfo=UTC)


def test_required_and_bool_rules():
    c, hits = run_tx([{"id": None}, {"fraud": "maybe"}, {"fraud": "1"}])
    assert c.df["_rejected"].to_list() == [True, True, False]
    assert hits["REQ_MISSING"] == 1 and hits["BOOL_INVALID"] == 1
    assert c.df["f_is_fraud"][2] is True


def test_reasons_name_every_rule_of_a_row():
    c, _ = run_tx([{"amt": "x", "cur": "ZZZ"}])
    r = c.reasons().row(0, named=True)
    assert set(r["_rules"].split(";")) == {"AMT_INVALID:amount", "CUR_UNKNOWN:currency"}
    assert "not an amount" in r["_message"]


def test_resident_id_rules_and_imputation():
    bad_check = GOOD_ID[:17] + ("0" if GOOD_ID[17] != "0" else "1")
    c, hits = run_cust([{}, {"idno": bad_check}, {"idno": "99" + GOOD_ID[2:]}, {"idno": "12345"},
                        {"idno": GOOD_ID[:-1] + "x" if GOOD_ID.endswith("X") else " " + GOOD_ID[:6] + " "
                         + GOOD_ID[6:]}, {"idno": None}])
    assert c.df["_rejected"].to_list() == [False, True, True, True, False, False]
    assert hits["ID_CHECKSUM"] == 1 and hits["ID_REGION"] == 1 and hits["ID_FORMAT"] == 1
    row = c.df.row(0, named=True)
    assert row["f_birth_date"] == date(1985, 3, 7) and row["f_gender"] == "F"
    assert hits["IMP_BIRTH_DATE"] >= 1 and hits["IMP_GENDER"] >= 1
    assert c.df["f_id_number"][4] == GOOD_ID and hits["STD_ID_NUMBER"] == 1
    assert c.df["f_id_type"][5] == "external" and hits["IMP_EXTERNAL_ID"] == 1


def test_phone_email_gender_name_rules():
    c, hits = run_cust([
        {"phone": "138-0000-1234", "name": " ＺＨＡＮＧ   wei ", "sex": "女", "email": "A@B.CN"},
        {"phone": "12345"}, {"email": "no-at-sign"}, {"sex": "X"}, {"name": "张 伟", "sex": "男"},
        {"born": "1990-01-01"}, {"name": "123"},
    ])
    assert c.df["_rejected"].to_list() == [False, True, True, True, False, False, True]
    r0 = c.df.row(0, named=True)
    assert r0["f_phone"] == "+8613800001234" and r0["f_name"] == "Zhang Wei" and r0["f_email"] == "a@b.cn"
    assert c.df["f_name"][4] == "张伟"
    assert hits["PHONE_INVALID"] == 1 and hits["EMAIL_INVALID"] == 1 and hits["GENDER_INVALID"] == 1
    assert hits["STD_PHONE"] >= 1 and hits["STD_NFKC"] >= 1 and hits["STD_CASE"] == 1 and hits["NAME_INVALID"] == 1
    assert hits["GENDER_CONFLICT"] == 1  # 男 stated, the ID says F; the ID wins
    assert hits["BIRTH_CONFLICT"] == 1 and c.df["f_birth_date"][5] == date(1985, 3, 7)


@pytest.mark.parametrize(("data", "needle"), [
    ({"kind": "loans", "source": "x", "fields": {}}, "kind must be one of"),
    ({"kind": "transactions", "source": "x", "fields": {"external_id": "a"}}, "need the field"),
    ({"kind": "transactions", "source": "x", "fields": {"bogus": "a"}}, "have no field"),
    ({"kind": "customers", "source": "x", "fields": {"external_id": "a", "name": {"column": "n", "unit": "minor"}}},
     "unit applies to amounts only"),
    ({"kind": "customers", "source": "x", "fields": {"external_id": "a", "name": "n", "kind": {"default": "robot"}}},
     "is not one of"),
    ({"kind": "customers", "source": "bad source!", "fields": {"external_id": "a", "name": "n"}}, "source must be"),
])
def test_bad_mappings_are_refused_with_a_clear_message(data, needle):
    with pytest.raises(MappingError, match=needle):
        load_mapping(data=data)


def test_bad_mapping_file(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("kind: [unclosed", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(p)
    with pytest.raises(MappingError, match="not found"):
        load_mapping(tmp_path / "missing.yaml")

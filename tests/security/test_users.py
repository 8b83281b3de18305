"""Looking users up through the security service (the command line and the tools never select User rows)."""

from __future__ import annotations

from smartbank import db
from smartbank.customers import service as customers
from smartbank.security import service as security


def test_users_by_name_by_customer_and_counted(bank, engine):
    with db.session_scope(engine) as s:
        assert security.count_users(s) == 0
    cid = bank.customer("王芳")
    first = bank.user("wangfang", customer_id=cid)
    bank.user("wangfang2", customer_id=cid)
    staff = bank.user("teller9", role="teller")
    with db.session_scope(engine) as s:
        assert security.count_users(s) == 3
        assert security.find_user_by_name(s, "teller9").id == staff
        assert security.find_user_by_name(s, "nobody") is None
        assert security.user_of_customer(s, cid).id == first  # the first one, the sign-up's
        assert security.user_of_customer(s, cid + 1000) is None


def test_customer_names_for_a_staff_list(bank, engine):
    a, b = bank.customer("王芳"), bank.customer("李娜")
    with db.session_scope(engine) as s:
        assert customers.names_of(s, [a, b, 999_999]) == {a: "王芳", b: "李娜"}
        assert customers.names_of(s, []) == {}

"""``smartbank marketing loyalty rules|earn|balance|redeem|expire|reconcile``: each ends with one JSON line."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import text
from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from smartbank.customers import service as customers
from tests.loyalty.conftest import post


def _run(database_url: str, *args: str, code: int = 0) -> dict:
    res = CliRunner().invoke(app, ["marketing", "loyalty", *args, "--database-url", database_url])
    assert res.exit_code == code, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_loyalty_commands(database_url, bank, engine, bank_clock):
    cid = bank.customer("王芳")
    acct = bank.account(cid, balance=50_000)
    with db.session_scope(engine) as s:
        number = customers.get_customer(s, cid).number
    rules = _run(database_url, "rules")["rules"]
    assert {r["code"] for r in rules} >= {"BILL_PAY", "SALARY_FIRST", "WEALTH_FIRST"}
    post(engine, "salary", customer_account=acct, amount=900_000, inbound=True)
    for _ in range(3):
        post(engine, "bill_payment", customer_account=acct)
    assert _run(database_url, "earn")["points"] == 650
    assert _run(database_url, "earn")["points"] == 0
    assert _run(database_url, "balance", "--customer", number)["balance"] == 650
    red = _run(database_url, "redeem", "--customer", number, "--reward", "FEE_WAIVER_5")
    assert red["balance"] == 150 and red["kind"] == "fee_waiver"
    bank_clock.advance(timedelta(days=400))
    assert _run(database_url, "expire") == {"lots": 3, "points": 150}  # the salary lot paid the 500
    rec = _run(database_url, "reconcile")
    assert rec["ok"] is True and rec["outstanding_points"] == 0 and rec["liability_minor"] == 0
    assert rec["summary"]["breakage_minor"] == 150 and rec["summary"]["expense_minor"] == 650
    with engine.begin() as c:
        c.execute(text("UPDATE loy_lots SET remaining = remaining + 5 WHERE id = 1"))
    assert _run(database_url, "reconcile", code=1)["ok"] is False

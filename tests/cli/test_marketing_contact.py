"""``smartbank marketing contact ...``: the policy, a cap changed, why a customer was not contacted, do-not-disturb."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from smartbank.customers import service as customers
from smartbank.marketing import service as marketing
from tests.marketing.test_contact import CONTENT, consent


def _run(database_url: str, *args: str):
    r = CliRunner().invoke(app, ["marketing", "contact", *args, "--database-url", database_url])
    return r, (json.loads(r.stdout.strip().splitlines()[-1]) if r.exit_code == 0 else None)


def test_policy_set_cap_why_and_dnd(database_url, bank, engine, bank_clock):
    cid = bank.customer("王芳")
    consent(engine, cid, "sms")
    bank.user("teller1", role="teller")
    with db.session_scope(engine) as s:
        number = customers.get_customer(s, cid).number
    r, out = _run(database_url, "policy")
    assert r.exit_code == 0 and out["policy"]["email"]["max_count"] == 3
    r, out = _run(database_url, "set-cap", "sms", "--max", "1", "--quiet", "none")
    assert r.exit_code == 0 and (out["max_count"], out["quiet_start"]) == (1, None)
    refused, _ = _run(database_url, "set-cap", "sms", "--max", "5", "--as", "teller1")
    assert refused.exit_code == 2 and "forbidden" in refused.output
    bad, _ = _run(database_url, "set-cap", "sms", "--quiet", "21:00-21:00")
    assert bad.exit_code == 2 and "marketing.policy_quiet" in bad.output
    with db.session_scope(engine) as s:
        for _ in range(2):
            marketing.send(s, marketing.Outgoing(customer_id=cid, channel="sms", content=CONTENT, campaign_id=2))
    r, out = _run(database_url, "why", number)
    assert r.exit_code == 0 and [a["reason"] for a in out["attempts"]] == ["frequency_cap", None]
    assert "now: inapp=no_consent" in r.stdout
    r, out = _run(database_url, "dnd", "add", number, "--reason", "客户要求", "--channel", "email",
                  "--until", "2027-01-31", "--as", "teller1")
    assert r.exit_code == 0 and out["channel"] == "email"
    r, listed = _run(database_url, "dnd", "list", number)
    assert [d["id"] for d in listed["items"]] == [out["id"]]
    r, out = _run(database_url, "dnd", "remove", str(out["id"]))
    assert r.exit_code == 0 and out["active"] is False
    r, out = _run(database_url, "summary", "2")
    assert out["by_reason"] == {"frequency_cap": 1} and out["cost_micro"] == 50_000

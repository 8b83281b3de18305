"""`smartbank marketing journey ...`: seed, emit (idempotent), advance, list, show; last line JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank.cli import app


def _run(*args: str, url: str) -> dict:
    r = CliRunner().invoke(app, ["marketing", "journey", *args, "--database-url", url])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_seed_emit_advance_list_show(database_url, bank):
    cid = bank.customer()
    assert _run("seed", "--enable", url=database_url) == {"created": 6}
    assert _run("seed", url=database_url) == {"created": 0}
    first = _run("emit", "complaint_closed", "--customer", str(cid), "--ref", "complaint:1", url=database_url)
    assert first["created"] and len(first["runs_started"]) == 1
    again = _run("emit", "complaint_closed", "--customer", str(cid), "--ref", "complaint:1", url=database_url)
    assert again == {"event_id": first["event_id"], "created": False, "runs_started": []}
    adv = _run("advance", url=database_url)
    assert adv["runs"] == 1 and adv["steps"] == 2
    listed = {j["code"]: j for j in _run("list", url=database_url)["journeys"]}
    assert listed["complaint_closed"]["runs"]["completed"] == 1 and len(listed) == 6
    shown = _run("show", "complaint_closed", url=database_url)
    assert shown["stats"]["funnel"]["quiet"] == {"runs": 1, "outcomes": {"quiet": 1}}
    bad = CliRunner().invoke(app, ["marketing", "journey", "emit", "birthday", "--customer", str(cid), "--ref", "x",
                                   "--database-url", database_url])
    assert bad.exit_code != 0

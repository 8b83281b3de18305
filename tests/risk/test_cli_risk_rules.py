"""``smartbank risk rules list|show|test|stats``: figures printed, last line one JSON object."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank.cli import app
from smartbank.risk import rules


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_list_show_stats_and_test_on_the_bank(database_url):
    run = CliRunner()
    res = run.invoke(app, ["risk", "rules", "list", "--database-url", database_url])
    assert res.exit_code == 0, res.output
    assert {r["code"] for r in _last_json(res.output)["rules"]} == {d.code for d in rules.DEFAULT_RULES}
    res = run.invoke(app, ["risk", "rules", "show", "night_new_payee", "--database-url", database_url])
    assert res.exit_code == 0 and _last_json(res.output)["versions"][0]["action"] == "challenge"
    res = run.invoke(app, ["risk", "rules", "stats", "--database-url", database_url])
    assert res.exit_code == 0 and len(_last_json(res.output)["stats"]) == len(rules.DEFAULT_RULES)
    res = run.invoke(app, ["risk", "rules", "test", "--defaults", "--start", "2024-05-01", "--end", "2024-05-07",
                           "--database-url", database_url])
    assert res.exit_code == 0, res.output
    out = _last_json(res.output)
    assert out["payments"] == 0 and len(out["results"]) == len(rules.DEFAULT_RULES)
    res = run.invoke(app, ["risk", "rules", "test", "-e", "open('x')", "--start", "2024-05-01", "--end",
                           "2024-05-07", "--database-url", database_url])
    assert res.exit_code != 0


def test_test_on_a_file(gz_file):
    res = CliRunner().invoke(app, ["risk", "rules", "test", "-e", "amount_minor > 22000", "--action", "block",
                                   "--start", "2018-05-10", "--end", "2018-05-16", "--file", str(gz_file)])
    assert res.exit_code == 0, res.output
    [r] = _last_json(res.output)["results"]
    assert r["hits"] > 0 and r["precision"] == 1.0 and r["money_saved_minor"] > 0

"""`smartbank marketing experiment show|evaluate --campaign CODE`: last line JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from tests.marketing.test_experiments import make_campaign


def _run(*args: str, code: int = 0) -> dict:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == code, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_evaluate_then_show(database_url, engine):
    with db.session_scope(engine) as s:
        make_campaign(s, "CLI1", {"A": (200, 20), "B": (200, 70), "holdout": (200, 20)})
    read = _run("marketing", "experiment", "evaluate", "--campaign", "CLI1", "--database-url", database_url)
    assert read["decision"] == "winner" and read["winner"] == "B" and read["control"] == "holdout"
    shown = _run("marketing", "experiment", "show", "--campaign", "CLI1", "--database-url", database_url)
    assert shown["last"]["id"] == read["id"] and "history" not in shown
    missing = _run("marketing", "experiment", "show", "--campaign", "NONE", "--database-url", database_url, code=1)
    assert missing["reason"] == "marketing.experiment_not_found"


def test_simulate_shows_the_naive_test_failing():
    out = _run("marketing", "experiment", "simulate", "--experiments", "300", "--looks", "10", "--seed", "3")
    assert out["msprt_declared"] <= 0.05 + 2.33 * (0.05 * 0.95 / 300) ** 0.5
    assert out["naive_declared"] > 0.1 and out["coverage"] >= 0.9

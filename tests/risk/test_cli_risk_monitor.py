"""``smartbank risk monitor``: runs drift and KRIs, prints them, last line one JSON object."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from smartbank.risk import monitor


def test_risk_monitor_command(database_url, engine):
    with db.session_scope(engine) as s:
        monitor.seed_defaults(s)
    r = CliRunner().invoke(app, ["risk", "monitor", "--now", "2026-11-24T18:00:00+08:00"])
    assert r.exit_code == 0, r.output
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["kris"] == len(monitor.DEFAULT_KRIS)
    assert last["levels"] == {"no_data": last["kris"] - 2, "ok": 2}  # the alert backlog and its age read 0
    assert last["model_drift"] == [] and last["warnings_raised"] == 0
    bad = CliRunner().invoke(app, ["risk", "monitor", "--now", "yesterday"])
    assert bad.exit_code != 0

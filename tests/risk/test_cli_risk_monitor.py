"""``smartbank risk monitor``: runs drift and KRIs, prints them, last line one JSON object."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
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


@pytest.mark.commits  # the command runs in another process, on a connection of its own
def test_risk_monitor_reads_lendings_delinquency_in_a_fresh_process(database_url, engine):
    """Risk sits below lending: the command itself has lending register its KRI metric with risk."""
    with db.session_scope(engine) as s:
        monitor.seed_defaults(s)
    script = ("import json\n"
              "from typer.testing import CliRunner\n"
              "from smartbank.cli import app\n"
              "from smartbank.risk import hooks\n"
              "r = CliRunner().invoke(app, ['risk', 'monitor', '--now', '2026-11-24T18:00:00+08:00'])\n"
              "provided = hooks.metric_provider('delinquency_rate') is not None\n"
              "print(json.dumps({'exit': r.exit_code, 'provided': provided}))\n")
    env = {**os.environ, "SMARTBANK_DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"exit": 0, "provided": True}

"""``smartbank --help`` (and every group's help) stays fast: importing the command line and printing help
loads none of the heavy libraries; those are imported inside the commands that need them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("sklearn", "lightgbm", "pandas", "polars", "duckdb", "scipy", "torch", "implicit", "optbinning", "skfolio")

_SCRIPT = """
import json, sys
import typer
from typer.testing import CliRunner
from smartbank.cli import app

groups = [[]] + [[name] for name, cmd in typer.main.get_command(app).commands.items() if hasattr(cmd, "commands")]
codes = [CliRunner().invoke(app, [*g, "--help"]).exit_code for g in groups]
print(json.dumps({"groups": len(groups), "codes": codes,
                  "loaded": sorted(m for m in sys.argv[1:] if m in sys.modules)}))
"""


def test_help_imports_no_heavy_library() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, *HEAVY], capture_output=True, text=True, env=env, timeout=120,
                         check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["groups"] >= 13 and set(res["codes"]) == {0}, res
    assert res["loaded"] == [], f"smartbank --help imported {res['loaded']}"

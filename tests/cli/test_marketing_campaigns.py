"""`smartbank marketing campaign ...`: a draft from a file, preview, maker-checker, run, show."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank.cli import app
from tests.marketing.campaign_helpers import arrange, spec


def _run(*args: str, code: int = 0) -> tuple[str, dict]:
    res = CliRunner().invoke(app, ["marketing", "campaign", *args])
    assert res.exit_code == code, res.output
    return res.output, (json.loads(res.output.strip().splitlines()[-1]) if code == 0 else {})


def test_campaign_from_a_file_to_its_results(bank, database_url, tmp_path, bank_clock):
    ids = arrange(bank, 6, consent_every=3)
    bank.user("mk1", role="marketer")
    bank.user("mk2", role="marketer")
    f = tmp_path / "spec.json"
    f.write_text(json.dumps(spec(code="CLI1", holdout_bp=0)), encoding="utf-8")
    db = ("--database-url", database_url)
    _, made = _run("create", "--file", str(f), "--as", "mk1", *db)
    assert made["status"] == "draft"
    out, prev = _run("preview", "CLI1", "--as", "mk1", *db)
    assert prev["in_audience"] == len(ids) and prev["reachable"] == 2 and "reachable 2" in out
    _run("submit", "CLI1", "--as", "mk1", *db)
    res = CliRunner().invoke(app, ["marketing", "campaign", "approve", "CLI1", "--as", "mk1", *db])
    assert res.exit_code == 2 and "other than its maker" in res.output
    _, ok = _run("approve", "CLI1", "--as", "mk2", *db)
    assert ok["status"] == "approved"
    _, ran = _run("run", "CLI1", "--as", "mk2", *db)
    assert ran["sent"] == 2 and ran["suppressed"] == len(ids) - 2
    out, shown = _run("show", "CLI1", "--as", "mk1", *db)
    assert shown["results"]["suppressed_by_reason"] == {"no_consent": len(ids) - 2} and "no_consent 4" in out
    _, listed = _run("list", "--as", "mk2", *db)
    assert [c["code"] for c in listed["campaigns"]] == ["CLI1"]

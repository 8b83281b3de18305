"""``smartbank privacy export``: the customer's data to a file, JSON or a zip of CSV files."""

from __future__ import annotations

import json
import zipfile

from typer.testing import CliRunner

from smartbank import db
from smartbank.cli import app
from smartbank.customers import service as customers


def test_export_json_and_csv(database_url, bank, engine, tmp_path):
    cid = bank.customer(name="钱七")
    bank.account(cid, balance=500)
    with db.session_scope(engine) as s:
        number = customers.get_customer(s, cid).number
    out = tmp_path / "me.json"
    r = CliRunner().invoke(app, ["privacy", "export", number, "--format", "json", "--out", str(out),
                                 "--database-url", database_url])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["bytes"] == out.stat().st_size
    data = json.loads(out.read_text(encoding="utf-8"))["data"]
    assert data["profile"][0]["name"] == "钱七" and data["transactions"][0]["amount_minor"] == 500
    z = tmp_path / "me.zip"
    r = CliRunner().invoke(app, ["privacy", "export", number, "--format", "csv", "--out", str(z),
                                 "--database-url", database_url])
    assert r.exit_code == 0, r.output
    assert "profile.csv" in zipfile.ZipFile(z).namelist()
    bad = CliRunner().invoke(app, ["privacy", "export", number, "--format", "xml", "--out", str(z)])
    assert bad.exit_code == 2
    missing = CliRunner().invoke(app, ["privacy", "export", "C0000000000", "--out", str(z),
                                       "--database-url", database_url])
    assert missing.exit_code == 1


def test_purge_runs_and_says_how_many(database_url):
    r = CliRunner().invoke(app, ["privacy", "purge", "--database-url", database_url])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["purged"] == 0

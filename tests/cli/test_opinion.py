"""``smartbank marketing opinion ...``: ingest a file, list, detect, and work an alert; bad rows exit 2."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from smartbank import clock, db
from smartbank.cli import app
from smartbank.opinion import service as opinion
from tests.opinion.support import add_series

runner = CliRunner()


def _last(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_cli_ingest_detect_and_workflow(database_url, engine, tmp_path):
    f = tmp_path / "feed.jsonl"
    f.write_text("\n".join(json.dumps({"id": f"c{i}", "text": "智慧银行转账失败，太差了", "posted_at":
                                       "2026-11-24T08:30:00+08:00"}, ensure_ascii=False) for i in range(3)),
                 encoding="utf-8")
    base = ["--database-url", database_url]
    r = runner.invoke(app, ["marketing", "opinion", "ingest", str(f), "--source", "weibo", *base])
    assert r.exit_code == 0, r.output
    assert _last(r.stdout)["inserted"] == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text,posted_at\n1,,2026-11-24T08:30:00\n", encoding="utf-8")
    r = runner.invoke(app, ["marketing", "opinion", "ingest", str(bad), "--source", "weibo", *base])
    assert r.exit_code == 2
    r = runner.invoke(app, ["marketing", "opinion", "mentions", "--label", "negative", *base])
    assert r.exit_code == 0 and _last(r.stdout)["mentions"] == 3, r.output
    now = opinion.hour_floor(clock.now())
    with db.session_scope(engine) as s:
        add_series(s, now, spike_at=now - timedelta(hours=2), spike=25)
    r = runner.invoke(app, ["marketing", "opinion", "detect", "--days", "1", *base])
    assert r.exit_code == 0, r.output
    alerts = _last(r.stdout)["alerts"]
    assert {a["kind"] for a in alerts} == {"volume", "negative"}
    aid = str(alerts[0]["id"])
    for args in (["ack", aid], ["assign", aid, "pr_team"], ["respond", aid, "--note", "statement posted"],
                 ["close", aid]):
        r = runner.invoke(app, ["marketing", "opinion", *args, *base])
        assert r.exit_code == 0, r.output
    assert _last(r.stdout)["status"] == "closed"
    r = runner.invoke(app, ["marketing", "opinion", "alerts", "--open", *base])
    assert r.exit_code == 0 and _last(r.stdout)["alerts"] == 1
    r = runner.invoke(app, ["marketing", "opinion", "escalate", aid, *base])
    assert r.exit_code == 2  # closed

"""``smartbank marketing report attribute|roi``: the table and the JSON last line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank.cli import app
from tests.marketing.test_attribution import history  # noqa: F401


def _run(*args: str, code: int = 0) -> tuple[str, dict]:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == code, res.output
    return res.output, json.loads(res.output.strip().splitlines()[-1])


def test_attribute_and_roi(database_url, history):  # noqa: F811
    _, found = _run("marketing", "report", "attribute", "--campaign", "DEP1", "--database-url", database_url)
    assert (found["new"], found["found"], found["customers"]) == (6, 6, 10)
    out, res = _run("marketing", "report", "roi", "--database-url", database_url)
    assert res["by"] == "campaign" and len(res["rows"]) == 1
    row = res["rows"][0]
    assert (row["code"], row["incremental_margin_minor"], row["cost_micro"], row["roi"]) == \
        ("DEP1", 1012, 240_000, 41.1875)
    assert "DEP1" in out and "10.12" in out and "41.19" in out  # the table: margin in yuan, ROI to 2 decimals
    out, res = _run("marketing", "report", "roi", "--campaign", "DEP1", "--by", "channel", "--database-url",
                    database_url)
    assert [r["key"] for r in res["rows"]] == ["email", "inapp", "none", "sms"]
    _, err = _run("marketing", "report", "roi", "--by", "weekday", "--database-url", database_url, code=2)
    assert err["error"] == "marketing.report_dimension"


def test_unknown_campaign_is_refused(database_url):
    _, err = _run("marketing", "report", "attribute", "--campaign", "NOPE", "--database-url", database_url, code=2)
    assert err["error"] == "marketing.report_campaign_code" and err["details"] == {"code": "NOPE"}

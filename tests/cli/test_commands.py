"""Commands that no domain test runs, run once each through the command line as a person would: each ends
with its JSON last line (the contract) and prints what it says it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartbank.cli import app


def _run(*args: str) -> tuple[str, dict]:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output, json.loads(res.output.strip().splitlines()[-1])


@pytest.mark.commits  # `db upgrade` migrates through an engine of its own
def test_db_user_ledger_and_risk_seed(database_url):
    res = CliRunner().invoke(app, ["db", "upgrade", "--database-url", database_url])  # at head already: a no-op
    assert res.exit_code == 0 and "schema at head" in res.output
    _, user = _run("user", "create", "clerk", "--role", "teller", "--password", "s3cret-pass!",
                   "--database-url", database_url)
    assert user["username"] == "clerk" and user["role"] == "teller" and user["user_id"] > 0
    _, sealed = _run("ledger", "seal", "--database-url", database_url)
    assert sealed == {"sealed": 0}
    _, seeded = _run("risk", "seed", "--database-url", database_url)
    assert seeded["created"]


def test_lending_products_rates_applications_and_blacklist(database_url):
    _, seeded = _run("lending", "seed", "--database-url", database_url)
    assert seeded["products"] >= 4
    out, res = _run("lending", "products", "--database-url", database_url)
    p = res["products"][0]
    whole, cents = divmod(p["min_amount_minor"], 100)
    lo = f"{whole:,}" + (f".{cents:02d}" if cents else "")
    assert f"{p['code']:<10}" in out and lo in out  # whole yuan as whole numbers, exact otherwise
    for name in ("chief1", "chief2"):
        _run("user", "create", name, "--role", "admin", "--password", "s3cret-pass!", "--database-url", database_url)
    res = CliRunner().invoke(app, ["lending", "rates", "--set", "LPR1Y", "290", "--from", "2030-01-01",
                                   "--database-url", database_url])
    assert res.exit_code == 2 and "--as" in res.output  # a rate is maker-checker: the CLI names the maker
    _, rates = _run("lending", "rates", "--set", "LPR1Y", "290", "--from", "2030-01-01", "--as", "chief1",
                    "--reason", "PBoC announcement", "--database-url", database_url)
    assert not any(r["effective_date"] == "2030-01-01" for r in rates["rates"])  # proposed, not yet published
    change = rates["proposed_change"]
    res = CliRunner().invoke(app, ["changes", "approve", str(change), "--as", "chief1", "--database-url", database_url])
    assert res.exit_code == 2 and "same_officer" in res.output
    out, listed = _run("changes", "list", "--as", "chief2", "--database-url", database_url)
    assert [c["id"] for c in listed["changes"]] == [change] and "rate_bps: " in out
    _, done = _run("changes", "approve", str(change), "--as", "chief2", "--database-url", database_url)
    assert done["change"]["status"] == "applied"
    _, rates = _run("lending", "rates", "--database-url", database_url)
    assert any(r["name"] == "LPR1Y" and r["rate_bps"] == 290 for r in rates["rates"])
    _, apps = _run("lending", "applications", "--database-url", database_url)
    assert apps == {"applications": []}
    _, added = _run("lending", "blacklist", "add", "11010519491231002X", "--reason", "fraud ring",
                    "--database-url", database_url)
    assert added["last4"] == "002X"
    out, listed = _run("lending", "blacklist", "list", "--database-url", database_url)
    assert "****002X" in out and len(listed["blacklist"]) == 1
    _run("lending", "blacklist", "remove", "11010519491231002X", "--reason", "cleared", "--database-url", database_url)
    _, listed = _run("lending", "blacklist", "list", "--database-url", database_url)
    assert listed["blacklist"] == []


def test_insight_tags_and_refresh(database_url):
    _, tags = _run("insight", "tags", "list", "--database-url", database_url)
    assert isinstance(tags["tags"], list)
    _, preview = _run("insight", "tags", "test", "age >= 18", "--database-url", database_url)
    assert preview["matches"] == 0 and preview["profiles"] == 0
    _, res = _run("insight", "refresh", "--full", "--database-url", database_url)
    assert res["mode"]


def test_recommend_and_assistant_as_the_system(database_url):
    _, synced = _run("recommend", "sync", "--database-url", database_url)
    assert set(synced) == {"items", "feedback"}
    _, report = _run("recommend", "report", "--database-url", database_url)
    assert "by_slot_model" in report
    _, seeded = _run("assistant", "faq", "seed", "--database-url", database_url)
    assert seeded
    out, listed = _run("assistant", "faq", "list", "--database-url", database_url)
    assert listed["entries"] >= 20
    _, answer = _run("assistant", "faq", "test", "how do I reset my password", "--language", "en",
                     "--database-url", database_url)
    assert "candidates" in answer
    _, counts = _run("assistant", "queue", "--database-url", database_url)
    assert isinstance(counts, dict)
    _, summary = _run("assistant", "analytics", "--database-url", database_url)
    assert summary["conversations"] == 0


def test_import_with_a_shipped_mapping_named_by_its_source(database_url, tmp_path: Path):
    """``--source card_fraud`` finds the mapping shipped in ``insight/mappings`` (beside the command line)."""
    f = tmp_path / "tx.csv"
    f.write_text("TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n"
                 "0,2018-04-01 00:00:31,596,3156,57.16,0\n"
                 "1,2018-04-01 00:02:10,4961,3412,81.51,1\n", encoding="utf-8")
    _, res = _run("import", "transactions", str(f), "--source", "card_fraud", "--rejects", str(tmp_path / "r.csv"),
                  "--report", str(tmp_path / "r.html"), "--database-url", database_url)
    assert res["rows_read"] == 2 and res["rows_loaded"] == 2


@pytest.mark.any_backend
def test_import_without_a_mapping_is_refused(database_url, tmp_path: Path):
    f = tmp_path / "c.csv"
    f.write_text("id,name\n1,x\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["import", "customers", str(f), "--database-url", database_url])
    assert res.exit_code == 2 and "a mapping is required" in res.output


def test_bench_insight_on_a_small_generated_bank():
    _, res = _run("bench", "insight", "--customers", "50", "--transactions", "2000", "--seed", "3")
    assert res["customers"] == 50 and res["transactions"] == 2000 and res["transactions_per_second"] > 0

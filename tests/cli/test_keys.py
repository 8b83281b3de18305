"""``smartbank keys status|rotate|classification`` through the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smartbank.cli import app


def _run(*args: str, code: int = 0) -> tuple[str, dict]:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == code, res.output
    return res.output, json.loads(res.output.strip().splitlines()[-1])


def test_status_rotate_status(database_url, bank):
    bank.customer("周九", email="z@example.cn")
    out, st = _run("keys", "status", "--database-url", database_url)
    assert [k["version"] for k in st["data_keys"]] == [1] and st["rows"]["customers.phone"] == {"1": 1}
    assert "data key v1: active" in out
    out, rot = _run("keys", "rotate", "--batch-size", "10", "--database-url", database_url)
    assert rot["version"] == 2 and rot["rewritten"]["customers.email"] == 1 and rot["left"] == {}
    _, st = _run("keys", "status", "--database-url", database_url)
    assert {k["version"]: k["status"] for k in st["data_keys"]} == {1: "retired", 2: "active"}
    assert st["rows"]["customers.id_number"] == {"2": 1}
    _, again = _run("keys", "rotate", "--resume", "--database-url", database_url)
    assert again["version"] == 2 and not again["created"] and sum(again["rewritten"].values()) == 0


def test_classification():
    out, res = _run("keys", "classification")
    assert res["unclassified"] == []
    assert res["tables"]["customers"]["id_number"] == {"class": "C2", "encrypted": True}
    assert res["tables"]["users"]["password_hash"] == {"class": "C3", "encrypted": False}
    assert "customers" in out and "(encrypted)" in out
    _, one = _run("keys", "classification", "--table", "users")
    assert list(one["tables"]) == ["users"]

"""``sb_transfer`` is kept once, as versioned SQL files shipped with the package, which the migrations load."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import text

from smartbank.ledger import procedures

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ROOT / "src" / "smartbank" / "migrations" / "versions"


def _body(sql: str) -> str:
    return sql.split("$fn$")[1]


def test_each_version_is_a_file_that_creates_the_procedure():
    for v in procedures.SB_TRANSFER_SIGNATURES:
        sql = procedures.sb_transfer_sql(v)
        assert "CREATE OR REPLACE FUNCTION sb_transfer(" in sql and sql.rstrip().endswith("$fn$;")
    assert "risk_decisions" in procedures.sb_transfer_sql(2)
    assert "risk_decisions" not in procedures.sb_transfer_sql(procedures.SB_TRANSFER_VERSION)  # the ledger's own
    with pytest.raises(ValueError):
        procedures.sb_transfer_sql(99)


def test_the_files_are_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["smartbank"]
    assert "ledger/sql/*.sql" in data


def test_no_migration_carries_the_procedure_text():
    for path in VERSIONS.glob("*.py"):
        assert not re.search(r"CREATE (OR REPLACE )?FUNCTION", path.read_text()), path.name


def test_the_database_runs_the_version_the_code_calls(backend, engine):
    if backend != "postgresql":
        pytest.skip("the procedure exists on PostgreSQL only")
    with engine.connect() as c:
        rows = c.execute(text("SELECT pg_get_function_identity_arguments(p.oid), p.prosrc FROM pg_proc p"
                              " WHERE p.proname = 'sb_transfer'")).all()
    assert len(rows) == 1  # no older overload left behind
    args, src = rows[0]
    assert src == _body(procedures.sb_transfer_sql(procedures.SB_TRANSFER_VERSION))
    types = [a.split(None, 1)[1] for a in args.split(", ")]  # "name type", the type possibly several words
    assert ", ".join(types).replace("timestamp with time zone", "timestamptz") == \
        procedures.SB_TRANSFER_SIGNATURES[procedures.SB_TRANSFER_VERSION]

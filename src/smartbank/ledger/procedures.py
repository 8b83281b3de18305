"""The ledger's stored procedure on PostgreSQL, ``sb_transfer``, kept as versioned SQL files.

``sql/sb_transfer_v<N>.sql`` holds version N exactly as a migration created it; a released version never
changes. Migrations load the version they create (:func:`sb_transfer_sql`), so a fresh ``alembic upgrade
head`` creates the same objects as the database that ran them one by one, and a change to the procedure is a
new file and a new migration. :mod:`smartbank.ledger.transfers` calls the version in :data:`SB_TRANSFER_VERSION`.
"""

from __future__ import annotations

from importlib.resources import files

# the version the code calls (migration 0014 put version 1 back: the risk decision that version 2 wrote is an
# annotation now, written by the same statement that calls the procedure); tests/ledger/test_parity.py runs
# the transfer rules through it and through Python
SB_TRANSFER_VERSION = 1

# the argument types of each version, for DROP FUNCTION
SB_TRANSFER_SIGNATURES = {
    1: "text, text, text, bigint, bigint, bigint, text, text, text, bigint, date, timestamptz, text,"
       " boolean, boolean, bigint",
    2: "text, text, text, bigint, bigint, bigint, text, text, text, bigint, date, timestamptz, text,"
       " boolean, boolean, bigint, text",
}


def sb_transfer_sql(version: int) -> str:
    """``CREATE OR REPLACE FUNCTION sb_transfer ...`` of that version, as shipped with the package."""
    if version not in SB_TRANSFER_SIGNATURES:
        raise ValueError(f"no sb_transfer version {version}")
    return (files("smartbank.ledger") / "sql" / f"sb_transfer_v{version}.sql").read_text(encoding="utf-8")


def drop_sb_transfer_sql(version: int) -> str:
    return f"DROP FUNCTION IF EXISTS sb_transfer({SB_TRANSFER_SIGNATURES[version]})"

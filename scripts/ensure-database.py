"""Create the PostgreSQL database named in a URL if it does not exist yet.

Usage: python scripts/ensure-database.py postgresql://postgres@127.0.0.1:5432/smartbank_bench

Connects to the server's ``postgres`` database with the same credentials and runs
CREATE DATABASE when needed. Non-PostgreSQL URLs (e.g. sqlite) are left alone.
"""

from __future__ import annotations

import re
import sys

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    url = argv[1]
    if not url.startswith(("postgresql", "postgres")):
        return 0
    # Accept SQLAlchemy-style URLs too: postgresql+psycopg://...
    url = re.sub(r"^postgres(?:ql)?\+[a-z0-9_]+://", "postgresql://", url)
    params = conninfo_to_dict(url)
    dbname = params.get("dbname")
    if not dbname or dbname == "postgres":
        return 0
    params["dbname"] = "postgres"
    with psycopg.connect(make_conninfo(**params), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if exists:
            return 0
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(str(dbname))))
        print(f"created database {dbname}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Run ``pgbench -b tpcb-like`` against the same server, for a side-by-side figure."""

from __future__ import annotations

import glob
import re
import shutil
import subprocess

from sqlalchemy.engine import make_url

from smartbank.db import normalise_url


def run_pgbench(url: str, *, clients: int, seconds: float, scale: int = 10, init: bool = True) -> dict:
    exe = shutil.which("pgbench") or next(iter(sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)), None)
    if not exe:
        raise RuntimeError("pgbench not found (Debian package postgresql-client or postgresql-contrib)")
    u = make_url(url.replace("+psycopg", ""))
    base = [f"-h{u.host or '127.0.0.1'}", f"-p{u.port or 5432}", f"-U{u.username or 'postgres'}"]
    dbname = (u.database or "postgres") + "_pgbench"
    env = {"PGPASSWORD": u.password or ""}
    import os

    env = {**os.environ, **env}
    if init:
        subprocess.run(["createdb", *base, dbname], env=env, capture_output=True)
        subprocess.run([exe, *base, "-i", "-q", f"-s{scale}", dbname], env=env, check=True, capture_output=True)
    checkpoint(url)
    out = subprocess.run([exe, *base, "-b", "tpcb-like", f"-c{clients}", f"-j{min(clients, 2)}",
                          f"-T{int(seconds)}", dbname], env=env, check=True, capture_output=True, text=True).stdout
    m = re.search(r"tps = ([\d.]+)", out)
    return {"tps": float(m.group(1)) if m else 0.0, "output": out}


def checkpoint(url: str, vacuum: tuple[str, ...] = ()) -> None:
    """Before a measured phase: vacuum the tables it writes (as pgbench does for its own before every
    run) and flush the server's dirty pages, so that neither side of a comparison pays for the other's
    checkpoint (CHECKPOINT needs a superuser or pg_checkpoint; skipped otherwise)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            for table in vacuum:
                c.execute(text(f"VACUUM ANALYZE {table}"))
            c.execute(text("CHECKPOINT"))
    except DBAPIError:
        pass
    finally:
        engine.dispose()

"""Run ``pgbench -b tpcb-like`` against the same server, for a side-by-side figure."""

from __future__ import annotations

import re
import shutil
import subprocess

from sqlalchemy.engine import make_url


def run_pgbench(url: str, *, clients: int, seconds: float, scale: int = 10) -> dict:
    exe = shutil.which("pgbench") or next(iter(sorted(
        __import__("glob").glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)), None)
    if not exe:
        raise RuntimeError("pgbench not found (Debian package postgresql-client or postgresql-contrib)")
    u = make_url(url.replace("+psycopg", ""))
    base = [f"-h{u.host or '127.0.0.1'}", f"-p{u.port or 5432}", f"-U{u.username or 'postgres'}"]
    dbname = (u.database or "postgres") + "_pgbench"
    env = {"PGPASSWORD": u.password or ""}
    import os

    env = {**os.environ, **env}
    subprocess.run(["createdb", *base, dbname], env=env, capture_output=True)
    subprocess.run([exe, *base, "-i", "-q", f"-s{scale}", dbname], env=env, check=True, capture_output=True)
    out = subprocess.run([exe, *base, "-b", "tpcb-like", f"-c{clients}", f"-j{min(clients, 2)}",
                          f"-T{int(seconds)}", dbname], env=env, check=True, capture_output=True, text=True).stdout
    m = re.search(r"tps = ([\d.]+)", out)
    return {"tps": float(m.group(1)) if m else 0.0, "output": out}

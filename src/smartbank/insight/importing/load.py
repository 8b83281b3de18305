"""Writes of an import: customers (and their source ids), external transactions, ledger accounts.

PostgreSQL gets ``COPY ... FROM STDIN`` fed with CSV that Polars writes; SQLite gets ``executemany``.
Everything runs on the caller's session, inside its one transaction.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from smartbank.insight.models import CustomerSourceId, ExternalTransaction

COPY_CHUNK = 250_000
# PostgreSQL: a load of at least this many rows, and more than the table already holds, drops the table's
# secondary indexes, unique and foreign-key constraints and rebuilds (re-validates) them at the end, in the
# same transaction - far cheaper than maintaining them row by row. Others wait for the table meanwhile.
REBUILD_MIN_ROWS = 100_000
TX_COLS = ("source", "external_id", "batch_id", "customer_id", "counterparty", "amount_minor", "currency",
           "direction", "occurred_at", "channel", "category", "is_fraud")


def is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_source(session: Session, source: str) -> None:
    """PostgreSQL: one import per source at a time (released at commit)."""
    if is_pg(session):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"smartbank-import:{source}"})


def source_customers(session: Session, source: str) -> pl.DataFrame:
    rows = session.execute(select(CustomerSourceId.external_id, CustomerSourceId.customer_id)
                           .where(CustomerSourceId.source == source)).all()
    return pl.DataFrame({"external_id": [r[0] for r in rows], "customer_id": [r[1] for r in rows]},
                        schema={"external_id": pl.String, "customer_id": pl.Int64})


def existing_transaction_ids(session: Session, source: str) -> pl.Series:
    if is_pg(session):
        raw: Any = session.connection().connection.driver_connection
        buf = io.BytesIO()
        with raw.cursor() as cur, cur.copy("COPY (SELECT external_id FROM external_transactions WHERE source = %s)"
                                           " TO STDOUT (FORMAT csv)", (source,)) as cp:
            for block in cp:
                buf.write(block)
        if not buf.tell():
            return pl.Series("external_id", [], dtype=pl.String)
        buf.seek(0)
        return pl.read_csv(buf, has_header=False, new_columns=["external_id"], infer_schema=False)["external_id"]
    ids = session.scalars(select(ExternalTransaction.external_id).where(ExternalTransaction.source == source)).all()
    return pl.Series("external_id", list(ids), dtype=pl.String)


def link_sources(session: Session, links: list[dict[str, Any]]) -> None:
    if links:
        session.execute(insert(CustomerSourceId), links)


def copy_transactions(session: Session, df: pl.DataFrame, *, progress: Callable[[int], None] | None = None) -> int:
    """Append the frame (columns ``TX_COLS``) to ``external_transactions``; returns rows written."""
    df = df.select(TX_COLS)
    if is_pg(session):
        session.flush()
        raw: Any = session.connection().connection.driver_connection
        rebuild = _drop_for_load(session, df.height)
        with raw.cursor() as cur, cur.copy(f"COPY external_transactions ({', '.join(TX_COLS)}) FROM STDIN"
                                           " (FORMAT csv)") as cp:
            for off in range(0, df.height, COPY_CHUNK):
                part = df.slice(off, COPY_CHUNK)
                buf = io.BytesIO()
                part.write_csv(buf, include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f%:z")
                cp.write(buf.getvalue())
                if progress:
                    progress(part.height)
        for sql in rebuild:
            session.execute(text(sql))
        return df.height
    df = df.with_columns(pl.col("occurred_at").dt.convert_time_zone("UTC").dt.replace_time_zone(None)
                         .dt.strftime("%Y-%m-%d %H:%M:%S.%6f"), pl.col("is_fraud").cast(pl.Int8))
    sql = (f"INSERT INTO external_transactions ({', '.join(TX_COLS)}) "
           f"VALUES ({', '.join('?' for _ in TX_COLS)})")
    raw_conn: Any = session.connection().connection.driver_connection
    cur = raw_conn.cursor()
    for off in range(0, df.height, COPY_CHUNK):
        part = df.slice(off, COPY_CHUNK)
        cur.executemany(sql, part.iter_rows())
        if progress:
            progress(part.height)
    cur.close()
    return df.height


def _drop_for_load(session: Session, rows: int) -> list[str]:
    """Drop what a big load should not maintain row by row; return the statements that rebuild it."""
    held = session.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'external_transactions'")).scalar()
    if rows < REBUILD_MIN_ROWS or rows <= max(float(held or 0), 0):
        return []
    session.execute(text("LOCK TABLE external_transactions IN ACCESS EXCLUSIVE MODE"))
    session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    cons = session.execute(text(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint"
        " WHERE conrelid = 'external_transactions'::regclass AND contype IN ('u', 'f') ORDER BY contype DESC")).all()
    idx = session.execute(text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'external_transactions'"
        " AND i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
        " WHERE c.conrelid = 'external_transactions'::regclass AND c.conname = i.indexname)")).all()
    rebuild = [f'ALTER TABLE external_transactions ADD CONSTRAINT "{n}" {d}' for n, d, _ in cons]
    rebuild += [d for _, d in idx]
    for n, _, _ in cons:
        session.execute(text(f'ALTER TABLE external_transactions DROP CONSTRAINT "{n}"'))
    for n, _ in idx:
        session.execute(text(f'DROP INDEX "{n}"'))
    return rebuild


def placeholder_customer(source: str, external_id: str, number: str) -> dict[str, Any]:
    """A minimal customer for an id another system knows and we do not: honest about what it is."""
    return {
        "number": number, "kind": "individual", "name": f"Unknown {source} customer {external_id}"[:200],
        "id_type": "external", "id_number": f"{source}:{external_id}"[:40], "birth_date": None, "gender": None,
        "phone": None, "email": None, "city": None, "address": None, "occupation": None,
        "annual_income_minor": None, "kyc_status": "pending", "risk_level": "low", "daily_limit_minor": None,
        "status": "active",
    }


def as_date(v: Any) -> date | None:
    return v if isinstance(v, date) or v is None else date.fromisoformat(str(v))

"""Read model: customers' activity and attributes as columnar frames, extracted in bulk.

This is the one place the insight domain reads other domains' tables, and it only reads: like
``statements`` it is a read model joining ``entries``, ``transfers`` and ``accounts`` (and here
``customers``, ``external_transactions`` and, for staff actions, ``audit_log``) so that features are
computed in a columnar engine rather than row by row through the ORM, over the whole population at once.
The owners' services answer one object at a time; a scan of every customer's history through them would
be thousands of times slower. It is therefore the documented exception to "a domain reads another domain's
tables only through its service" (docs/ARCHITECTURE.md): it writes nothing, and nothing else in insight
reads those tables. :func:`recent_activity` (the profile's timeline) is the same read for one customer.

* On PostgreSQL each query runs as ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` through psycopg and
  the CSV stream is parsed by Polars in one go.
* On SQLite a plain DB-API cursor fetches the rows, which become Polars columns.

Contract of :func:`load_activity` (other modules, e.g. the analytics models, consume it):

==============  ===============  ==============================================================
column          type             meaning
==============  ===============  ==============================================================
customer_id     Int64            owner of the account (ledger) or the imported row
ts              Datetime(us,UTC) when it happened (``entries.created_at`` / ``occurred_at``)
amount_minor    Int64            signed from the customer's view: + money in, - money out
currency        Utf8             ISO code
kind            Utf8             ledger transfer kind (transfer, bill_payment, salary, ...);
                                 imported rows: ``card_payment`` unless the source names one
channel         Utf8 (nullable)  ``transfers.meta.channel`` or the import's channel
category        Utf8 (nullable)  ``transfers.meta.category`` (biller type for bills) or import's
counterparty    Utf8 (nullable)  merchant / biller / payee / employer named in the meta, else the
                                 other account's number; imports: their counterparty
source          Utf8             ``ledger`` or the import source name
account_kind    Utf8 (nullable)  the customer's account the row is on (demand, savings, loan);
                                 imports: null
own_account     Boolean          the other side is another account of the same customer (a move
                                 between their own accounts, a loan disbursed to or repaid from
                                 their deposit account); imports: false
==============  ===============  ==============================================================

A customer's transfer between two of their own accounts appears twice (out of one, into the
other), exactly as on their statements; both rows have ``own_account`` true.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from smartbank.ml.service import ACTIVITY_SCHEMA

CUSTOMER_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Int64,
    "kind": pl.Utf8,
    "birth_date": pl.Date,
    "gender": pl.Utf8,
    "city": pl.Utf8,
    "occupation": pl.Utf8,
    "annual_income_minor": pl.Int64,
    "created_at": pl.Datetime("us", "UTC"),
    "status": pl.Utf8,
    "risk_level": pl.Utf8,
}

HOLDINGS_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Int64,
    "account_kind": pl.Utf8,
    "currency": pl.Utf8,
    "accounts": pl.Int64,
    "balance_minor": pl.Int64,
    "overdraft_used_minor": pl.Int64,
}

# meta keys that name the other side, most specific first
_COUNTERPARTY_KEYS = ("merchant", "biller", "payee", "employer", "payer")


def _is_pg(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _id_filter(column: str, ids: Sequence[int] | None) -> str:
    """``AND column IN (...)`` with the ids inlined as integers (cast, so nothing else gets in)."""
    if ids is None:
        return ""
    clean = sorted({int(i) for i in ids})
    if not clean:
        return " AND 1 = 0"
    return f" AND {column} IN ({','.join(map(str, clean))})"


def _chunks(ids: Sequence[int] | None, size: int = 20_000) -> Iterable[Sequence[int] | None]:
    if ids is None:
        yield None
        return
    clean = sorted({int(i) for i in ids})
    if not clean:
        yield []
        return
    for i in range(0, len(clean), size):
        yield clean[i:i + size]


def _meta(engine: Engine, key: str) -> str:
    if _is_pg(engine):
        return f"(t.meta ->> '{key}')"
    return f"json_extract(t.meta, '$.{key}')"


def _epoch_us(engine: Engine, column: str) -> str:
    """A timestamp as integer microseconds since the epoch (UTC), so both databases hand over the
    same plain integer and no text timestamp format has to be parsed."""
    if _is_pg(engine):
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    # SQLite keeps text 'YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]'; strftime('%s') applies any offset
    return (f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000 + CASE WHEN substr({column}, 20, 1) = '.'"
            f" THEN CAST(substr({column}, 21, 6) AS INTEGER) ELSE 0 END)")


def _ledger_sql(engine: Engine, ids: Sequence[int] | None, min_entry_id: int | None = None) -> str:
    cp = "COALESCE(" + ", ".join(_meta(engine, k) for k in _COUNTERPARTY_KEYS) + ", oa.number)"
    extra = f" AND e.id > {int(min_entry_id)}" if min_entry_id is not None else ""
    return (
        f"SELECT a.customer_id, {_epoch_us(engine, 'e.created_at')} AS ts, e.amount_minor, e.currency, t.kind,"
        f" {_meta(engine, 'channel')} AS channel, {_meta(engine, 'category')} AS category, {cp} AS counterparty,"
        " 'ledger' AS source, a.kind AS account_kind,"
        " CASE WHEN oa.customer_id = a.customer_id THEN 1 ELSE 0 END AS own_account"
        " FROM entries e JOIN accounts a ON a.id = e.account_id"
        " JOIN transfers t ON t.id = e.transfer_id"
        " LEFT JOIN accounts oa ON oa.id = CASE WHEN e.amount_minor > 0 THEN t.debit_account_id"
        " ELSE t.credit_account_id END"
        f" WHERE a.customer_id IS NOT NULL{_id_filter('a.customer_id', ids)}{extra}"
    )


def _external_sql(engine: Engine, ids: Sequence[int] | None) -> str:
    return (
        f"SELECT x.customer_id, {_epoch_us(engine, 'x.occurred_at')} AS ts,"
        " CASE WHEN x.direction = 'credit' THEN x.amount_minor ELSE -x.amount_minor END AS amount_minor,"
        " x.currency, 'card_payment' AS kind, x.channel, x.category, x.counterparty, x.source,"
        " NULL AS account_kind, 0 AS own_account"
        f" FROM external_transactions x WHERE 1 = 1{_id_filter('x.customer_id', ids)}"
    )


def _fetch(engine: Engine, sql: str, schema: dict[str, Any], *, raw_types: dict[str, Any] | None = None
           ) -> pl.DataFrame:
    """Run one SELECT in bulk and return its rows as a frame with ``raw_types`` (the wire types)."""
    raw = raw_types or schema
    conn = engine.raw_connection()
    try:
        if _is_pg(engine):
            buf = io.BytesIO()
            with conn.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:  # type: ignore
                for block in copy:
                    buf.write(block)
            if buf.tell() == 0:
                return pl.DataFrame(schema=raw)
            buf.seek(0)
            return pl.read_csv(buf, has_header=False, new_columns=list(raw), schema_overrides=raw,
                               infer_schema=False)
        cur = conn.cursor()
        try:
            cur.execute(sql)
            rows = cur.fetchall()
        finally:
            cur.close()
        return pl.DataFrame(rows, schema=raw, orient="row")
    finally:
        conn.close()


_ACTIVITY_WIRE = {**ACTIVITY_SCHEMA, "ts": pl.Int64, "own_account": pl.Int64}


def _finish_activity(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.from_epoch(pl.col("ts"), time_unit="us").dt.replace_time_zone("UTC").alias("ts")
                           ).select([pl.col(c).cast(t) for c, t in ACTIVITY_SCHEMA.items()])


def load_activity(engine: Engine, *, customer_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Every ledger entry of customers' accounts plus every imported transaction, one row each,
    in the columns of :data:`ACTIVITY_SCHEMA`, ordered by customer and time."""
    frames = []
    for chunk in _chunks(customer_ids):
        frames.append(_fetch(engine, _ledger_sql(engine, chunk), _ACTIVITY_WIRE))
        frames.append(_fetch(engine, _external_sql(engine, chunk), _ACTIVITY_WIRE))
    df = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=_ACTIVITY_WIRE)
    return _finish_activity(df).sort(["customer_id", "ts"], maintain_order=True)


_CUSTOMER_WIRE = {**CUSTOMER_SCHEMA, "birth_date": pl.Utf8, "created_at": pl.Int64}


def load_customers(engine: Engine, *, customer_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Customers' attributes (:data:`CUSTOMER_SCHEMA`), one row per customer."""
    frames = []
    for chunk in _chunks(customer_ids):
        sql = ("SELECT c.id, c.kind, CAST(c.birth_date AS TEXT), c.gender, c.city, c.occupation,"
               f" c.annual_income_minor, {_epoch_us(engine, 'c.created_at')}, c.status, c.risk_level"
               f" FROM customers c WHERE 1 = 1{_id_filter('c.id', chunk)}")
        frames.append(_fetch(engine, sql, _CUSTOMER_WIRE))
    df = pl.concat(frames) if frames else pl.DataFrame(schema=_CUSTOMER_WIRE)
    return df.with_columns(
        pl.col("birth_date").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
        pl.from_epoch(pl.col("created_at"), time_unit="us").dt.replace_time_zone("UTC"),
    ).select([pl.col(c).cast(t) for c, t in CUSTOMER_SCHEMA.items()]).sort("customer_id")


def load_holdings(engine: Engine, *, customer_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Per customer, account kind and currency: open accounts, posted balance and overdraft in use
    (:data:`HOLDINGS_SCHEMA`). Closed accounts are not products held."""
    frames = []
    for chunk in _chunks(customer_ids):
        sql = ("SELECT a.customer_id, a.kind, a.currency, COUNT(*),"
               " SUM(a.credits_posted - a.debits_posted),"
               " SUM(CASE WHEN a.credits_posted < a.debits_posted THEN a.debits_posted - a.credits_posted"
               " ELSE 0 END)"
               " FROM accounts a WHERE a.customer_id IS NOT NULL AND a.status <> 'closed'"
               f"{_id_filter('a.customer_id', chunk)} GROUP BY a.customer_id, a.kind, a.currency")
        frames.append(_fetch(engine, sql, HOLDINGS_SCHEMA))
    df = pl.concat(frames) if frames else pl.DataFrame(schema=HOLDINGS_SCHEMA)
    return df.sort(["customer_id", "account_kind", "currency"])


def load_service_actions(engine: Engine, *, customer_ids: Sequence[int] | None = None) -> pl.DataFrame:
    """Staff actions recorded in the audit log about a customer or one of their accounts:
    ``customer_id``, ``service_actions``."""
    schema = {"customer_id": pl.Int64, "service_actions": pl.Int64}
    frames = []
    cast = "CAST(a.id AS TEXT)" if not _is_pg(engine) else "a.id::text"
    ccast = "CAST(c.id AS TEXT)" if not _is_pg(engine) else "c.id::text"
    for chunk in _chunks(customer_ids):
        sql = ("SELECT customer_id, SUM(n) FROM ("
               f" SELECT c.id AS customer_id, COUNT(*) AS n FROM audit_log l JOIN customers c"
               f" ON l.object_type = 'customer' AND l.object_id = {ccast} WHERE 1 = 1{_id_filter('c.id', chunk)}"
               " GROUP BY c.id"
               " UNION ALL"
               f" SELECT a.customer_id, COUNT(*) FROM audit_log l JOIN accounts a"
               f" ON l.object_type = 'account' AND l.object_id = {cast}"
               f" WHERE a.customer_id IS NOT NULL{_id_filter('a.customer_id', chunk)} GROUP BY a.customer_id"
               ") s GROUP BY customer_id")
        frames.append(_fetch(engine, sql, schema))
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def max_ids(engine: Engine) -> dict[str, int]:
    """The high-water marks the incremental refresh keeps: newest entry, import and customer."""
    sql = ("SELECT (SELECT COALESCE(MAX(id), 0) FROM entries), (SELECT COALESCE(MAX(id), 0) FROM"
           " external_transactions), (SELECT COALESCE(MAX(id), 0) FROM customers)")
    with engine.connect() as c:
        row = c.exec_driver_sql(sql).one()
    return {"entry_id": int(row[0]), "external_id": int(row[1]), "customer_id": int(row[2])}


def customers_with_new_activity(engine: Engine, *, entry_after: int, external_after: int, customer_after: int
                                ) -> list[int]:
    """Customers that have an entry, an import or their own row newer than the watermarks."""
    sql = ("SELECT a.customer_id FROM entries e JOIN accounts a ON a.id = e.account_id"
           f" WHERE e.id > {int(entry_after)} AND a.customer_id IS NOT NULL"
           f" UNION SELECT x.customer_id FROM external_transactions x WHERE x.id > {int(external_after)}"
           f" UNION SELECT c.id FROM customers c WHERE c.id > {int(customer_after)}")
    with engine.connect() as c:
        return sorted(int(r[0]) for r in c.exec_driver_sql(sql))


def recent_activity(session: Session, customer_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The customer's most recent activity (ledger and imported), newest first."""
    pg = session.get_bind().dialect.name == "postgresql"
    meta_cat = "(t.meta ->> 'category')" if pg else "json_extract(t.meta, '$.category')"
    meta_ch = "(t.meta ->> 'channel')" if pg else "json_extract(t.meta, '$.channel')"
    sql = text(
        "SELECT ts, amount_minor, currency, kind, channel, category, source FROM ("
        f" SELECT e.created_at AS ts, e.amount_minor, e.currency, t.kind, {meta_ch} AS channel,"
        f" {meta_cat} AS category, 'ledger' AS source, e.id AS seq"
        " FROM entries e JOIN accounts a ON a.id = e.account_id JOIN transfers t ON t.id = e.transfer_id"
        " WHERE a.customer_id = :c"
        " UNION ALL SELECT x.occurred_at, CASE WHEN x.direction = 'credit' THEN x.amount_minor"
        " ELSE -x.amount_minor END, x.currency, 'card_payment', x.channel, x.category, x.source, x.id"
        " FROM external_transactions x WHERE x.customer_id = :c"
        ") s ORDER BY ts DESC, seq DESC LIMIT :n")
    out = []
    for r in session.execute(sql, {"c": customer_id, "n": limit}):
        ts = r[0]
        out.append({"ts": ts.isoformat() if isinstance(ts, datetime) else str(ts), "amount_minor": int(r[1]),
                    "currency": r[2], "kind": r[3], "channel": r[4], "category": r[5], "source": r[6]})
    return out

"""The bulk path: simulate in memory, then load with PostgreSQL ``COPY`` (SQLite: ``executemany``)
in one transaction, and seal the journal in-process.

The simulator already applied every ledger rule to running balances (see :mod:`smartbank.synth.sim`),
so the loader only writes: customers and accounts (posted totals zero), every accepted transfer with
its two entries and their ``balance_after``, the bills, the daily-limit counters, then the accounts'
posted totals and the id sequences. The hash chain is computed here with the journal's chain hash over
exactly the values the database hands back to ``ledger.verify``, and its rows are copied into
``ledger_seals``; nothing is left in ``ledger_unsealed``.

On PostgreSQL the load holds the sealer's advisory lock and an EXCLUSIVE lock on the tables it writes
(readers carry on, writers wait), so the ids it assigns cannot be taken by anyone else. For a large
load into small tables, the secondary indexes and foreign keys of the big tables are dropped first
and rebuilt (foreign keys re-validated) at the end, inside the same transaction: if anything fails,
everything rolls back.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.customers import service as customers
from smartbank.customers.service import Customer
from smartbank.errors import Conflict
from smartbank.ledger import service as ledger
from smartbank.ledger.service import Account
from smartbank.payments.service import Bill
from smartbank.security import service as security
from smartbank.synth.catalog import Catalog
from smartbank.synth.render import Renderer, Row, meta_json, request_hash
from smartbank.synth.sim import Batch, Bills, Merchants, Simulator
from smartbank.synth.world import BILLERS, World

ID_TABLES = ("customers", "accounts", "transfers", "entries", "bills")
BIG_TABLES = ("transfers", "entries", "bills", "customer_daily_usage")
LOCKED_TABLES = ("customers", "accounts", "transfers", "entries", "bills", "customer_daily_usage",
                 "ledger_seals", "ledger_unsealed")
CHUNK = 20_000
# PostgreSQL: a load of at least this many transfers (and more than the table already holds) drops
# and rebuilds the big tables' secondary indexes and foreign keys
REBUILD_MIN_TRANSFERS = 100_000

_T_COLS = ("id, idempotency_key, request_hash, kind, flags, debit_account_id, credit_account_id, amount_minor,"
           " currency, pending_id, reverses_id, memo, reference, initiated_by, value_date, created_at, meta")
_E_COLS = "id, transfer_id, account_id, amount_minor, currency, balance_after, value_date, created_at"


def _esc(s: str) -> str:
    """COPY text format: escape backslash, tab, newline and carriage return."""
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def _self_check(rows: list[Row]) -> None:
    """The hand-built JSON must equal what the ledger service computes; check one row per batch."""
    if rows:
        r = rows[len(rows) // 2]
        cmd = r.command()
        if request_hash(r) != cmd.request_hash() or meta_json(r.meta) != json.dumps(cmd.meta):
            raise AssertionError(f"synthetic transfer {r.key}: request hash or meta JSON differs from the ledger's")


class Ids:
    """The id ranges this load assigns: table -> the largest id already taken."""

    def __init__(self, base: dict[str, int]):
        self.base = base

    def customer(self, i: int) -> int:
        return self.base["customers"] + i + 1

    def account(self, j: int) -> int:
        return self.base["accounts"] + j + 1

    def transfer(self, k: int) -> int:
        return self.base["transfers"] + k + 1

    def entry(self, k: int) -> tuple[int, int]:
        e = self.base["entries"] + 2 * k + 1
        return e, e + 1


# ----------------------------------------------------------------------------------------------
# database-specific writers


class _Sink(ABC):
    """What the loader needs from a database; one subclass per dialect."""

    pg = False

    def __init__(self, conn: Connection):
        self.conn = conn
        self.raw: Any = conn.connection.driver_connection
        self.timings: dict[str, float] = {}

    def scalar(self, sql: str, **params) -> Any:
        return self.conn.execute(text(sql), params).scalar()

    def lock(self) -> None:  # optional step: nothing by default
        return None
    @abstractmethod
    def bases(self) -> dict[str, int]: ...
    def prepare(self, estimate: int) -> None:  # optional step: nothing by default
        return None
    @abstractmethod
    def customers(self, rows: list[dict]) -> None: ...
    @abstractmethod
    def accounts(self, rows: list[dict]) -> None: ...
    @abstractmethod
    def transfers(self, rows: list[Row], created: list[datetime], ids: Ids) -> None: ...
    def drain(self) -> None:  # optional step: nothing by default
        return None
    @abstractmethod
    def bills(self, rows: list[dict]) -> None: ...
    @abstractmethod
    def usage(self, rows: list[tuple]) -> None: ...
    @abstractmethod
    def totals(self, rows: list[tuple[int, int, int]]) -> None: ...
    def finish(self, ids: Ids, counts: dict[str, int]) -> None:  # optional step: nothing by default
        return None
    @abstractmethod
    def seals(self, rows: list[tuple]) -> None: ...
    @abstractmethod
    def existing(self, column: str, table: str, values: list[str]) -> list[str]: ...
    def analyze(self, engine: Engine) -> None:  # optional step: nothing by default
        return None


class _SqliteSink(_Sink):
    def lock(self) -> None:
        self.conn.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is ours

    def bases(self) -> dict[str, int]:
        return {t: int(self.scalar(f"SELECT COALESCE(MAX(id), 0) FROM {t}")) for t in ID_TABLES}

    def prepare(self, estimate: int) -> None:
        pass

    def customers(self, rows: list[dict]) -> None:
        self.conn.execute(insert(Customer), rows)

    def accounts(self, rows: list[dict]) -> None:
        self.conn.execute(insert(Account), rows)

    def transfers(self, rows: list[Row], created: list[datetime], ids: Ids) -> None:
        _self_check(rows)
        cur = self.raw.cursor()
        t_rows = []
        e_rows = []
        for r, at in zip(rows, created, strict=True):
            at = at.replace(tzinfo=UTC)
            tid = ids.transfer(r.k)
            e1, e2 = ids.entry(r.k)
            t_rows.append((tid, r.key, request_hash(r), r.kind, "posted", r.debit, r.credit, r.amount,
                           "CNY", None, None, r.memo, r.reference, None, r.value_date, at, meta_json(r.meta)))
            e_rows.append((e1, tid, r.debit, -r.amount, "CNY", r.bal_debit, r.value_date, at))
            e_rows.append((e2, tid, r.credit, r.amount, "CNY", r.bal_credit, r.value_date, at))
        cur.executemany(f"INSERT INTO transfers ({_T_COLS}) VALUES ({', '.join('?' * 17)})", t_rows)
        cur.executemany(f"INSERT INTO entries ({_E_COLS}) VALUES ({', '.join('?' * 8)})", e_rows)
        cur.close()

    def drain(self) -> None:
        pass

    def bills(self, rows: list[dict]) -> None:
        if rows:
            self.conn.execute(insert(Bill), rows)

    def usage(self, rows: list[tuple]) -> None:
        cur = self.raw.cursor()
        cur.executemany("INSERT INTO customer_daily_usage (customer_id, day, currency, amount_minor)"
                        " VALUES (?, ?, ?, ?)", rows)
        cur.close()

    def totals(self, rows: list[tuple[int, int, int]]) -> None:
        cur = self.raw.cursor()
        cur.executemany("UPDATE accounts SET debits_posted = debits_posted + ?, credits_posted = credits_posted + ?"
                        " WHERE id = ?", [(d, c, i) for i, d, c in rows])
        cur.close()

    def finish(self, ids: Ids, counts: dict[str, int]) -> None:
        pass

    def seals(self, rows: list[tuple]) -> None:
        cur = self.raw.cursor()
        cur.executemany("INSERT INTO ledger_seals (seq, transfer_id, prev_hash, hash, sealed_at)"
                        " VALUES (?, ?, ?, ?, ?)", rows)
        cur.close()

    def value_date(self, d):
        return d.isoformat()  # what SQLite hands back to ledger.verify

    def existing(self, column: str, table: str, values: list[str]) -> list[str]:
        found: list[str] = []
        for i in range(0, len(values), 500):
            part = values[i:i + 500]
            marks = ", ".join("?" * len(part))
            cur = self.raw.execute(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", part)
            found += [r[0] for r in cur.fetchall()]
        return found

    def analyze(self, engine: Engine) -> None:
        pass


class _CopyWriter(threading.Thread):
    """Runs the COPY statements on the connection while the main thread simulates and formats the
    next month (the network waits release the GIL, so the two overlap)."""

    def __init__(self, raw):
        super().__init__(name="synth-copy", daemon=True)
        self.raw = raw
        self.q: queue.Queue = queue.Queue(maxsize=4)
        self.error: BaseException | None = None

    def run(self) -> None:
        cur = self.raw.cursor()
        while True:
            item = self.q.get()
            if item is None:
                break
            if self.error is not None:
                continue
            sql, chunks = item
            try:
                with cur.copy(sql) as cp:
                    for ch in chunks:
                        cp.write(ch)
            except BaseException as exc:  # noqa: BLE001 - reported to the main thread
                self.error = exc
        cur.close()

    def put(self, sql: str, chunks: list[str]) -> None:
        if self.error is not None:
            raise self.error
        self.q.put((sql, chunks))

    def close(self) -> None:
        self.q.put(None)
        self.join()
        if self.error is not None:
            raise self.error


class _PgSink(_Sink):
    pg = True

    def __init__(self, conn: Connection):
        super().__init__(conn)
        self.writer: _CopyWriter | None = None
        self._vd: dict = {}
        self.dropped_fks: list[tuple[str, str, str]] = []
        self.dropped_idx: list[tuple[str, str]] = []

    def lock(self) -> None:
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ledger.SEALER_LOCK_ID})
        self.conn.execute(text(f"LOCK TABLE {', '.join(LOCKED_TABLES)} IN EXCLUSIVE MODE"))
        self.conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))

    def bases(self) -> dict[str, int]:
        out = {}
        for t in ID_TABLES:
            seq = self.scalar("SELECT pg_get_serial_sequence(:t, 'id')", t=t)
            last, called = self.conn.execute(text(f"SELECT last_value, is_called FROM {seq}")).one()
            mx = int(self.scalar(f"SELECT COALESCE(MAX(id), 0) FROM {t}"))
            out[t] = max(mx, int(last) if called else int(last) - 1)
        return out

    def prepare(self, estimate: int) -> None:
        """Large load into small tables: drop the secondary indexes and foreign keys of the big tables
        now, rebuild them at the end (much faster than maintaining them row by row)."""
        existing = int(self.scalar(
            "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = 'transfers'::regclass"))
        if estimate < REBUILD_MIN_TRANSFERS or estimate < existing:
            return
        regs = "ARRAY[" + ", ".join(f"'{t}'::regclass" for t in BIG_TABLES) + "]"
        self.dropped_fks = [tuple(r) for r in self.conn.execute(text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            f" WHERE contype = 'f' AND conrelid = ANY({regs}) ORDER BY 1, 2"))]
        self.dropped_idx = [tuple(r) for r in self.conn.execute(text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            f" WHERE i.indrelid = ANY({regs}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
            " WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')) ORDER BY 1"))]
        for table, name, _ in self.dropped_fks:
            self.conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        for name, _ in self.dropped_idx:
            self.conn.execute(text(f"DROP INDEX {name}"))

    def _copy_rows(self, sql: str, rows: Iterable[tuple]) -> None:
        with self.raw.cursor() as cur, cur.copy(sql) as cp:
            for r in rows:
                cp.write_row(r)

    def customers(self, rows: list[dict]) -> None:
        rows = customers.stored_form(rows)  # COPY bypasses the column types: encrypt and index here
        cols = list(rows[0].keys())
        self._copy_rows(f"COPY customers ({', '.join(cols)}) FROM STDIN", (tuple(r[c] for c in cols) for r in rows))

    def accounts(self, rows: list[dict]) -> None:
        cols = list(rows[0].keys())
        self._copy_rows(f"COPY accounts ({', '.join(cols)}) FROM STDIN", (tuple(r[c] for c in cols) for r in rows))

    def transfers(self, rows: list[Row], created: list[datetime], ids: Ids) -> None:
        if self.writer is None:
            self.writer = _CopyWriter(self.raw)
            self.writer.start()
        _self_check(rows)
        t_chunks: list[str] = []
        e_chunks: list[str] = []
        tb = ids.base["transfers"] + 1
        eb = ids.base["entries"] + 1
        vds = self._vd
        for i in range(0, len(rows), CHUNK):
            tl: list[str] = []
            el: list[str] = []
            for r, at in zip(rows[i:i + CHUNK], created[i:i + CHUNK], strict=True):
                k = r.k
                tid = tb + k
                e1 = eb + 2 * k
                ts = f"{at}+00"
                vd = vds.get(r.value_date)
                if vd is None:
                    vd = vds[r.value_date] = r.value_date.isoformat()
                ref = _esc(r.reference) if r.reference is not None else "\\N"
                tl.append(f"{tid}\t{r.key}\t{request_hash(r)}\t{r.kind}\tposted\t{r.debit}\t{r.credit}\t"
                          f"{r.amount}\tCNY\t\\N\t\\N\t{_esc(r.memo)}\t{ref}\t\\N\t{vd}\t{ts}\t"
                          f"{_esc(meta_json(r.meta))}\n")
                el.append(f"{e1}\t{tid}\t{r.debit}\t{-r.amount}\tCNY\t{r.bal_debit}\t{vd}\t{ts}\n"
                          f"{e1 + 1}\t{tid}\t{r.credit}\t{r.amount}\tCNY\t{r.bal_credit}\t{vd}\t{ts}\n")
            t_chunks.append("".join(tl))
            e_chunks.append("".join(el))
        self.writer.put(f"COPY transfers ({_T_COLS}) FROM STDIN", t_chunks)
        self.writer.put(f"COPY entries ({_E_COLS}) FROM STDIN", e_chunks)

    def drain(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def bills(self, rows: list[dict]) -> None:
        if not rows:
            return
        cols = list(rows[0].keys())
        self._copy_rows(f"COPY bills ({', '.join(cols)}) FROM STDIN", (tuple(r[c] for c in cols) for r in rows))

    def usage(self, rows: list[tuple]) -> None:
        with self.raw.cursor() as cur, cur.copy(
                "COPY customer_daily_usage (customer_id, day, currency, amount_minor) FROM STDIN") as cp:
            for i in range(0, len(rows), 100_000):
                cp.write("".join(f"{c}\t{d.isoformat()}\t{cur_}\t{a}\n" for c, d, cur_, a in rows[i:i + 100_000]))

    def totals(self, rows: list[tuple[int, int, int]]) -> None:
        self.conn.execute(text("CREATE TEMP TABLE synth_totals (id bigint PRIMARY KEY, d bigint, c bigint)"
                               " ON COMMIT DROP"))
        self._copy_rows("COPY synth_totals (id, d, c) FROM STDIN", rows)
        self.conn.execute(text(
            "UPDATE accounts a SET debits_posted = a.debits_posted + t.d, credits_posted = a.credits_posted + t.c"
            " FROM synth_totals t WHERE a.id = t.id"))

    def finish(self, ids: Ids, counts: dict[str, int]) -> None:
        t0 = time.perf_counter()
        for _name, ddl in self.dropped_idx:
            self.conn.execute(text(ddl))
        for table, name, ddl in self.dropped_fks:
            self.conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}'))
        self.timings["rebuild_seconds"] = time.perf_counter() - t0
        for t, n in counts.items():
            if n:
                seq = self.scalar("SELECT pg_get_serial_sequence(:t, 'id')", t=t)
                self.conn.execute(text("SELECT setval(:s, :v, true)"), {"s": seq, "v": ids.base[t] + n})

    def seals(self, rows: list[tuple]) -> None:
        with self.raw.cursor() as cur, cur.copy(
                "COPY ledger_seals (seq, transfer_id, prev_hash, hash, sealed_at) FROM STDIN") as cp:
            at = rows[0][4].isoformat(" ") if rows else ""
            cp.write("".join(f"{s}\t{t}\t{p}\t{h}\t{at}\n" for s, t, p, h, _ in rows))

    def value_date(self, d):
        return d

    def existing(self, column: str, table: str, values: list[str]) -> list[str]:
        rows = self.conn.execute(text(f"SELECT {column} FROM {table} WHERE {column} = ANY(:v)"), {"v": values})
        return [r[0] for r in rows]

    def analyze(self, engine: Engine) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f"ANALYZE {', '.join(LOCKED_TABLES)}"))


# ----------------------------------------------------------------------------------------------
# the hash chain, computed in worker processes


class _SealContext:
    def __init__(self, w: World, merchants: Merchants, bills: Bills, slot_ids: np.ndarray, key_prefix: str,
                 bill_base: int, transfer_base: int, entry_base: int, sqlite: bool):
        self.w, self.merchants, self.bills, self.slot_ids = w, merchants, bills, slot_ids
        self.key_prefix, self.bill_base = key_prefix, bill_base
        self.transfer_base, self.entry_base, self.sqlite = transfer_base, entry_base, sqlite

    def renderer(self) -> Renderer:
        r = Renderer(self.w, self.merchants, self.bills, self.slot_ids, self.key_prefix)
        r.bill_base = self.bill_base
        return r


_CTX: _SealContext | None = None
_RENDERER: Renderer | None = None


def _init_worker(ctx: _SealContext) -> None:
    global _CTX, _RENDERER
    _CTX = ctx
    _RENDERER = ctx.renderer()


def _canonicals(batch: Batch) -> list[bytes]:
    """``ledger.journal_canonical`` of each transfer of the batch, built from the values the database
    returns to ``ledger.verify`` (SQLite returns dates as text)."""
    ctx, rend = _CTX, _RENDERER
    assert ctx is not None and rend is not None
    out = []
    tb, eb = ctx.transfer_base, ctx.entry_base
    for r, at in zip(rend.rows(batch), rend.created_at(batch), strict=True):
        tid = tb + r.k + 1
        e1 = eb + 2 * r.k + 1
        t = {"id": tid, "idempotency_key": r.key, "kind": r.kind, "flags": "posted", "debit_account_id": r.debit,
             "credit_account_id": r.credit, "amount_minor": r.amount, "currency": "CNY", "pending_id": None,
             "reverses_id": None, "memo": r.memo, "reference": r.reference, "initiated_by": None,
             "value_date": r.value_date.isoformat() if ctx.sqlite else r.value_date, "created_at": at,
             "meta": r.meta}
        entries = [
            {"id": e1, "account_id": r.debit, "amount_minor": -r.amount, "currency": "CNY",
             "balance_after": r.bal_debit},
            {"id": e1 + 1, "account_id": r.credit, "amount_minor": r.amount, "currency": "CNY",
             "balance_after": r.bal_credit},
        ]
        out.append(ledger.journal_canonical(t, entries))
    return out


def slices(batches: list[Batch], size: int) -> Iterator[Batch]:
    for b in batches:
        for i in range(0, len(b), size):
            j = i + size
            yield Batch(k0=b.k0 + i, et=b.et[i:j], src=b.src[i:j], dst=b.dst[i:j], amount=b.amount[i:j],
                        aux=b.aux[i:j], cust=b.cust[i:j], t=b.t[i:j], bal_src=b.bal_src[i:j],
                        bal_dst=b.bal_dst[i:j], enforce=b.enforce[i:j])


def chain(ctx: _SealContext, batches: list[Batch], seq: int, prev: str, *, workers: int,
          on_rows: Callable[[list[tuple]], None], advance: Callable[[int], None]) -> tuple[int, str]:
    """Extend the chain from (seq, prev) over every transfer, in id order, handing rows of
    ``(seq, transfer_id, prev_hash, hash, sealed_at)`` to ``on_rows``. The links are keyed
    (``ledger.journal_link``) here, in this process; the workers only build the canonical forms."""
    key = ledger.ledger_key()

    def consume(k0: int, canon: list[bytes]) -> None:
        nonlocal seq, prev
        rows = []
        now = clock.now()
        tid = ctx.transfer_base + k0 + 1
        for c in canon:
            seq += 1
            h = ledger.journal_link(key, prev, c)
            rows.append((seq, tid, prev, h, now))
            prev = h
            tid += 1
        on_rows(rows)
        advance(len(rows))

    parts = list(slices(batches, 10_000))
    _init_worker(ctx)
    # Worker processes are forked (Linux): they inherit the context without pickling it and never
    # touch the parent's database connection (pool workers leave through os._exit).
    if workers <= 1 or sys.platform != "linux" or "fork" not in mp.get_all_start_methods():
        for b in parts:
            consume(b.k0, _canonicals(b))
        return seq, prev
    with mp.get_context("fork").Pool(workers) as pool:
        for b, canon in zip(parts, pool.imap(_canonicals, parts, chunksize=1), strict=True):
            consume(b.k0, canon)
    return seq, prev


# ----------------------------------------------------------------------------------------------


def load(engine: Engine, w: World, catalog: Catalog, *, key_prefix: str, progress) -> dict[str, Any]:
    pg = engine.dialect.name == "postgresql"
    stats: dict[str, Any] = {}
    estimate = int(w.n * w.n_days / 30.4 * 32)
    t_start = time.perf_counter()
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            sink: _Sink = _PgSink(conn) if pg else _SqliteSink(conn)
            sink.lock()
            session = Session(bind=conn)
            stats["sealed_before"] = ledger.seal(session)  # anything already queued goes first
            session.close()
            _check_collisions(sink, w, key_prefix)
            ids = Ids(sink.bases())
            internal = catalog.internal_account_ids()
            state = {int(r[0]): (int(r[1]), r[2]) for r in conn.execute(text(
                "SELECT id, credits_posted - debits_posted, status FROM accounts WHERE id IN ("
                + ", ".join(str(i) for i in internal) + ")"))}
            sim = Simulator(w, [state[i][0] for i in internal],
                            internal_status=[state[i][1] for i in internal])
            slot_ids = np.array(internal + [ids.account(j) for j in range(len(w.acct_rows))], dtype=np.int64)
            rend = Renderer(w, sim.merchants, sim.bills, slot_ids, key_prefix)
            rend.bill_base = ids.base["bills"]
            sink.prepare(estimate)

            crow = [{"id": ids.customer(i), **{k: v for k, v in r.items() if k != "phone_raw"}}
                    for i, r in enumerate(w.rows)]
            sink.customers(crow)
            arow = [{"id": ids.account(j), "number": a["number"], "customer_id": ids.customer(a["customer_index"]),
                     "kind": a["kind"], "purpose": None, "name": a["name"], "currency": a["currency"],
                     "status": a["status"], "overdraft_limit_minor": a["overdraft_limit_minor"],
                     "interest_rate": a["interest_rate"], "accrued_interest_micro": 0, "debits_posted": 0,
                     "credits_posted": 0, "debits_pending": 0, "credits_pending": 0, "opened_on": a["opened_on"],
                     "created_at": a["created_at"]} for j, a in enumerate(w.acct_rows)]
            sink.accounts(arow)

            batches: list[Batch] = []
            task = progress.add("simulating and loading", total=len(sim.chunks), unit="months")
            t_sim = t_render = t_write = 0.0
            months = sim.run()
            while True:
                ta = time.perf_counter()
                batch = next(months, None)
                tb = time.perf_counter()
                t_sim += tb - ta
                if batch is None:
                    break
                rows = rend.rows(batch)
                created = rend.created_at(batch)
                tc = time.perf_counter()
                t_render += tc - tb
                sink.transfers(rows, created, ids)
                t_write += time.perf_counter() - tc
                batches.append(batch)
                progress.advance(task, 1, note=f"{sim.k:,} transfers")
            td = time.perf_counter()
            sink.drain()
            t_drain = time.perf_counter() - td
            stats["phases"] = {"simulate": round(t_sim, 3), "render": round(t_render, 3),
                               "format_and_copy": round(t_write, 3), "copy_drain": round(t_drain, 3)}
            n_transfers = sim.k

            bills = sim.bills
            end = w.end
            brow = []
            for b in range(len(bills.biller)):
                k = bills.paid_k[b]
                status = "paid" if k >= 0 else ("overdue" if bills.due[b] < end else "unpaid")
                brow.append({"id": ids.base["bills"] + b + 1,
                             "biller_id": catalog.billers[BILLERS[bills.biller[b]][0]].id,
                             "reference": bills.reference[b], "period": bills.period[b],
                             "amount_minor": bills.amount[b], "currency": "CNY", "due_date": bills.due[b],
                             "status": status, "paid_transfer_id": ids.transfer(k) if k >= 0 else None,
                             "paid_at": _paid_at(rend, batches, k) if k >= 0 else None})
            sink.bills(brow)
            sink.usage([(ids.customer(c), d, "CNY", a) for c, d, a in sim.usage_rows()])
            touched = np.flatnonzero((sim.debits != 0) | (sim.credits != 0))
            sink.totals([(int(slot_ids[s]), int(sim.debits[s]), int(sim.credits[s])) for s in touched])
            stats["phases"]["bills_usage_totals"] = round(time.perf_counter() - td - t_drain, 3)
            sink.finish(ids, {"customers": w.n, "accounts": len(w.acct_rows), "transfers": n_transfers,
                              "entries": 2 * n_transfers, "bills": len(brow)})
            t_loaded = time.perf_counter()

            head = conn.execute(text("SELECT seq, hash FROM ledger_seals ORDER BY seq DESC LIMIT 1")).first()
            seq, prev = (int(head[0]), head[1]) if head else (0, ledger.JOURNAL_GENESIS)
            ctx = _SealContext(w, sim.merchants, sim.bills, slot_ids, key_prefix, ids.base["bills"],
                               ids.base["transfers"], ids.base["entries"], sqlite=not pg)
            seal_task = progress.add("sealing the journal", total=n_transfers, unit="transfers")
            pending: list[tuple] = []

            def on_rows(rows: list[tuple]) -> None:
                pending.extend(rows)
                if len(pending) >= 100_000:
                    sink.seals(pending)
                    pending.clear()

            workers = min(os.cpu_count() or 1, 4) if n_transfers >= 50_000 else 1
            head_seq, head_hash = chain(ctx, batches, seq, prev, workers=workers, on_rows=on_rows,
                                        advance=lambda n: progress.advance(seal_task, n))
            if pending:
                sink.seals(pending)
            t_sealed = time.perf_counter()
            tx.commit()
            if head_seq > seq:  # the new head, checkpointed outside the database once it is committed
                ledger.write_checkpoint(engine.url, seq=head_seq, head=head_hash,
                                         transfer_id=ids.transfer(n_transfers - 1))
        except BaseException:
            if pg and isinstance(sink, _PgSink) and sink.writer is not None:
                with contextlib.suppress(BaseException):  # the original error matters
                    sink.writer.close()
            tx.rollback()
            raise
    t_commit = time.perf_counter()
    sink.analyze(engine)
    t_end = time.perf_counter()
    stats.update({
        "transfers": n_transfers, "entries": 2 * n_transfers, "bills": len(brow), "sim": sim,
        "load_seconds": round(t_loaded - t_start, 3),
        "seal_seconds": round(t_sealed - t_loaded, 3),
        "commit_seconds": round(t_commit - t_sealed, 3),
        "analyze_seconds": round(t_end - t_commit, 3),
        "index_rebuild_seconds": round(sink.timings.get("rebuild_seconds", 0.0), 3),
        "indexes_rebuilt": bool(getattr(sink, "dropped_idx", None)),
        "seal_workers": workers,
    })
    return stats


def _paid_at(rend: Renderer, batches: list[Batch], k: int) -> datetime:
    # batches are in k order; find the one holding transfer k
    lo, hi = 0, len(batches) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if batches[mid].k0 <= k:
            lo = mid
        else:
            hi = mid - 1
    b = batches[lo]
    return rend.local_time_utc(int(b.t[k - b.k0]))


def _check_collisions(sink: _Sink, w: World, key_prefix: str) -> None:
    """A seed loaded twice into one database would collide on customer and account numbers: refuse
    before writing anything."""
    checks = (("number", "customers", [r["number"] for r in w.rows]),
              ("id_number_bidx", "customers", [security.blind_index(r["id_number"], kind="id_number")
                                               for r in w.rows]),
              ("number", "accounts", [a["number"] for a in w.acct_rows]),
              ("idempotency_key", "transfers", [f"{key_prefix}{0:08d}"]))
    for column, table, values in checks:
        clash = sink.existing(column, table, values)
        if clash:
            raise Conflict(f"this synthetic bank (or part of it) is already in the database: {table}.{column}"
                           f" {clash[0]!r} exists; use another seed or an empty database",
                           details={"table": table, "column": column, "value": clash[0]})

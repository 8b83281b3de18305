"""The tamper-evident journal.

Transfers are written without touching any shared chain head, so concurrent transfers never
serialise on it. A sealer (one at a time: an advisory lock on PostgreSQL, the write lock on SQLite)
drains ``ledger_unsealed`` in transfer-id order and appends each transfer, with its entries, to a
SHA-256 hash chain in ``ledger_seals``. :func:`verify` recomputes the chain and the balances; an
edit or delete made directly in SQL breaks it at the first affected transfer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from smartbank.ledger.service import utcnow

GENESIS = "0" * 64
SEALER_LOCK_ID = 74110001


def _ts(v: Any) -> str:
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):  # SQLite may hand back text
        try:
            return _ts(datetime.fromisoformat(v))
        except ValueError:
            return v
    return "" if v is None else str(v)


def canonical(t: dict[str, Any], entries: list[dict[str, Any]]) -> bytes:
    meta = t.get("meta")
    if isinstance(meta, str):
        meta = json.loads(meta)
    body = {
        "id": int(t["id"]), "key": t["idempotency_key"], "kind": t["kind"], "flags": t["flags"],
        "debit": int(t["debit_account_id"]), "credit": int(t["credit_account_id"]),
        "amount": int(t["amount_minor"]), "currency": t["currency"], "pending_id": t["pending_id"],
        "reverses_id": t["reverses_id"], "memo": t["memo"], "reference": t["reference"],
        "by": t["initiated_by"], "value_date": _ts(t["value_date"]), "at": _ts(t["created_at"]), "meta": meta,
        "entries": sorted(
            [[int(e["id"]), int(e["account_id"]), int(e["amount_minor"]), e["currency"], int(e["balance_after"])]
             for e in entries]
        ),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev: str, t: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    return hashlib.sha256(prev.encode() + canonical(t, entries)).hexdigest()


_T_COLS = (
    "id, idempotency_key, kind, flags, debit_account_id, credit_account_id, amount_minor, currency,"
    " pending_id, reverses_id, memo, reference, initiated_by, value_date, created_at, meta"
)


def _load(session: Session, lo: int, hi: int) -> tuple[dict[int, dict], dict[int, list[dict]]]:
    ts = {r.id: dict(r._mapping) for r in session.execute(
        text(f"SELECT {_T_COLS} FROM transfers WHERE id BETWEEN :lo AND :hi"), {"lo": lo, "hi": hi})}
    es: dict[int, list[dict]] = {}
    for r in session.execute(text(
        "SELECT id, transfer_id, account_id, amount_minor, currency, balance_after FROM entries"
        " WHERE transfer_id BETWEEN :lo AND :hi"), {"lo": lo, "hi": hi}):
        es.setdefault(r.transfer_id, []).append(dict(r._mapping))
    return ts, es


_DELETE_QUEUED = text("DELETE FROM ledger_unsealed WHERE transfer_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def seal(session: Session, *, batch: int = 5000, max_batches: int | None = None) -> int:
    """Chain every queued transfer. Returns how many were sealed. Caller commits."""
    pg = session.get_bind().dialect.name == "postgresql"
    if pg:
        got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEALER_LOCK_ID}).scalar()
        if not got:
            return 0
    head = session.execute(text("SELECT seq, hash FROM ledger_seals ORDER BY seq DESC LIMIT 1")).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        ids = [r[0] for r in session.execute(
            text("SELECT transfer_id FROM ledger_unsealed ORDER BY transfer_id LIMIT :n"), {"n": batch})]
        if not ids:
            break
        ts, es = _load(session, ids[0], ids[-1])
        now = utcnow()
        rows = []
        for tid in ids:
            t = ts.get(tid)
            if t is None:  # rolled back or removed before sealing: nothing to chain
                continue
            seq += 1
            h = chain_hash(prev, t, es.get(tid, []))
            rows.append({"seq": seq, "t": tid, "p": prev, "h": h, "at": now})
            prev = h
        if rows:
            session.execute(text(
                "INSERT INTO ledger_seals (seq, transfer_id, prev_hash, hash, sealed_at) VALUES (:seq, :t, :p, :h, :at)"
            ), rows)
        session.execute(_DELETE_QUEUED, {"ids": ids})
        total += len(rows)
        batches += 1
    return total


@dataclass
class VerifyReport:
    ok: bool = True
    sealed: int = 0
    unsealed: int = 0
    transfers: int = 0
    accounts: int = 0
    problems: list[str] = field(default_factory=list)
    first_broken: dict[str, Any] | None = None
    totals_by_currency: dict[str, int] = field(default_factory=dict)

    def fail(self, msg: str, **where: Any) -> None:
        if self.first_broken is None and where:
            self.first_broken = {"problem": msg, **where}
        self.ok = False
        if len(self.problems) < 50:
            self.problems.append(msg)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "sealed": self.sealed, "unsealed": self.unsealed, "transfers": self.transfers,
            "accounts": self.accounts, "first_broken": self.first_broken, "problems": self.problems,
            "totals_by_currency": self.totals_by_currency,
        }


def verify(session: Session, *, chunk: int = 20000) -> VerifyReport:
    """Recompute the hash chain and every balance from the entries."""
    rep = VerifyReport()
    prev = GENESIS
    expected_seq = 1
    last_seq = 0
    while True:
        seals = session.execute(text(
            "SELECT seq, transfer_id, prev_hash, hash FROM ledger_seals WHERE seq > :s ORDER BY seq LIMIT :n"),
            {"s": last_seq, "n": chunk}).all()
        if not seals:
            break
        ids = sorted(s.transfer_id for s in seals)
        ts, es = _load(session, ids[0], ids[-1])
        for s in seals:
            if s.seq != expected_seq:
                rep.fail(f"seal #{expected_seq} is missing (chain jumps to #{s.seq})",
                         seal_seq=expected_seq, transfer_id=None)
                expected_seq = s.seq
            if s.prev_hash != prev:
                rep.fail(f"seal #{s.seq} does not link to its predecessor", seal_seq=s.seq,
                         transfer_id=s.transfer_id)
            t = ts.get(s.transfer_id)
            if t is None:
                rep.fail(f"transfer {s.transfer_id} (seal #{s.seq}) was deleted", seal_seq=s.seq,
                         transfer_id=s.transfer_id)
            elif chain_hash(s.prev_hash, t, es.get(s.transfer_id, [])) != s.hash:
                rep.fail(f"transfer {s.transfer_id} (seal #{s.seq}) or its entries were altered",
                         seal_seq=s.seq, transfer_id=s.transfer_id)
            prev = s.hash
            expected_seq += 1
            rep.sealed += 1
        last_seq = seals[-1].seq

    rep.unsealed = session.execute(text("SELECT count(*) FROM ledger_unsealed")).scalar() or 0
    rep.transfers = session.execute(text("SELECT count(*) FROM transfers")).scalar() or 0
    orphans = session.execute(text(
        "SELECT t.id FROM transfers t WHERE NOT EXISTS (SELECT 1 FROM ledger_seals s WHERE s.transfer_id = t.id)"
        " AND NOT EXISTS (SELECT 1 FROM ledger_unsealed u WHERE u.transfer_id = t.id) ORDER BY t.id LIMIT 5")).all()
    for o in orphans:
        rep.fail(f"transfer {o.id} is neither sealed nor queued (its seal was removed)", transfer_id=o.id)
    # entries carry their transfer's dates, which the chain covers; the entries' own copies are what
    # statements select by, so a copy that differs was edited
    drift = session.execute(text(
        "SELECT DISTINCT e.transfer_id FROM entries e JOIN transfers t ON t.id = e.transfer_id"
        " WHERE e.value_date <> t.value_date OR e.created_at <> t.created_at ORDER BY e.transfer_id LIMIT 5")).all()
    for d in drift:
        rep.fail(f"entries of transfer {d.transfer_id} do not carry its dates: they were edited",
                 transfer_id=d.transfer_id)
    # every entry belongs to an existing transfer and account; every posted transfer has its two entries
    dangling = session.execute(text(
        "SELECT e.id, e.transfer_id, e.account_id FROM entries e"
        " LEFT JOIN transfers t ON t.id = e.transfer_id LEFT JOIN accounts a ON a.id = e.account_id"
        " WHERE t.id IS NULL OR a.id IS NULL OR e.account_id NOT IN (t.debit_account_id, t.credit_account_id)"
        " ORDER BY e.id LIMIT 5")).all()
    for e in dangling:
        rep.fail(f"entry {e.id} names transfer {e.transfer_id} and account {e.account_id}, which do not match",
                 transfer_id=e.transfer_id, account_id=e.account_id)
    legs = session.execute(text(
        "SELECT t.id, count(e.id) AS n FROM transfers t LEFT JOIN entries e ON e.transfer_id = t.id"
        " WHERE t.flags <> 'pending' AND t.flags <> 'void_pending' GROUP BY t.id HAVING count(e.id) <> 2"
        " ORDER BY t.id LIMIT 5")).all()
    for g in legs:
        rep.fail(f"transfer {g.id} has {g.n} entries, not two", transfer_id=g.id)
    # each transfer's entries sum to zero, one currency
    bad = session.execute(text(
        "SELECT transfer_id, sum(amount_minor) AS s FROM entries GROUP BY transfer_id"
        " HAVING sum(amount_minor) <> 0 ORDER BY transfer_id LIMIT 5")).all()
    for b in bad:
        rep.fail(f"entries of transfer {b.transfer_id} sum to {b.s}, not zero", transfer_id=b.transfer_id)
    # each account's posted totals equal the sum of its entries
    mism = session.execute(text(
        "SELECT a.id, a.number, a.credits_posted - a.debits_posted AS bal, COALESCE(e.s, 0) AS s FROM accounts a"
        " LEFT JOIN (SELECT account_id, sum(amount_minor) AS s FROM entries GROUP BY account_id) e"
        " ON e.account_id = a.id WHERE a.credits_posted - a.debits_posted <> COALESCE(e.s, 0)"
        " ORDER BY a.id LIMIT 5")).all()
    for m in mism:
        rep.fail(f"account {m.number} balance {m.bal} differs from the sum of its entries {m.s}",
                 account_id=m.id)
    # each account's pending totals equal its open holds (pending transfers not yet posted or voided)
    held = ("(SELECT t.{side}_account_id AS id, sum(t.amount_minor) AS s FROM transfers t WHERE t.flags = 'pending'"
            " AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id) GROUP BY t.{side}_account_id)")
    pend = session.execute(text(
        "SELECT a.id, a.number, a.debits_pending AS dp, a.credits_pending AS cp, COALESCE(d.s, 0) AS ds,"
        f" COALESCE(c.s, 0) AS cs FROM accounts a LEFT JOIN {held.format(side='debit')} d ON d.id = a.id"
        f" LEFT JOIN {held.format(side='credit')} c ON c.id = a.id"
        " WHERE a.debits_pending <> COALESCE(d.s, 0) OR a.credits_pending <> COALESCE(c.s, 0)"
        " ORDER BY a.id LIMIT 5")).all()
    for p in pend:
        rep.fail(f"account {p.number} pending totals {p.dp}/{p.cp} (debit/credit) differ from its open holds"
                 f" {p.ds}/{p.cs}", account_id=p.id)
    for r in session.execute(text(
        "SELECT currency, sum(credits_posted - debits_posted) AS s, count(*) AS n FROM accounts GROUP BY currency")):
        rep.totals_by_currency[r.currency] = int(r.s or 0)
        rep.accounts += int(r.n)
        if int(r.s or 0) != 0:
            rep.fail(f"balances in {r.currency} sum to {r.s}, not zero: money was created or lost")
    return rep

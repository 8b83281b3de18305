"""The tamper-evident journal.

Transfers are written without touching any shared chain head, so concurrent transfers never
serialise on it. A sealer (one at a time: an advisory lock on PostgreSQL, the write lock on SQLite)
drains ``ledger_unsealed`` in transfer-id order and appends each transfer, with its entries, to a
hash chain in ``ledger_seals``: each link is HMAC-SHA256, keyed with the ledger key (:func:`ledger_key`,
from the configuration; never in the database), of the previous link and the transfer's canonical form.
After each seal commits, a checkpoint of the new head (sequence, hash, time), signed with the same key, is
appended to a JSON-lines file outside the database (:func:`checkpoint_path`).

:func:`verify` recomputes the chain and the balances and checks the database against every checkpoint:

* an edit or delete made directly in SQL breaks the chain at the first affected transfer, and re-hashing
  the following links does not help without the key (a plain SHA-256 chain could be recomputed by anyone
  with write access to the database);
* removing the newest transfers with their entries and seals (and adjusting the balances) leaves a chain
  that is whole but shorter than a checkpoint says: truncation;
* a head whose hash differs from its checkpoint's: the journal was rewritten.

What someone with write access to the database, but neither the key nor the checkpoint file, can still do
unseen: change or remove transfers not yet sealed (the sealer runs every ``seal_interval_seconds``), and
change what the journal does not cover (customers, account settings such as status or overdraft limit,
bills, the audit log). See docs/SECURITY.md, "The journal".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, event, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.config import get_settings, key_file_text

log = logging.getLogger("smartbank.ledger")

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


# ----------------------------------------------------------------------------------------------
# the key


def ledger_key() -> bytes:
    """The chain key: ``SMARTBANK_LEDGER_KEY``, else the file ``SMARTBANK_LEDGER_KEY_FILE`` (which must exist),
    else ``<var_dir>/ledger.key``, made with 32 random bytes on first use (readable by its owner only)."""
    st = get_settings()
    if st.ledger_key:
        return st.ledger_key.encode()
    path = st.ledger_key_file or Path(st.var_dir) / "ledger.key"
    try:
        key = key_file_text(path, must_exist=st.ledger_key_file is not None, what="ledger key",
                            make=lambda: secrets.token_hex(32))
    except FileNotFoundError:
        raise RuntimeError(f"the ledger key file {path} does not exist") from None
    if not key:
        raise RuntimeError(f"the ledger key file {path} is empty")
    return key.encode()


def key_id(key: bytes) -> str:
    """A short public name of a key (which key signed a checkpoint), not the key."""
    return hmac.new(key, b"smartbank ledger key id", hashlib.sha256).hexdigest()[:16]


def link(key: bytes, prev: str, canon: bytes) -> str:
    """One link of the chain: HMAC-SHA256 of the previous link and the transfer's canonical form."""
    return hmac.new(key, prev.encode() + canon, hashlib.sha256).hexdigest()


def chain_hash(prev: str, t: dict[str, Any], entries: list[dict[str, Any]], key: bytes | None = None) -> str:
    return link(key if key is not None else ledger_key(), prev, canonical(t, entries))


def unkeyed_hash(prev: str, t: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    """The chain as it was before it was keyed (plain SHA-256): recognised by verify and :func:`rekey` only."""
    return hashlib.sha256(prev.encode() + canonical(t, entries)).hexdigest()


# ----------------------------------------------------------------------------------------------
# checkpoints: the head, signed, outside the database


def _url(session_or_url: Session | URL) -> URL:
    return session_or_url if isinstance(session_or_url, URL) else session_or_url.get_bind().engine.url


def database_id(url: URL) -> str:
    """Which database a checkpoint is about (a SQLite file's absolute path, or host, port and name)."""
    if url.get_backend_name() == "sqlite":
        return "sqlite:" + (str(Path(url.database).resolve()) if url.database else ":memory:")
    return f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"


def checkpoint_path(url: URL) -> Path:
    st = get_settings()
    if st.ledger_checkpoint_file is not None:
        return Path(st.ledger_checkpoint_file)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".checkpoints.jsonl")
    return Path(st.var_dir) / "ledger-checkpoints.jsonl"


def _signed(key: bytes, body: dict[str, Any]) -> str:
    return hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
                    hashlib.sha256).hexdigest()


_BODY = ("db", "seq", "hash", "transfer_id", "at", "key_id")


def write_checkpoint(url: URL, *, seq: int, head: str, transfer_id: int | None, key: bytes | None = None,
                     restored: bool = False) -> None:
    """Append a signed checkpoint of the head ``(seq, head)`` of the journal in ``url``'s database. Called once
    the seal that made that head has committed. ``restored``: the database was just replaced by a restored
    backup (``smartbank db restore``) whose journal ends at this head; the checkpoints of this database before
    this line describe the journal that was replaced and no longer count (the line is signed like any other,
    so only a holder of the key can start a new history)."""
    key = key if key is not None else ledger_key()
    body: dict[str, Any] = {"db": database_id(url), "seq": int(seq), "hash": head, "transfer_id": transfer_id,
                            "at": clock.now().isoformat(), "key_id": key_id(key)}
    if restored:
        body["restored"] = True
    line = (json.dumps({**body, "sig": _signed(key, body)}, sort_keys=True) + "\n").encode()
    path = checkpoint_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one write of one line, in append mode: lines of concurrent writers never mix
        os.fsync(fd)
    finally:
        os.close(fd)


def read_checkpoints(url: URL, key: bytes | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """This database's checkpoints (oldest first) and the problems with the file: lines that are not
    signed with the key, or not checkpoints at all."""
    key = key if key is not None else ledger_key()
    path = checkpoint_path(url)
    me = database_id(url)
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    if not path.exists():
        return out, problems
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                cp = json.loads(raw)
                body = {k: cp[k] for k in _BODY}
                if "restored" in cp:
                    body["restored"] = cp["restored"]
                sig = cp["sig"]
            except (ValueError, KeyError, TypeError):
                problems.append(f"checkpoint file {path} line {n} is not a checkpoint")
                continue
            if body["db"] != me:
                continue
            if not hmac.compare_digest(str(sig), _signed(key, body)):
                problems.append(f"checkpoint file {path} line {n} is not signed with this ledger key (key"
                                f" {body['key_id']}, now {key_id(key)}): the file was edited, or the key changed")
                continue
            if body.get("restored") is True:
                out.clear()  # a restore replaced the journal: what was checkpointed before it is history
            out.append(body)
    return out, problems


def head(session: Session) -> dict[str, Any]:
    """The journal's latest seal: ``{"seq", "hash", "transfer_id"}`` (seq 0 and the genesis hash when nothing
    is sealed), and how many transfers wait to be sealed."""
    row = session.execute(text("SELECT seq, hash, transfer_id FROM ledger_seals ORDER BY seq DESC LIMIT 1")).first()
    unsealed = session.execute(text("SELECT count(*) FROM ledger_unsealed")).scalar() or 0
    if row is None:
        return {"seq": 0, "hash": GENESIS, "transfer_id": None, "unsealed": int(unsealed)}
    return {"seq": int(row.seq), "hash": row.hash, "transfer_id": int(row.transfer_id), "unsealed": int(unsealed)}


def anchor(session_or_url: Session | URL, *, covering: int) -> dict[str, Any] | None:
    """The newest valid checkpoint of the database (a session's, or at a URL) at or below seal ``covering`` (what
    anchored the journal up to that head), or None."""
    cps = [c for c in read_checkpoints(_url(session_or_url))[0] if int(c["seq"]) <= covering]
    return max(cps, key=lambda c: int(c["seq"])) if cps else None


def anchor_restored(url: URL, *, seq: int, head_hash: str, transfer_id: int | None) -> None:
    """After a restore: checkpoint the restored journal's head for ``url``'s database as a new history."""
    write_checkpoint(url, seq=seq, head=head_hash, transfer_id=transfer_id, restored=True)


_PENDING = "smartbank.ledger.checkpoint"


def _checkpoint_on_commit(session: Session, *, seq: int, head: str, transfer_id: int, key: bytes) -> None:
    """Write the checkpoint once this session's transaction commits (never for a seal rolled back)."""
    first = _PENDING not in session.info
    session.info[_PENDING] = (_url(session), seq, head, transfer_id, key)
    if first:
        event.listen(session, "after_commit", _write_pending)
        event.listen(session, "after_rollback", _drop_pending)


def _write_pending(session: Session) -> None:
    cp = session.info.pop(_PENDING, None)
    if cp is None:
        return
    url, seq, head, tid, key = cp
    try:
        write_checkpoint(url, seq=seq, head=head, transfer_id=tid, key=key)
    except OSError:  # the seal stands; verify reports the head it cannot anchor
        log.exception("could not write the ledger checkpoint of seal #%s", seq)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


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
    key = ledger_key()
    total = 0
    batches = 0
    last_tid = 0
    while max_batches is None or batches < max_batches:
        ids = [r[0] for r in session.execute(
            text("SELECT transfer_id FROM ledger_unsealed ORDER BY transfer_id LIMIT :n"), {"n": batch})]
        if not ids:
            break
        ts, es = _load(session, ids[0], ids[-1])
        now = clock.now()
        rows = []
        for tid in ids:
            t = ts.get(tid)
            if t is None:  # rolled back or removed before sealing: nothing to chain
                continue
            seq += 1
            h = chain_hash(prev, t, es.get(tid, []), key)
            rows.append({"seq": seq, "t": tid, "p": prev, "h": h, "at": now})
            prev = h
            last_tid = tid
        if rows:
            session.execute(text(
                "INSERT INTO ledger_seals (seq, transfer_id, prev_hash, hash, sealed_at) VALUES (:seq, :t, :p, :h, :at)"
            ), rows)
        session.execute(_DELETE_QUEUED, {"ids": ids})
        total += len(rows)
        batches += 1
    if total:
        _checkpoint_on_commit(session, seq=seq, head=prev, transfer_id=last_tid, key=key)
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
    checkpoint: dict[str, Any] | None = None  # the newest checkpoint of this database: seq, hash, at
    checkpoint_file: str | None = None

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
            "totals_by_currency": self.totals_by_currency, "checkpoint": self.checkpoint,
            "checkpoint_file": self.checkpoint_file,
        }


def verify(session: Session, *, chunk: int = 20000) -> VerifyReport:
    """Recompute the hash chain and every balance from the entries, and hold the journal against its
    checkpoints (truncation, rewrite)."""
    rep = VerifyReport()
    key = ledger_key()
    url = _url(session)
    cps, cp_problems = read_checkpoints(url, key)
    rep.checkpoint_file = str(checkpoint_path(url))
    anchors = {int(c["seq"]): c for c in cps}
    head_seq = 0
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
            elif not hmac.compare_digest(chain_hash(s.prev_hash, t, es.get(s.transfer_id, []), key), s.hash):
                if unkeyed_hash(s.prev_hash, t, es.get(s.transfer_id, [])) == s.hash:
                    rep.fail(f"seal #{s.seq} (transfer {s.transfer_id}) is a plain SHA-256 link, not made with the"
                             " ledger key: recomputed by someone without the key, or a journal from before the"
                             " chain was keyed (smartbank ledger rekey)", seal_seq=s.seq, transfer_id=s.transfer_id)
                else:
                    rep.fail(f"transfer {s.transfer_id} (seal #{s.seq}) or its entries were altered",
                             seal_seq=s.seq, transfer_id=s.transfer_id)
            cp = anchors.get(int(s.seq))
            if cp is not None and cp["hash"] != s.hash:
                rep.fail(f"seal #{s.seq} differs from its checkpoint of {cp['at']}: the journal was rewritten",
                         seal_seq=s.seq, transfer_id=s.transfer_id)
            head_seq = max(head_seq, int(s.seq))
            prev = s.hash
            expected_seq += 1
            rep.sealed += 1
        last_seq = seals[-1].seq

    for problem in cp_problems:
        rep.fail(problem)
    if cps:
        newest = max(cps, key=lambda c: int(c["seq"]))
        rep.checkpoint = {"seq": int(newest["seq"]), "hash": newest["hash"], "at": newest["at"]}
        if int(newest["seq"]) > head_seq:
            rep.fail(f"the journal ends at seal #{head_seq}, but a checkpoint of {newest['at']} anchors seal"
                     f" #{newest['seq']}: sealed transfers were removed (truncation)",
                     seal_seq=head_seq + 1, transfer_id=newest.get("transfer_id"))
    elif head_seq:
        rep.fail(f"no checkpoint in {rep.checkpoint_file} anchors this journal's {head_seq} seals: its newest"
                 " transfers could have been removed unseen")
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


def rekey(session: Session, *, chunk: int = 20000) -> int:
    """Key a journal sealed before the chain was keyed: every link is checked as the plain SHA-256 chain it
    was, then recomputed with the ledger key, and the head is checkpointed. Refused when a link does not
    check, or when the journal is already keyed or checkpointed. Returns how many seals were rekeyed. Caller
    commits (the checkpoint is written when it does)."""
    key = ledger_key()
    url = _url(session)
    if read_checkpoints(url, key)[0]:
        raise RuntimeError("this journal already has checkpoints: it is keyed")
    prev_old, prev_new = GENESIS, GENESIS
    last_seq, n, tid = 0, 0, 0
    while True:
        seals = session.execute(text(
            "SELECT seq, transfer_id, prev_hash, hash FROM ledger_seals WHERE seq > :s ORDER BY seq LIMIT :n"),
            {"s": last_seq, "n": chunk}).all()
        if not seals:
            break
        ids = sorted(x.transfer_id for x in seals)
        ts, es = _load(session, ids[0], ids[-1])
        for x in seals:
            t = ts.get(x.transfer_id)
            if (x.seq != n + 1 or x.prev_hash != prev_old or t is None
                    or unkeyed_hash(prev_old, t, es.get(x.transfer_id, [])) != x.hash):
                raise RuntimeError(f"seal #{x.seq} does not check as an unkeyed link: not rekeyed (ledger verify"
                                   " tells more)")
            new = chain_hash(prev_new, t, es.get(x.transfer_id, []), key)
            session.execute(text("UPDATE ledger_seals SET prev_hash = :p, hash = :h WHERE seq = :s"),
                            {"p": prev_new, "h": new, "s": x.seq})
            prev_old, prev_new, n, tid = x.hash, new, n + 1, x.transfer_id
        last_seq = seals[-1].seq
    if n:
        _checkpoint_on_commit(session, seq=n, head=prev_new, transfer_id=tid, key=key)
    return n

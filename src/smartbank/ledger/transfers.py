"""The ledger's transfers: double-entry postings, pending holds and their resolution, reversing transfers.

Rules enforced on every transfer (TigerBeetle-style):
- amount is a positive integer of minor units; both accounts exist and share the transfer's currency;
- the debit account is open (frozen accounts reject debits; closed accounts reject everything);
- the debit may not take available balance below ``-overdraft_limit`` (None = unlimited, internal);
- a back-dated debit (value date before today) may not spend money that arrived after its value date: the
  account's balance by value date, on that date and every later one, must stay within the limit too
  (:func:`spendable`). Statements run by value date, so this is what keeps them free of impossible balances;
- customer-initiated payments to another customer count against the payer's daily limit;
- the client-supplied idempotency key posts once: same key + same body returns the original,
  same key + different body is a 409.

Accounts are locked in id order (``SELECT ... FOR UPDATE``), so concurrent transfers never
deadlock each other; the entry point retries the rare serialization failure. Services flush, the
entry point commits. On PostgreSQL a simple posting runs as the procedure ``sb_transfer`` in one round trip
(:mod:`smartbank.ledger.procedures`); ``tests/ledger/test_parity.py`` runs the same rule cases through both.
Private to the ledger: outsiders use :mod:`smartbank.ledger.service`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from smartbank import clock
from smartbank.config import get_settings
from smartbank.errors import (
    AccountNotOpen,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    NotFound,
    PendingAlreadyResolved,
    ValidationFailed,
)
from smartbank.ledger import annotations as notes
from smartbank.ledger import daily_limit
from smartbank.ledger.accounts import lowest_balance_from
from smartbank.ledger.annotations import Annotation
from smartbank.ledger.models import TRANSFER_KINDS, Account
from smartbank.money import CURRENCIES, MAX_MINOR


def utcnow() -> datetime:
    return clock.now()


@dataclass(frozen=True, slots=True)
class TransferCommand:
    key: str
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    kind: str = "transfer"
    memo: str = ""
    reference: str | None = None
    pending: bool = False
    initiated_by: int | None = None
    enforce_daily_limit: bool = False
    value_date: date | None = None
    meta: dict[str, Any] | None = None
    # held by the risk module for review: pending, but the same request as the customer's payment (a retry
    # of it replays the hold instead of conflicting with it)
    held_for_review: bool = False
    # rows other domains write with the transfer (a payment's risk decision, ...): written only when the
    # transfer is, on PostgreSQL by the same statement (see annotations.py). Not part of the request.
    annotations: tuple[Annotation, ...] = ()

    def request_hash(self) -> str:
        body = {
            "d": self.debit_account_id, "c": self.credit_account_id, "a": self.amount_minor,
            "cur": self.currency, "k": self.kind, "m": self.memo, "r": self.reference,
            "p": self.pending and not self.held_for_review, "meta": self.meta,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(slots=True)
class TransferResult:
    transfer: dict[str, Any]
    replayed: bool = False
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.transfer["id"])


# ----------------------------------------------------------------------------------------------
# the hot path

_LOCK_SQL = text(
    "SELECT id, customer_id, currency, status, overdraft_limit_minor, debits_posted, credits_posted,"
    " debits_pending, credits_pending FROM accounts WHERE id IN (:a, :b) ORDER BY id"
)
_LOCK_SQL_PG = text(
    "SELECT id, customer_id, currency, status, overdraft_limit_minor, debits_posted, credits_posted,"
    " debits_pending, credits_pending FROM accounts WHERE id IN (:a, :b) ORDER BY id FOR UPDATE"
)
_INSERT_TRANSFER = text(
    "INSERT INTO transfers (idempotency_key, request_hash, kind, flags, debit_account_id,"
    " credit_account_id, amount_minor, currency, pending_id, reverses_id, memo, reference, initiated_by,"
    " value_date, created_at, meta) VALUES (:key, :hash, :kind, :flags, :d, :c, :amt, :cur, :pid, :rid,"
    " :memo, :ref, :by, :vd, :at, :meta) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
)
_UPDATE_POSTED = text(
    "UPDATE accounts SET debits_posted = debits_posted + CASE WHEN id = :d THEN :amt ELSE 0 END,"
    " credits_posted = credits_posted + CASE WHEN id = :c THEN :amt ELSE 0 END,"
    " debits_pending = debits_pending - CASE WHEN id = :d THEN :rel ELSE 0 END,"
    " credits_pending = credits_pending - CASE WHEN id = :c THEN :rel ELSE 0 END"
    " WHERE id IN (:d, :c) RETURNING id, credits_posted - debits_posted"
)
_UPDATE_PENDING = text(
    "UPDATE accounts SET debits_pending = debits_pending + CASE WHEN id = :d THEN :amt ELSE 0 END,"
    " credits_pending = credits_pending + CASE WHEN id = :c THEN :amt ELSE 0 END WHERE id IN (:d, :c)"
)
_INSERT_ENTRIES = text(
    "INSERT INTO entries (transfer_id, account_id, amount_minor, currency, balance_after, value_date,"
    " created_at) VALUES (:t, :d, :neg, :cur, :bd, :vd, :at), (:t, :c, :amt, :cur, :bc, :vd, :at)"
)
_INSERT_UNSEALED = text("INSERT INTO ledger_unsealed (transfer_id) VALUES (:t)")
_KEY_USED = text("SELECT 1 FROM transfers WHERE idempotency_key = :key")
_TRANSFER_COLS = (
    "id, idempotency_key, request_hash, kind, flags, debit_account_id, credit_account_id, amount_minor,"
    " currency, pending_id, reverses_id, memo, reference, initiated_by, value_date, created_at, meta"
)
_GET_BY_KEY = text(f"SELECT {_TRANSFER_COLS} FROM transfers WHERE idempotency_key = :key")
_GET_BY_ID = text(f"SELECT {_TRANSFER_COLS} FROM transfers WHERE id = :id")


def validate_command(cmd: TransferCommand) -> None:
    """The command's own checks (amount, currency, key, kind, memo) - before anything is looked up."""
    _validate(cmd)


def _validate(cmd: TransferCommand) -> None:
    if not isinstance(cmd.amount_minor, int) or isinstance(cmd.amount_minor, bool):
        raise ValidationFailed("amount must be an integer number of minor units")
    if cmd.amount_minor <= 0:
        raise ValidationFailed("amount must be positive", details={"amount_minor": cmd.amount_minor})
    if cmd.amount_minor > MAX_MINOR:
        raise ValidationFailed("amount is too large", details={"amount_minor": cmd.amount_minor})
    if cmd.currency not in CURRENCIES:
        raise ValidationFailed(f"unknown currency {cmd.currency!r}", reason="money.unknown_currency",
                               details={"currency": cmd.currency})
    if cmd.debit_account_id == cmd.credit_account_id:
        raise ValidationFailed("debit and credit accounts must differ")
    if not cmd.key or len(cmd.key) > 160:
        raise ValidationFailed("an idempotency key of 1-160 characters is required")
    if cmd.kind not in TRANSFER_KINDS:
        raise ValidationFailed(f"unknown transfer kind {cmd.kind!r}", reason="ledger.unknown_transfer_kind",
                               details={"kind": cmd.kind})
    if len(cmd.memo) > 200:
        raise ValidationFailed("memo is longer than 200 characters")
    notes.check(cmd.annotations)


def _row_dict(row) -> dict[str, Any]:
    d = dict(row._mapping)
    if isinstance(d.get("meta"), str):
        d["meta"] = json.loads(d["meta"])
    return d


def _replay(session: Session, key: str, request_hash: str) -> TransferResult:
    row = session.execute(_GET_BY_KEY, {"key": key}).first()
    if row is None:  # pragma: no cover - the conflicting row always exists once ON CONFLICT fired
        raise IdempotencyConflict("idempotency key in use by a transaction in flight; retry")
    if row.request_hash != request_hash:
        raise IdempotencyConflict(
            "this idempotency key was already used for a different request",
            details={"transfer_id": row.id},
        )
    return TransferResult(transfer=_row_dict(row), replayed=True)


def _lock(session: Session, a: int, b: int) -> dict[int, Any]:
    pg = session.get_bind().dialect.name == "postgresql"
    rows = session.execute(_LOCK_SQL_PG if pg else _LOCK_SQL, {"a": a, "b": b}).all()
    return {r.id: r for r in rows}


def _account_rules(cmd: TransferCommand, debit: Any, credit: Any, *, resolving: bool = False,
                   allow_overdraft: bool = False) -> None:
    """The rules on the two accounts: currencies, status, the paying account's balance and overdraft."""
    for acct in (debit, credit):
        if acct.currency != cmd.currency:
            raise CurrencyMismatch(
                f"account is in {acct.currency}, transfer is in {cmd.currency}",
                details={"account_id": acct.id, "account_currency": acct.currency},
            )
    if credit.status == "closed":
        raise AccountNotOpen("the receiving account is closed", details={"account_id": credit.id})
    if debit.status != "open" and not resolving:
        raise AccountNotOpen(f"the paying account is {debit.status}", details={"account_id": debit.id})
    if not resolving and not allow_overdraft and debit.overdraft_limit_minor is not None:
        available = debit.credits_posted - debit.debits_posted - debit.debits_pending
        if available - cmd.amount_minor < -debit.overdraft_limit_minor:
            raise InsufficientFunds(
                "insufficient funds", details={"account_id": debit.id, "available_minor": available}
            )


def check_transfer(session: Session, cmd: TransferCommand) -> None:
    """Every rule :func:`transfer` would apply to ``cmd`` now - amount and currency, both accounts' status,
    the paying account's balance and overdraft, the customer's daily limit - without writing or locking
    anything: the error it raises is the one the transfer would be refused with. A key already used is not
    checked (the transfer replays it). The rules are checked again, under lock, when the transfer posts."""
    _validate(cmd)
    rows = {r.id: r for r in session.execute(_LOCK_SQL, {"a": cmd.debit_account_id, "b": cmd.credit_account_id})}
    debit, credit = rows.get(cmd.debit_account_id), rows.get(cmd.credit_account_id)
    if debit is None or credit is None:
        missing = cmd.debit_account_id if debit is None else cmd.credit_account_id
        raise NotFound("account not found", details={"account_id": missing})
    if session.execute(_KEY_USED, {"key": cmd.key}).first() is not None:
        return
    _account_rules(cmd, debit, credit)
    if daily_limit.applies(cmd.enforce_daily_limit, debit.customer_id, credit.customer_id):
        daily_limit.check(session, debit.customer_id, cmd.value_date or clock.today(), cmd.currency,
                          cmd.amount_minor)


def transfer(session: Session, cmd: TransferCommand, *, _pending_of: dict[str, Any] | None = None,
             _reverses: int | None = None, _allow_overdraft: bool = False) -> TransferResult:
    """Post (or hold, with ``cmd.pending``) one transfer. Flushes; the caller commits.

    Order of work (mirrored by the PostgreSQL procedure ``sb_transfer``): lock both accounts in
    id order; an already-used key replays or conflicts; the rules; the daily-limit counter; the
    transfer row; the balances and entries; the sealing queue. Nothing is written before every
    rule has passed.
    """
    _validate(cmd)
    if cmd.kind in ("post_pending", "void_pending") and _pending_of is None:
        raise ValidationFailed("a pending transfer is posted or voided with resolve_pending()",
                               details={"kind": cmd.kind})
    rhash = cmd.request_hash()
    now = utcnow()
    vd = cmd.value_date or clock.local_date(now)
    # a back-dated posting checks the debited account's balance by value date (see spendable()): not in the
    # PostgreSQL procedure, so it takes this path
    backdated = cmd.value_date is not None and cmd.value_date < clock.today()
    simple = _pending_of is None and _reverses is None and not _allow_overdraft and not backdated
    if simple and session.get_bind().dialect.name == "postgresql":
        return _transfer_pg(session, cmd, rhash, now, vd)
    return _transfer_py(session, cmd, rhash, now, vd, backdated=backdated, pending_of=_pending_of,
                        reverses=_reverses, allow_overdraft=_allow_overdraft)


def _transfer_py(session: Session, cmd: TransferCommand, rhash: str, now: datetime, vd: date, *,
                 backdated: bool = False, pending_of: dict[str, Any] | None = None, reverses: int | None = None,
                 allow_overdraft: bool = False) -> TransferResult:
    """The steps of :func:`transfer` as statements from Python (SQLite; postings the procedure does not take)."""
    accts = _lock(session, cmd.debit_account_id, cmd.credit_account_id)
    debit = accts.get(cmd.debit_account_id)
    credit = accts.get(cmd.credit_account_id)
    if debit is None or credit is None:
        missing = cmd.debit_account_id if debit is None else cmd.credit_account_id
        raise NotFound("account not found", details={"account_id": missing})
    if session.execute(_KEY_USED, {"key": cmd.key}).first() is not None:
        return _replay(session, cmd.key, rhash)

    # -- rules ----------------------------------------------------------------------------------
    resolving = pending_of is not None
    _account_rules(cmd, debit, credit, resolving=resolving, allow_overdraft=allow_overdraft)
    if backdated and not resolving and not allow_overdraft and debit.overdraft_limit_minor is not None:
        low = lowest_balance_from(session, debit.id, vd) - debit.debits_pending
        if low - cmd.amount_minor < -debit.overdraft_limit_minor:
            raise InsufficientFunds(
                "insufficient funds on the value date: the money arrived later",
                details={"account_id": debit.id, "available_minor": low, "value_date": vd.isoformat()})
    if daily_limit.applies(cmd.enforce_daily_limit, debit.customer_id, credit.customer_id):
        daily_limit.consume(session, debit.customer_id, vd, cmd.currency, cmd.amount_minor)

    flags = "pending" if cmd.pending else "posted" if not resolving else cmd.kind
    new_id = session.execute(_INSERT_TRANSFER, {
        "key": cmd.key, "hash": rhash, "kind": cmd.kind, "flags": flags, "d": cmd.debit_account_id,
        "c": cmd.credit_account_id, "amt": cmd.amount_minor, "cur": cmd.currency,
        "pid": pending_of["id"] if pending_of else None, "rid": reverses, "memo": cmd.memo,
        "ref": cmd.reference, "by": cmd.initiated_by, "vd": vd, "at": now,
        "meta": json.dumps(cmd.meta) if cmd.meta is not None else None,
    }).scalar()
    if new_id is None:  # pragma: no cover - only when the same key races in on other accounts
        raise IdempotencyConflict("this idempotency key is in use by a request in flight; retry")
    if cmd.kind == "void_pending":
        session.execute(_UPDATE_PENDING, {"d": cmd.debit_account_id, "c": cmd.credit_account_id,
                                          "amt": -cmd.amount_minor})
    elif cmd.pending:
        session.execute(_UPDATE_PENDING, {"d": cmd.debit_account_id, "c": cmd.credit_account_id,
                                          "amt": cmd.amount_minor})
    else:
        release = pending_of["amount_minor"] if pending_of is not None else 0
        moved = session.execute(_UPDATE_POSTED, {"d": cmd.debit_account_id, "c": cmd.credit_account_id,
                                                 "amt": cmd.amount_minor, "rel": release}).all()
        bal: dict[int, int] = {int(r[0]): int(r[1]) for r in moved}
        session.execute(_INSERT_ENTRIES, {
            "t": new_id, "d": cmd.debit_account_id, "c": cmd.credit_account_id, "neg": -cmd.amount_minor,
            "amt": cmd.amount_minor, "cur": cmd.currency, "bd": bal[cmd.debit_account_id],
            "bc": bal[cmd.credit_account_id], "vd": vd, "at": now,
        })
    session.execute(_INSERT_UNSEALED, {"t": new_id})
    notes.write(session, cmd.annotations, transfer_id=new_id, at=now)
    _expire_accounts(session, (cmd.debit_account_id, cmd.credit_account_id))
    return _result(session, new_id)


_PG_CALL = (
    "SELECT status, info, tid FROM sb_transfer(%(key)s, %(hash)s, %(kind)s, %(d)s, %(c)s, %(amt)s, %(cur)s,"
    " %(memo)s, %(ref)s, %(by)s, %(vd)s, %(at)s, %(meta)s, %(pending)s, %(lim)s, %(deflim)s)"
)


def _call_pg(session: Session, params: dict[str, Any], stmt: str = _PG_CALL) -> Any:
    """One call of the procedure (``stmt``: the call, or the call writing annotations too) on the session's own
    connection (and transaction), straight through the driver as a prepared statement; driver errors surface
    as SQLAlchemy's, so the units of work retry serialization failures and deadlocks as for any other
    statement."""
    raw: Any = session.connection().connection.driver_connection
    try:
        row = raw.execute(stmt, params, prepare=True).fetchone()
    except psycopg.Error as exc:
        raise DBAPIError.instance(stmt, params, exc, psycopg.Error) from exc
    return row


def _transfer_pg(session: Session, cmd: TransferCommand, rhash: str, now: datetime, vd: date) -> TransferResult:
    """PostgreSQL: the same steps in one round trip, as the stored procedure ``sb_transfer``."""
    params = {
        "key": cmd.key, "hash": rhash, "kind": cmd.kind, "d": cmd.debit_account_id, "c": cmd.credit_account_id,
        "amt": cmd.amount_minor, "cur": cmd.currency, "memo": cmd.memo, "ref": cmd.reference,
        "by": cmd.initiated_by, "vd": vd, "at": now,
        "meta": json.dumps(cmd.meta) if cmd.meta is not None else None, "pending": cmd.pending,
        "lim": cmd.enforce_daily_limit, "deflim": get_settings().default_daily_limit_minor,
    }
    if cmd.annotations:
        params.update(notes.pg_params(cmd.annotations, json.dumps))
        status, info, tid = _call_pg(session, params, notes.pg_statement(_PG_CALL, cmd.annotations))
    else:
        status, info, tid = _call_pg(session, params)
    if status == "ok":
        if session.identity_map:
            _expire_accounts(session, (cmd.debit_account_id, cmd.credit_account_id))
        return TransferResult(transfer={
            "id": tid, "idempotency_key": cmd.key, "request_hash": rhash, "kind": cmd.kind,
            "flags": "pending" if cmd.pending else "posted", "debit_account_id": cmd.debit_account_id,
            "credit_account_id": cmd.credit_account_id, "amount_minor": cmd.amount_minor,
            "currency": cmd.currency, "pending_id": None, "reverses_id": None, "memo": cmd.memo,
            "reference": cmd.reference, "initiated_by": cmd.initiated_by, "value_date": vd, "created_at": now,
            "meta": cmd.meta,
        })
    if status in ("replay", "conflict"):
        return _replay(session, cmd.key, rhash)
    if status == "not_found":
        raise NotFound("account not found", details={"account_id": info})
    if status == "currency":
        cur = session.execute(text("SELECT currency FROM accounts WHERE id = :i"), {"i": info}).scalar()
        raise CurrencyMismatch(f"account is in {cur}, transfer is in {cmd.currency}",
                               details={"account_id": info, "account_currency": cur})
    if status == "credit_closed":
        raise AccountNotOpen("the receiving account is closed", details={"account_id": info})
    if status in ("debit_frozen", "debit_closed"):
        raise AccountNotOpen(f"the paying account is {status[6:]}", details={"account_id": info})
    if status == "funds":
        raise InsufficientFunds("insufficient funds",
                                details={"account_id": cmd.debit_account_id, "available_minor": info})
    if status == "limit":
        cid = int(session.execute(text("SELECT customer_id FROM accounts WHERE id = :i"),
                                  {"i": cmd.debit_account_id}).scalar_one())
        raise daily_limit.limit_error(session, cid, vd, cmd.currency, int(info))  # info: the limit in force
    raise RuntimeError(f"unexpected ledger status {status!r}")  # pragma: no cover


def _expire_accounts(session: Session, ids: Sequence[int]) -> None:
    """Raw SQL moved these balances: drop any stale ORM copies held by this session."""
    for i in ids:
        obj = session.identity_map.get(identity_key(Account, i))
        if obj is not None:
            session.expire(obj)


def _result(session: Session, transfer_id: int) -> TransferResult:
    row = session.execute(_GET_BY_ID, {"id": transfer_id}).one()
    return TransferResult(transfer=_row_dict(row))


def find_transfer_by_key(session: Session, key: str) -> dict[str, Any] | None:
    row = session.execute(_GET_BY_KEY, {"key": key}).first()
    return _row_dict(row) if row is not None else None


def get_transfer(session: Session, transfer_id: int) -> dict[str, Any]:
    row = session.execute(_GET_BY_ID, {"id": transfer_id}).first()
    if row is None:
        raise NotFound("transfer not found", details={"transfer_id": transfer_id})
    return _row_dict(row)


def resolve_pending(session: Session, *, pending_id: int, post: bool, key: str,
                    initiated_by: int | None = None, memo: str = "") -> TransferResult:
    """Post or void a pending transfer, exactly once (the resolving row is unique per pending id)."""
    pend = get_transfer(session, pending_id)
    if pend["flags"] != "pending":
        raise ValidationFailed("not a pending transfer", details={"transfer_id": pending_id})
    kind = "post_pending" if post else "void_pending"
    cmd = TransferCommand(
        key=key, debit_account_id=pend["debit_account_id"], credit_account_id=pend["credit_account_id"],
        amount_minor=pend["amount_minor"], currency=pend["currency"], kind=kind, memo=memo or pend["memo"],
        reference=str(pending_id), initiated_by=initiated_by,
    )
    # lock both accounts first: the check below is then serialised with any other resolver
    _lock(session, cmd.debit_account_id, cmd.credit_account_id)
    existing = session.execute(_GET_BY_KEY, {"key": key}).first()
    if existing is not None:
        return _replay(session, key, cmd.request_hash())
    done = session.execute(text("SELECT id, flags FROM transfers WHERE pending_id = :p"), {"p": pending_id}).first()
    if done is not None:
        raise PendingAlreadyResolved(
            f"pending transfer already {'posted' if done.flags == 'post_pending' else 'voided'}",
            details={"transfer_id": pending_id, "resolved_by": done.id},
        )
    return transfer(session, cmd, _pending_of=pend)


def reverse(session: Session, *, transfer_id: int, key: str, initiated_by: int | None = None,
            memo: str = "", allow_overdraft: bool = False) -> TransferResult:
    """Correct a posted transfer with a reversing transfer (never an edit). Once per transfer."""
    orig = get_transfer(session, transfer_id)
    if orig["flags"] not in ("posted", "post_pending"):
        raise ValidationFailed("only posted transfers can be reversed", details={"transfer_id": transfer_id})
    if orig["kind"] == "reversal":
        raise ValidationFailed("a reversal cannot itself be reversed; post a new transfer")
    # lock both accounts first (as resolve_pending does): the check below is then serialised with any
    # concurrent reversal of the same transfer, which would otherwise hit the unique reverses_id
    _lock(session, orig["debit_account_id"], orig["credit_account_id"])
    existing = session.execute(text("SELECT id FROM transfers WHERE reverses_id = :r"), {"r": transfer_id}).first()
    if existing is not None:
        prior = session.execute(_GET_BY_KEY, {"key": key}).first()
        if prior is not None and prior.id == existing.id:
            return TransferResult(transfer=_row_dict(prior), replayed=True)
        raise PendingAlreadyResolved("transfer already reversed", details={"reversal_id": existing.id})
    cmd = TransferCommand(
        key=key, debit_account_id=orig["credit_account_id"], credit_account_id=orig["debit_account_id"],
        amount_minor=orig["amount_minor"], currency=orig["currency"], kind="reversal",
        memo=memo or f"reversal of #{transfer_id}", reference=str(transfer_id), initiated_by=initiated_by,
    )
    return transfer(session, cmd, _reverses=transfer_id, _allow_overdraft=allow_overdraft)

"""The transfer rules run twice on PostgreSQL - through the Python steps and through the procedure
``sb_transfer`` - and must come out the same.

Each case is a list of steps (transfers, holds and their resolution, status changes) played on two worlds
built alike: one whose transfers take the Python path, one whose transfers take the procedure path. After
every step the outcome (posted / replayed with the transfer, or the error's code and details) is compared,
and after the case the state both left: balances and pending totals, transfer rows, entries, the daily-limit
use, the annotations written with the transfers and the sealing queue. Account and transfer ids are compared
by their role in the case (``a``, ``b``, ``T1``...), since the two worlds have their own.

Steps the procedure does not take (a back-dated value date, resolving a hold) go to the Python steps on
PostgreSQL whatever the world: those cases check that :func:`transfer` routes them there, with the same result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from smartbank import clock, db
from smartbank.errors import SmartbankError
from smartbank.ledger import service as ledger
from smartbank.ledger import transfers
from smartbank.risk import service as risk  # registers the annotation kind risk_decision

PATHS = ("python", "procedure")


@dataclass
class World:
    path: str
    accounts: dict[str, int] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    transfers: dict[int, str] = field(default_factory=dict)  # transfer id -> T1, T2...

    def role(self, account_id: int) -> str:
        return next((r for r, i in self.accounts.items() if i == account_id), f"#{account_id}")

    def tname(self, transfer_id: int) -> str:
        if transfer_id not in self.transfers:
            self.transfers[transfer_id] = f"T{len(self.transfers) + 1}"
        return self.transfers[transfer_id]


def _run(world: World, session, cmd: ledger.TransferCommand) -> ledger.TransferResult:
    """``ledger.transfer`` with the world's path forced for the postings the procedure takes."""
    transfers._validate(cmd)
    rhash, now = cmd.request_hash(), transfers.utcnow()
    vd = cmd.value_date or clock.local_date(now)
    simple = not (cmd.value_date is not None and cmd.value_date < clock.today())
    if world.path == "procedure" or not simple:
        assert session.get_bind().dialect.name == "postgresql"
        return transfers.transfer(session, cmd)  # the procedure, or the Python steps for what it does not take
    return transfers._transfer_py(session, cmd, rhash, now, vd)


# ---- steps -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pay:
    debit: str
    credit: str
    amount: int
    key: str
    currency: str = "CNY"
    kind: str = "transfer"
    limit: bool = False
    pending: bool = False
    memo: str = ""
    meta: dict[str, Any] | None = None
    days_back: int | None = None  # value date this many days before today (negative: after)
    note: bool = False  # annotate with a risk decision


@dataclass(frozen=True)
class Resolve:
    hold_key: str
    post: bool
    key: str


@dataclass(frozen=True)
class Status:
    account: str
    status: str


def _account_id(world: World, role: str) -> int:
    return world.accounts.get(role, 9_000_000_000 + len(role))  # an unknown role: an account that does not exist


def _command(world: World, step: Pay) -> ledger.TransferCommand:
    d, c = _account_id(world, step.debit), _account_id(world, step.credit)
    notes: tuple[ledger.Annotation, ...] = ()
    if step.note:
        notes = (ledger.Annotation(risk.DECISION_ANNOTATION, {
            "customer_id": world.customers.get("alice"), "account_id": d, "counterparty_account_id": c,
            "channel": "api", "kind": "transfer", "product": "demand", "amount_minor": step.amount,
            "currency": step.currency, "idempotency_key": f"{world.path}:{step.key}", "decision": "allow",
            "score": 0.125, "model_version": "rules-only", "rules_version": "v1",
            "rule_hits": [{"code": "r1", "version": 1, "action": "flag", "shadow": False}], "reasons": None,
            "features": {"amount": step.amount}, "latency_us": 42, "challenge_id": None, "outcome": None}),)
    return ledger.TransferCommand(
        key=f"{world.path}:{step.key}", debit_account_id=d, credit_account_id=c, amount_minor=step.amount,
        currency=step.currency, kind=step.kind, memo=step.memo, enforce_daily_limit=step.limit,
        pending=step.pending, meta=step.meta, annotations=notes,
        value_date=None if step.days_back is None else clock.today() - timedelta(days=step.days_back))


def _outcome(world: World, fn) -> tuple:
    """Run one step in its own unit of work that commits even after a refusal (so a refusal that wrote
    anything would show in the state), and describe what happened in role terms."""
    with db.session_scope(db.get_engine()) as s:
        try:
            res = fn(s)
        except SmartbankError as exc:
            return ("refused", exc.code, exc.status_code, _norm(world, exc.details))
    return ("replayed" if res.replayed else "done", _transfer_view(world, res.transfer))


def _norm(world: World, details: dict[str, Any]) -> dict[str, Any]:
    out = dict(details)
    if "account_id" in out:
        out["account_id"] = world.role(out["account_id"])
    for k in ("transfer_id", "resolved_by", "reversal_id"):
        if out.get(k) is not None:
            out[k] = world.tname(out[k])
    return out


def _transfer_view(world: World, t: dict[str, Any]) -> dict[str, Any]:
    meta = t.get("meta")
    if isinstance(meta, str):
        meta = json.loads(meta)
    return {
        "id": world.tname(t["id"]), "key": str(t["idempotency_key"]).split(":", 1)[1],
        "kind": t["kind"], "flags": t["flags"],  # (the request hash covers the account ids: not comparable)
        "debit": world.role(t["debit_account_id"]), "credit": world.role(t["credit_account_id"]),
        "amount": int(t["amount_minor"]), "currency": t["currency"], "memo": t["memo"],
        "reference": world.tname(int(ref)) if (ref := t["reference"]) and ref.isdigit() else ref,  # a resolved hold
        "pending_id": world.tname(t["pending_id"]) if t.get("pending_id") else None,
        "value_date": t["value_date"] if isinstance(t["value_date"], date) else date.fromisoformat(t["value_date"]),
        "meta": meta,
    }


def _play(world: World, step) -> tuple:
    if isinstance(step, Pay):
        cmd = _command(world, step)
        return _outcome(world, lambda s: _run(world, s, cmd))
    if isinstance(step, Resolve):
        with db.session_scope(db.get_engine()) as s:
            hold = ledger.find_transfer_by_key(s, f"{world.path}:{step.hold_key}")
        assert hold is not None
        return _outcome(world, lambda s: ledger.resolve_pending(
            s, pending_id=hold["id"], post=step.post, key=f"{world.path}:{step.key}"))
    with db.session_scope(db.get_engine()) as s:
        ledger.set_account_status(s, ledger.get_account(s, world.accounts[step.account]), step.status)
    return ("status", step.account, step.status)


def _state(world: World) -> dict[str, Any]:
    ids = {i: r for r, i in world.accounts.items()}
    with db.get_engine().connect() as c:
        accounts = {ids[r.id]: tuple(r[1:]) for r in c.execute(text(
            "SELECT id, debits_posted, credits_posted, debits_pending, credits_pending FROM accounts"
            " WHERE id = ANY(:ids)"), {"ids": list(ids)})}
        rows = c.execute(text(
            "SELECT id, idempotency_key, request_hash, kind, flags, debit_account_id, credit_account_id, amount_minor,"
            " currency, pending_id, reverses_id, memo, reference, initiated_by, value_date, created_at, meta"
            " FROM transfers WHERE idempotency_key LIKE :k ORDER BY id"), {"k": f"{world.path}:%"}).mappings().all()
        tids = [r["id"] for r in rows]
        entries = [(world.tname(r.transfer_id), world.role(r.account_id), int(r.amount_minor), r.currency,
                    int(r.balance_after), r.value_date) for r in c.execute(text(
                        "SELECT transfer_id, account_id, amount_minor, currency, balance_after, value_date"
                        " FROM entries WHERE transfer_id = ANY(:t) ORDER BY transfer_id, amount_minor"),
                        {"t": tids})]
        usage = [(next(k for k, v in world.customers.items() if v == r.customer_id), r.day, r.currency,
                  int(r.amount_minor)) for r in c.execute(text(
                      "SELECT customer_id, day, currency, amount_minor FROM customer_daily_usage"
                      " WHERE customer_id = ANY(:c) ORDER BY customer_id, day, currency"),
                      {"c": list(world.customers.values())})]
        notes = [(world.tname(r.transfer_id), world.role(r.account_id), world.role(r.counterparty_account_id),
                  r.decision, r.score, r.rule_hits, r.reasons, r.features, r.latency_us, r.created_at == r.t_at)
                 for r in c.execute(text(
                     "SELECT d.*, t.created_at AS t_at FROM risk_decisions d JOIN transfers t ON t.id = d.transfer_id"
                     " WHERE d.transfer_id = ANY(:t) ORDER BY d.transfer_id"), {"t": tids})]
        unsealed = [world.tname(r[0]) for r in c.execute(text(
            "SELECT transfer_id FROM ledger_unsealed WHERE transfer_id = ANY(:t) ORDER BY 1"), {"t": tids})]
    return {"accounts": accounts, "transfers": [_transfer_view(world, dict(r)) for r in rows],
            "entries": entries, "usage": usage, "annotations": notes, "unsealed": unsealed}


def _world(bank, path: str, *, alice_limit: int | None = 50_000) -> World:
    w = World(path)
    w.customers["alice"] = bank.customer("王芳", daily_limit_minor=alice_limit)
    w.customers["bob"] = bank.customer("李娜")
    w.accounts["a"] = bank.account(w.customers["alice"], balance=100_000)
    w.accounts["a2"] = bank.account(w.customers["alice"], kind="savings")  # alice's own second account
    w.accounts["od"] = bank.account(w.customers["alice"], balance=1_000, overdraft=5_000)
    w.accounts["b"] = bank.account(w.customers["bob"], balance=500)
    w.accounts["empty"] = bank.account(w.customers["bob"])
    w.accounts["usd"] = bank.account(w.customers["bob"], currency="USD", balance=10_000)
    with db.session_scope(db.get_engine()) as s:  # an internal account of the world's own (its balances differ)
        w.accounts["bank"] = ledger.open_account(s, customer_id=None, kind="internal", purpose="suspense",
                                                 overdraft_limit_minor=None).id
    return w


CASES: dict[str, list] = {
    "plain payment, then the rest of the balance and one fen more": [
        Pay("a", "b", 60_000, "k1", memo="rent", meta={"ref": "x"}),
        Pay("a", "b", 40_000, "k2"),
        Pay("a", "b", 1, "k3"),
    ],
    "insufficient funds": [Pay("b", "a", 501, "k1"), Pay("empty", "a", 1, "k2")],
    "overdraft limit honoured exactly": [
        Pay("od", "b", 6_000, "k1"), Pay("od", "b", 1, "k2"), Pay("b", "od", 1, "k3"), Pay("od", "b", 1, "k4"),
    ],
    "the bank's internal account has no limit": [Pay("bank", "empty", 10**12, "k1", kind="deposit")],
    "frozen: no debits, credits still arrive": [
        Status("b", "frozen"), Pay("b", "a", 100, "k1"), Pay("a", "b", 100, "k2"), Status("b", "open"),
        Pay("b", "a", 100, "k3"),
    ],
    "closed: nothing in or out": [
        Status("empty", "closed"), Pay("a", "empty", 100, "k1"), Pay("empty", "a", 100, "k2"),
    ],
    "currency mismatch, either side and the transfer's own": [
        Pay("a", "usd", 100, "k1"), Pay("usd", "a", 100, "k2"), Pay("a", "b", 100, "k3", currency="USD"),
    ],
    "unknown accounts": [Pay("a", "nobody", 100, "k1"), Pay("nobody", "a", 100, "k2")],
    "idempotency: same request replays, a different one conflicts": [
        Pay("a", "b", 1_000, "k1", memo="once"), Pay("a", "b", 1_000, "k1", memo="once"),
        Pay("a", "b", 1_001, "k1", memo="once"), Pay("a", "b", 1_000, "k1", memo="twice"),
        Pay("b", "a", 1_000, "k1", memo="once"),
    ],
    "a refused key stays free": [Pay("b", "a", 10_000, "k1"), Pay("b", "a", 100, "k1")],
    "daily limit: exact boundary, own accounts exempt, a refusal uses nothing, a replay counts once": [
        Pay("a", "b", 30_000, "k1", limit=True), Pay("a", "a2", 40_000, "k2", limit=True),
        Pay("a", "b", 20_001, "k3", limit=True), Pay("a", "b", 20_000, "k4", limit=True),
        Pay("a", "b", 20_000, "k4", limit=True), Pay("a", "b", 1, "k5", limit=True),
        Pay("a", "b", 1, "k6"),
    ],
    "daily limit: one payment above it": [Pay("a", "b", 50_001, "k1", limit=True)],
    "daily limit: funds are checked first": [Pay("b", "a", 60_000, "k1", limit=True)],
    "a payment valued later counts on its own day": [
        Pay("a", "b", 50_000, "k1", limit=True, days_back=-1), Pay("a", "b", 1, "k2", limit=True),
    ],
    "back-dated: money that arrived later cannot be spent": [
        Pay("bank", "empty", 1_000, "k1", kind="deposit"),
        Pay("empty", "a", 500, "k2", days_back=3), Pay("empty", "a", 500, "k3"),
    ],
    "pending holds count against available, post and void once": [
        Pay("b", "a", 400, "h1", pending=True), Pay("b", "a", 101, "k1"), Pay("b", "a", 100, "k2"),
        Resolve("h1", post=True, key="r1"), Resolve("h1", post=False, key="r2"), Resolve("h1", post=True, key="r1"),
        Pay("a", "b", 300, "h2", pending=True), Resolve("h2", post=False, key="r3"),
        Pay("a", "b", 300, "h2", pending=True),
    ],
    "a hold beyond the available balance is refused": [Pay("b", "a", 501, "h1", pending=True)],
    "annotations are written with the transfer only": [
        Pay("a", "b", 1_000, "k1", note=True), Pay("a", "b", 1_000, "k1", note=True),
        Pay("b", "a", 10_000, "k2", note=True), Pay("a", "b", 999, "h1", pending=True, note=True),
        Pay("a", "b", 60_000, "k3", limit=True, note=True),
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_python_and_procedure_agree(backend, bank, database_url, case):
    if backend != "postgresql":
        pytest.skip("the procedure runs on PostgreSQL only")
    worlds = [_world(bank, path) for path in PATHS]
    for n, step in enumerate(CASES[case]):
        outcomes = [_play(w, step) for w in worlds]
        assert outcomes[0] == outcomes[1], f"step {n + 1} {step}"
    py, pg = (_state(w) for w in worlds)
    for part in py:
        assert py[part] == pg[part], part
    bank.assert_invariants()


def test_the_cases_cover_every_refusal(backend, database_url):
    """Each way the procedure can refuse a transfer has a case above (the list follows ``_transfer_pg``)."""
    if backend != "postgresql":
        pytest.skip("the procedure runs on PostgreSQL only")
    assert transfers._PG_CALL.startswith("SELECT status, info, tid FROM sb_transfer(")
    names = " ".join(CASES)
    for what in ("insufficient funds", "overdraft", "frozen", "closed", "currency mismatch", "unknown accounts",
                 "idempotency", "daily limit", "back-dated", "pending", "annotations"):
        assert what in names, what


def test_the_procedure_path_is_one_statement_with_its_annotations(backend, bank, database_url):
    """An annotated payment on PostgreSQL still sends one statement: the call and the annotation together."""
    if backend != "postgresql":
        pytest.skip("the procedure runs on PostgreSQL only")
    from sqlalchemy import event

    w = _world(bank, "procedure")
    cmd = _command(w, Pay("a", "b", 1_000, "one", note=True))
    engine = db.get_engine()
    with db.session_scope(engine) as s:
        raw = s.connection().connection.driver_connection
        sent: list[str] = []
        real = raw.execute

        def spy(query, *a, **kw):
            sent.append(str(query))
            return real(query, *a, **kw)

        raw.execute = spy
        seen: list[str] = []

        def listener(conn, cursor, statement, *rest):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", listener)
        try:
            res = ledger.transfer(s, cmd)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
            raw.execute = real
    assert not res.replayed and len(sent) == 1 and "sb_transfer(" in sent[0] and "risk_decisions" in sent[0]
    assert seen == []  # nothing through SQLAlchemy besides


def test_replace_keeps_annotations_out_of_the_request():
    """Annotations are not part of the request: a retry with or without them replays the same transfer."""
    base = ledger.TransferCommand(key="k", debit_account_id=1, credit_account_id=2, amount_minor=5, currency="CNY")
    noted = replace(base, annotations=(ledger.Annotation(risk.DECISION_ANNOTATION, {"decision": "allow"}),))
    assert base.request_hash() == noted.request_hash()

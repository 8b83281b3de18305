"""Property-based tests of the ledger: random sequences of transfers, holds, resolutions, reversals,
replays and freezes, checked step by step against a small in-test model and, at the end, against
the ledger's own invariants. Each example opens a fresh set of accounts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from smartbank import db
from smartbank.errors import (
    AccountNotOpen,
    IdempotencyConflict,
    InsufficientFunds,
    PendingAlreadyResolved,
    SmartbankError,
    ValidationFailed,
)
from smartbank.ledger import journal
from smartbank.ledger import service as ledger

N_CUSTOMER_ACCOUNTS = 4
_examples = itertools.count()

amounts = st.one_of(st.integers(1, 3_000), st.integers(1, 120_000))
acct_idx = st.integers(0, N_CUSTOMER_ACCOUNTS)  # 0 is the bank's internal source, unlimited
ops = st.one_of(
    st.tuples(st.just("xfer"), acct_idx, acct_idx, amounts, st.booleans()),
    # right at the limit: available + overdraft, plus or minus one
    st.tuples(st.just("edge"), st.integers(1, N_CUSTOMER_ACCOUNTS), acct_idx, st.integers(-1, 1), st.booleans()),
    st.tuples(st.just("replay"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("resolve"), st.integers(0, 50), st.booleans(), st.sampled_from(["new", "reuse", "steal"])),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.sampled_from(["new", "reuse", "steal"])),
    st.tuples(st.just("status"), st.integers(1, N_CUSTOMER_ACCOUNTS), st.sampled_from(["frozen", "open"])),
)
setups = st.tuples(
    st.lists(st.integers(0, 60_000), min_size=N_CUSTOMER_ACCOUNTS, max_size=N_CUSTOMER_ACCOUNTS),
    st.lists(st.sampled_from([0, 0, 1_000, 25_000]), min_size=N_CUSTOMER_ACCOUNTS, max_size=N_CUSTOMER_ACCOUNTS),
)


@dataclass
class T:
    """The model's view of one transfer row."""

    id: int
    key: str
    body: tuple
    flags: str  # posted | pending | post_pending | void_pending
    kind: str
    d: int
    c: int
    amount: int
    resolved_by: int | None = None  # pending: the post/void transfer id
    reversed_by: int | None = None


@dataclass
class Model:
    ids: list[int]
    bal: dict[int, int]
    od: dict[int, int | None]
    dp: dict[int, int] = field(default_factory=dict)
    cp: dict[int, int] = field(default_factory=dict)
    status: dict[int, str] = field(default_factory=dict)
    by_key: dict[str, T] = field(default_factory=dict)
    by_id: dict[int, T] = field(default_factory=dict)

    def available(self, a: int) -> int:
        return self.bal[a] - self.dp[a]

    def add(self, t: T) -> None:
        assert t.key not in self.by_key and t.id not in self.by_id
        self.by_key[t.key] = t
        self.by_id[t.id] = t

    def expect_new(self, d: int, c: int, amount: int, *, check_status=True, check_funds=True):
        if check_status and self.status[d] != "open":
            return AccountNotOpen
        if check_funds and self.od[d] is not None and self.available(d) - amount < -self.od[d]:
            return InsufficientFunds
        return "ok"

    def post(self, d: int, c: int, amount: int) -> None:
        self.bal[d] -= amount
        self.bal[c] += amount

    def hold(self, d: int, c: int, amount: int) -> None:
        self.dp[d] += amount
        self.cp[c] += amount


def body_of(cmd: ledger.TransferCommand) -> tuple:
    return (cmd.debit_account_id, cmd.credit_account_id, cmd.amount_minor, cmd.currency, cmd.kind, cmd.memo,
            cmd.reference, cmd.pending)


def run(engine, fn):
    """Run one operation in its own transaction; return ('ok', result) or ('err', exception)."""
    try:
        return "ok", db.run_in_transaction(fn, engine=engine)
    except SmartbankError as exc:
        return "err", exc


def check(outcome, expected, *, replay_of: T | None = None, op: str = ""):
    tag, val = outcome
    event(f"{op}: {expected if isinstance(expected, str) else expected.__name__}")
    if expected == "ok":
        assert tag == "ok", f"expected success, got {val!r}"
        assert not val.replayed
        return val
    if expected == "replay":
        assert tag == "ok", f"expected a replay, got {val!r}"
        assert val.replayed and val.id == replay_of.id
        return val
    assert tag == "err", f"expected {expected.__name__}, got success {val.transfer if tag == 'ok' else val}"
    assert type(val) is expected, f"expected {expected.__name__}, got {type(val).__name__}: {val.message}"
    return None


def setup_accounts(bank, balances, overdrafts) -> Model:
    engine = bank.engine
    c1, c2 = bank.customer(), bank.customer()

    def work(s):
        src = ledger.open_account(s, customer_id=None, kind="internal", purpose="suspense",
                                  overdraft_limit_minor=None)
        accts = [ledger.open_account(s, customer_id=(c1, c1, c2, c2)[i], kind="demand",
                                     overdraft_limit_minor=overdrafts[i]) for i in range(N_CUSTOMER_ACCOUNTS)]
        return [src.id] + [a.id for a in accts]

    ids = db.run_in_transaction(work, engine=engine)
    m = Model(ids=ids, bal=dict.fromkeys(ids, 0), od={ids[0]: None, **dict(zip(ids[1:], overdrafts, strict=True))})
    m.dp = dict.fromkeys(ids, 0)
    m.cp = dict.fromkeys(ids, 0)
    m.status = dict.fromkeys(ids, "open")
    return m


def db_state(engine, ids):
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT a.id, a.credits_posted - a.debits_posted, a.debits_pending, a.credits_pending,"
            " (SELECT COALESCE(sum(e.amount_minor), 0) FROM entries e WHERE e.account_id = a.id)"
            " FROM accounts a WHERE a.id IN (" + ",".join(map(str, ids)) + ")")).all()
    return {r[0]: tuple(int(x) for x in r[1:]) for r in rows}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(setup=setups, steps=st.lists(ops, min_size=8, max_size=30))
def test_random_operations_match_the_model(bank, setup, steps):
    engine = bank.engine
    ex = next(_examples)
    keys = (f"p{ex}-{i}" for i in itertools.count())
    m = setup_accounts(bank, *setup)
    ids = m.ids
    attempted: list[ledger.TransferCommand] = []

    def new_transfer(cmd: ledger.TransferCommand):
        attempted.append(cmd)
        if cmd.key in m.by_key:
            old = m.by_key[cmd.key]
            expected = "replay" if old.body == body_of(cmd) else IdempotencyConflict
            return check(run(engine, lambda s: ledger.transfer(s, cmd)), expected, op="transfer", replay_of=old)
        expected = m.expect_new(cmd.debit_account_id, cmd.credit_account_id, cmd.amount_minor)
        res = check(run(engine, lambda s: ledger.transfer(s, cmd)), expected, op="transfer")
        if res is not None:
            m.add(T(res.id, cmd.key, body_of(cmd), "pending" if cmd.pending else "posted", cmd.kind,
                    cmd.debit_account_id, cmd.credit_account_id, cmd.amount_minor))
            (m.hold if cmd.pending else m.post)(cmd.debit_account_id, cmd.credit_account_id, cmd.amount_minor)
        return res

    # fund the customer accounts from the bank's source account
    for i, amount in enumerate(setup[0], start=1):
        if amount:
            new_transfer(ledger.TransferCommand(key=next(keys), debit_account_id=ids[0], credit_account_id=ids[i],
                                                amount_minor=amount, currency="CNY", kind="deposit"))

    for step in steps:
        op = step[0]
        if op == "xfer":
            _, di, ci, amount, pending = step
            if di == ci:
                continue
            new_transfer(ledger.TransferCommand(key=next(keys), debit_account_id=ids[di], credit_account_id=ids[ci],
                                                amount_minor=amount, currency="CNY", pending=pending))
        elif op == "edge":
            _, di, ci, delta, pending = step
            d = ids[di]
            amount = m.available(d) + m.od[d] + delta
            if di == ci or amount <= 0:
                continue
            new_transfer(ledger.TransferCommand(key=next(keys), debit_account_id=d, credit_account_id=ids[ci],
                                                amount_minor=amount, currency="CNY", pending=pending))
        elif op == "replay":
            _, i, same = step
            if not attempted:
                continue
            old = attempted[i % len(attempted)]
            cmd = old if same else ledger.TransferCommand(
                key=old.key, debit_account_id=old.debit_account_id, credit_account_id=old.credit_account_id,
                amount_minor=old.amount_minor + 1, currency="CNY", pending=old.pending, kind=old.kind)
            new_transfer(cmd)
        elif op == "resolve":
            _, i, do_post, key_mode = step
            pendings = [t for t in m.by_id.values() if t.flags == "pending"]
            if not pendings:
                continue
            p = pendings[i % len(pendings)]
            key = _pick_key(m, keys, key_mode, [t for t in m.by_id.values() if t.flags.endswith("_pending")
                                                and t.body[6] == str(p.id)])
            kind = "post_pending" if do_post else "void_pending"
            body = (p.d, p.c, p.amount, "CNY", kind, "", str(p.id), False)
            outcome = run(engine, lambda s, p=p, key=key, do_post=do_post: ledger.resolve_pending(
                s, pending_id=p.id, post=do_post, key=key))
            if key in m.by_key:
                old = m.by_key[key]
                check(outcome, "replay" if old.body == body else IdempotencyConflict, replay_of=old, op="resolve")
            elif p.resolved_by is not None:
                check(outcome, PendingAlreadyResolved, op="resolve")
            else:
                res = check(outcome, "ok", op="resolve")
                t = T(res.id, key, body, kind, kind, p.d, p.c, p.amount)
                m.add(t)
                p.resolved_by = res.id
                m.dp[p.d] -= p.amount
                m.cp[p.c] -= p.amount
                if do_post:
                    m.post(p.d, p.c, p.amount)
                assert res.transfer["pending_id"] == p.id and res.transfer["flags"] == kind
        elif op == "reverse":
            _, i, key_mode = step
            if not m.by_id:
                continue
            orig = list(m.by_id.values())[i % len(m.by_id)]
            own = [m.by_id[orig.reversed_by]] if orig.reversed_by else []
            key = _pick_key(m, keys, key_mode, own)
            outcome = run(engine, lambda s, orig=orig, key=key: ledger.reverse(s, transfer_id=orig.id, key=key))
            if orig.flags not in ("posted", "post_pending") or orig.kind == "reversal":
                check(outcome, ValidationFailed, op="reverse")
            elif orig.reversed_by is not None:
                if key in m.by_key and m.by_key[key].id == orig.reversed_by:
                    check(outcome, "replay", replay_of=m.by_key[key], op="reverse")
                else:
                    check(outcome, PendingAlreadyResolved, op="reverse")
            elif key in m.by_key:
                check(outcome, IdempotencyConflict, op="reverse")
            else:
                res = check(outcome, m.expect_new(orig.c, orig.d, orig.amount), op="reverse")
                if res is not None:
                    body = (orig.c, orig.d, orig.amount, "CNY", "reversal", f"reversal of #{orig.id}",
                            str(orig.id), False)
                    m.add(T(res.id, key, body, "posted", "reversal", orig.c, orig.d, orig.amount))
                    orig.reversed_by = res.id
                    m.post(orig.c, orig.d, orig.amount)
                    assert res.transfer["reverses_id"] == orig.id
        elif op == "status":
            _, ai, status = step
            a = ids[ai]

            def set_status(s, a=a, status=status):
                ledger.set_account_status(s, ledger.get_account(s, a), status)

            db.run_in_transaction(set_status, engine=engine)
            m.status[a] = status

        # after every step: the database agrees with the model
        state = db_state(engine, ids)
        for a in ids:
            bal, dp, cp, entries_sum = state[a]
            assert (bal, dp, cp) == (m.bal[a], m.dp[a], m.cp[a]), f"account {a} after {step}"
            assert entries_sum == bal

    _check_final(bank, m)


def _pick_key(m: Model, keys, mode: str, own: list[T]) -> str:
    if mode == "reuse" and own:
        return own[0].key
    if mode == "steal" and m.by_key:
        return sorted(m.by_key)[0]
    return next(keys)


def _check_final(bank, m: Model) -> None:
    engine = bank.engine
    ids = m.ids
    idlist = ",".join(map(str, ids))
    state = db_state(engine, ids)
    # postings of this example's accounts sum to zero: money only moved between them
    assert sum(state[a][0] for a in ids) == 0
    assert sum(m.bal.values()) == 0
    for a in ids:
        bal, dp, _, entries_sum = state[a]
        assert entries_sum == bal
        assert bank.available(a) == bal - dp == m.available(a)
        if m.od[a] is not None:
            assert bal - dp >= -m.od[a], f"account {a} below its overdraft limit"
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT id, idempotency_key, flags, pending_id, reverses_id, amount_minor FROM transfers"
            f" WHERE debit_account_id IN ({idlist}) ORDER BY id")).all()
        # exactly the transfers the model expects: a replay or a rejection never adds a row
        assert {r.id: (r.idempotency_key, r.flags) for r in rows} == {
            t.id: (t.key, t.flags) for t in m.by_id.values()}
        entry_counts = dict(c.execute(text(
            f"SELECT transfer_id, count(*) FROM entries WHERE account_id IN ({idlist}) GROUP BY transfer_id")).all())
        resolutions = dict(c.execute(text(
            "SELECT pending_id, count(*) FROM transfers WHERE pending_id IS NOT NULL"
            f" AND debit_account_id IN ({idlist}) GROUP BY pending_id")).all())
        reversals = dict(c.execute(text(
            "SELECT reverses_id, count(*) FROM transfers WHERE reverses_id IS NOT NULL"
            f" AND debit_account_id IN ({idlist}) GROUP BY reverses_id")).all())
    for t in m.by_id.values():
        moves_money = t.flags in ("posted", "post_pending")
        assert entry_counts.get(t.id, 0) == (2 if moves_money else 0), t
        if t.flags == "pending":
            assert resolutions.get(t.id, 0) == (1 if t.resolved_by else 0)
        assert reversals.get(t.id, 0) == (1 if t.reversed_by else 0)
    bank.assert_invariants()
    db.run_in_transaction(lambda s: journal.seal(s), engine=engine)
    rep = db.run_in_transaction(lambda s: journal.verify(s), engine=engine)
    assert rep.ok, rep.problems
    assert rep.unsealed == 0
